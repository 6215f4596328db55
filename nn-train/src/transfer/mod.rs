//! Transfer learning: start a job from a network trained on another (bigger) data set.
//!
//! The lecture's recipe ("Transfer learning with CNNs"): train on a big data set; on a small
//! data set, freeze the backbone, re-initialise the last layer and train only it; with more
//! data, fine-tune more layers — the top ones, at a lower learning rate. Deep features of a
//! network trained on one task are generic enough to serve another (Donahue et al., "DeCAF: A
//! Deep Convolutional Activation Feature for Generic Visual Recognition", ICML 2014; Razavian et
//! al., "CNN Features off-the-shelf: an Astounding Baseline for Recognition", CVPR Workshops
//! 2014; Yosinski et al., "How transferable are features in deep neural networks?", NIPS 2014).
//!
//! A job's `[transfer]` block ([`TransferSettings`]) makes [`crate::Session::new`]:
//! 1. load [`TransferSettings::init_from`] into the freshly built model by name, except the
//!    `reinit` prefixes (default: the head), which keep their fresh initialisation. Tensors of a
//!    different shape (a head for another class count) are re-initialised too; tensors the file
//!    lacks outside `reinit` are an error ([`TransferError::Missing`]); everything is listed in
//!    the [`TransferReport`];
//! 2. freeze the `freeze` prefixes (or the whole backbone with `freeze_backbone`): they get no
//!    gradient and are not updated, and with `frozen_eval` (default) they run in evaluation mode
//!    ([`EvalWhenFrozen`]: batch norms keep the source task's running statistics);
//! 3. build the optimizer with the parameters outside the head in groups at `backbone_lr_mult`
//!    × the learning rate ([`param_groups`]);
//! 4. with `unfreeze_after_epochs = k`, unfreeze everything at the first step of epoch k + 1
//!    (gradual unfreezing; [`crate::Session::train_step`] does it, so every loop built on a
//!    session gets it).
//!
//! ```
//! use nn_train::transfer::TransferSettings;
//! use nn_train::{Session, TrainConfig, train};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let ckpt = dir.path().join("digits04.safetensors");
//! // Pretrain on digits 0-4 ...
//! let mut source = TrainConfig { epochs: 2, ..TrainConfig::default() };
//! source.data.classes = Some(vec![0, 1, 2, 3, 4]);
//! let pretrained = train(&source, &mut |_| {}).unwrap();
//! nn_core::checkpoint::save(pretrained.model.as_ref(), &ckpt).unwrap();
//! // ... then train a new head for digits 5-9 on the frozen features.
//! let mut target = TrainConfig { epochs: 2, ..TrainConfig::default() };
//! target.data.classes = Some(vec![5, 6, 7, 8, 9]);
//! target.transfer = Some(TransferSettings {
//!     freeze_backbone: true,
//!     ..TransferSettings::from_checkpoint(&ckpt)
//! });
//! let report = Session::new(&target).unwrap().transfer.unwrap();
//! assert_eq!(report.head, ["5"]);
//! assert_eq!(report.reinitialised, ["5.weight", "5.bias"]);
//! assert_eq!(report.frozen.len(), 4);
//! ```

mod frozen_eval;
mod settings;

use std::fmt;
use std::path::{Path, PathBuf};

use nn_core::Module;
use nn_core::checkpoint::{LoadMode, ShapeMismatch, apply_state_dict, read_file};
use nn_core::module::name_has_prefix;
use nn_optim::{Matcher, ParamGroup};

pub use frozen_eval::EvalWhenFrozen;
pub use settings::TransferSettings;

use crate::error::Result;

/// Why transfer settings do not fit the model or the checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// A prefix of `head`, `reinit` or `freeze` selects nothing in the model.
    #[error(
        "transfer from {}: `transfer.{field}` prefix \"{prefix}\" matches no {what} of the model \
         (its top-level modules with tensors: {modules})",
        path.display()
    )]
    NoMatch {
        /// The checkpoint.
        path: PathBuf,
        /// `head`, `reinit` or `freeze`.
        field: &'static str,
        /// The prefix.
        prefix: String,
        /// "parameter" or "tensor".
        what: &'static str,
        /// The model's top-level module names, to spot the typo.
        modules: String,
    },
    /// The checkpoint lacks tensors of the model that are not to be re-initialised.
    #[error(
        "checkpoint {} lacks {} tensor(s) of the model: {}; list their prefixes in \
         `transfer.reinit` to train them from scratch",
        path.display(), names.len(), names.join(", ")
    )]
    Missing {
        /// The checkpoint.
        path: PathBuf,
        /// The missing tensors.
        names: Vec<String>,
    },
    /// A frozen parameter was not loaded (re-initialised or mis-shaped): it would stay random.
    #[error(
        "transfer from {}: `{name}` would be frozen at its random initialisation ({why}); \
         frozen parameters must come from the checkpoint",
        path.display()
    )]
    FrozenNotLoaded {
        /// The checkpoint.
        path: PathBuf,
        /// The parameter.
        name: String,
        /// Why it was not loaded.
        why: String,
    },
    /// Every parameter is frozen and nothing unfreezes them.
    #[error(
        "transfer from {}: every parameter of the model is frozen and `unfreeze_after_epochs` \
         is not set: nothing would be trained",
        path.display()
    )]
    NothingToTrain {
        /// The checkpoint.
        path: PathBuf,
    },
}

/// What [`apply_transfer`] did to the model: every tensor of the model is in exactly one of
/// `loaded`, `reinitialised` and `reshaped`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferReport {
    /// The checkpoint.
    pub checkpoint: PathBuf,
    /// The head's prefixes (given or detected).
    pub head: Vec<String>,
    /// Tensors loaded from the checkpoint, in the model's order.
    pub loaded: Vec<String>,
    /// Tensors under a `reinit` prefix: freshly initialised.
    pub reinitialised: Vec<String>,
    /// Tensors whose shape differs in the checkpoint: freshly initialised.
    pub reshaped: Vec<ShapeMismatch>,
    /// Tensors of the checkpoint that the model does not have (ignored), sorted.
    pub unexpected: Vec<String>,
    /// Frozen parameters, in the model's order.
    pub frozen: Vec<String>,
    /// Module paths that run in evaluation mode while frozen.
    pub eval_mode: Vec<String>,
    /// Modules with frozen parameters and batch-norm buffers that stay in training mode (only
    /// partly frozen and not a `Sequential`, so they cannot be switched as a whole).
    pub train_mode_frozen: Vec<String>,
    /// Epochs after which everything is unfrozen.
    pub unfreeze_after_epochs: Option<usize>,
}

impl fmt::Display for TransferReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[String]| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.join(", ")
            }
        };
        writeln!(
            f,
            "transfer from {}: {} tensors loaded, {} re-initialised, {} mis-shaped \
             (re-initialised), {} unexpected (ignored)",
            self.checkpoint.display(),
            self.loaded.len(),
            self.reinitialised.len(),
            self.reshaped.len(),
            self.unexpected.len()
        )?;
        writeln!(f, "  head: {}", list(&self.head))?;
        writeln!(f, "  re-initialised: {}", list(&self.reinitialised))?;
        for m in &self.reshaped {
            writeln!(
                f,
                "  mis-shaped, re-initialised: {} (model {:?}, checkpoint {:?})",
                m.name, m.expected, m.found
            )?;
        }
        if !self.unexpected.is_empty() {
            writeln!(f, "  unexpected: {}", list(&self.unexpected))?;
        }
        writeln!(
            f,
            "  frozen: {} parameters: {}",
            self.frozen.len(),
            list(&self.frozen)
        )?;
        if !self.eval_mode.is_empty() {
            writeln!(
                f,
                "  evaluation mode while frozen: {}",
                list(&self.eval_mode)
            )?;
        }
        if !self.train_mode_frozen.is_empty() {
            writeln!(
                f,
                "  frozen but in training mode (batch statistics): {}",
                list(&self.train_mode_frozen)
            )?;
        }
        if let Some(k) = self.unfreeze_after_epochs {
            writeln!(f, "  everything unfrozen after epoch {k}")?;
        }
        Ok(())
    }
}

/// The default head: the module holding the model's last parameter (`fc.bias` → `fc`).
pub fn default_head(model: &dyn Module) -> Option<String> {
    let params = model.named_parameters();
    let (last, _) = params.last()?;
    Some(last.rsplit_once('.').map_or("", |(p, _)| p).to_string())
}

/// Applies `settings` to the freshly built `model` (see the module docs): load, re-initialise,
/// freeze, switch frozen parts to evaluation mode.
///
/// # Errors
/// [`crate::TrainError::Checkpoint`] if the file cannot be read; [`TransferError`] for a prefix
/// that selects nothing, tensors missing from the file, or nothing left to train.
pub fn apply_transfer(
    model: &mut dyn Module,
    settings: &TransferSettings,
) -> Result<TransferReport> {
    let path = settings.init_from.as_path();
    let state = read_file(path)?;
    crate::saved_run::check_finite(&state, path)?;
    let params = model.named_parameters();
    let mut tensors: Vec<String> = params.iter().map(|(n, _)| n.clone()).collect();
    tensors.extend(model.named_buffers().into_iter().map(|(n, _)| n));
    let param_names: Vec<String> = params.iter().map(|(n, _)| n.clone()).collect();
    let check = |field: &'static str, what: &'static str, names: &[String], prefixes: &[String]| {
        for p in prefixes {
            if !names.iter().any(|n| name_has_prefix(n, p)) {
                return Err(TransferError::NoMatch {
                    path: path.to_path_buf(),
                    field,
                    prefix: p.clone(),
                    what,
                    modules: top_level_modules(&tensors),
                });
            }
        }
        Ok(())
    };
    let head = if settings.head.is_empty() {
        vec![default_head(model).unwrap_or_default()]
    } else {
        check("head", "parameter", &param_names, &settings.head)?;
        settings.head.clone()
    };
    let reinit = settings.reinit.clone().unwrap_or_else(|| head.clone());
    check("reinit", "tensor", &tensors, &reinit)?;
    check("freeze", "parameter", &param_names, &settings.freeze)?;

    let under = |name: &str, prefixes: &[String]| prefixes.iter().any(|p| name_has_prefix(name, p));
    let state: Vec<_> = state
        .into_iter()
        .filter(|(n, _)| !under(n, &reinit))
        .collect();
    let load = apply_state_dict(model, state, LoadMode::Lenient, path)?;
    let (reinitialised, missing): (Vec<String>, Vec<String>) =
        load.missing.into_iter().partition(|n| under(n, &reinit));
    if !missing.is_empty() {
        return Err(TransferError::Missing {
            path: path.to_path_buf(),
            names: missing,
        }
        .into());
    }

    let mut frozen = Vec::new();
    for (name, p) in &params {
        if under(name, &settings.freeze) || (settings.freeze_backbone && !under(name, &head)) {
            if !load.loaded.contains(name) {
                let why = match load.mismatched.iter().find(|m| &m.name == name) {
                    Some(m) => format!(
                        "shape {:?} in the model, {:?} in the checkpoint",
                        m.expected, m.found
                    ),
                    None => "under a `transfer.reinit` prefix".to_string(),
                };
                return Err(TransferError::FrozenNotLoaded {
                    path: path.to_path_buf(),
                    name: name.clone(),
                    why,
                }
                .into());
            }
            p.set_frozen(true);
            frozen.push(name.clone());
        }
    }
    if frozen.len() == params.len() && settings.unfreeze_after_epochs.is_none() {
        return Err(TransferError::NothingToTrain {
            path: path.to_path_buf(),
        }
        .into());
    }
    let wrapped = if settings.frozen_eval && !frozen.is_empty() {
        frozen_eval::wrap_frozen(model, "")
    } else {
        frozen_eval::Wrapped::default()
    };
    Ok(TransferReport {
        checkpoint: path.to_path_buf(),
        head,
        loaded: load.loaded,
        reinitialised,
        reshaped: load.mismatched,
        unexpected: load.unexpected,
        frozen,
        eval_mode: wrapped.eval_mode,
        train_mode_frozen: wrapped.train_mode,
        unfreeze_after_epochs: settings.unfreeze_after_epochs,
    })
}

/// Unfreezes the parameters listed in `report.frozen` (gradual unfreezing). Returns how many.
pub fn unfreeze(model: &dyn Module, report: &TransferReport) -> usize {
    let mut n = 0;
    for (name, p) in model.named_parameters() {
        if p.is_frozen() && report.frozen.contains(&name) {
            p.set_frozen(false);
            n += 1;
        }
    }
    n
}

/// The optimizer's parameter groups: the parameters outside `head` at `backbone_lr_mult` × the
/// learning rate (none if it is 1), and with `no_decay_on_1d` no weight decay on 1-d
/// parameters. The head's decayed parameters stay in the default group 0, so the learning
/// rate reported for group 0 is the job's base rate.
pub fn param_groups(
    head: &[String],
    backbone_lr_mult: f64,
    no_decay_on_1d: bool,
) -> Vec<ParamGroup> {
    let no_decay = || Matcher::NdimAtMost(1);
    let mut groups = Vec::new();
    if backbone_lr_mult != 1.0 {
        let in_head = Matcher::AnyOf(head.iter().map(|p| prefix_matcher(p)).collect());
        let backbone = Matcher::Not(Box::new(in_head));
        if no_decay_on_1d {
            groups.push(
                ParamGroup::new(
                    "backbone_no_decay",
                    Matcher::AllOf(vec![backbone.clone(), no_decay()]),
                )
                .with_lr_scale(backbone_lr_mult)
                .with_weight_decay(0.0),
            );
        }
        groups.push(ParamGroup::new("backbone", backbone).with_lr_scale(backbone_lr_mult));
    }
    if no_decay_on_1d {
        groups.push(ParamGroup::new("no_decay", no_decay()).with_weight_decay(0.0));
    }
    groups
}

/// Selects the names under the dotted path `prefix`.
fn prefix_matcher(prefix: &str) -> Matcher {
    if prefix.is_empty() {
        Matcher::All
    } else {
        Matcher::AnyOf(vec![
            Matcher::Names(vec![prefix.to_string()]),
            Matcher::Prefix(format!("{prefix}.")),
        ])
    }
}

/// The distinct first components of `names`, comma-separated.
fn top_level_modules(names: &[String]) -> String {
    let mut firsts: Vec<&str> = Vec::new();
    for n in names {
        let f = n.split('.').next().unwrap_or(n);
        if !firsts.contains(&f) {
            firsts.push(f);
        }
    }
    firsts.join(", ")
}

/// The checkpoint of a run directory written by `nn-train train --out DIR`.
pub fn run_checkpoint(run_dir: &Path) -> PathBuf {
    run_dir.join("model.safetensors")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_split_head_and_backbone() {
        let g = param_groups(&["fc".into()], 0.1, true);
        let labels: Vec<&str> = g.iter().map(|g| g.label.as_str()).collect();
        assert_eq!(labels, ["backbone_no_decay", "backbone", "no_decay"]);
        let group_of = |name: &str, ndim| {
            g.iter()
                .position(|g| g.matcher.matches(name, ndim))
                .map_or(0, |i| i + 1)
        };
        assert_eq!(group_of("fc.weight", 2), 0);
        assert_eq!(group_of("fc.bias", 1), 3);
        assert_eq!(group_of("fc2.weight", 2), 2, "prefixes are dotted paths");
        assert_eq!(group_of("layer1.0.bn1.weight", 1), 1);
        assert_eq!(group_of("conv1.weight", 4), 2);
        assert_eq!(param_groups(&["fc".into()], 1.0, false), vec![]);
    }
}
