//! The one-cycle policy (Smith & Topin, "Super-Convergence: Very Fast Training of Neural
//! Networks Using Large Learning Rates", 2018), as PyTorch's `OneCycleLR`.

use serde::{Deserialize, Serialize};

use super::LrSchedule;
use crate::error::{OptimError, check};

fn pct_start() -> f64 {
    0.3
}
fn div_factor() -> f64 {
    25.0
}
fn final_div_factor() -> f64 {
    1e4
}

/// One-cycle policy with peak α₀ (`OneCycleLR`; momentum cycling through the driver's
/// [`crate::MomentumCycle`]): initial = α₀/div_factor, minimum = initial/final_div_factor; two
/// phases (initial → α₀ over the first `pct_start` of the steps, α₀ → minimum) or three
/// (initial → α₀ → initial → minimum). Steps past `total_steps − 1` keep the final value
/// (PyTorch raises instead).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneCycle {
    /// Total number of steps of the cycle.
    pub total_steps: u64,
    /// Fraction of the steps spent increasing (0.3).
    #[serde(default = "pct_start")]
    pub pct_start: f64,
    /// Interpolation (cos).
    #[serde(default)]
    pub anneal: Anneal,
    /// initial rate = α₀ / div_factor (25).
    #[serde(default = "div_factor")]
    pub div_factor: f64,
    /// minimum rate = initial / final_div_factor (1e4).
    #[serde(default = "final_div_factor")]
    pub final_div_factor: f64,
    /// Three phases (up, symmetric down, annihilate) instead of two (false).
    #[serde(default)]
    pub three_phase: bool,
}

impl OneCycle {
    /// A two-phase cosine cycle over `total_steps` with PyTorch's defaults.
    pub fn new(total_steps: u64) -> Self {
        Self {
            total_steps,
            pct_start: pct_start(),
            anneal: Anneal::Cos,
            div_factor: div_factor(),
            final_div_factor: final_div_factor(),
            three_phase: false,
        }
    }
}

impl LrSchedule for OneCycle {
    fn lr(&self, base: f64, t: u64) -> f64 {
        let initial = base / self.div_factor;
        let min_lr = initial / self.final_div_factor;
        let total = self.total_steps as f64;
        let p = self.pct_start;
        let phases: &[(f64, f64, f64)] = if self.three_phase {
            &[
                (p * total - 1.0, initial, base),
                (2.0 * p * total - 2.0, base, initial),
                (total - 1.0, initial, min_lr),
            ]
        } else {
            &[
                (p * total - 1.0, initial, base),
                (total - 1.0, base, min_lr),
            ]
        };
        walk(t, self.total_steps, phases, self.anneal)
    }

    fn bounds(&self, base: f64) -> (f64, f64) {
        let initial = base / self.div_factor;
        let lo = initial.min(initial / self.final_div_factor).min(base);
        (lo, base.max(initial))
    }

    /// The momentum, cycled inversely to the learning rate (PyTorch's `cycle_momentum=True`):
    /// max → base while the rate rises, base → max while it falls (three phases: then max held).
    fn one_cycle_momentum(&self, t: u64, base_momentum: f64, max_momentum: f64) -> Option<f64> {
        let total = self.total_steps as f64;
        let (lo, hi, p) = (base_momentum, max_momentum, self.pct_start);
        let phases: &[(f64, f64, f64)] = if self.three_phase {
            &[
                (p * total - 1.0, hi, lo),
                (2.0 * p * total - 2.0, lo, hi),
                (total - 1.0, hi, hi),
            ]
        } else {
            &[(p * total - 1.0, hi, lo), (total - 1.0, lo, hi)]
        };
        Some(walk(t, self.total_steps, phases, self.anneal))
    }

    fn validate(&self) -> Result<(), OptimError> {
        const O: &str = "OneCycle";
        let finite_pos =
            |field, v: f64| check(v.is_finite() && v > 0.0, O, field, v, "a finite number > 0");
        check(
            self.total_steps > 0,
            O,
            "total_steps",
            self.total_steps,
            "at least 1",
        )?;
        finite_pos("div_factor", self.div_factor)?;
        finite_pos("final_div_factor", self.final_div_factor)?;
        let up = self.pct_start * self.total_steps as f64;
        check(
            self.pct_start > 0.0 && self.pct_start < 1.0 && up > 1.0,
            O,
            "pct_start",
            self.pct_start,
            "in (0, 1) with pct_start × total_steps > 1 (a warm-up phase of at least one step)",
        )?;
        if self.three_phase {
            check(
                2.0 * up - 2.0 < self.total_steps as f64 - 1.0,
                O,
                "pct_start",
                self.pct_start,
                "small enough that the two symmetric phases end before the last step (three_phase)",
            )?;
        }
        Ok(())
    }
}

/// How a one-cycle phase interpolates between its end points.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anneal {
    /// a + (b − a)·(1 − cos(π·p))/2, written as PyTorch does: b + (a − b)/2·(cos(π·p) + 1).
    #[default]
    Cos,
    /// a + (b − a)·p.
    Linear,
}

impl Anneal {
    /// Interpolates from `start` (p = 0) to `end` (p = 1).
    pub fn apply(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            Anneal::Cos => end + (start - end) / 2.0 * ((std::f64::consts::PI * pct).cos() + 1.0),
            Anneal::Linear => (end - start) * pct + start,
        }
    }
}

/// Finds the phase `(end_step, start value, end value)` of step `t` and interpolates, as
/// PyTorch's `OneCycleLR.get_lr`.
fn walk(t: u64, total_steps: u64, phases: &[(f64, f64, f64)], anneal: Anneal) -> f64 {
    let step = (t.min(total_steps - 1)) as f64;
    let mut start_step = 0.0;
    for (i, &(end_step, a, b)) in phases.iter().enumerate() {
        if step <= end_step || i == phases.len() - 1 {
            let pct = (step - start_step) / (end_step - start_step);
            return anneal.apply(a, b, pct);
        }
        start_step = end_step;
    }
    unreachable!("the last phase always matches")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pct_start_must_leave_a_warm_up_step() {
        let oc = |p| OneCycle {
            pct_start: p,
            ..OneCycle::new(10)
        };
        assert!(oc(0.3).validate().is_ok());
        assert!(oc(0.05).validate().is_err());
        assert!(oc(1.0).validate().is_err());
        // Three phases: the symmetric way down must end before the last step.
        assert!(oc(0.6).validate().is_ok());
        let three = OneCycle {
            three_phase: true,
            ..oc(0.6)
        };
        assert!(
            three
                .validate()
                .unwrap_err()
                .to_string()
                .contains("three_phase")
        );
    }
}
