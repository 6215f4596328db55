//! Loss functions: softmax cross-entropy (integer labels, soft targets, label smoothing),
//! multiclass SVM hinge, mean squared error.
//!
//! Each loss is a fused differentiable op (forward and gradient in one pass over the scores), with
//! PyTorch's semantics and a [`Reduction`]. Losses with hyperparameters follow the workspace's
//! config pattern: a plain config struct with PyTorch's defaults, validated by `init()` into the
//! loss ([`CrossEntropyConfig`] → [`CrossEntropyLoss`], [`HingeConfig`] → [`HingeLoss`]); the
//! common cases have free functions ([`cross_entropy`], [`cross_entropy_soft`], [`hinge_loss`],
//! [`mse_loss`]).
//!
//! Labels are `usize` class indices; a label out of range is a programmer error and panics with a
//! message naming the label, its row and the class count.
//!
//! ```
//! use nn_core::Tensor;
//! use nn_core::loss::{CrossEntropyConfig, cross_entropy};
//!
//! let logits = Tensor::from_vec(vec![2.0, 0.5, -1.0, 0.1, 0.2, 0.3], &[2, 3]).with_requires_grad();
//! let loss = cross_entropy(&logits, &[0, 2]);
//! loss.backward();
//! assert_eq!(logits.grad().unwrap().shape(), &[2, 3]);
//!
//! let smoothed = CrossEntropyConfig { label_smoothing: 0.1, ..Default::default() }.init().unwrap();
//! let l = smoothed.forward(&logits.detach(), &[0, 2]);
//! assert!(l.item() > loss.item());
//! ```

use serde::{Deserialize, Serialize};

mod cross_entropy;
mod hinge;
mod mse;

pub use cross_entropy::{CrossEntropyConfig, CrossEntropyLoss, cross_entropy, cross_entropy_soft};
pub use hinge::{HingeConfig, HingeLoss, hinge_loss};
pub use mse::mse_loss;

/// How per-sample losses are combined (PyTorch's `reduction` argument).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Reduction {
    /// One loss per sample (shape `[N]`; for [`mse_loss`], the elementwise losses).
    None,
    /// The mean over samples (for [`mse_loss`], over elements). The default, as in PyTorch.
    #[default]
    Mean,
    /// The sum over samples (for [`mse_loss`], over elements).
    Sum,
}

/// An invalid loss hyperparameter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LossConfigError {
    /// `label_smoothing` outside [0, 1].
    #[error("CrossEntropyConfig.label_smoothing must be in [0, 1], got {0}")]
    LabelSmoothing(f32),
    /// A negative or non-finite class weight.
    #[error("CrossEntropyConfig.weight[{index}] must be finite and >= 0, got {value}")]
    ClassWeight {
        /// The class.
        index: usize,
        /// Its weight.
        value: f32,
    },
    /// A non-finite hinge margin.
    #[error("HingeConfig.margin must be finite, got {0}")]
    Margin(f32),
    /// A hinge power other than 1 or 2.
    #[error("HingeConfig.p must be 1 (hinge) or 2 (squared hinge), got {0}")]
    Power(u32),
}

/// Panics unless `labels` has one label per row of an `[n, c]` score matrix and every label is
/// below `c`.
pub(crate) fn check_labels(op: &str, labels: &[usize], n: usize, c: usize) {
    assert_eq!(
        labels.len(),
        n,
        "{op}: {} labels for a batch of {n} rows",
        labels.len()
    );
    if let Some((row, &label)) = labels.iter().enumerate().find(|&(_, &l)| l >= c) {
        panic!("{op}: label {label} (row {row}) is out of range for {c} classes");
    }
}

/// The scores as an `[n, c]` matrix view.
///
/// # Panics
/// If the tensor is not 2-d.
pub(crate) fn as_matrix<'a>(op: &str, x: &'a crate::Tensor) -> ndarray::ArrayView2<'a, f32> {
    x.data()
        .view()
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap_or_else(|_| {
            panic!(
                "{op}: expected scores of shape [batch, classes], got {:?}",
                x.shape()
            )
        })
}
