//! Gradient accumulation: one optimizer step over several micro-batches, to train with a step
//! of `batch_size × grad_accumulation` images when that many do not fit in memory at once.
//!
//! ```toml
//! batch_size = 32          # images per forward/backward pass
//! grad_accumulation = 4    # 128 images per optimizer step
//! ```
//!
//! [`crate::Session::train_step_group`] takes the k micro-batches of one step, runs forward and
//! backward on each with its loss weighted by `nⱼ / Σ nⱼ` (its share of the step's images), so
//! the accumulated gradient is that of the mean loss over all the step's images, adds the
//! `[penalty]` gradient once, then steps the optimizer and the schedule once. The last step of
//! an epoch takes the micro-batches that are left (fewer than k; their weights still sum to 1).
//! A step consumes all its micro-batches in one call, so a checkpoint taken between steps never
//! holds a partial accumulation: step s of an epoch starts at batch s·k of the loader.
//!
//! ## What equals the big batch, and what does not
//! - **The same images, the same gradient** (up to float rounding): micro-batches are
//!   consecutive slices of the epoch's shuffled order, which does not depend on the batch size,
//!   so micro-batches j = 0..k of step s are exactly the images of batch s with
//!   `batch_size × k`. With a model whose training-mode forward treats samples independently
//!   (no batch norm, no dropout) and no batch hooks, the accumulated gradient equals the big
//!   batch's: the per-sample terms are identical and only the order of the float additions over
//!   the samples differs (GEMMs over k shorter batch axes instead of one), so parameters agree
//!   to float rounding (about 1e-7 relative per step), not bit for bit. With k = 1 the step is
//!   the plain step, bit for bit.
//! - **Batch norm** normalises each micro-batch with its own mean and variance, so the gradient
//!   is that of k small-batch normalisations, not of one big one (noisier statistics: the
//!   reason large-batch BN training uses the full per-device batch), and the running statistics
//!   are updated k times per step (momentum 0.1 per micro-batch, i.e. 1 − 0.9ᵏ per step).
//! - **Dropout and other training-mode noise** draw a fresh stream per micro-batch.
//! - **Batch hooks** (cutout, mixup / CutMix) run per micro-batch: mixup pairs images within a
//!   micro-batch and draws one λ per micro-batch.
//! - **Class weights**: each micro-batch's loss is its own weighted mean Σ w_y·ℓ / Σ w_y,
//!   weighted by its image count, not by its share of the step's class-weight mass.
//! - **The schedule** counts optimizer steps, so `steps per epoch` is ⌈batches / k⌉.

use nn_core::rng::{self, Rng};

/// The weight `nⱼ / Σ nⱼ` of each micro-batch of a step, for micro-batch sizes `sizes`.
pub fn micro_batch_weights(sizes: &[usize]) -> Vec<f32> {
    let total: usize = sizes.iter().sum();
    sizes
        .iter()
        .map(|&n| (n as f64 / total.max(1) as f64) as f32)
        .collect()
}

/// The random stream of the training-mode forward pass of micro-batch `micro` of optimizer step
/// `step` (dropout masks, stochastic depth, ...). Micro-batch 0 uses the stream a step without
/// accumulation uses, so `grad_accumulation = 1` reproduces earlier runs.
pub fn forward_stream(seed: u64, step: u64, micro: usize) -> Rng {
    let key = seed ^ 0x5eed;
    if micro == 0 {
        rng::stream(key, step)
    } else {
        rng::stream(
            key ^ (micro as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            step,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn weights_sum_to_one_and_follow_the_sizes() {
        let w = micro_batch_weights(&[32, 32, 16]);
        assert_eq!(w, [0.4, 0.4, 0.2]);
        assert_eq!(micro_batch_weights(&[7]), [1.0]);
    }

    #[test]
    fn micro_batches_draw_distinct_streams() {
        let mut a = forward_stream(3, 10, 0);
        let mut b = forward_stream(3, 10, 1);
        let mut c = forward_stream(3, 11, 0);
        let (x, y, z) = (a.next_u64(), b.next_u64(), c.next_u64());
        assert!(x != y && x != z && y != z);
        assert_eq!(
            forward_stream(3, 10, 0).next_u64(),
            rng::stream(3 ^ 0x5eed, 10).next_u64()
        );
    }
}
