//! [`JobOptimizer`]: the optimizer a session steps with — an element-wise nn-optim
//! [`Optimizer`] (SGD, Adam, ...) on the gradients, or [`Lbfgs`] on the full batch with a
//! closure ([`crate::lbfgs`]) — and its serialisable state for checkpoints.

use nn_optim::{Lbfgs, LbfgsState, LrControl, OptimError, OptimState, Optimizer};
use serde::{Deserialize, Serialize};

/// The optimizer of a [`crate::Session`].
pub enum JobOptimizer {
    /// An element-wise optimizer stepping on the accumulated gradients, with parameter groups.
    Gradient(Box<dyn Optimizer>),
    /// L-BFGS over the flat vector of trainable parameters (one group).
    Lbfgs(Box<Lbfgs>),
}

/// The state of a [`JobOptimizer`], for checkpoints: restoring it makes the next steps
/// bit-identical.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobOptimizerState {
    /// State of an element-wise optimizer.
    Gradient(OptimState),
    /// L-BFGS history, direction, step and counters.
    Lbfgs(LbfgsState),
}

impl JobOptimizer {
    /// The optimizer's name (`"SGD"`, `"Adam"`, ..., `"LBFGS"`).
    pub fn name(&self) -> &'static str {
        match self {
            JobOptimizer::Gradient(o) => o.name(),
            JobOptimizer::Lbfgs(_) => "LBFGS",
        }
    }

    /// The number of parameter groups (L-BFGS: 1).
    pub fn num_groups(&self) -> usize {
        LrControl::num_groups(self)
    }

    /// The current learning rate of group `group` (L-BFGS: the step length).
    pub fn lr(&self, group: usize) -> f64 {
        LrControl::lr(self, group)
    }

    /// Sets the learning rate of group `group`.
    pub fn set_lr(&mut self, group: usize, lr: f64) {
        LrControl::set_lr(self, group, lr)
    }

    /// The element-wise optimizer, if this is one.
    pub fn gradient(&self) -> Option<&dyn Optimizer> {
        match self {
            JobOptimizer::Gradient(o) => Some(o.as_ref()),
            JobOptimizer::Lbfgs(_) => None,
        }
    }

    /// The label of each group (L-BFGS: `["default"]`).
    pub fn group_labels(&self) -> Vec<String> {
        match self {
            JobOptimizer::Gradient(o) => o.group_labels(),
            JobOptimizer::Lbfgs(_) => vec!["default".into()],
        }
    }

    /// The weight-decay coefficient of group `group` (L-BFGS: 0; use a `[penalty]`).
    pub fn weight_decay(&self, group: usize) -> f64 {
        match self {
            JobOptimizer::Gradient(o) => o.weight_decay(group),
            JobOptimizer::Lbfgs(_) => 0.0,
        }
    }

    /// The state, for saving.
    pub fn state(&self) -> JobOptimizerState {
        match self {
            JobOptimizer::Gradient(o) => JobOptimizerState::Gradient(o.state()),
            JobOptimizer::Lbfgs(o) => JobOptimizerState::Lbfgs(o.state()),
        }
    }

    /// Restores a state saved from an optimizer built with the same config.
    pub fn load_state(&mut self, state: &JobOptimizerState) -> Result<(), OptimError> {
        match (self, state) {
            (JobOptimizer::Gradient(o), JobOptimizerState::Gradient(s)) => o.load_state(s),
            (JobOptimizer::Lbfgs(o), JobOptimizerState::Lbfgs(s)) => o.load_state(s.clone()),
            (me, _) => Err(OptimError::IncompatibleState(format!(
                "the saved state is not {}'s",
                me.name()
            ))),
        }
    }
}

impl LrControl for JobOptimizer {
    fn num_groups(&self) -> usize {
        match self {
            JobOptimizer::Gradient(o) => o.num_groups(),
            JobOptimizer::Lbfgs(o) => o.num_groups(),
        }
    }
    fn lr(&self, group: usize) -> f64 {
        match self {
            JobOptimizer::Gradient(o) => o.lr(group),
            JobOptimizer::Lbfgs(o) => o.lr(group),
        }
    }
    fn set_lr(&mut self, group: usize, lr: f64) {
        match self {
            JobOptimizer::Gradient(o) => o.set_lr(group, lr),
            JobOptimizer::Lbfgs(o) => o.set_lr(group, lr),
        }
    }
    fn momentum(&self) -> Option<f64> {
        match self {
            JobOptimizer::Gradient(o) => o.momentum(),
            JobOptimizer::Lbfgs(o) => o.momentum(),
        }
    }
    fn set_momentum(&mut self, momentum: f64) -> Result<(), OptimError> {
        match self {
            JobOptimizer::Gradient(o) => o.set_momentum(momentum),
            JobOptimizer::Lbfgs(o) => o.set_momentum(momentum),
        }
    }
}
