//! AdaGrad.

use serde::{Deserialize, Serialize};

use crate::core::Core;
use crate::error::{OptimError, check_nonneg};
use crate::fused::run3;
use crate::group::ParamGroup;
use crate::optimizer::{Optimizer, impl_core_plumbing, impl_optimizer_common};
use crate::param::ParamMut;
use crate::transform::{Decay, DecayKind, GradClip, WeightDecay, with_decay};

/// Configuration of [`AdaGrad`], with PyTorch's defaults (`torch.optim.Adagrad`).
///
/// Update at step t (Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning
/// and Stochastic Optimization", JMLR 2011):
///
/// ```text
/// g ← g + λθ                         (L2 decay; or θ ← θ(1 − η̃λ) if decoupled)
/// η̃ = η / (1 + (t − 1)·lr_decay)
/// S ← S + g²                          (S starts at initial_accumulator_value)
/// θ ← θ − η̃ g / (√S + ε)
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdaGradConfig {
    /// Learning rate η (1e-2).
    pub lr: f64,
    /// Learning-rate decay per step (0).
    pub lr_decay: f64,
    /// Weight-decay coefficient λ (0).
    pub weight_decay: f64,
    /// Decoupled weight decay instead of L2 (false; not in PyTorch's Adagrad).
    pub decoupled_weight_decay: bool,
    /// Starting value of the sum of squares (0).
    pub initial_accumulator_value: f64,
    /// ε (1e-10).
    pub eps: f64,
    /// Maximise the objective (false).
    pub maximize: bool,
    /// Gradient clipping before the update (none).
    pub clip: GradClip,
}

impl Default for AdaGradConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            maximize: false,
            clip: GradClip::NONE,
        }
    }
}

impl AdaGradConfig {
    /// Validates and builds the optimizer with a single (default) group.
    pub fn init(self) -> Result<AdaGrad, OptimError> {
        self.init_with_groups(Vec::new())
    }

    /// Validates and builds the optimizer with extra parameter groups.
    pub fn init_with_groups(self, groups: Vec<ParamGroup>) -> Result<AdaGrad, OptimError> {
        const O: &str = "Adagrad";
        check_nonneg(O, "lr_decay", self.lr_decay)?;
        check_nonneg(
            O,
            "initial_accumulator_value",
            self.initial_accumulator_value,
        )?;
        check_nonneg(O, "eps", self.eps)?;
        let core = Core::new(
            O,
            self.lr,
            self.weight_decay,
            groups,
            self.clip,
            self.maximize,
        )?;
        let decay = DecayKind::from_decoupled(self.decoupled_weight_decay);
        Ok(AdaGrad {
            core,
            lr_decay: self.lr_decay,
            init: self.initial_accumulator_value as f32,
            eps: self.eps as f32,
            decay,
        })
    }
}

/// AdaGrad; see [`AdaGradConfig`] for the update.
#[derive(Clone, Debug)]
pub struct AdaGrad {
    core: Core,
    lr_decay: f64,
    init: f32,
    eps: f32,
    decay: DecayKind,
}

impl AdaGrad {
    fn buffer_names(&self) -> Vec<&'static str> {
        vec!["sum"]
    }
}

impl_core_plumbing!(AdaGrad);

impl Optimizer for AdaGrad {
    fn step(&mut self, params: &mut [ParamMut<'_>]) -> Result<(), OptimError> {
        let (work, prep) = self.core.begin(params, &[self.init])?;
        let eps = self.eps;
        for w in work {
            let p = &mut params[w.index];
            let grp = &self.core.groups.state[w.group];
            let slot = self
                .core
                .slots
                .get_mut(p.name)
                .expect("slot created by begin");
            slot.step += 1;
            let g = p
                .grad
                .as_ref()
                .expect("begin keeps only parameters with a gradient");
            let clr = grp.lr / (1.0 + (slot.step - 1) as f64 * self.lr_decay);
            let neg_clr = (-clr) as f32;
            let decay = WeightDecay::prepare(self.decay, grp.weight_decay, clr);
            with_decay!(decay, d => run3(&mut p.value, g, &mut slot.bufs[0], |th, g, s| {
                let g = d.grad(prep.apply(g), *th);
                *s += g * g;
                let std = s.sqrt() + eps;
                *th = d.param(*th) + neg_clr * g / std;
            }));
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
    fn accumulates_squares() {
        let mut opt = AdaGradConfig {
            lr: 1.0,
            ..Default::default()
        }
        .init()
        .unwrap();
        let mut w = ArrayD::from_elem(IxDyn(&[1]), 0.0f32);
        let g = ArrayD::from_elem(IxDyn(&[1]), 3.0f32);
        opt.step(&mut [ParamMut::new("w", w.view_mut(), g.view())])
            .unwrap();
        opt.step(&mut [ParamMut::new("w", w.view_mut(), g.view())])
            .unwrap();
        // −3/3 − 3/√18
        let expect = -1.0 - 3.0 / 18f64.sqrt();
        assert!((w[[0]] as f64 - expect).abs() < 1e-6);
        assert_eq!(opt.state().params["w"].buffers["sum"][[0]], 18.0);
    }

    #[test]
    fn invalid_hyperparameters_are_errors() {
        assert!(
            AdaGradConfig {
                lr_decay: -1.0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            AdaGradConfig {
                initial_accumulator_value: -1.0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
    }
}
