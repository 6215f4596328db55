//! [`Callback`]: hooks into the training loop, for monitors (update/weight ratios, loss
//! curves), parameter averaging, snapshot ensembles and tuning trials that stop early.
//!
//! A callback sees the model at three points of every step and epoch, and may ask the loop to
//! stop. The loop calls the callbacks in the order given, always in the same thread, so a
//! callback's effect is as deterministic as the training itself.

use nn_core::Module;

use crate::trainer::EpochRecord;

/// What a callback asks the loop to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Control {
    /// Go on training.
    #[default]
    Continue,
    /// Stop after this step or epoch: the loop restores the best validation snapshot (if any
    /// epoch finished) and evaluates on the test split as usual; [`crate::TrainReport`]
    /// records the stop.
    Stop,
}

impl Control {
    /// `Stop` if either is `Stop`.
    pub fn or(self, other: Control) -> Control {
        if self == Control::Stop || other == Control::Stop {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

/// One finished optimisation step, as callbacks see it.
pub struct StepInfo<'a> {
    /// Epoch (0-based).
    pub epoch: usize,
    /// Global step (0-based), counting every step of every epoch.
    pub step: u64,
    /// The mini-batch loss before the update.
    pub loss: f32,
    /// Learning rate of the first parameter group used for this update.
    pub lr: f64,
    /// Number of samples in the batch.
    pub batch_size: usize,
    /// The model after the update (its gradients are those of this step).
    pub model: &'a dyn Module,
}

/// Hooks into [`crate::train_with`]. Every method has a default that does nothing.
pub trait Callback {
    /// After `loss.backward()` and before the optimizer step: the gradients of this step are
    /// in the parameters and the values are those the gradients were taken at.
    fn after_backward(&mut self, _model: &dyn Module, _step: u64) {}

    /// After the optimizer step (and the step-wise schedule update).
    fn on_step(&mut self, _info: &StepInfo<'_>) -> Control {
        Control::Continue
    }

    /// After an epoch's validation, with the model as it is at the end of the epoch.
    fn on_epoch(&mut self, _record: &EpochRecord, _model: &dyn Module) -> Control {
        Control::Continue
    }

    /// The callback's state for a training checkpoint ([`crate::checkpoint`]), e.g. encoded
    /// with [`crate::checkpoint::encode`]; `None` (the default) for a stateless callback. A
    /// callback whose effect depends on what it saw earlier must implement this and
    /// [`Callback::load_state`], or a resumed job differs from an uninterrupted one.
    fn save_state(&self) -> Option<Vec<u8>> {
        None
    }

    /// Restores what [`Callback::save_state`] returned (called once, before the first step of
    /// a resumed job).
    fn load_state(&mut self, _state: &[u8]) -> crate::Result<()> {
        Ok(())
    }
}

/// A callback from a closure called after every epoch (progress output).
pub struct OnEpoch<F>(pub F);

impl<F: FnMut(&EpochRecord)> Callback for OnEpoch<F> {
    fn on_epoch(&mut self, record: &EpochRecord, _model: &dyn Module) -> Control {
        (self.0)(record);
        Control::Continue
    }
}
