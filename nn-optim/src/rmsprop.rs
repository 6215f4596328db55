//! RMSprop, with momentum and centred variants.

use serde::{Deserialize, Serialize};

use crate::adam::lerp;
use crate::elementwise::{Common, ElementwiseOptimizer, Update, UpdateRule};
use crate::error::{OptimError, check, check_nonneg};
use crate::fused::{run3, run4, run5, three, two};
use crate::group::ParamGroup;
use crate::transform::{Decay, DecayKind, GradClip, Heavy, Mom, WeightDecay, with_decay};

/// Configuration of [`RmsProp`], with PyTorch's defaults (`torch.optim.RMSprop`).
///
/// Update (Hinton, Coursera lecture 6e, 2012; centred: Graves, "Generating Sequences With
/// Recurrent Neural Networks", 2013):
///
/// ```text
/// g ← g + λθ                       (L2 decay; or θ ← θ(1 − ηλ) if decoupled)
/// s ← αs + (1 − α)g²
/// ḡ ← αḡ + (1 − α)g;  a = √(s − ḡ²) + ε      (centred)
///                      a = √s + ε            (otherwise)
/// b ← μb + g/a;  θ ← θ − ηb                  (momentum μ > 0; shared heavy-ball piece)
/// θ ← θ − η g/a                              (no momentum)
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RmsPropConfig {
    /// Learning rate η (1e-2).
    pub lr: f64,
    /// Smoothing constant α (0.99).
    pub alpha: f64,
    /// ε (1e-8).
    pub eps: f64,
    /// Weight-decay coefficient λ (0).
    pub weight_decay: f64,
    /// Decoupled weight decay instead of L2 (false; not in PyTorch's RMSprop).
    pub decoupled_weight_decay: bool,
    /// Momentum μ (0).
    pub momentum: f64,
    /// Centred variant: normalise by an estimate of the variance (false).
    pub centered: bool,
    /// Maximise the objective (false).
    pub maximize: bool,
    /// Gradient clipping before the update (none).
    pub clip: GradClip,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            momentum: 0.0,
            centered: false,
            maximize: false,
            clip: GradClip::NONE,
        }
    }
}

impl RmsPropConfig {
    /// Validates and builds the optimizer with a single (default) group.
    pub fn init(self) -> Result<RmsProp, OptimError> {
        self.init_with_groups(Vec::new())
    }

    /// Validates and builds the optimizer with extra parameter groups.
    pub fn init_with_groups(self, groups: Vec<ParamGroup>) -> Result<RmsProp, OptimError> {
        let common = Common {
            lr: self.lr,
            weight_decay: self.weight_decay,
            clip: self.clip,
            maximize: self.maximize,
        };
        ElementwiseOptimizer::new(self.rule()?, common, groups)
    }

    /// Validates the RMSprop-specific fields and returns the update rule.
    pub fn rule(&self) -> Result<RmsPropRule, OptimError> {
        check(
            (0.0..=1.0).contains(&self.alpha),
            NAME,
            "alpha",
            self.alpha,
            "a number in [0, 1]",
        )?;
        check_nonneg(NAME, "eps", self.eps)?;
        check_nonneg(NAME, "momentum", self.momentum)?;
        Ok(RmsPropRule {
            alpha: self.alpha,
            eps: self.eps,
            momentum: self.momentum,
            has_momentum: self.momentum > 0.0,
            centered: self.centered,
            decay: DecayKind::from_decoupled(self.decoupled_weight_decay),
        })
    }
}

const NAME: &str = "RMSprop";

/// RMSprop; see [`RmsPropConfig`] for the update.
pub type RmsProp = ElementwiseOptimizer<RmsPropRule>;

/// RMSprop's per-parameter update (see [`RmsPropConfig`]).
#[derive(Clone, Debug, PartialEq)]
pub struct RmsPropRule {
    alpha: f64,
    eps: f64,
    momentum: f64,
    /// Whether there is a momentum buffer (fixed at construction, so the state layout is too).
    has_momentum: bool,
    centered: bool,
    decay: DecayKind,
}

impl UpdateRule for RmsPropRule {
    fn name(&self) -> &'static str {
        NAME
    }

    fn buffer_names(&self) -> &'static [&'static str] {
        match (self.centered, self.has_momentum) {
            (false, false) => &["square_avg"],
            (true, false) => &["square_avg", "grad_avg"],
            (false, true) => &["square_avg", "momentum_buffer"],
            (true, true) => &["square_avg", "grad_avg", "momentum_buffer"],
        }
    }

    fn decay_kind(&self) -> DecayKind {
        self.decay
    }

    fn momentum(&self) -> Option<f64> {
        self.has_momentum.then_some(self.momentum)
    }

    fn set_momentum(&mut self, m: f64) -> Result<(), OptimError> {
        if !self.has_momentum {
            return Err(OptimError::Unsupported {
                optimizer: "RMSprop built without momentum",
                what: "setting momentum",
            });
        }
        check_nonneg(NAME, "momentum", m)?;
        self.momentum = m;
        Ok(())
    }

    fn update(&self, u: Update<'_, '_>) {
        let prep = u.prep;
        let (alpha, w, eps) = (
            self.alpha as f32,
            (1.0 - self.alpha) as f32,
            self.eps as f32,
        );
        let mom = Heavy {
            mu: self.momentum as f32,
            one_minus_damp: 1.0,
        };
        let (centered, with_mom) = (self.centered, self.has_momentum);
        let lr = u.lr as f32;
        let decay = WeightDecay::prepare(self.decay, u.weight_decay, u.lr);
        with_decay!(decay, d => match (centered, with_mom) {
            (false, false) => run3(u.value, u.grad, &mut u.state[0], |th, g, s| {
                let g = d.grad(prep.apply(g), *th);
                *s = *s * alpha + w * g * g;
                let a = s.sqrt() + eps;
                *th = d.param(*th) + -lr * g / a;
            }),
            (false, true) => {
                let (s, b) = two(u.state);
                run4(u.value, u.grad, s, b, |th, g, s, b| {
                    let g = d.grad(prep.apply(g), *th);
                    *s = *s * alpha + w * g * g;
                    let a = s.sqrt() + eps;
                    let dir = mom.dir(g / a, b);
                    *th = d.param(*th) - lr * dir;
                })
            }
            (true, false) => {
                let (s, ga) = two(u.state);
                run4(u.value, u.grad, s, ga, |th, g, s, ga| {
                    let g = d.grad(prep.apply(g), *th);
                    *s = *s * alpha + w * g * g;
                    *ga = lerp(*ga, g, w);
                    let a = (*s + -1.0 * *ga * *ga).sqrt() + eps;
                    *th = d.param(*th) + -lr * g / a;
                })
            }
            (true, true) => {
                let (s, ga, b) = three(u.state);
                run5(u.value, u.grad, s, ga, b, |th, g, s, ga, b| {
                    let g = d.grad(prep.apply(g), *th);
                    *s = *s * alpha + w * g * g;
                    *ga = lerp(*ga, g, w);
                    let a = (*s + -1.0 * *ga * *ga).sqrt() + eps;
                    let dir = mom.dir(g / a, b);
                    *th = d.param(*th) - lr * dir;
                })
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Optimizer, ParamMut};
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn first_step_matches_formula() {
        let mut opt = RmsPropConfig {
            lr: 0.01,
            ..Default::default()
        }
        .init()
        .unwrap();
        let mut w = ArrayD::from_elem(IxDyn(&[1]), 1.0f32);
        let g = ArrayD::from_elem(IxDyn(&[1]), 2.0f32);
        opt.step(&mut [ParamMut::new("w", w.view_mut(), g.view())])
            .unwrap();
        let s = 0.01f64 * 4.0;
        let expect = 1.0 - 0.01 * 2.0 / (s.sqrt() + 1e-8);
        assert!((w[[0]] as f64 - expect).abs() < 1e-6);
    }
}
