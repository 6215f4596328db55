//! Serialisable optimizer state: save it with any serde format, restore it into an optimizer
//! built with the same config, and the next steps are bit-identical.

use std::collections::BTreeMap;

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use crate::group::GroupState;

/// The saved state of one parameter, keyed by its name in [`OptimState::params`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamState {
    /// How many updates this parameter has received.
    pub step: u64,
    /// The optimizer's buffers, with PyTorch's names (`"momentum_buffer"`, `"exp_avg"`,
    /// `"exp_avg_sq"`, `"max_exp_avg_sq"`, `"square_avg"`, `"grad_avg"`, `"sum"`).
    pub buffers: BTreeMap<String, ArrayD<f32>>,
}

/// The saved state of an optimizer (PyTorch's `optimizer.state_dict()`): the groups' live
/// hyperparameters and every parameter's state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimState {
    /// Which optimizer wrote it (`"SGD"`, `"Adam"`, ...); loading into another kind fails.
    pub optimizer: String,
    /// The groups (index 0 is the default group), with their current learning rates.
    pub groups: Vec<GroupState>,
    /// Per-parameter state by parameter name.
    pub params: BTreeMap<String, ParamState>,
}
