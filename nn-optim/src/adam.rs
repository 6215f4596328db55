//! Adam, AMSGrad and AdamW.

use serde::{Deserialize, Serialize};

use crate::elementwise::{Common, ElementwiseOptimizer, Update, UpdateRule};
use crate::error::{OptimError, check_nonneg, check_unit_open};
use crate::fused::{run4, run5, three, two};
use crate::group::ParamGroup;
use crate::transform::{Decay, DecayKind, GradClip, WeightDecay, with_decay};

/// Configuration of [`Adam`], with PyTorch's defaults (`torch.optim.Adam`).
///
/// Update at step t (Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015;
/// AMSGrad: Reddi et al., "On the Convergence of Adam and Beyond", ICLR 2018; decoupled decay:
/// Loshchilov & Hutter, ICLR 2019):
///
/// ```text
/// g ← g + λθ                 (L2 decay)      or   θ ← θ(1 − ηλ)   (decoupled = AdamW)
/// m ← β₁m + (1 − β₁)g
/// v ← β₂v + (1 − β₂)g²
/// v̂ ← max(v̂, v)              (AMSGrad; else v̂ = v)
/// θ ← θ − η/(1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + ε)
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamConfig {
    /// Learning rate η (1e-3).
    pub lr: f64,
    /// (β₁, β₂), each in [0, 1) ((0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε added to the denominator (1e-8).
    pub eps: f64,
    /// Weight-decay coefficient λ (0).
    pub weight_decay: f64,
    /// Decoupled weight decay (AdamW) instead of L2 (false).
    pub decoupled_weight_decay: bool,
    /// AMSGrad variant (false).
    pub amsgrad: bool,
    /// Maximise the objective (false).
    pub maximize: bool,
    /// Gradient clipping before the update (none).
    pub clip: GradClip,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            amsgrad: false,
            maximize: false,
            clip: GradClip::NONE,
        }
    }
}

/// Configuration of AdamW (`torch.optim.AdamW`): Adam with decoupled weight decay, default
/// λ = 1e-2. Builds an [`Adam`] whose saved state says `"AdamW"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamWConfig {
    /// Learning rate η (1e-3).
    pub lr: f64,
    /// (β₁, β₂) ((0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε (1e-8).
    pub eps: f64,
    /// Decoupled weight-decay coefficient λ (1e-2).
    pub weight_decay: f64,
    /// AMSGrad variant (false).
    pub amsgrad: bool,
    /// Maximise the objective (false).
    pub maximize: bool,
    /// Gradient clipping before the update (none).
    pub clip: GradClip,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
            maximize: false,
            clip: GradClip::NONE,
        }
    }
}

impl AdamWConfig {
    /// Validates and builds the optimizer with a single (default) group.
    pub fn init(self) -> Result<Adam, OptimError> {
        self.init_with_groups(Vec::new())
    }

    /// Validates and builds the optimizer with extra parameter groups.
    pub fn init_with_groups(self, groups: Vec<ParamGroup>) -> Result<Adam, OptimError> {
        self.adam().build("AdamW", groups)
    }

    /// Validates the Adam-specific fields and returns the update rule.
    pub fn rule(&self) -> Result<AdamRule, OptimError> {
        self.adam().rule_named("AdamW")
    }

    fn adam(&self) -> AdamConfig {
        AdamConfig {
            lr: self.lr,
            betas: self.betas,
            eps: self.eps,
            weight_decay: self.weight_decay,
            decoupled_weight_decay: true,
            amsgrad: self.amsgrad,
            maximize: self.maximize,
            clip: self.clip,
        }
    }
}

impl AdamConfig {
    /// Validates and builds the optimizer with a single (default) group.
    pub fn init(self) -> Result<Adam, OptimError> {
        self.init_with_groups(Vec::new())
    }

    /// Validates and builds the optimizer with extra parameter groups.
    pub fn init_with_groups(self, groups: Vec<ParamGroup>) -> Result<Adam, OptimError> {
        self.build("Adam", groups)
    }

    /// Validates the Adam-specific fields and returns the update rule.
    pub fn rule(&self) -> Result<AdamRule, OptimError> {
        self.rule_named("Adam")
    }

    fn rule_named(&self, name: &'static str) -> Result<AdamRule, OptimError> {
        check_unit_open(name, "betas.0", self.betas.0)?;
        check_unit_open(name, "betas.1", self.betas.1)?;
        check_nonneg(name, "eps", self.eps)?;
        Ok(AdamRule {
            name,
            betas: self.betas,
            eps: self.eps,
            amsgrad: self.amsgrad,
            decay: DecayKind::from_decoupled(self.decoupled_weight_decay),
        })
    }

    fn build(self, name: &'static str, groups: Vec<ParamGroup>) -> Result<Adam, OptimError> {
        let common = Common {
            lr: self.lr,
            weight_decay: self.weight_decay,
            clip: self.clip,
            maximize: self.maximize,
        };
        ElementwiseOptimizer::new(self.rule_named(name)?, common, groups)
    }
}

/// Adam / AMSGrad / AdamW; see [`AdamConfig`] for the update.
pub type Adam = ElementwiseOptimizer<AdamRule>;

/// Adam's per-parameter update (see [`AdamConfig`]).
#[derive(Clone, Debug, PartialEq)]
pub struct AdamRule {
    name: &'static str,
    betas: (f64, f64),
    eps: f64,
    amsgrad: bool,
    decay: DecayKind,
}

/// PyTorch's `lerp` on the CPU: `a + w(b − a)` for |w| < ½, else `b − (b − a)(1 − w)`.
#[inline(always)]
pub(crate) fn lerp(a: f32, b: f32, w: f32) -> f32 {
    if w.abs() < 0.5 {
        a + w * (b - a)
    } else {
        b - (b - a) * (1.0 - w)
    }
}

impl UpdateRule for AdamRule {
    fn name(&self) -> &'static str {
        self.name
    }

    fn buffer_names(&self) -> &'static [&'static str] {
        if self.amsgrad {
            &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
        } else {
            &["exp_avg", "exp_avg_sq"]
        }
    }

    fn decay_kind(&self) -> DecayKind {
        self.decay
    }

    fn momentum(&self) -> Option<f64> {
        Some(self.betas.0)
    }

    fn set_momentum(&mut self, m: f64) -> Result<(), OptimError> {
        check_unit_open(self.name, "betas.0", m)?;
        self.betas.0 = m;
        Ok(())
    }

    fn update(&self, u: Update<'_, '_>) {
        let (b1, b2) = self.betas;
        let (w1, b2f, w2, eps) = (
            (1.0 - b1) as f32,
            b2 as f32,
            (1.0 - b2) as f32,
            self.eps as f32,
        );
        let prep = u.prep;
        let t = u.step as f64;
        // Scalars as PyTorch computes them (Python floats), rounded once to f32.
        let step_size = u.lr / (1.0 - b1.powf(t));
        let neg_step = (-step_size) as f32;
        let inv_bc2_sqrt = 1.0f32 / ((1.0 - b2.powf(t)).sqrt() as f32);
        let decay = WeightDecay::prepare(self.decay, u.weight_decay, u.lr);
        with_decay!(decay, d => if self.amsgrad {
            let (m, v, vmax) = three(u.state);
            run5(u.value, u.grad, m, v, vmax, |th, g, m, v, vmax| {
                let g = d.grad(prep.apply(g), *th);
                *m = lerp(*m, g, w1);
                *v = *v * b2f + w2 * g * g;
                *vmax = vmax.max(*v);
                let denom = vmax.sqrt() * inv_bc2_sqrt + eps;
                *th = d.param(*th) + neg_step * *m / denom;
            })
        } else {
            let (m, v) = two(u.state);
            run4(u.value, u.grad, m, v, |th, g, m, v| {
                let g = d.grad(prep.apply(g), *th);
                *m = lerp(*m, g, w1);
                *v = *v * b2f + w2 * g * g;
                let denom = v.sqrt() * inv_bc2_sqrt + eps;
                *th = d.param(*th) + neg_step * *m / denom;
            })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Optimizer, ParamMut};
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn first_adam_step_moves_by_lr_times_sign() {
        // With bias correction, the first step is −η·g/(|g| + ε') ≈ −η·sign(g).
        let mut opt = AdamConfig {
            lr: 0.01,
            ..Default::default()
        }
        .init()
        .unwrap();
        let mut w = ArrayD::from_elem(IxDyn(&[3]), 1.0f32);
        let g = ArrayD::from_shape_vec(IxDyn(&[3]), vec![3.0f32, -0.5, 1e-3]).unwrap();
        opt.step(&mut [ParamMut::new("w", w.view_mut(), g.view())])
            .unwrap();
        assert!((w[[0]] - 0.99).abs() < 1e-6);
        assert!((w[[1]] - 1.01).abs() < 1e-6);
        assert!((w[[2]] - 0.99).abs() < 1e-4);
    }

    #[test]
    fn lerp_matches_both_branches() {
        assert_eq!(lerp(1.0, 3.0, 0.25), 1.5);
        assert_eq!(lerp(1.0, 3.0, 0.75), 2.5);
    }

    #[test]
    fn adamw_state_is_labelled_adamw() {
        let opt = AdamWConfig::default().init().unwrap();
        assert_eq!(opt.name(), "AdamW");
        assert_eq!(
            opt.weight_decay_rule(0).unwrap(),
            WeightDecay::decoupled(1e-2)
        );
    }
}
