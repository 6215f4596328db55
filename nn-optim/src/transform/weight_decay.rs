//! Weight decay as `{L2, Decoupled}`, built once and reused by every optimizer.

use serde::{Deserialize, Serialize};

/// How weight decay enters the update.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecayKind {
    /// L2 penalty added to the gradient: g ← g + λ·θ (PyTorch's `weight_decay` in SGD, Adam,
    /// RMSprop, Adagrad).
    #[default]
    L2,
    /// Decoupled decay applied to the parameter before the update: θ ← θ·(1 − η·λ)
    /// (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019; PyTorch's
    /// AdamW, and `decoupled_weight_decay=True`). For SGD this is SGDW.
    Decoupled,
}

impl DecayKind {
    /// The kind selected by a config's `decoupled_weight_decay` flag.
    pub fn from_decoupled(decoupled: bool) -> DecayKind {
        if decoupled {
            DecayKind::Decoupled
        } else {
            DecayKind::L2
        }
    }
}

/// A weight-decay rule: kind and coefficient λ (a parameter group may override λ).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightDecay {
    /// L2 or decoupled.
    pub kind: DecayKind,
    /// The coefficient λ ≥ 0 (0 disables decay).
    pub coeff: f64,
}

impl WeightDecay {
    /// No weight decay.
    pub const NONE: WeightDecay = WeightDecay {
        kind: DecayKind::L2,
        coeff: 0.0,
    };

    /// L2 penalty λ.
    pub fn l2(coeff: f64) -> Self {
        Self {
            kind: DecayKind::L2,
            coeff,
        }
    }

    /// Decoupled decay λ.
    pub fn decoupled(coeff: f64) -> Self {
        Self {
            kind: DecayKind::Decoupled,
            coeff,
        }
    }

    /// The per-step element transform for a group with learning rate `lr` and coefficient
    /// `coeff` (the group's). Scalars are computed in f64 and rounded to f32 once, as PyTorch
    /// rounds its Python-float scalars.
    pub(crate) fn prepare(kind: DecayKind, coeff: f64, lr: f64) -> DecayStep {
        if coeff == 0.0 {
            return DecayStep::None;
        }
        match kind {
            DecayKind::L2 => DecayStep::L2(coeff as f32),
            DecayKind::Decoupled => DecayStep::Decoupled((1.0 - lr * coeff) as f32),
        }
    }
}

/// Prepared weight decay for one parameter and step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum DecayStep {
    None,
    L2(f32),
    Decoupled(f32),
}

/// Element-wise weight decay: `param` runs before the update (decoupled shrink), `grad` adds
/// the L2 term (computed from the parameter before the update).
pub(crate) trait Decay: Copy + Send + Sync {
    fn param(self, p: f32) -> f32;
    fn grad(self, g: f32, p: f32) -> f32;
}

#[derive(Clone, Copy)]
pub(crate) struct NoDecay;
#[derive(Clone, Copy)]
pub(crate) struct L2(pub(crate) f32);
#[derive(Clone, Copy)]
pub(crate) struct Decoupled(pub(crate) f32);

impl Decay for NoDecay {
    #[inline(always)]
    fn param(self, p: f32) -> f32 {
        p
    }
    #[inline(always)]
    fn grad(self, g: f32, _p: f32) -> f32 {
        g
    }
}

impl Decay for L2 {
    #[inline(always)]
    fn param(self, p: f32) -> f32 {
        p
    }
    #[inline(always)]
    fn grad(self, g: f32, p: f32) -> f32 {
        g + self.0 * p
    }
}

impl Decay for Decoupled {
    #[inline(always)]
    fn param(self, p: f32) -> f32 {
        p * self.0
    }
    #[inline(always)]
    fn grad(self, g: f32, _p: f32) -> f32 {
        g
    }
}

/// Runs `$body` with `$d` bound to the monomorphic [`Decay`] for a [`DecayStep`].
macro_rules! with_decay {
    ($step:expr, $d:ident => $body:expr) => {
        match $step {
            $crate::transform::DecayStep::None => {
                let $d = $crate::transform::NoDecay;
                $body
            }
            $crate::transform::DecayStep::L2(c) => {
                let $d = $crate::transform::L2(c);
                $body
            }
            $crate::transform::DecayStep::Decoupled(f) => {
                let $d = $crate::transform::Decoupled(f);
                $body
            }
        }
    };
}
pub(crate) use with_decay;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_and_apply() {
        assert_eq!(
            WeightDecay::prepare(DecayKind::L2, 0.0, 0.1),
            DecayStep::None
        );
        let DecayStep::L2(c) = WeightDecay::prepare(DecayKind::L2, 0.5, 0.1) else {
            panic!()
        };
        assert_eq!(L2(c).grad(1.0, 2.0), 2.0);
        assert_eq!(L2(c).param(2.0), 2.0);
        let DecayStep::Decoupled(f) = WeightDecay::prepare(DecayKind::Decoupled, 0.5, 0.1) else {
            panic!()
        };
        assert!((Decoupled(f).param(2.0) - 1.9).abs() < 1e-6);
        assert_eq!(Decoupled(f).grad(1.0, 2.0), 1.0);
    }
}
