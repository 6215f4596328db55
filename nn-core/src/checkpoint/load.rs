//! Applying a state dict to a module: [`LoadReport`] and [`LoadMode`].

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use super::CheckpointError;
use crate::module::{Buffer, Entry, Module, Parameter};
use crate::tensor::Array;

/// How to treat a state dict that does not match the module exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LoadMode {
    /// Refuse (load nothing) unless every parameter and buffer is present with its shape and no
    /// tensor is left over (PyTorch's `load_state_dict(strict=True)`, the default).
    #[default]
    Strict,
    /// Load every tensor whose name and shape match, and report the rest (PyTorch's
    /// `strict=False`, except that mis-shaped tensors are skipped and reported rather than an
    /// error) — e.g. to fine-tune with a new classifier head.
    Lenient,
}

/// A tensor whose shape in the state dict differs from the module's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// The tensor's name.
    pub name: String,
    /// The module's shape.
    pub expected: Vec<usize>,
    /// The state dict's shape.
    pub found: Vec<usize>,
}

/// What a load did: every name of the module and of the state dict lands in exactly one list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Loaded tensors, in the module's order.
    pub loaded: Vec<String>,
    /// The module's parameters and buffers absent from the state dict.
    pub missing: Vec<String>,
    /// Tensors of the state dict that the module does not have.
    pub unexpected: Vec<String>,
    /// Tensors present on both sides with different shapes (not loaded).
    pub mismatched: Vec<ShapeMismatch>,
}

impl LoadReport {
    /// Whether the state dict matched the module exactly.
    pub fn is_exact(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.mismatched.is_empty()
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} loaded", self.loaded.len())?;
        if !self.missing.is_empty() {
            write!(f, "; missing: {}", self.missing.join(", "))?;
        }
        if !self.unexpected.is_empty() {
            write!(f, "; unexpected: {}", self.unexpected.join(", "))?;
        }
        if !self.mismatched.is_empty() {
            let m: Vec<String> = self
                .mismatched
                .iter()
                .map(|m| format!("{} (module {:?}, file {:?})", m.name, m.expected, m.found))
                .collect();
            write!(f, "; mis-shaped: {}", m.join(", "))?;
        }
        Ok(())
    }
}

/// Copies the tensors of `state` into the parameters and buffers of `module` with the same
/// names, as PyTorch's `load_state_dict`. In [`LoadMode::Strict`] nothing is changed unless
/// the match is exact. `path` only names the source in errors.
///
/// # Errors
/// [`CheckpointError::Strict`] (with the [`LoadReport`]) for an inexact strict load.
pub fn apply_state_dict<M: Module + ?Sized>(
    module: &M,
    state: Vec<(String, Array)>,
    mode: LoadMode,
    path: &Path,
) -> Result<LoadReport, CheckpointError> {
    let mut state: HashMap<String, Array> = state.into_iter().collect();
    let mut report = LoadReport::default();
    let mut assignments: Vec<(Target, Array)> = Vec::new();
    let mut targets = Vec::new();
    module.visit("", &mut |e| match e {
        Entry::Param(name, p) => targets.push((name.to_string(), Target::Param(p.clone()))),
        Entry::Buffer(name, b) => targets.push((name.to_string(), Target::Buffer(b.clone()))),
    });
    for (name, target) in targets {
        match state.remove(&name) {
            None => report.missing.push(name),
            Some(v) if v.shape() != target.shape().as_slice() => {
                report.mismatched.push(ShapeMismatch {
                    name,
                    expected: target.shape(),
                    found: v.shape().to_vec(),
                })
            }
            Some(v) => {
                report.loaded.push(name);
                assignments.push((target, v));
            }
        }
    }
    report.unexpected = state.into_keys().collect();
    report.unexpected.sort();
    if mode == LoadMode::Strict && !report.is_exact() {
        return Err(CheckpointError::Strict {
            path: path.to_path_buf(),
            report,
        });
    }
    for (target, v) in assignments {
        match target {
            Target::Param(p) => p.set_value(v),
            Target::Buffer(b) => b.set_value(v),
        }
    }
    Ok(report)
}

/// A parameter or buffer to be assigned.
enum Target {
    Param(Parameter),
    Buffer(Buffer),
}

impl Target {
    fn shape(&self) -> Vec<usize> {
        match self {
            Target::Param(p) => p.shape(),
            Target::Buffer(b) => b.shape(),
        }
    }
}
