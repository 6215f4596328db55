//! Stochastic gradient descent, with momentum (heavy ball or Nesterov) and weight decay.

use serde::{Deserialize, Serialize};

use crate::elementwise::{Common, ElementwiseOptimizer, Update, UpdateRule};
use crate::error::{OptimError, check, check_nonneg};
use crate::fused::{run2, run3};
use crate::group::ParamGroup;
use crate::transform::{
    Decay, DecayKind, GradClip, Mom, Momentum, WeightDecay, with_decay, with_momentum,
};

/// Configuration of [`Sgd`], with PyTorch's defaults (`torch.optim.SGD`).
///
/// Update for a parameter θ with gradient g, learning rate η (Robbins & Monro 1951; momentum:
/// Polyak 1964; Nesterov: Sutskever et al., ICML 2013):
///
/// ```text
/// g ← g + λθ                         (L2 weight decay, if λ > 0 and not decoupled)
/// θ ← θ(1 − ηλ)                      (decoupled weight decay = SGDW, if chosen)
/// b ← g on the first step, else b ← μb + (1 − τ)g       (if μ > 0)
/// d ← g + μb if Nesterov, else b      (d = g without momentum)
/// θ ← θ − ηd
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SgdConfig {
    /// Learning rate η (PyTorch default 1e-3).
    pub lr: f64,
    /// Momentum μ (0 = none).
    pub momentum: f64,
    /// Dampening τ of the momentum buffer.
    pub dampening: f64,
    /// Weight-decay coefficient λ.
    pub weight_decay: f64,
    /// Apply weight decay decoupled (SGDW) instead of as an L2 gradient term.
    pub decoupled_weight_decay: bool,
    /// Nesterov momentum (needs μ > 0 and τ = 0).
    pub nesterov: bool,
    /// Maximise the objective instead (g ← −g).
    pub maximize: bool,
    /// Gradient clipping applied before the update.
    pub clip: GradClip,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            nesterov: false,
            maximize: false,
            clip: GradClip::NONE,
        }
    }
}

impl SgdConfig {
    /// Validates and builds the optimizer with a single (default) group.
    pub fn init(self) -> Result<Sgd, OptimError> {
        self.init_with_groups(Vec::new())
    }

    /// Validates and builds the optimizer with extra parameter groups.
    pub fn init_with_groups(self, groups: Vec<ParamGroup>) -> Result<Sgd, OptimError> {
        let common = Common {
            lr: self.lr,
            weight_decay: self.weight_decay,
            clip: self.clip,
            maximize: self.maximize,
        };
        ElementwiseOptimizer::new(self.rule()?, common, groups)
    }

    /// Validates the SGD-specific fields and returns the update rule.
    pub fn rule(&self) -> Result<SgdRule, OptimError> {
        check_nonneg(NAME, "momentum", self.momentum)?;
        check_nonneg(NAME, "dampening", self.dampening)?;
        check(
            !self.nesterov || (self.momentum > 0.0 && self.dampening == 0.0),
            NAME,
            "nesterov",
            self.nesterov,
            "Nesterov momentum only with momentum > 0 and dampening = 0",
        )?;
        Ok(SgdRule {
            momentum: Momentum::from_torch(self.momentum, self.dampening, self.nesterov),
            decay: DecayKind::from_decoupled(self.decoupled_weight_decay),
        })
    }
}

const NAME: &str = "SGD";

/// Stochastic gradient descent; see [`SgdConfig`] for the update.
pub type Sgd = ElementwiseOptimizer<SgdRule>;

/// SGD's per-parameter update (see [`SgdConfig`]).
#[derive(Clone, Debug, PartialEq)]
pub struct SgdRule {
    momentum: Momentum,
    decay: DecayKind,
}

impl SgdRule {
    /// The momentum setting.
    pub fn momentum(&self) -> Momentum {
        self.momentum
    }
}

impl UpdateRule for SgdRule {
    fn name(&self) -> &'static str {
        NAME
    }

    fn buffer_names(&self) -> &'static [&'static str] {
        match self.momentum {
            Momentum::None => &[],
            _ => &["momentum_buffer"],
        }
    }

    fn decay_kind(&self) -> DecayKind {
        self.decay
    }

    fn momentum(&self) -> Option<f64> {
        match self.momentum {
            Momentum::None => None,
            Momentum::Heavy { mu, .. } | Momentum::Nesterov { mu } => Some(mu),
        }
    }

    fn set_momentum(&mut self, m: f64) -> Result<(), OptimError> {
        let nesterov = matches!(self.momentum, Momentum::Nesterov { .. });
        check(
            m.is_finite() && (m > 0.0 || (m == 0.0 && !nesterov)),
            NAME,
            "momentum",
            m,
            "a finite number >= 0 (> 0 for Nesterov)",
        )?;
        match &mut self.momentum {
            Momentum::None => Err(OptimError::Unsupported {
                optimizer: "SGD built without momentum",
                what: "setting momentum",
            }),
            Momentum::Heavy { mu, .. } | Momentum::Nesterov { mu } => {
                *mu = m;
                Ok(())
            }
        }
    }

    fn update(&self, u: Update<'_, '_>) {
        let (first, lr, prep) = (u.step == 1, u.lr as f32, u.prep);
        let decay = WeightDecay::prepare(self.decay, u.weight_decay, u.lr);
        with_decay!(decay, d => match self.momentum {
            Momentum::None => run2(u.value, u.grad, |t, g| {
                let g = d.grad(prep.apply(g), *t);
                *t = d.param(*t) - lr * g;
            }),
            mom => with_momentum!(mom, first, m => run3(u.value, u.grad, &mut u.state[0], |t, g, b| {
                let g = d.grad(prep.apply(g), *t);
                let dir = m.dir(g, b);
                *t = d.param(*t) - lr * dir;
            })),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LrControl, Optimizer, ParamMut};
    use ndarray::{ArrayD, IxDyn, array};

    fn arr(v: &[f32]) -> ArrayD<f32> {
        ArrayD::from_shape_vec(IxDyn(&[v.len()]), v.to_vec()).unwrap()
    }

    #[test]
    fn plain_sgd_step() {
        let mut opt = SgdConfig {
            lr: 0.1,
            ..Default::default()
        }
        .init()
        .unwrap();
        let mut w = arr(&[1.0, 2.0]);
        let g = arr(&[1.0, -1.0]);
        opt.step(&mut [ParamMut::new("w", w.view_mut(), g.view())])
            .unwrap();
        assert_eq!(w, arr(&[0.9, 2.1]));
    }

    #[test]
    fn momentum_first_step_uses_gradient_then_accumulates() {
        let mut opt = SgdConfig {
            lr: 1.0,
            momentum: 0.5,
            ..Default::default()
        }
        .init()
        .unwrap();
        let mut w = arr(&[0.0]);
        let g = arr(&[1.0]);
        for _ in 0..2 {
            opt.step(&mut [ParamMut::new("w", w.view_mut(), g.view())])
                .unwrap();
        }
        // b1 = 1, b2 = 0.5 + 1 = 1.5 → w = −2.5
        assert_eq!(w, arr(&[-2.5]));
    }

    #[test]
    fn decoupled_is_sgdw() {
        let mut opt = SgdConfig {
            lr: 0.1,
            weight_decay: 0.5,
            decoupled_weight_decay: true,
            ..Default::default()
        }
        .init()
        .unwrap();
        let mut w = arr(&[2.0]);
        let g = arr(&[1.0]);
        opt.step(&mut [ParamMut::new("w", w.view_mut(), g.view())])
            .unwrap();
        // θ(1 − ηλ) − ηg = 2·0.95 − 0.1
        assert!((w[[0]] - 1.8).abs() < 1e-6);
    }

    #[test]
    fn skips_params_without_gradients_and_rejects_bad_shapes() {
        let mut opt = SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            ..Default::default()
        }
        .init()
        .unwrap();
        let mut w = arr(&[1.0]);
        let mut f = arr(&[1.0]);
        let g = arr(&[1.0]);
        opt.step(&mut [
            ParamMut::new("w", w.view_mut(), g.view()),
            ParamMut::frozen("f", f.view_mut()),
        ])
        .unwrap();
        assert_eq!(f, arr(&[1.0]));
        assert!(opt.state().params.contains_key("w") && !opt.state().params.contains_key("f"));
        let g2 = array![[1.0f32]].into_dyn();
        let e = opt
            .step(&mut [ParamMut::new("w", w.view_mut(), g2.view())])
            .unwrap_err();
        assert!(matches!(e, OptimError::ShapeMismatch { .. }), "{e}");
        let e = opt
            .step(&mut [
                ParamMut::new("w", w.view_mut(), g.view()),
                ParamMut::new("w", f.view_mut(), g.view()),
            ])
            .unwrap_err();
        assert_eq!(e, OptimError::DuplicateParameter("w".into()));
        assert!(
            (w[[0]] - 0.9).abs() < 1e-7,
            "a failed step must not change parameters"
        );
    }

    #[test]
    fn set_lr_changes_the_step() {
        let mut opt = SgdConfig {
            lr: 0.1,
            ..Default::default()
        }
        .init()
        .unwrap();
        opt.set_lr(0, 0.5);
        assert_eq!(opt.lr(0), 0.5);
        let mut w = arr(&[1.0]);
        let g = arr(&[1.0]);
        opt.step(&mut [ParamMut::new("w", w.view_mut(), g.view())])
            .unwrap();
        assert_eq!(w, arr(&[0.5]));
    }
}
