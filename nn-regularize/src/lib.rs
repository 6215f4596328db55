//! # nn-regularize
//!
//! The regularisers of CS231n's "Training Neural Networks" for [`nn_core`] models. They share
//! one pattern: **training adds randomness, testing averages it out** — exactly, or
//! approximately — and every layer here says which. The train/eval [`nn_core::Mode`] is always
//! explicit (the pass's [`nn_core::Ctx`]); in evaluation mode every regulariser is deterministic.
//!
//! ```
//! use nn_core::{Ctx, Module, Tensor, rng::seeded};
//! use nn_regularize::{DropConnectConfig, DropoutConfig, PenaltyConfig};
//!
//! // A layer with DropConnect, followed by dropout; an L2 penalty on its weight.
//! let fc = DropConnectConfig::new(0.5).init_linear(8, 4, true, &mut seeded(0)).unwrap();
//! let drop = DropoutConfig::new(0.5).init().unwrap();
//! let l2 = PenaltyConfig::l2(1e-4).init().unwrap();
//!
//! let x = Tensor::randn(&[16, 8], 0.0, 1.0, &mut seeded(1));
//! let mut ctx = Ctx::train(42); // the pass's random generator: same seed, same masks
//! let h = drop.forward(&fc.forward(&x, &mut ctx).relu(), &mut ctx);
//! let loss = &(&h * &h).sum_all() + &l2.loss(&fc);
//! loss.backward();
//! assert!(fc.weight().grad().is_some());
//!
//! // Test time: all the weights, no dropout — deterministic.
//! let a = drop.forward(&fc.forward(&x, &mut Ctx::eval()).relu(), &mut Ctx::eval());
//! let b = drop.forward(&fc.forward(&x, &mut Ctx::eval()).relu(), &mut Ctx::eval());
//! assert_eq!(a.to_vec(), b.to_vec());
//! ```
//!
//! ## Contents
//! | regulariser | training | testing | item |
//! |---|---|---|---|
//! | L2 / L1 / elastic-net penalty | λ·R(W) added to the loss (weights only by default) | — | [`penalty`] |
//! | dropout (inverted, vanilla) | zero units w.p. p, scale kept by 1/q | identity (inverted) or ×q | [`dropout`] |
//! | channel dropout | zero whole feature maps | as dropout | [`dropout2d`] |
//! | DropConnect | zero weights (per batch or per example) | all weights (mean field) | [`dropconnect`] |
//! | stochastic depth | skip residual branches w.p. 1 − pₗ, linear decay | all blocks (inverted or ×pₗ) | [`stochastic_depth`] |
//! | fractional max pooling | random pooling regions, ratio α ∈ (1, 2) | fixed draw; average K draws | [`fractional_pool`] |
//! | cutout | zero a random square per image | full image | [`cutout`] |
//! | mixup / CutMix + label smoothing | blend pairs, soft targets | original images | [`mixup`] |
//!
//! Test time by Monte-Carlo averaging instead of the scaling rule: [`mc`] ([`with_mc_masks`],
//! [`predict_mc`]) makes the mask regularisers draw masks in an evaluation pass, every other
//! layer staying in evaluation mode; [`predict_averaged`] does the same for fractional pooling's
//! region draws.
//!
//! Building blocks: [`mask`] (the fixed-mask multiply every dropout variant uses, and
//! thread-count-independent Bernoulli masks), [`error`] (typed errors for bad hyperparameters
//! and batches).
//!
//! Batch-level transforms (mixup, CutMix, cutout) work on plain `ndarray::Array4<f32>` batches
//! `[N, C, H, W]` with labels `&[usize]` and return soft targets `Array2<f32>` whose rows sum to
//! 1, ready for a data loader's per-batch hook and a soft-target cross-entropy.

pub mod cutout;
pub mod dropconnect;
pub mod dropout;
pub mod dropout2d;
pub mod error;
pub mod fractional_pool;
pub mod mask;
pub mod mc;
pub mod mixup;
pub mod penalty;
pub mod stochastic_depth;

pub use cutout::{Cutout, CutoutBox, CutoutConfig};
pub use dropconnect::{DropConnectConfig, DropConnectConv2d, DropConnectLinear, MaskSharing};
pub use dropout::{Dropout, DropoutConfig, DropoutVariant};
pub use dropout2d::Dropout2d;
pub use error::{RegularizeError, Result};
pub use fractional_pool::{
    FmpOutput, FmpRegions, FmpSequence, FmpSharing, FractionalMaxPool2d, FractionalMaxPool2dConfig,
    PoolingRegions, average_over_draws, fractional_max_pool2d, predict_averaged, with_test_draw,
};
pub use mask::{BitMask, bernoulli_mask, bit_mask_mul, mask_mul};
pub use mc::{mask_mode, mc_masks_active, predict_mc, predict_mc_draw, with_mc_masks};
pub use mixup::cutmix::CutMixBox;
pub use mixup::targets::{mix_targets, smooth_one_hot};
pub use mixup::{ElemMix, MixMode, MixedBatch, Mixup, MixupConfig};
pub use penalty::{ParamSelection, Penalty, PenaltyConfig, PenaltyKind};
pub use stochastic_depth::{
    DropPathMode, StochasticDepth, StochasticDepthConfig, StochasticResidual, linear_decay,
};
