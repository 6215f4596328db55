//! Learned and random augmentation policies: AutoAugment (Cubuk et al. 2019), RandAugment
//! (Cubuk et al. 2020) and TrivialAugment (Müller & Hutter 2021), over a shared set of
//! operations ([`AugOp`]).

pub mod autoaugment;
pub mod op;
pub mod randaugment;

pub use op::{AugOp, MagnitudeSpace, apply_op};
