//! Polynomial-free decays: [`Linear`] (`LinearLR`, and the linear decay to zero) and
//! [`InverseSqrt`] (Vaswani et al., "Attention Is All You Need", 2017).

use serde::{Deserialize, Serialize};

use super::LrSchedule;
use crate::error::{OptimError, check};

fn third() -> f64 {
    1.0 / 3.0
}
fn one_f() -> f64 {
    1.0
}
fn five() -> u64 {
    5
}
fn one() -> u64 {
    1
}

/// αₜ = α₀·(s + (e − s)·min(t, T)/T) (`LinearLR`); with s = 1, e = 0 this is the linear decay
/// αₜ = α₀(1 − t/T) ([`Linear::decay_to_zero`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Linear {
    /// Factor s at t = 0, in [0, 1] (1/3).
    #[serde(default = "third")]
    pub start_factor: f64,
    /// Factor e from t = T on, in [0, 1] (1).
    #[serde(default = "one_f")]
    pub end_factor: f64,
    /// T ≥ 1 (5).
    #[serde(default = "five")]
    pub total_iters: u64,
}

impl Default for Linear {
    fn default() -> Self {
        Self {
            start_factor: third(),
            end_factor: one_f(),
            total_iters: five(),
        }
    }
}

impl Linear {
    /// Linear decay to zero over `total` steps: αₜ = α₀(1 − t/T).
    pub fn decay_to_zero(total: u64) -> Self {
        Self {
            start_factor: 1.0,
            end_factor: 0.0,
            total_iters: total,
        }
    }
}

/// A factor in [0, 1].
pub(crate) fn check_factor(
    owner: &'static str,
    field: &'static str,
    v: f64,
) -> Result<(), OptimError> {
    check(
        (0.0..=1.0).contains(&v),
        owner,
        field,
        v,
        "a number in [0, 1]",
    )
}

impl LrSchedule for Linear {
    fn lr(&self, base: f64, t: u64) -> f64 {
        let p = t.min(self.total_iters) as f64 / self.total_iters as f64;
        base * (self.start_factor + (self.end_factor - self.start_factor) * p)
    }
    fn bounds(&self, base: f64) -> (f64, f64) {
        let (a, b) = (base * self.start_factor, base * self.end_factor);
        (a.min(b), a.max(b))
    }
    fn validate(&self) -> Result<(), OptimError> {
        check_factor("Linear", "start_factor", self.start_factor)?;
        check_factor("Linear", "end_factor", self.end_factor)?;
        check(
            self.total_iters > 0,
            "Linear",
            "total_iters",
            self.total_iters,
            "at least 1",
        )
    }
}

/// Inverse square root: αₜ = α₀·√(τ / max(t, τ)), i.e. α₀ until τ, then ∝ 1/√t (τ = 1:
/// αₜ = α₀/√t); usually after a warm-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InverseSqrt {
    /// Time scale τ ≥ 1 (1).
    #[serde(default = "one")]
    pub timescale: u64,
}

impl LrSchedule for InverseSqrt {
    fn lr(&self, base: f64, t: u64) -> f64 {
        base * (self.timescale as f64 / t.max(self.timescale) as f64).sqrt()
    }
    fn bounds(&self, base: f64) -> (f64, f64) {
        (0.0, base)
    }
    fn validate(&self) -> Result<(), OptimError> {
        check(
            self.timescale > 0,
            "InverseSqrt",
            "timescale",
            self.timescale,
            "at least 1",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_sqrt() {
        let s = InverseSqrt { timescale: 1 };
        assert_eq!(s.lr(1.0, 0), 1.0);
        assert_eq!(s.lr(1.0, 4), 0.5);
        assert_eq!(s.lr(1.0, 100), 0.1);
        assert!(InverseSqrt { timescale: 0 }.validate().is_err());
    }

    #[test]
    fn linear_decay_and_factors() {
        let s = Linear::decay_to_zero(10);
        assert_eq!((s.lr(2.0, 0), s.lr(2.0, 5), s.lr(2.0, 20)), (2.0, 1.0, 0.0));
        let bad = Linear {
            start_factor: 1.5,
            ..Linear::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("start_factor")
        );
    }
}
