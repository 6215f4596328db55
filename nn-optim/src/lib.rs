//! # nn-optim
//!
//! Optimizers and learning-rate schedules with PyTorch's exact semantics, on plain `ndarray`
//! parameters and gradients: usable with any autograd (or none). Trajectories match
//! `torch.optim` to 1e-5 and schedules match `torch.optim.lr_scheduler` (fixtures in
//! `tests/fixtures/`).
//!
//! ## Contents
//! | module | what |
//! |---|---|
//! | [`ParamMut`] | a borrowed, named parameter with its gradient: what `step` works on |
//! | [`Optimizer`], [`LrControl`] | the optimizer interface (step, groups, lr, state) |
//! | [`UpdateRule`] → [`ElementwiseOptimizer`] | a per-parameter update wrapped once with groups, state, clipping, save/restore |
//! | [`ParamGroup`], [`Matcher`] | parameter groups by name: per-group lr and weight decay |
//! | [`SgdConfig`] → [`Sgd`] | SGD, momentum, Nesterov, (decoupled) weight decay |
//! | [`AdaGradConfig`] → [`AdaGrad`] | AdaGrad |
//! | [`RmsPropConfig`] → [`RmsProp`] | RMSprop, with momentum and centred |
//! | [`AdamConfig`], [`AdamWConfig`] → [`Adam`] | Adam, AMSGrad, AdamW |
//! | [`LbfgsConfig`] → [`Lbfgs`] | L-BFGS with or without strong-Wolfe line search |
//! | [`OptimizerConfig`] | any of the element-wise optimizers from a config file |
//! | [`transform`] | the shared pieces: [`WeightDecay`] `{L2, Decoupled}`, [`Momentum`], [`GradClip`] |
//! | [`OptimState`] | serialisable state; restoring gives bit-identical next steps |
//! | [`Schedule`], [`LrSchedule`], [`LrScheduler`] | pure, composable, self-validating schedules (one per file in [`schedule`]), user schedules, and their driver |
//! | [`ReduceLrOnPlateauConfig`] → [`ReduceLrOnPlateau`] | reduce the rate when a metric stops improving |
//! | [`scale_lr`] | batch-size scaling rule (linear, square root) |
//! | [`problems`] | Rosenbrock and ill-conditioned quadratics, with a convergence counter |
//!
//! ## Example: AdamW, warm-up + cosine, parameter groups
//! ```
//! use ndarray::{ArrayD, IxDyn};
//! use nn_optim::{AdamWConfig, Interval, LrScheduler, Matcher, Optimizer, ParamGroup, ParamMut, Schedule};
//! use nn_optim::schedule::Cosine;
//!
//! // Two parameters of a linear model y = w·x + b, fitted to y = 2x + 1.
//! let mut w = ArrayD::<f32>::zeros(IxDyn(&[1]));
//! let mut b = ArrayD::<f32>::zeros(IxDyn(&[1]));
//! let mut opt = AdamWConfig { lr: 0.1, weight_decay: 1e-4, ..Default::default() }
//!     .init_with_groups(vec![
//!         // no weight decay on biases and norm parameters (1-D), at twice the rate
//!         ParamGroup::new("no_decay", Matcher::Suffix("bias".into())).with_weight_decay(0.0).with_lr_scale(2.0),
//!     ])
//!     .unwrap();
//! let schedule = Schedule::warmup(10, Schedule::Cosine(Cosine { t_max: 290, eta_min: 1e-3 }));
//! let mut sched = LrScheduler::new(schedule, Interval::Step, &mut opt).unwrap();
//! for _ in 0..300 {
//!     // gradient of ½·mean((w·x + b − y)²) over x ∈ {−1, 0, 1, 2}
//!     let (mut gw, mut gb) = (0.0f32, 0.0f32);
//!     for x in [-1.0f32, 0.0, 1.0, 2.0] {
//!         let r = w[[0]] * x + b[[0]] - (2.0 * x + 1.0);
//!         gw += r * x / 4.0;
//!         gb += r / 4.0;
//!     }
//!     let (gw, gb) = (ArrayD::from_elem(IxDyn(&[1]), gw), ArrayD::from_elem(IxDyn(&[1]), gb));
//!     opt.step(&mut [
//!         ParamMut::new("fc.weight", w.view_mut(), gw.view()),
//!         ParamMut::new("fc.bias", b.view_mut(), gb.view()),
//!     ])
//!     .unwrap();
//!     sched.on_step(&mut opt);
//! }
//! assert!((w[[0]] - 2.0).abs() < 1e-2 && (b[[0]] - 1.0).abs() < 1e-2, "w = {w}, b = {b}");
//! ```

mod adagrad;
mod adam;
mod config;
mod elementwise;
mod error;
mod fused;
mod group;
mod lbfgs;
mod optimizer;
mod param;
pub mod problems;
mod rmsprop;
pub mod schedule;
mod sgd;
mod state;
pub mod transform;

pub use adagrad::{AdaGrad, AdaGradConfig, AdaGradRule};
pub use adam::{Adam, AdamConfig, AdamRule, AdamWConfig};
pub use config::OptimizerConfig;
pub use elementwise::{Common, ElementwiseOptimizer, Update, UpdateRule};
pub use error::OptimError;
pub use fused::PAR_MIN;
pub use group::{GroupState, Matcher, ParamGroup};
pub use lbfgs::{Lbfgs, LbfgsConfig, LbfgsState, LineSearch};
pub use optimizer::{LrControl, Optimizer};
pub use param::{ParamMut, flatten_values, unflatten_into};
pub use rmsprop::{RmsProp, RmsPropConfig, RmsPropRule};
pub use schedule::{
    Anneal, FnSchedule, Interval, LrSchedule, LrScheduler, MinLr, MomentumCycle, PlateauMode,
    ReduceLrOnPlateau, ReduceLrOnPlateauConfig, ScalingRule, Schedule, ThresholdMode, scale_lr,
};
pub use sgd::{Sgd, SgdConfig, SgdRule};
pub use state::{OptimState, ParamState};
pub use transform::{
    DecayKind, GradClip, GradPrep, Momentum, NormType, WeightDecay, global_grad_norm,
};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
