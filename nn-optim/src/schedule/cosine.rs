//! Cosine annealing: [`Cosine`] (`CosineAnnealingLR` on [0, T]) and [`CosineWarmRestarts`]
//! (SGDR, `CosineAnnealingWarmRestarts`; Loshchilov & Hutter, "SGDR: Stochastic Gradient
//! Descent with Warm Restarts", ICLR 2017).

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

use super::LrSchedule;
use crate::error::{OptimError, check};

fn one() -> u64 {
    1
}

/// η_min ≥ 0 (finite).
fn check_floor(owner: &'static str, eta_min: f64) -> Result<(), OptimError> {
    check(
        eta_min.is_finite() && eta_min >= 0.0,
        owner,
        "eta_min",
        eta_min,
        "a finite number >= 0",
    )
}

/// ½(1 + cos(π·p)) between `base` (p = 0) and `eta_min` (p = 1).
fn anneal(base: f64, eta_min: f64, p: f64) -> f64 {
    eta_min + (base - eta_min) * (1.0 + (PI * p).cos()) / 2.0
}

/// αₜ = η_min + ½(α₀ − η_min)(1 + cos(π·t/T)) for t ≤ T, then η_min (`CosineAnnealingLR` on
/// [0, T]; PyTorch's keeps following the cosine back up after T).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cosine {
    /// Length T of the decay (≥ 1).
    pub t_max: u64,
    /// Floor η_min (0).
    #[serde(default)]
    pub eta_min: f64,
}

impl LrSchedule for Cosine {
    fn lr(&self, base: f64, t: u64) -> f64 {
        anneal(
            base,
            self.eta_min,
            t.min(self.t_max) as f64 / self.t_max as f64,
        )
    }
    fn bounds(&self, base: f64) -> (f64, f64) {
        (self.eta_min.min(base), self.eta_min.max(base))
    }
    fn validate(&self) -> Result<(), OptimError> {
        check(self.t_max > 0, "Cosine", "t_max", self.t_max, "at least 1")?;
        check_floor("Cosine", self.eta_min)
    }
}

/// SGDR: cosine from α₀ to η_min over cycles of T₀, T₀·T_mult, … steps, restarting at α₀
/// (`CosineAnnealingWarmRestarts`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CosineWarmRestarts {
    /// Length of the first cycle T₀ (≥ 1).
    pub t_0: u64,
    /// Growth factor of the cycle length (1).
    #[serde(default = "one")]
    pub t_mult: u64,
    /// Floor η_min (0).
    #[serde(default)]
    pub eta_min: f64,
}

impl CosineWarmRestarts {
    /// `(T_cur, T_i)` at step `t` for cycles of length T₀, T₀·T_mult, T₀·T_mult², …, counted
    /// exactly in integers (as PyTorch's `CosineAnnealingWarmRestarts.step()` does).
    pub fn position(&self, t: u64) -> (u64, u64) {
        if self.t_mult == 1 {
            return (t % self.t_0, self.t_0);
        }
        let (mut t_cur, mut t_i) = (t, self.t_0);
        while t_cur >= t_i {
            t_cur -= t_i;
            t_i = t_i.saturating_mul(self.t_mult);
        }
        (t_cur, t_i)
    }
}

impl LrSchedule for CosineWarmRestarts {
    fn lr(&self, base: f64, t: u64) -> f64 {
        let (t_cur, t_i) = self.position(t);
        anneal(base, self.eta_min, t_cur as f64 / t_i as f64)
    }
    fn bounds(&self, base: f64) -> (f64, f64) {
        (self.eta_min.min(base), self.eta_min.max(base))
    }
    fn validate(&self) -> Result<(), OptimError> {
        const O: &str = "CosineWarmRestarts";
        check(self.t_0 > 0, O, "t_0", self.t_0, "at least 1")?;
        check(self.t_mult > 0, O, "t_mult", self.t_mult, "at least 1")?;
        check_floor(O, self.eta_min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_holds_its_floor_after_t_max() {
        let s = Cosine {
            t_max: 10,
            eta_min: 0.001,
        };
        assert_eq!(s.lr(0.1, 0), 0.1);
        assert!((s.lr(0.1, 10) - 0.001).abs() < 1e-15);
        assert!((s.lr(0.1, 25) - 0.001).abs() < 1e-15);
        let bad = Cosine {
            t_max: 0,
            eta_min: 0.0,
        };
        assert!(bad.validate().unwrap_err().to_string().contains("t_max"));
    }

    #[test]
    fn restart_cycles_double() {
        let s = CosineWarmRestarts {
            t_0: 1,
            t_mult: 2,
            eta_min: 0.0,
        };
        let p: Vec<_> = (0..8).map(|t| s.position(t)).collect();
        assert_eq!(
            p,
            vec![
                (0, 1),
                (0, 2),
                (1, 2),
                (0, 4),
                (1, 4),
                (2, 4),
                (3, 4),
                (0, 8)
            ]
        );
        let s = CosineWarmRestarts {
            t_0: 3,
            t_mult: 1,
            eta_min: 0.0,
        };
        assert_eq!(s.position(7), (1, 3));
        let bad = CosineWarmRestarts { t_mult: 0, ..s };
        assert!(bad.validate().unwrap_err().to_string().contains("t_mult"));
    }
}
