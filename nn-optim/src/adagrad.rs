//! AdaGrad.

use serde::{Deserialize, Serialize};

use crate::elementwise::{Common, ElementwiseOptimizer, Update, UpdateRule};
use crate::error::{OptimError, check_nonneg};
use crate::fused::run3;
use crate::group::ParamGroup;
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
        let common = Common {
            lr: self.lr,
            weight_decay: self.weight_decay,
            clip: self.clip,
            maximize: self.maximize,
        };
        ElementwiseOptimizer::new(self.rule()?, common, groups)
    }

    /// Validates the AdaGrad-specific fields and returns the update rule.
    pub fn rule(&self) -> Result<AdaGradRule, OptimError> {
        check_nonneg(NAME, "lr_decay", self.lr_decay)?;
        let init = self.initial_accumulator_value;
        check_nonneg(NAME, "initial_accumulator_value", init)?;
        check_nonneg(NAME, "eps", self.eps)?;
        Ok(AdaGradRule {
            lr_decay: self.lr_decay,
            init: init as f32,
            eps: self.eps as f32,
            decay: DecayKind::from_decoupled(self.decoupled_weight_decay),
        })
    }
}

const NAME: &str = "Adagrad";

/// AdaGrad; see [`AdaGradConfig`] for the update.
pub type AdaGrad = ElementwiseOptimizer<AdaGradRule>;

/// AdaGrad's per-parameter update (see [`AdaGradConfig`]).
#[derive(Clone, Debug, PartialEq)]
pub struct AdaGradRule {
    lr_decay: f64,
    init: f32,
    eps: f32,
    decay: DecayKind,
}

impl UpdateRule for AdaGradRule {
    fn name(&self) -> &'static str {
        NAME
    }

    fn buffer_names(&self) -> &'static [&'static str] {
        &["sum"]
    }

    fn initial_value(&self, _index: usize) -> f32 {
        self.init
    }

    fn decay_kind(&self) -> DecayKind {
        self.decay
    }

    fn update(&self, u: Update<'_, '_>) {
        let (eps, prep) = (self.eps, u.prep);
        let clr = u.lr / (1.0 + (u.step - 1) as f64 * self.lr_decay);
        let neg_clr = (-clr) as f32;
        let decay = WeightDecay::prepare(self.decay, u.weight_decay, clr);
        with_decay!(decay, d => run3(u.value, u.grad, &mut u.state[0], |th, g, s| {
            let g = d.grad(prep.apply(g), *th);
            *s += g * g;
            let std = s.sqrt() + eps;
            *th = d.param(*th) + neg_clr * g / std;
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Optimizer, ParamMut};
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
}
