//! The batch-size rule for the learning rate (the lecture's "if you increase the batch size by
//! N, also scale the initial learning rate by N"; Goyal et al., "Accurate, Large Minibatch SGD:
//! Training ImageNet in 1 Hour", 2017), with nn-optim's [`scale_lr`].
//!
//! ```toml
//! batch_size = 128
//! grad_accumulation = 2     # 256 images per optimizer step
//!
//! [optimizer]
//! kind = "sgd"
//! lr = 0.1                  # tuned at 64 images per step...
//!
//! [lr_scaling]
//! base_batch = 64           # ...so this job steps at 0.1 × 256/64 = 0.4
//! rule = "linear"           # or "sqrt" (α·√(B/B₀), Krizhevsky 2014; common with Adam)
//! ```
//!
//! The batch B is the number of images per optimizer step, `batch_size × grad_accumulation`.
//! Every parameter group is scaled by the same factor (group ratios such as a backbone at 0.1×
//! are kept), and the schedule then runs from the scaled rate: the default schedule's warm-up is
//! the gradual warm-up Goyal et al. pair with the rule. L-BFGS (full batch, a step length of 1
//! by default) takes no scaling.

use nn_optim::{ScalingRule, scale_lr};
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

fn linear() -> ScalingRule {
    ScalingRule::Linear
}

/// The `[lr_scaling]` block of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LrScaling {
    /// The images per step at which `optimizer.lr` was tuned (Goyal et al.: 256).
    pub base_batch: usize,
    /// `linear` (default): α = α₀·B/B₀; `sqrt`: α = α₀·√(B/B₀).
    #[serde(default = "linear")]
    pub rule: ScalingRule,
}

impl LrScaling {
    /// Checks the values, naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.base_batch == 0 {
            return Err(invalid("lr_scaling.base_batch", 0, "at least 1 image"));
        }
        Ok(())
    }

    /// The factor α/α₀ for `batch` images per optimizer step.
    pub fn factor(&self, batch: usize) -> Result<f64> {
        self.validate()?;
        Ok(scale_lr(1.0, batch, self.base_batch, self.rule)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_and_sqrt_factors() {
        let s: LrScaling = toml::from_str("base_batch = 64").unwrap();
        assert_eq!(s.rule, ScalingRule::Linear);
        assert_eq!(s.factor(256).unwrap(), 4.0);
        let s: LrScaling = toml::from_str("base_batch = 64\nrule = \"sqrt\"").unwrap();
        assert_eq!(s.factor(256).unwrap(), 2.0);
        let e = toml::from_str::<LrScaling>("base_batch = 0")
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("lr_scaling.base_batch"), "{e}");
        assert!(toml::from_str::<LrScaling>("base_batch = 64\nrule = \"cubic\"").is_err());
    }
}
