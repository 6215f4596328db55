//! Batch-norm folding at test time, measured: the lecture's "zero overhead at test time" (in
//! evaluation mode a batch norm is a fixed per-channel affine map, so it merges into the
//! convolution or linear layer before it, [`nn_core::fold`]). [`compare_folded`] runs the
//! original and the folded model on the same batches, checks that they predict the same
//! classes and times both; `nn-train eval --fold-bn` prints it, `nn-train export` writes the
//! folded weights.

use std::time::Instant;

use ndarray::{Array2, Array4, Axis};
use nn_core::Module;
use serde::{Deserialize, Serialize};

use crate::trainer::predict_proba;

/// What folding changed: the pairs merged, the agreement of the predictions and the time of a
/// forward pass over the same batches before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldReport {
    /// Batch norms folded into the layer before them.
    pub folded: usize,
    /// Batch norms left (not after a convolution or linear layer, or without running
    /// statistics).
    pub remaining_batch_norms: usize,
    /// Images compared.
    pub images: usize,
    /// Images whose arg-max class is the same before and after.
    pub same_predictions: usize,
    /// Largest |p_before − p_after| over all images and classes.
    pub max_abs_prob_diff: f32,
    /// Seconds of one pass over the batches with the original model (best of the repeats).
    pub seconds_original: f64,
    /// The same with the folded model.
    pub seconds_folded: f64,
    /// `seconds_original / seconds_folded`.
    pub speedup: f64,
    /// Parameters and buffers (scalars) before and after.
    pub scalars_before: usize,
    /// Parameters and buffers (scalars) after folding.
    pub scalars_after: usize,
}

impl FoldReport {
    /// Whether every image kept its predicted class.
    pub fn predictions_equal(&self) -> bool {
        self.same_predictions == self.images
    }
}

/// Counts the batch-norm buffers' owners: names ending in `running_mean`.
fn batch_norms(model: &dyn Module) -> usize {
    model
        .named_buffers()
        .iter()
        .filter(|(n, _)| n.ends_with("running_mean"))
        .count()
}

fn scalars(model: &dyn Module) -> usize {
    model.state_dict().iter().map(|(_, a)| a.len()).sum()
}

/// Folds the batch norms of `folded` (a copy of `original` with the same weights), then
/// compares both on `batches` (preprocessed `[N, C, H, W]` inputs): predictions and time (best
/// of `repeats` passes each, alternating, at least 1).
pub fn compare_folded(
    original: &dyn Module,
    folded: &mut dyn Module,
    batches: &[Array4<f32>],
    repeats: usize,
) -> FoldReport {
    let scalars_before = scalars(folded);
    let count = folded.fold_batch_norms();
    let pass = |m: &dyn Module| -> (f64, Vec<Array2<f32>>) {
        let start = Instant::now();
        let out: Vec<Array2<f32>> = batches
            .iter()
            .map(|b| predict_proba(m, b.clone()))
            .collect();
        (start.elapsed().as_secs_f64(), out)
    };
    let (mut t_orig, mut t_fold) = (f64::INFINITY, f64::INFINITY);
    let (mut p_orig, mut p_fold) = (Vec::new(), Vec::new());
    for _ in 0..repeats.max(1) {
        let (t, p) = pass(original);
        t_orig = t_orig.min(t);
        p_orig = p;
        let (t, p) = pass(folded);
        t_fold = t_fold.min(t);
        p_fold = p;
    }
    let (mut images, mut same, mut max_diff) = (0, 0, 0.0f32);
    for (a, b) in p_orig.iter().zip(&p_fold) {
        for (ra, rb) in a.axis_iter(Axis(0)).zip(b.axis_iter(Axis(0))) {
            images += 1;
            if argmax(ra.iter()) == argmax(rb.iter()) {
                same += 1;
            }
            for (x, y) in ra.iter().zip(rb.iter()) {
                max_diff = max_diff.max((x - y).abs());
            }
        }
    }
    FoldReport {
        folded: count,
        remaining_batch_norms: batch_norms(folded),
        images,
        same_predictions: same,
        max_abs_prob_diff: max_diff,
        seconds_original: t_orig,
        seconds_folded: t_fold,
        speedup: t_orig / t_fold.max(1e-12),
        scalars_before,
        scalars_after: scalars(folded),
    }
}

fn argmax<'a>(values: impl Iterator<Item = &'a f32>) -> usize {
    let (mut best, mut best_v) = (0, f32::NEG_INFINITY);
    for (k, &v) in values.enumerate() {
        if v > best_v {
            (best, best_v) = (k, v);
        }
    }
    best
}

impl std::fmt::Display for FoldReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "BatchNorm folding: {} folded into the layer before ({} left); {} -> {} stored scalars",
            self.folded, self.remaining_batch_norms, self.scalars_before, self.scalars_after
        )?;
        write!(
            f,
            "  same predicted class on {}/{} images (max |dp| = {:.1e}); forward pass {:.4} s -> {:.4} s: {:.2}x",
            self.same_predictions,
            self.images,
            self.max_abs_prob_diff,
            self.seconds_original,
            self.seconds_folded,
            self.speedup
        )
    }
}
