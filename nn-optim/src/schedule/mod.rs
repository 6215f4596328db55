//! Learning-rate schedules: pure functions `lr(base, t)` of the step (or epoch) `t` that
//! compose, plus a small stateful driver ([`LrScheduler`]) and the batch-size scaling rule; and
//! [`ReduceLrOnPlateau`], driven by a metric instead of the step.
//!
//! A [`Schedule`] is plain data (serde, tagged by `kind`), so it can be read from a config
//! file; `base` is the learning rate of a parameter group (each group keeps its ratio, e.g. a
//! head at 10x), and is the peak for the one-cycle policy.
//!
//! Each schedule is a struct in its own file with its `lr`, its bounds and its validation
//! ([`LrSchedule`]); [`Schedule`] is the serde enum over them for config files. A user schedule
//! implements [`LrSchedule`] (or wraps a closure in [`FnSchedule`]) and runs through the same
//! driver, [`LrScheduler<S>`], without touching the enum.
//!
//! ```
//! use nn_optim::{LrSchedule, Schedule, schedule::Cosine};
//! // Linear warm-up from 0 over 100 steps, then cosine to 1e-5 over 900 steps.
//! let s = Schedule::warmup(100, Schedule::Cosine(Cosine { t_max: 900, eta_min: 1e-5 }));
//! assert_eq!(s.lr(0.1, 0), 0.0);
//! assert!((s.lr(0.1, 50) - 0.05).abs() < 1e-12);
//! assert!((s.lr(0.1, 100) - 0.1).abs() < 1e-12);
//! assert!((s.lr(0.1, 1000) - 1e-5).abs() < 1e-12);
//! ```

mod cosine;
mod driver;
mod linear;
mod one_cycle;
mod plateau;
mod scaling;
mod sequential;
mod step;
mod warmup;

pub use cosine::{Cosine, CosineWarmRestarts};
pub use driver::{Interval, LrScheduler, MomentumCycle};
pub use linear::{InverseSqrt, Linear};
pub use one_cycle::{Anneal, OneCycle};
pub use plateau::{MinLr, PlateauMode, ReduceLrOnPlateau, ReduceLrOnPlateauConfig, ThresholdMode};
pub use scaling::{ScalingRule, scale_lr};
pub use sequential::Sequential;
pub use step::{Exponential, MultiStep, Step};
pub use warmup::Warmup;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::OptimError;

/// A learning-rate schedule: α(t) = `lr(α₀, t)` for base rate α₀ and step (or epoch) t ≥ 0, a
/// pure function. Implemented by every built-in schedule and by [`Schedule`]; implement it for
/// your own and drive it with [`LrScheduler`].
///
/// ```
/// use nn_optim::{Interval, LrControl, LrSchedule, LrScheduler, SgdConfig};
///
/// /// Halve the rate every `period` steps, but never below 1 % of the base.
/// #[derive(Debug)]
/// struct Halving { period: u64 }
///
/// impl LrSchedule for Halving {
///     fn lr(&self, base: f64, t: u64) -> f64 {
///         (base * 0.5f64.powi((t / self.period) as i32)).max(0.01 * base)
///     }
///     fn bounds(&self, base: f64) -> (f64, f64) {
///         (0.01 * base, base)
///     }
/// }
///
/// let mut opt = SgdConfig { lr: 0.4, ..Default::default() }.init().unwrap();
/// let mut sched = LrScheduler::new(Halving { period: 2 }, Interval::Step, &mut opt).unwrap();
/// for _ in 0..4 {
///     sched.on_step(&mut opt);
/// }
/// assert_eq!(opt.lr(0), 0.1);
/// ```
pub trait LrSchedule: fmt::Debug + Send + Sync {
    /// The learning rate at step (or epoch) `t` for base rate `base` (≥ 0).
    fn lr(&self, base: f64, t: u64) -> f64;

    /// Lower and upper bounds of `lr(base, t)` over all t (the floor and the peak), for
    /// `base ≥ 0`.
    fn bounds(&self, base: f64) -> (f64, f64);

    /// Checks the hyperparameters (and those of wrapped schedules); the driver calls it.
    fn validate(&self) -> Result<(), OptimError> {
        Ok(())
    }

    /// The momentum a one-cycle schedule cycles at `t` between `max_momentum` and
    /// `base_momentum` (PyTorch's `OneCycleLR(cycle_momentum=True)`); `None` for others.
    fn one_cycle_momentum(&self, t: u64, base_momentum: f64, max_momentum: f64) -> Option<f64> {
        let _ = (t, base_momentum, max_momentum);
        None
    }

    /// The rates for t = 0, 1, …, n−1 (for plots and logs).
    fn series(&self, base: f64, n: u64) -> Vec<f64> {
        (0..n).map(|t| self.lr(base, t)).collect()
    }
}

impl<S: LrSchedule + ?Sized> LrSchedule for Box<S> {
    fn lr(&self, base: f64, t: u64) -> f64 {
        (**self).lr(base, t)
    }
    fn bounds(&self, base: f64) -> (f64, f64) {
        (**self).bounds(base)
    }
    fn validate(&self) -> Result<(), OptimError> {
        (**self).validate()
    }
    fn one_cycle_momentum(&self, t: u64, base: f64, max: f64) -> Option<f64> {
        (**self).one_cycle_momentum(t, base, max)
    }
}

/// A closure `lr(base, t)` as a schedule (PyTorch's `LambdaLR` with the base folded in), with
/// the bounds it promises.
///
/// ```
/// use nn_optim::{FnSchedule, LrSchedule};
/// let poly = FnSchedule::new(|base, t| base * (1.0 - t.min(100) as f64 / 100.0).powi(2), (0.0, 1.0));
/// assert_eq!(poly.lr(1.0, 50), 0.25);
/// ```
pub struct FnSchedule<F> {
    f: F,
    bounds_factor: (f64, f64),
}

impl<F: Fn(f64, u64) -> f64 + Send + Sync> FnSchedule<F> {
    /// The schedule `f`, whose rates stay within `bounds_factor`·base.
    pub fn new(f: F, bounds_factor: (f64, f64)) -> Self {
        Self { f, bounds_factor }
    }
}

impl<F> fmt::Debug for FnSchedule<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FnSchedule(bounds_factor = {:?})", self.bounds_factor)
    }
}

impl<F: Fn(f64, u64) -> f64 + Send + Sync> LrSchedule for FnSchedule<F> {
    fn lr(&self, base: f64, t: u64) -> f64 {
        (self.f)(base, t)
    }
    fn bounds(&self, base: f64) -> (f64, f64) {
        (self.bounds_factor.0 * base, self.bounds_factor.1 * base)
    }
}

/// The built-in schedules as one serde type, tagged by `kind` (snake_case of the variant), for
/// config files: `kind = "warmup"`, `inner = { kind = "cosine", t_max = 1000 }` in TOML.
/// Defaults of omitted fields are PyTorch's; each variant's struct names the PyTorch scheduler
/// whose sequence it reproduces (checked against fixtures).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// αₜ = α₀.
    Constant,
    /// [`Step`] (`StepLR`).
    Step(Step),
    /// [`MultiStep`] (`MultiStepLR`).
    MultiStep(MultiStep),
    /// [`Exponential`] (`ExponentialLR`).
    Exponential(Exponential),
    /// [`Cosine`] (`CosineAnnealingLR`).
    Cosine(Cosine),
    /// [`CosineWarmRestarts`] (`CosineAnnealingWarmRestarts`, SGDR).
    CosineWarmRestarts(CosineWarmRestarts),
    /// [`Linear`] (`LinearLR`).
    Linear(Linear),
    /// [`InverseSqrt`].
    InverseSqrt(InverseSqrt),
    /// [`OneCycle`] (`OneCycleLR`).
    OneCycle(OneCycle),
    /// [`Warmup`] around another schedule.
    Warmup(Warmup),
    /// [`Sequential`] (`SequentialLR`).
    Sequential(Sequential),
}

impl Schedule {
    /// Linear decay to zero over `total` steps: αₜ = α₀(1 − t/T).
    pub fn linear_decay(total: u64) -> Self {
        Schedule::Linear(Linear::decay_to_zero(total))
    }

    /// A linear warm-up from 0 over `steps` steps, then `inner`.
    pub fn warmup(steps: u64, inner: Schedule) -> Self {
        Schedule::Warmup(Warmup {
            steps,
            start_factor: 0.0,
            inner: Box::new(inner),
        })
    }

    /// [`LrSchedule::lr`] (without importing the trait).
    pub fn lr(&self, base: f64, t: u64) -> f64 {
        LrSchedule::lr(self, base, t)
    }

    /// [`LrSchedule::validate`].
    pub fn validate(&self) -> Result<(), OptimError> {
        LrSchedule::validate(self)
    }

    /// [`LrSchedule::bounds`].
    pub fn bounds(&self, base: f64) -> (f64, f64) {
        LrSchedule::bounds(self, base)
    }

    /// [`LrSchedule::series`].
    pub fn series(&self, base: f64, n: u64) -> Vec<f64> {
        LrSchedule::series(self, base, n)
    }

    /// [`LrSchedule::one_cycle_momentum`].
    pub fn one_cycle_momentum(&self, t: u64, base_momentum: f64, max_momentum: f64) -> Option<f64> {
        LrSchedule::one_cycle_momentum(self, t, base_momentum, max_momentum)
    }

    /// The variant's schedule (`None` for `Constant`).
    fn inner(&self) -> Option<&dyn LrSchedule> {
        Some(match self {
            Schedule::Constant => return None,
            Schedule::Step(s) => s,
            Schedule::MultiStep(s) => s,
            Schedule::Exponential(s) => s,
            Schedule::Cosine(s) => s,
            Schedule::CosineWarmRestarts(s) => s,
            Schedule::Linear(s) => s,
            Schedule::InverseSqrt(s) => s,
            Schedule::OneCycle(s) => s,
            Schedule::Warmup(s) => s,
            Schedule::Sequential(s) => s,
        })
    }
}

impl LrSchedule for Schedule {
    fn lr(&self, base: f64, t: u64) -> f64 {
        self.inner().map_or(base, |s| s.lr(base, t))
    }
    fn bounds(&self, base: f64) -> (f64, f64) {
        self.inner().map_or((base, base), |s| s.bounds(base))
    }
    fn validate(&self) -> Result<(), OptimError> {
        self.inner().map_or(Ok(()), |s| s.validate())
    }
    fn one_cycle_momentum(&self, t: u64, base: f64, max: f64) -> Option<f64> {
        self.inner()?.one_cycle_momentum(t, base, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_toml_and_rejects_unknown_fields() {
        let s: Schedule = toml::from_str(
            "kind = \"warmup\"\nsteps = 5\n[inner]\nkind = \"cosine\"\nt_max = 100\neta_min = 1e-5\n",
        )
        .unwrap();
        assert_eq!(
            s,
            Schedule::warmup(
                5,
                Schedule::Cosine(Cosine {
                    t_max: 100,
                    eta_min: 1e-5
                })
            )
        );
        let e = toml::from_str::<Schedule>("kind = \"cosine\"\nt_max = 3\ntmax = 4\n").unwrap_err();
        assert!(e.to_string().contains("tmax"), "{e}");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Schedule>(&json).unwrap(), s);
        assert_eq!(
            serde_json::from_str::<Schedule>(r#"{"kind": "constant"}"#).unwrap(),
            Schedule::Constant
        );
        let step: Schedule = toml::from_str("kind = \"step\"\nstep_size = 3\n").unwrap();
        assert_eq!(
            step,
            Schedule::Step(Step {
                step_size: 3,
                gamma: 0.1
            })
        );
    }

    #[test]
    fn the_enum_validates_through_its_variants() {
        let e = Schedule::warmup(3, Schedule::Exponential(Exponential { gamma: -1.0 }))
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("gamma"), "{e}");
        assert!(Schedule::Constant.validate().is_ok());
        assert_eq!(Schedule::Constant.lr(0.3, 99), 0.3);
    }

    #[test]
    fn user_schedules_wrap_in_warmup() {
        let f = FnSchedule::new(|base, t| base / (1.0 + t as f64), (0.0, 1.0));
        let w = Warmup {
            steps: 4,
            start_factor: 0.0,
            inner: f,
        };
        assert_eq!(w.lr(1.0, 2), 0.5);
        assert_eq!(w.lr(1.0, 5), 0.5);
        assert_eq!(w.bounds(2.0), (0.0, 2.0));
    }
}
