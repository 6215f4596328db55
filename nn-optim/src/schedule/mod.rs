//! Learning-rate schedules: pure functions `lr(base, t)` of the step (or epoch) `t` that
//! compose, plus a small stateful driver ([`LrScheduler`]) and the batch-size scaling rule; and
//! [`ReduceLrOnPlateau`], driven by a metric instead of the step.
//!
//! A [`Schedule`] is plain data (serde, tagged by `kind`), so it can be read from a config
//! file; `base` is the learning rate of a parameter group (each group keeps its ratio, e.g. a
//! head at 10x), and is the peak for the one-cycle policy.
//!
//! ```
//! use nn_optim::Schedule;
//! // Linear warm-up from 0 over 100 steps, then cosine to 1e-5 over 900 steps.
//! let s = Schedule::warmup(100, Schedule::Cosine { t_max: 900, eta_min: 1e-5 });
//! assert_eq!(s.lr(0.1, 0), 0.0);
//! assert!((s.lr(0.1, 50) - 0.05).abs() < 1e-12);
//! assert!((s.lr(0.1, 100) - 0.1).abs() < 1e-12);
//! assert!((s.lr(0.1, 1000) - 1e-5).abs() < 1e-12);
//! ```

mod driver;
mod one_cycle;
mod plateau;
mod restarts;
mod scaling;
mod validate;

pub use driver::{Interval, LrScheduler, MomentumCycle};
pub use one_cycle::Anneal;
pub use plateau::{MinLr, PlateauMode, ReduceLrOnPlateau, ReduceLrOnPlateauConfig, ThresholdMode};
pub use scaling::{ScalingRule, scale_lr};

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

fn default_gamma() -> f64 {
    0.1
}
fn one() -> u64 {
    1
}
fn one_f() -> f64 {
    1.0
}
fn third() -> f64 {
    1.0 / 3.0
}
fn five() -> u64 {
    5
}
fn pct_start() -> f64 {
    0.3
}
fn div_factor() -> f64 {
    25.0
}
fn final_div_factor() -> f64 {
    1e4
}

/// A learning-rate schedule: α(t) = `lr(α₀, t)` for base rate α₀ and step (or epoch) t ≥ 0.
///
/// Defaults of omitted fields are PyTorch's. Each variant names the PyTorch scheduler whose
/// sequence it reproduces (checked against fixtures).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// αₜ = α₀.
    Constant,
    /// αₜ = α₀·γ^⌊t/step_size⌋ (`StepLR`).
    Step {
        /// Period of the decay.
        step_size: u64,
        /// Factor γ (0.1).
        #[serde(default = "default_gamma")]
        gamma: f64,
    },
    /// αₜ = α₀·γ^(number of milestones ≤ t) (`MultiStepLR`; ResNet: ×0.1 at epochs 30, 60, 90).
    MultiStep {
        /// Steps (sorted, non-decreasing) at which the rate is multiplied by γ.
        milestones: Vec<u64>,
        /// Factor γ (0.1).
        #[serde(default = "default_gamma")]
        gamma: f64,
    },
    /// αₜ = α₀·γᵗ (`ExponentialLR`).
    Exponential {
        /// Factor γ per step.
        gamma: f64,
    },
    /// αₜ = η_min + ½(α₀ − η_min)(1 + cos(π·t/T)) for t ≤ T, then η_min (`CosineAnnealingLR`
    /// on [0, T]; PyTorch's keeps following the cosine back up after T). Loshchilov & Hutter,
    /// SGDR, ICLR 2017.
    Cosine {
        /// Length T of the decay.
        t_max: u64,
        /// Floor η_min (0).
        #[serde(default)]
        eta_min: f64,
    },
    /// SGDR: cosine from α₀ to η_min over cycles of T₀, T₀·T_mult, … steps, restarting at α₀
    /// (`CosineAnnealingWarmRestarts`).
    CosineWarmRestarts {
        /// Length of the first cycle T₀.
        t_0: u64,
        /// Growth factor of the cycle length (1).
        #[serde(default = "one")]
        t_mult: u64,
        /// Floor η_min (0).
        #[serde(default)]
        eta_min: f64,
    },
    /// αₜ = α₀·(s + (e − s)·min(t, T)/T) (`LinearLR`); with s = 1, e = 0 this is the linear
    /// decay αₜ = α₀(1 − t/T).
    Linear {
        /// Factor s at t = 0 (1/3).
        #[serde(default = "third")]
        start_factor: f64,
        /// Factor e from t = T on (1).
        #[serde(default = "one_f")]
        end_factor: f64,
        /// T (5).
        #[serde(default = "five")]
        total_iters: u64,
    },
    /// Inverse square root: αₜ = α₀·√(τ / max(t, τ)), i.e. α₀ until τ, then ∝ 1/√t (τ = 1:
    /// αₜ = α₀/√t). Vaswani et al., "Attention Is All You Need", 2017 (with a warm-up).
    InverseSqrt {
        /// Time scale τ ≥ 1 (1).
        #[serde(default = "one")]
        timescale: u64,
    },
    /// One-cycle policy with peak α₀ (`OneCycleLR` without momentum cycling): see
    /// [`Anneal`]. Smith & Topin, 2018.
    OneCycle {
        /// Total number of steps of the cycle.
        total_steps: u64,
        /// Fraction of the steps spent increasing (0.3).
        #[serde(default = "pct_start")]
        pct_start: f64,
        /// Interpolation (cos).
        #[serde(default)]
        anneal: Anneal,
        /// initial rate = α₀ / div_factor (25).
        #[serde(default = "div_factor")]
        div_factor: f64,
        /// minimum rate = initial / final_div_factor (1e4).
        #[serde(default = "final_div_factor")]
        final_div_factor: f64,
        /// Three phases (up, symmetric down, annihilate) instead of two (false).
        #[serde(default)]
        three_phase: bool,
    },
    /// Linear warm-up wrapping any schedule: αₜ = inner(0)·(s + (1 − s)·t/N) for t < N, then
    /// inner(t − N) (continuous at N). s = 0 warms up from 0 (Goyal et al., "Accurate, Large
    /// Minibatch SGD", 2017).
    Warmup {
        /// Warm-up length N.
        steps: u64,
        /// Starting factor s ∈ [0, 1] (0).
        #[serde(default)]
        start_factor: f64,
        /// The schedule after the warm-up (its t starts at 0 at the end of the warm-up).
        inner: Box<Schedule>,
    },
    /// Schedules one after another (`SequentialLR`): schedule i runs from milestone i−1 on,
    /// with its own t starting at 0.
    Sequential {
        /// The schedules (at least one).
        schedules: Vec<Schedule>,
        /// Strictly increasing switch points, one fewer than the schedules.
        milestones: Vec<u64>,
    },
}

impl Schedule {
    /// Linear decay to zero over `t` steps: αₜ = α₀(1 − t/T).
    pub fn linear_decay(total: u64) -> Self {
        Schedule::Linear {
            start_factor: 1.0,
            end_factor: 0.0,
            total_iters: total,
        }
    }

    /// A linear warm-up from 0 over `steps` steps, then `inner`.
    pub fn warmup(steps: u64, inner: Schedule) -> Self {
        Schedule::Warmup {
            steps,
            start_factor: 0.0,
            inner: Box::new(inner),
        }
    }

    /// The learning rate at step (or epoch) `t` for base rate `base`.
    pub fn lr(&self, base: f64, t: u64) -> f64 {
        match self {
            Schedule::Constant => base,
            Schedule::Step { step_size, gamma } => base * gamma.powf((t / step_size) as f64),
            Schedule::MultiStep { milestones, gamma } => {
                base * gamma.powf(milestones.partition_point(|&m| m <= t) as f64)
            }
            Schedule::Exponential { gamma } => base * gamma.powf(t as f64),
            Schedule::Cosine { t_max, eta_min } => {
                let t = t.min(*t_max) as f64;
                eta_min + (base - eta_min) * (1.0 + (PI * t / *t_max as f64).cos()) / 2.0
            }
            Schedule::CosineWarmRestarts {
                t_0,
                t_mult,
                eta_min,
            } => {
                let (t_cur, t_i) = restarts::position(t, *t_0, *t_mult);
                eta_min + (base - eta_min) * (1.0 + (PI * t_cur as f64 / t_i as f64).cos()) / 2.0
            }
            Schedule::Linear {
                start_factor,
                end_factor,
                total_iters,
            } => {
                let p = t.min(*total_iters) as f64 / *total_iters as f64;
                base * (start_factor + (end_factor - start_factor) * p)
            }
            Schedule::InverseSqrt { timescale } => {
                base * (*timescale as f64 / t.max(*timescale) as f64).sqrt()
            }
            Schedule::OneCycle {
                total_steps,
                pct_start,
                anneal,
                div_factor,
                final_div_factor,
                three_phase,
            } => one_cycle::one_cycle_lr(
                base,
                t,
                *total_steps,
                *pct_start,
                *anneal,
                *div_factor,
                *final_div_factor,
                *three_phase,
            ),
            Schedule::Warmup {
                steps,
                start_factor,
                inner,
            } => {
                if t < *steps {
                    inner.lr(base, 0)
                        * (start_factor + (1.0 - start_factor) * t as f64 / *steps as f64)
                } else {
                    inner.lr(base, t - steps)
                }
            }
            Schedule::Sequential {
                schedules,
                milestones,
            } => {
                let i = milestones.partition_point(|&m| m <= t);
                let offset = if i == 0 { 0 } else { milestones[i - 1] };
                schedules[i].lr(base, t - offset)
            }
        }
    }

    /// The momentum (SGD/RMSprop μ, Adam β₁) of a [`Schedule::OneCycle`] at `t`, cycling
    /// inversely to the rate between `max_momentum` and `base_momentum` (PyTorch's
    /// `OneCycleLR(cycle_momentum=True)`, defaults 0.85 / 0.95); `None` for other schedules.
    pub fn one_cycle_momentum(&self, t: u64, base_momentum: f64, max_momentum: f64) -> Option<f64> {
        match self {
            Schedule::OneCycle {
                total_steps,
                pct_start,
                anneal,
                three_phase,
                ..
            } => Some(one_cycle::one_cycle_momentum(
                t,
                *total_steps,
                *pct_start,
                *anneal,
                *three_phase,
                base_momentum,
                max_momentum,
            )),
            _ => None,
        }
    }

    /// The rates for t = 0, 1, …, n−1 (for plots and logs).
    pub fn series(&self, base: f64, n: u64) -> Vec<f64> {
        (0..n).map(|t| self.lr(base, t)).collect()
    }

    /// Lower and upper bounds of `lr(base, t)` over all t (the floor and the peak), for
    /// `base ≥ 0`.
    pub fn bounds(&self, base: f64) -> (f64, f64) {
        let lohi = |a: f64, b: f64| (a.min(b), a.max(b));
        match self {
            Schedule::Constant => (base, base),
            Schedule::Step { gamma, .. }
            | Schedule::MultiStep { gamma, .. }
            | Schedule::Exponential { gamma } => {
                if *gamma <= 1.0 {
                    (0.0, base)
                } else {
                    (base, f64::INFINITY)
                }
            }
            Schedule::Cosine { eta_min, .. } | Schedule::CosineWarmRestarts { eta_min, .. } => {
                lohi(*eta_min, base)
            }
            Schedule::Linear {
                start_factor,
                end_factor,
                ..
            } => lohi(base * start_factor, base * end_factor),
            Schedule::InverseSqrt { .. } => (0.0, base),
            Schedule::OneCycle {
                div_factor,
                final_div_factor,
                ..
            } => {
                let initial = base / div_factor;
                let lo = initial.min(initial / final_div_factor).min(base);
                (lo, base.max(initial))
            }
            Schedule::Warmup {
                start_factor,
                inner,
                ..
            } => {
                let (lo, hi) = inner.bounds(base);
                (lo.min(inner.lr(base, 0) * start_factor), hi)
            }
            Schedule::Sequential { schedules, .. } => schedules
                .iter()
                .map(|s| s.bounds(base))
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (c, d)| {
                    (a.min(c), b.max(d))
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet_multistep() {
        let s = Schedule::MultiStep {
            milestones: vec![30, 60, 90],
            gamma: 0.1,
        };
        assert_eq!(s.lr(0.1, 29), 0.1);
        assert!((s.lr(0.1, 30) - 0.01).abs() < 1e-15);
        assert!((s.lr(0.1, 95) - 1e-4).abs() < 1e-15);
    }

    #[test]
    fn cosine_holds_its_floor_after_t_max() {
        let s = Schedule::Cosine {
            t_max: 10,
            eta_min: 0.001,
        };
        assert_eq!(s.lr(0.1, 0), 0.1);
        assert!((s.lr(0.1, 10) - 0.001).abs() < 1e-15);
        assert!((s.lr(0.1, 25) - 0.001).abs() < 1e-15);
    }

    #[test]
    fn inverse_sqrt() {
        let s = Schedule::InverseSqrt { timescale: 1 };
        assert_eq!(s.lr(1.0, 0), 1.0);
        assert_eq!(s.lr(1.0, 4), 0.5);
        assert_eq!(s.lr(1.0, 100), 0.1);
    }

    #[test]
    fn reads_nested_toml_and_rejects_unknown_fields() {
        let s: Schedule = toml::from_str(
            "kind = \"warmup\"\nsteps = 5\n[inner]\nkind = \"cosine\"\nt_max = 100\neta_min = 1e-5\n",
        )
        .unwrap();
        assert_eq!(
            s,
            Schedule::Warmup {
                steps: 5,
                start_factor: 0.0,
                inner: Box::new(Schedule::Cosine {
                    t_max: 100,
                    eta_min: 1e-5
                })
            }
        );
        let e = toml::from_str::<Schedule>("kind = \"cosine\"\nt_max = 3\ntmax = 4\n").unwrap_err();
        assert!(e.to_string().contains("tmax"), "{e}");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Schedule>(&json).unwrap(), s);
    }
}
