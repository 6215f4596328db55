//! Momentum (heavy ball and Nesterov), shared by SGD and RMSprop.

use serde::{Deserialize, Serialize};

/// Momentum of an SGD-like update, with PyTorch's formulation (the learning rate multiplies
/// the buffer, not the gradient inside it):
///
/// * heavy ball (Polyak 1964): b ← μ·b + (1 − τ)·g, direction d = b;
/// * Nesterov (Nesterov 1983, as in Sutskever et al. 2013): b ← μ·b + g, d = g + μ·b.
///
/// On the first step the buffer is initialised to the gradient itself (b ← g), as PyTorch does.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Momentum {
    /// Plain gradient direction.
    None,
    /// Heavy-ball momentum μ with dampening τ.
    Heavy {
        /// μ ≥ 0.
        mu: f64,
        /// τ ≥ 0 (PyTorch's `dampening`; 0 by default).
        dampening: f64,
    },
    /// Nesterov momentum μ (> 0; dampening must be 0, as in PyTorch).
    Nesterov {
        /// μ > 0.
        mu: f64,
    },
}

/// Element-wise momentum: updates the buffer and returns the update direction.
pub(crate) trait Mom: Copy + Send + Sync {
    fn dir(self, g: f32, buf: &mut f32) -> f32;
}

/// b ← μ·b + (1−τ)·g; d = b.
#[derive(Clone, Copy)]
pub(crate) struct Heavy {
    pub(crate) mu: f32,
    pub(crate) one_minus_damp: f32,
}
/// b ← μ·b + (1−τ)·g; d = g + μ·b.
#[derive(Clone, Copy)]
pub(crate) struct NesterovMom {
    pub(crate) mu: f32,
    pub(crate) one_minus_damp: f32,
}
/// First step: b ← g; d = b.
#[derive(Clone, Copy)]
pub(crate) struct FirstHeavy;
/// First step: b ← g; d = g + μ·b.
#[derive(Clone, Copy)]
pub(crate) struct FirstNesterov {
    pub(crate) mu: f32,
}

impl Mom for Heavy {
    #[inline(always)]
    fn dir(self, g: f32, buf: &mut f32) -> f32 {
        *buf = *buf * self.mu + self.one_minus_damp * g;
        *buf
    }
}

impl Mom for NesterovMom {
    #[inline(always)]
    fn dir(self, g: f32, buf: &mut f32) -> f32 {
        *buf = *buf * self.mu + self.one_minus_damp * g;
        g + self.mu * *buf
    }
}

impl Mom for FirstHeavy {
    #[inline(always)]
    fn dir(self, g: f32, buf: &mut f32) -> f32 {
        *buf = g;
        g
    }
}

impl Mom for FirstNesterov {
    #[inline(always)]
    fn dir(self, g: f32, buf: &mut f32) -> f32 {
        *buf = g;
        g + self.mu * g
    }
}

/// Runs `$body` with `$m` bound to the monomorphic [`Mom`] for a momentum setting (which must
/// not be `Momentum::None`) and whether this is the buffer's first step.
macro_rules! with_momentum {
    ($mom:expr, $first:expr, $m:ident => $body:expr) => {
        match ($mom, $first) {
            ($crate::transform::Momentum::Heavy { .. }, true) => {
                let $m = $crate::transform::FirstHeavy;
                $body
            }
            ($crate::transform::Momentum::Heavy { mu, dampening }, false) => {
                let $m = $crate::transform::Heavy {
                    mu: mu as f32,
                    one_minus_damp: (1.0 - dampening) as f32,
                };
                $body
            }
            ($crate::transform::Momentum::Nesterov { mu }, true) => {
                let $m = $crate::transform::FirstNesterov { mu: mu as f32 };
                $body
            }
            ($crate::transform::Momentum::Nesterov { mu }, false) => {
                let $m = $crate::transform::NesterovMom {
                    mu: mu as f32,
                    one_minus_damp: 1.0,
                };
                $body
            }
            ($crate::transform::Momentum::None, _) => unreachable!("with_momentum! needs momentum"),
        }
    };
}
pub(crate) use with_momentum;

impl Momentum {
    /// PyTorch's `(momentum, dampening, nesterov)` triple as a [`Momentum`].
    pub fn from_torch(momentum: f64, dampening: f64, nesterov: bool) -> Self {
        if momentum == 0.0 {
            Momentum::None
        } else if nesterov {
            Momentum::Nesterov { mu: momentum }
        } else {
            Momentum::Heavy {
                mu: momentum,
                dampening,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heavy_and_nesterov_elements() {
        let mut b = 0.0;
        assert_eq!(FirstHeavy.dir(2.0, &mut b), 2.0);
        assert_eq!(b, 2.0);
        let h = Heavy {
            mu: 0.5,
            one_minus_damp: 1.0,
        };
        assert_eq!(h.dir(1.0, &mut b), 2.0);
        let mut b = 0.0;
        assert_eq!(FirstNesterov { mu: 0.5 }.dir(2.0, &mut b), 3.0);
        let n = NesterovMom {
            mu: 0.5,
            one_minus_damp: 1.0,
        };
        // b = 0.5*2 + 1 = 2, d = 1 + 0.5*2 = 2
        assert_eq!(n.dir(1.0, &mut b), 2.0);
        assert_eq!(b, 2.0);
    }
}
