//! The optimizer interface.

use crate::error::OptimError;
use crate::param::ParamMut;
use crate::state::OptimState;

/// Read and set the learning rate of each parameter group: what a schedule driver
/// ([`crate::LrScheduler`]) needs. Implemented by every optimizer, including [`crate::Lbfgs`].
pub trait LrControl {
    /// The number of parameter groups (≥ 1; group 0 is the default group).
    fn num_groups(&self) -> usize;
    /// The current learning rate of group `group`.
    ///
    /// # Panics
    /// If `group >= self.num_groups()` (a programmer error).
    fn lr(&self, group: usize) -> f64;
    /// Sets the learning rate of group `group`.
    ///
    /// # Panics
    /// If `group >= self.num_groups()` or `lr` is negative or not finite (programmer errors:
    /// schedules are validated when they are built).
    fn set_lr(&mut self, group: usize, lr: f64);

    /// The momentum the one-cycle policy cycles: μ of SGD and RMSprop, β₁ of Adam; `None` if
    /// the optimizer has none (AdaGrad, L-BFGS, SGD/RMSprop built without momentum).
    fn momentum(&self) -> Option<f64> {
        None
    }

    /// Sets [`LrControl::momentum`] for all groups (PyTorch's `OneCycleLR(cycle_momentum=True)`
    /// writes `momentum` or `betas[0]`). Errors if the optimizer has no momentum or the value is
    /// out of range.
    fn set_momentum(&mut self, momentum: f64) -> Result<(), OptimError> {
        let _ = momentum;
        Err(OptimError::Unsupported {
            optimizer: "this optimizer",
            what: "momentum",
        })
    }
}

/// An element-wise first-order optimizer over named parameters (SGD, AdaGrad, RMSprop, Adam).
///
/// `step` updates, in place, every parameter that has a gradient, each with the
/// hyperparameters of its group. State is kept per parameter name. Zeroing the gradients is
/// the caller's business. The trait is object-safe: `Box<dyn Optimizer>` is what
/// [`crate::OptimizerConfig::build`] returns.
pub trait Optimizer: LrControl + Send {
    /// One update of every parameter that has a gradient.
    ///
    /// Errors (and leaves every parameter and all state unchanged) if a name appears twice, a
    /// gradient's shape differs from its parameter's, or a restored state buffer does not fit.
    fn step(&mut self, params: &mut [ParamMut<'_>]) -> Result<(), OptimError>;

    /// The optimizer's name (`"SGD"`, `"Adam"`, ...), as written in saved state.
    fn name(&self) -> &'static str;

    /// The label of each group (group 0 is `"default"`).
    fn group_labels(&self) -> Vec<String>;

    /// The group a parameter with this name and number of dimensions belongs to.
    fn group_of(&mut self, name: &str, ndim: usize) -> usize;

    /// The weight-decay coefficient of group `group`.
    ///
    /// # Panics
    /// If `group >= self.num_groups()`.
    fn weight_decay(&self, group: usize) -> f64;

    /// Sets the weight-decay coefficient of group `group` (e.g. for a weight-decay schedule).
    ///
    /// # Panics
    /// If `group >= self.num_groups()` or `wd` is negative or not finite.
    fn set_weight_decay(&mut self, group: usize, wd: f64);

    /// The global gradient norm measured in the last step, if norm clipping is on.
    fn last_grad_norm(&self) -> Option<f32>;

    /// The state, for saving (PyTorch's `state_dict()`).
    fn state(&self) -> OptimState;

    /// Restores a state saved by an optimizer built with the same config. On error nothing is
    /// changed.
    fn load_state(&mut self, state: &OptimState) -> Result<(), OptimError>;
}
