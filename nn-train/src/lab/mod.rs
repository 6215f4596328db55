//! The lecture's experiments, as library functions behind `nn-train lab …` (CS231n, "Training
//! Neural Networks"). Each runs on the lecture's setting by default and on the user's own job
//! where that makes sense, returns the numbers behind its pictures, and says in words what they
//! show.
//!
//! | module | experiment |
//! |---|---|
//! | [`init`] | activation statistics of deep, wide tanh/ReLU nets under small-random, Xavier and Kaiming initialisation |
//! | [`init_job`](mod@init_job) | the same statistics for the user's model at initialisation |
//! | [`stats`], [`health`] | per-layer statistics (moments, dead/saturated units, gradients) and the verdict |
//! | [`init_plot`] | histogram rows per layer, per-layer std summary, the table |
//! | [`optimizers`] | SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam, L-BFGS on Rosenbrock, a saddle, an ill-conditioned quadratic |
//! | [`optimizers_job`] | the same optimizers' loss curves on a real job |
//! | [`optimizers_plot`] | contour plots of the paths, loss per step, the job's curves |
//! | [`search`], [`search_plot`] | random against grid search on the same budget, the lecture's figure, every trial's curve |
//! | [`regularize`] | one job with each regulariser in turn: the variants, the baseline with none |
//! | [`regularize_run`] | training a variant: the clean train/validation gap per epoch, the test-time rule against Monte-Carlo averaging |
//! | [`regularize_report`], [`regularize_plot`] | the whole experiment, its verdict and its pictures |
//! | [`schedule`] | the learning rate of every step of a job, before training (`nn-train schedule`) |

pub mod health;
pub mod init;
pub mod init_job;
pub mod init_plot;
pub mod optimizers;
pub mod optimizers_job;
pub mod optimizers_plot;
pub mod regularize;
pub mod regularize_plot;
pub mod regularize_report;
pub mod regularize_run;
pub mod schedule;
pub mod search;
pub mod search_plot;
pub mod stats;

pub use health::{Diagnosis, Health};
pub use init::{InitCase, InitCaseReport, InitLabConfig, lecture_cases};
pub use init_job::init_job;
pub use regularize::Regularizer;
pub use regularize_report::{RegularizeLabConfig, RegularizeReport, run_regularize_lab};
pub use schedule::{LrTrace, lr_trace};
