//! Gradient transforms shared by every optimizer.
//!
//! Each transform is a small piece with a per-step "prepare" (scalars computed once per
//! parameter and step) and a per-element `#[inline(always)]` function. Optimizers combine the
//! pieces inside one fused loop per parameter (see `fused.rs`), monomorphised per variant, so
//! composing transforms costs no extra pass over memory and no allocation:
//!
//! | piece | element update | reference |
//! |---|---|---|
//! | [`GradClip`] by value | g ← clamp(g, −c, c) | — |
//! | [`GradClip`] by global norm | g ← g · min(1, max_norm / (‖g‖ + 1e-6)) | Pascanu et al. 2013 |
//! | maximize | g ← −g | PyTorch `maximize=True` |
//! | [`WeightDecay`] L2 | g ← g + λ·θ | Krogh & Hertz 1992 |
//! | [`WeightDecay`] decoupled | θ ← θ·(1 − η·λ) | Loshchilov & Hutter 2019 (AdamW) |
//! | [`Momentum`] heavy ball | b ← μ·b + (1−τ)·g, d = b | Polyak 1964 |
//! | [`Momentum`] Nesterov | b ← μ·b + g, d = g + μ·b | Nesterov 1983; Sutskever et al. 2013 |

mod clip;
mod momentum;
mod weight_decay;

pub use clip::{GradClip, GradPrep, NormType, global_grad_norm};
pub use momentum::Momentum;
pub(crate) use momentum::with_momentum;
pub(crate) use momentum::{FirstHeavy, FirstNesterov, Heavy, Mom, NesterovMom};
pub(crate) use weight_decay::with_decay;
pub(crate) use weight_decay::{Decay, DecayStep, Decoupled, L2, NoDecay};
pub use weight_decay::{DecayKind, WeightDecay};
