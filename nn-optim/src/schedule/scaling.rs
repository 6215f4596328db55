//! The batch-size scaling rule for the learning rate.

use serde::{Deserialize, Serialize};

use crate::error::{OptimError, check};

/// How the learning rate scales with the batch size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScalingRule {
    /// α = α_base · B / B_base (Goyal et al., "Accurate, Large Minibatch SGD: Training ImageNet
    /// in 1 Hour", 2017).
    Linear,
    /// α = α_base · √(B / B_base) (Krizhevsky, "One weird trick for parallelizing
    /// convolutional neural networks", 2014; common for adaptive optimizers).
    Sqrt,
}

/// The learning rate for batch size `batch`, given `base_lr` tuned at `base_batch`.
pub fn scale_lr(
    base_lr: f64,
    batch: usize,
    base_batch: usize,
    rule: ScalingRule,
) -> Result<f64, OptimError> {
    crate::error::check_lr("scale_lr", base_lr)?;
    check(batch > 0, "scale_lr", "batch", batch, "at least 1")?;
    check(
        base_batch > 0,
        "scale_lr",
        "base_batch",
        base_batch,
        "at least 1",
    )?;
    let r = batch as f64 / base_batch as f64;
    Ok(match rule {
        ScalingRule::Linear => base_lr * r,
        ScalingRule::Sqrt => base_lr * r.sqrt(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goyal_and_sqrt() {
        assert!((scale_lr(0.1, 1024, 256, ScalingRule::Linear).unwrap() - 0.4).abs() < 1e-12);
        assert!((scale_lr(0.1, 1024, 256, ScalingRule::Sqrt).unwrap() - 0.2).abs() < 1e-12);
        assert!(scale_lr(0.1, 1024, 0, ScalingRule::Linear).is_err());
    }
}
