//! [`Warmup`]: a linear warm-up in front of any schedule (Goyal et al., "Accurate, Large
//! Minibatch SGD: Training ImageNet in 1 Hour", 2017).

use serde::{Deserialize, Serialize};

use super::LrSchedule;
use super::linear::check_factor;
use crate::error::OptimError;

/// Linear warm-up wrapping a schedule: αₜ = inner(0)·(s + (1 − s)·t/N) for t < N, then
/// inner(t − N) (continuous at N); s = 0 warms up from 0. In configs `inner` is a
/// [`super::Schedule`]; any [`LrSchedule`] can be wrapped in Rust.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Warmup<S = Box<super::Schedule>> {
    /// Warm-up length N.
    pub steps: u64,
    /// Starting factor s ∈ [0, 1] (0).
    #[serde(default)]
    pub start_factor: f64,
    /// The schedule after the warm-up (its t starts at 0 at the end of the warm-up).
    pub inner: S,
}

impl<S: LrSchedule> LrSchedule for Warmup<S> {
    fn lr(&self, base: f64, t: u64) -> f64 {
        if t < self.steps {
            let f = self.start_factor + (1.0 - self.start_factor) * t as f64 / self.steps as f64;
            self.inner.lr(base, 0) * f
        } else {
            self.inner.lr(base, t - self.steps)
        }
    }
    fn bounds(&self, base: f64) -> (f64, f64) {
        let (lo, hi) = self.inner.bounds(base);
        (lo.min(self.inner.lr(base, 0) * self.start_factor), hi)
    }
    fn validate(&self) -> Result<(), OptimError> {
        check_factor("Warmup", "start_factor", self.start_factor)?;
        self.inner.validate()
    }
}
