//! Adam, AMSGrad and AdamW.

use serde::{Deserialize, Serialize};

use crate::core::Core;
use crate::error::{OptimError, check_nonneg, check_unit_open};
use crate::fused::{run4, run5, three, two};
use crate::group::ParamGroup;
use crate::optimizer::{Optimizer, impl_core_plumbing, impl_optimizer_common};
use crate::param::ParamMut;
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
        let c = AdamConfig {
            lr: self.lr,
            betas: self.betas,
            eps: self.eps,
            weight_decay: self.weight_decay,
            decoupled_weight_decay: true,
            amsgrad: self.amsgrad,
            maximize: self.maximize,
            clip: self.clip,
        };
        c.build("AdamW", groups)
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

    fn build(self, owner: &'static str, groups: Vec<ParamGroup>) -> Result<Adam, OptimError> {
        check_unit_open(owner, "betas.0", self.betas.0)?;
        check_unit_open(owner, "betas.1", self.betas.1)?;
        check_nonneg(owner, "eps", self.eps)?;
        let core = Core::new(
            owner,
            self.lr,
            self.weight_decay,
            groups,
            self.clip,
            self.maximize,
        )?;
        let decay = DecayKind::from_decoupled(self.decoupled_weight_decay);
        Ok(Adam {
            core,
            betas: self.betas,
            eps: self.eps,
            amsgrad: self.amsgrad,
            decay,
        })
    }
}

/// Adam / AMSGrad / AdamW; see [`AdamConfig`] for the update.
#[derive(Clone, Debug)]
pub struct Adam {
    core: Core,
    betas: (f64, f64),
    eps: f64,
    amsgrad: bool,
    decay: DecayKind,
}

impl Adam {
    /// The weight-decay rule of group `group`.
    pub fn weight_decay_rule(&self, group: usize) -> Result<WeightDecay, OptimError> {
        Ok(WeightDecay {
            kind: self.decay,
            coeff: self.core.group(group)?.weight_decay,
        })
    }

    fn buffer_names(&self) -> Vec<&'static str> {
        if self.amsgrad {
            vec!["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
        } else {
            vec!["exp_avg", "exp_avg_sq"]
        }
    }
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

impl_core_plumbing!(
    Adam,
    momentum = |s: &Adam| Some(s.betas.0),
    set_momentum = |s: &mut Adam, m: f64| {
        check_unit_open(s.core.owner, "betas.0", m)?;
        s.betas.0 = m;
        Ok(())
    }
);

impl Optimizer for Adam {
    fn step(&mut self, params: &mut [ParamMut<'_>]) -> Result<(), OptimError> {
        let inits: &[f32] = if self.amsgrad { &[0.0; 3] } else { &[0.0; 2] };
        let (work, prep) = self.core.begin(params, inits)?;
        let (b1, b2) = self.betas;
        let (w1, b2f, w2, eps) = (
            (1.0 - b1) as f32,
            b2 as f32,
            (1.0 - b2) as f32,
            self.eps as f32,
        );
        for w in work {
            let p = &mut params[w.index];
            let grp = &self.core.groups.state[w.group];
            let slot = self
                .core
                .slots
                .get_mut(p.name)
                .expect("slot created by begin");
            slot.step += 1;
            let t = slot.step as f64;
            let g = p
                .grad
                .as_ref()
                .expect("begin keeps only parameters with a gradient");
            // Scalars as PyTorch computes them (Python floats), rounded once to f32.
            let step_size = grp.lr / (1.0 - b1.powf(t));
            let neg_step = (-step_size) as f32;
            let inv_bc2_sqrt = 1.0f32 / ((1.0 - b2.powf(t)).sqrt() as f32);
            let decay = WeightDecay::prepare(self.decay, grp.weight_decay, grp.lr);
            with_decay!(decay, d => if self.amsgrad {
                let (m, v, vmax) = three(&mut slot.bufs);
                run5(&mut p.value, g, m, v, vmax, |th, g, m, v, vmax| {
                    let g = d.grad(prep.apply(g), *th);
                    *m = lerp(*m, g, w1);
                    *v = *v * b2f + w2 * g * g;
                    *vmax = vmax.max(*v);
                    let denom = vmax.sqrt() * inv_bc2_sqrt + eps;
                    *th = d.param(*th) + neg_step * *m / denom;
                })
            } else {
                let (m, v) = two(&mut slot.bufs);
                run4(&mut p.value, g, m, v, |th, g, m, v| {
                    let g = d.grad(prep.apply(g), *th);
                    *m = lerp(*m, g, w1);
                    *v = *v * b2f + w2 * g * g;
                    let denom = v.sqrt() * inv_bc2_sqrt + eps;
                    *th = d.param(*th) + neg_step * *m / denom;
                })
            });
        }
        Ok(())
    }

    impl_optimizer_common!();
}

#[cfg(test)]
mod tests {
    use super::*;
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
    fn invalid_betas_are_errors() {
        let e = AdamConfig {
            betas: (1.0, 0.999),
            ..Default::default()
        }
        .init()
        .unwrap_err();
        assert!(e.to_string().contains("betas.0"), "{e}");
        assert!(
            AdamConfig {
                betas: (0.9, -0.1),
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            AdamConfig {
                eps: -1.0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            AdamWConfig {
                weight_decay: -1.0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
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
