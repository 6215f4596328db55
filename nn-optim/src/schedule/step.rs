//! Step decays: [`Step`] (`StepLR`), [`MultiStep`] (`MultiStepLR`) and [`Exponential`]
//! (`ExponentialLR`).

use serde::{Deserialize, Serialize};

use super::LrSchedule;
use crate::error::{OptimError, check};

fn default_gamma() -> f64 {
    0.1
}

/// A factor γ > 0 (finite).
fn check_gamma(owner: &'static str, gamma: f64) -> Result<(), OptimError> {
    check(
        gamma.is_finite() && gamma > 0.0,
        owner,
        "gamma",
        gamma,
        "a finite number > 0",
    )
}

/// The bounds of α₀·γᵏ over k ≥ 0.
fn power_bounds(base: f64, gamma: f64) -> (f64, f64) {
    if gamma <= 1.0 {
        (0.0, base)
    } else {
        (base, f64::INFINITY)
    }
}

/// αₜ = α₀·γ^⌊t/step_size⌋ (`StepLR`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Period of the decay (≥ 1).
    pub step_size: u64,
    /// Factor γ (0.1).
    #[serde(default = "default_gamma")]
    pub gamma: f64,
}

impl LrSchedule for Step {
    fn lr(&self, base: f64, t: u64) -> f64 {
        base * self.gamma.powf((t / self.step_size) as f64)
    }
    fn bounds(&self, base: f64) -> (f64, f64) {
        power_bounds(base, self.gamma)
    }
    fn validate(&self) -> Result<(), OptimError> {
        check(
            self.step_size > 0,
            "Step",
            "step_size",
            self.step_size,
            "at least 1",
        )?;
        check_gamma("Step", self.gamma)
    }
}

/// αₜ = α₀·γ^(number of milestones ≤ t) (`MultiStepLR`; ResNet: ×0.1 at epochs 30, 60, 90).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiStep {
    /// Steps (sorted, non-decreasing) at which the rate is multiplied by γ.
    pub milestones: Vec<u64>,
    /// Factor γ (0.1).
    #[serde(default = "default_gamma")]
    pub gamma: f64,
}

impl LrSchedule for MultiStep {
    fn lr(&self, base: f64, t: u64) -> f64 {
        base * self
            .gamma
            .powf(self.milestones.partition_point(|&m| m <= t) as f64)
    }
    fn bounds(&self, base: f64) -> (f64, f64) {
        power_bounds(base, self.gamma)
    }
    fn validate(&self) -> Result<(), OptimError> {
        check(
            self.milestones.is_sorted(),
            "MultiStep",
            "milestones",
            format!("{:?}", self.milestones),
            "sorted",
        )?;
        check_gamma("MultiStep", self.gamma)
    }
}

/// αₜ = α₀·γᵗ (`ExponentialLR`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exponential {
    /// Factor γ per step.
    pub gamma: f64,
}

impl LrSchedule for Exponential {
    fn lr(&self, base: f64, t: u64) -> f64 {
        base * self.gamma.powf(t as f64)
    }
    fn bounds(&self, base: f64) -> (f64, f64) {
        power_bounds(base, self.gamma)
    }
    fn validate(&self) -> Result<(), OptimError> {
        check_gamma("Exponential", self.gamma)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet_multistep() {
        let s = MultiStep {
            milestones: vec![30, 60, 90],
            gamma: 0.1,
        };
        assert_eq!(s.lr(0.1, 29), 0.1);
        assert!((s.lr(0.1, 30) - 0.01).abs() < 1e-15);
        assert!((s.lr(0.1, 95) - 1e-4).abs() < 1e-15);
    }

    #[test]
    fn invalid_decays_are_errors() {
        let step = Step {
            step_size: 0,
            gamma: 0.1,
        };
        assert!(
            step.validate()
                .unwrap_err()
                .to_string()
                .contains("step_size")
        );
        let multi = MultiStep {
            milestones: vec![5, 3],
            gamma: 0.1,
        };
        assert!(
            multi
                .validate()
                .unwrap_err()
                .to_string()
                .contains("milestones")
        );
        let e = Exponential { gamma: -1.0 }.validate().unwrap_err();
        assert!(e.to_string().contains("gamma"), "{e}");
    }
}
