//! The machinery every element-wise optimizer shares: groups, per-name state slots,
//! validation, clipping, save/restore.

use std::collections::{BTreeMap, HashMap, HashSet};

use ndarray::{ArrayD, IxDyn};

use crate::error::OptimError;
use crate::group::{GroupState, Groups, ParamGroup};
use crate::param::ParamMut;
use crate::state::{OptimState, ParamState};
use crate::transform::{GradClip, GradPrep};

/// Per-parameter state: update count and buffers (in the optimizer's fixed order).
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub(crate) step: u64,
    pub(crate) bufs: Vec<ArrayD<f32>>,
}

/// One parameter to update in this step: its index in the step's slice and its group.
pub(crate) struct Work {
    pub(crate) index: usize,
    pub(crate) group: usize,
}

#[derive(Clone, Debug)]
pub(crate) struct Core {
    pub(crate) owner: &'static str,
    pub(crate) groups: Groups,
    pub(crate) clip: GradClip,
    pub(crate) maximize: bool,
    pub(crate) slots: HashMap<String, Slot>,
    pub(crate) last_grad_norm: Option<f32>,
}

impl Core {
    pub(crate) fn new(
        owner: &'static str,
        lr: f64,
        weight_decay: f64,
        groups: Vec<ParamGroup>,
        clip: GradClip,
        maximize: bool,
    ) -> Result<Self, OptimError> {
        clip.validate(owner)?;
        Ok(Self {
            owner,
            groups: Groups::new(owner, lr, weight_decay, groups)?,
            clip,
            maximize,
            slots: HashMap::new(),
            last_grad_norm: None,
        })
    }

    /// Validates the step's parameters (unique names, gradient shapes, state shapes) before
    /// anything is changed, creates missing state slots (buffer `i` filled with `inits[i]`),
    /// and computes the gradient pre-processing (clipping, maximize).
    pub(crate) fn begin(
        &mut self,
        params: &[ParamMut<'_>],
        inits: &[f32],
    ) -> Result<(Vec<Work>, GradPrep), OptimError> {
        let mut seen = HashSet::with_capacity(params.len());
        for p in params {
            if !seen.insert(p.name) {
                return Err(OptimError::DuplicateParameter(p.name.to_string()));
            }
            let Some(g) = &p.grad else { continue };
            if g.shape() != p.value.shape() {
                return Err(OptimError::ShapeMismatch {
                    name: p.name.to_string(),
                    what: "gradient".into(),
                    found: g.shape().to_vec(),
                    expected: p.value.shape().to_vec(),
                });
            }
            if let Some(slot) = self.slots.get(p.name) {
                for (k, b) in slot.bufs.iter().enumerate() {
                    if b.shape() != p.value.shape() {
                        return Err(OptimError::ShapeMismatch {
                            name: p.name.to_string(),
                            what: format!("optimizer state buffer {k}"),
                            found: b.shape().to_vec(),
                            expected: p.value.shape().to_vec(),
                        });
                    }
                }
            }
        }
        let mut work = Vec::with_capacity(params.len());
        for (index, p) in params.iter().enumerate() {
            if p.grad.is_none() {
                continue;
            }
            if !self.slots.contains_key(p.name) {
                let shape = IxDyn(p.value.shape());
                let bufs = inits
                    .iter()
                    .map(|&v| ArrayD::from_elem(shape.clone(), v))
                    .collect();
                self.slots
                    .insert(p.name.to_string(), Slot { step: 0, bufs });
            }
            let group = self.groups.group_of(p.name, p.value.ndim());
            work.push(Work { index, group });
        }
        let (prep, norm) = self.clip.prepare(params, self.maximize);
        self.last_grad_norm = norm;
        Ok((work, prep))
    }

    /// The state as saved data; `names` are the buffer names in slot order.
    pub(crate) fn save(&self, names: &[&str]) -> OptimState {
        let params = self
            .slots
            .iter()
            .map(|(k, s)| {
                let buffers = names
                    .iter()
                    .zip(&s.bufs)
                    .map(|(n, b)| (n.to_string(), b.clone()))
                    .collect();
                (
                    k.clone(),
                    ParamState {
                        step: s.step,
                        buffers,
                    },
                )
            })
            .collect::<BTreeMap<_, _>>();
        OptimState {
            optimizer: self.owner.to_string(),
            groups: self.groups.state.clone(),
            params,
        }
    }

    /// Restores saved data, checking that it fits (kind, number of groups, buffer names and
    /// shapes). On error nothing is changed.
    pub(crate) fn load(&mut self, state: &OptimState, names: &[&str]) -> Result<(), OptimError> {
        if state.optimizer != self.owner {
            return Err(OptimError::IncompatibleState(format!(
                "it was saved by {}, this optimizer is {}",
                state.optimizer, self.owner
            )));
        }
        if state.groups.len() != self.groups.state.len() {
            return Err(OptimError::IncompatibleState(format!(
                "it has {} parameter groups, this optimizer has {}",
                state.groups.len(),
                self.groups.state.len()
            )));
        }
        let mut slots = HashMap::with_capacity(state.params.len());
        for (name, ps) in &state.params {
            let mut bufs = Vec::with_capacity(names.len());
            for n in names {
                let b = ps.buffers.get(*n).ok_or_else(|| {
                    OptimError::IncompatibleState(format!("parameter `{name}` has no buffer `{n}`"))
                })?;
                let first: Option<&ArrayD<f32>> = bufs.first();
                if let Some(first) = first.filter(|f| f.shape() != b.shape()) {
                    return Err(OptimError::IncompatibleState(format!(
                        "parameter `{name}`: buffer `{n}` has shape {:?}, the others {:?}",
                        b.shape(),
                        first.shape()
                    )));
                }
                bufs.push(b.as_standard_layout().into_owned());
            }
            if ps.buffers.len() != names.len() {
                return Err(OptimError::IncompatibleState(format!(
                    "parameter `{name}` has buffers {:?}, expected {names:?}",
                    ps.buffers.keys().collect::<Vec<_>>()
                )));
            }
            slots.insert(
                name.clone(),
                Slot {
                    step: ps.step,
                    bufs,
                },
            );
        }
        for g in &state.groups {
            crate::error::check_lr(self.owner, g.lr)?;
            crate::error::check_nonneg(self.owner, "weight_decay", g.weight_decay)?;
        }
        self.groups.state = state.groups.clone();
        self.slots = slots;
        Ok(())
    }

    pub(crate) fn group(&self, i: usize) -> Result<&GroupState, OptimError> {
        self.groups.get(i)
    }
}
