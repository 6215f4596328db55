//! Stochastic gradient descent, with momentum (heavy ball or Nesterov) and weight decay.

use serde::{Deserialize, Serialize};

use crate::core::Core;
use crate::error::{OptimError, check, check_nonneg};
use crate::fused::{run2, run3};
use crate::group::ParamGroup;
use crate::optimizer::{Optimizer, impl_core_plumbing, impl_optimizer_common};
use crate::param::ParamMut;
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
        const O: &str = "SGD";
        check_nonneg(O, "momentum", self.momentum)?;
        check_nonneg(O, "dampening", self.dampening)?;
        check(
            !self.nesterov || (self.momentum > 0.0 && self.dampening == 0.0),
            O,
            "nesterov",
            self.nesterov,
            "Nesterov momentum only with momentum > 0 and dampening = 0",
        )?;
        let core = Core::new(
            O,
            self.lr,
            self.weight_decay,
            groups,
            self.clip,
            self.maximize,
        )?;
        let kind = DecayKind::from_decoupled(self.decoupled_weight_decay);
        let momentum = Momentum::from_torch(self.momentum, self.dampening, self.nesterov);
        Ok(Sgd {
            core,
            momentum,
            decay: kind,
        })
    }
}

/// Stochastic gradient descent; see [`SgdConfig`] for the update.
#[derive(Clone, Debug)]
pub struct Sgd {
    core: Core,
    momentum: Momentum,
    decay: DecayKind,
}

impl Sgd {
    /// The momentum setting.
    pub fn momentum(&self) -> Momentum {
        self.momentum
    }

    /// The weight-decay rule of group `group`.
    pub fn weight_decay_rule(&self, group: usize) -> Result<WeightDecay, OptimError> {
        Ok(WeightDecay {
            kind: self.decay,
            coeff: self.core.group(group)?.weight_decay,
        })
    }

    fn buffer_names(&self) -> Vec<&'static str> {
        match self.momentum {
            Momentum::None => vec![],
            _ => vec!["momentum_buffer"],
        }
    }
}

impl_core_plumbing!(
    Sgd,
    momentum = |s: &Sgd| match s.momentum {
        Momentum::None => None,
        Momentum::Heavy { mu, .. } | Momentum::Nesterov { mu } => Some(mu),
    },
    set_momentum = |s: &mut Sgd, m: f64| {
        let nesterov = matches!(s.momentum, Momentum::Nesterov { .. });
        crate::error::check(
            m.is_finite() && (m > 0.0 || (m == 0.0 && !nesterov)),
            "SGD",
            "momentum",
            m,
            "a finite number >= 0 (> 0 for Nesterov)",
        )?;
        match &mut s.momentum {
            Momentum::None => {
                return Err(OptimError::Unsupported {
                    optimizer: "SGD built without momentum",
                    what: "setting momentum",
                });
            }
            Momentum::Heavy { mu, .. } | Momentum::Nesterov { mu } => *mu = m,
        }
        Ok(())
    }
);

impl Optimizer for Sgd {
    fn step(&mut self, params: &mut [ParamMut<'_>]) -> Result<(), OptimError> {
        let inits: &[f32] = if self.momentum == Momentum::None {
            &[]
        } else {
            &[0.0]
        };
        let (work, prep) = self.core.begin(params, inits)?;
        for w in work {
            let p = &mut params[w.index];
            let grp = &self.core.groups.state[w.group];
            let slot = self
                .core
                .slots
                .get_mut(p.name)
                .expect("slot created by begin");
            let first = slot.step == 0;
            slot.step += 1;
            let g = p
                .grad
                .as_ref()
                .expect("begin keeps only parameters with a gradient");
            let lr = grp.lr as f32;
            let decay = WeightDecay::prepare(self.decay, grp.weight_decay, grp.lr);
            with_decay!(decay, d => match self.momentum {
                Momentum::None => run2(&mut p.value, g, |t, g| {
                    let g = d.grad(prep.apply(g), *t);
                    *t = d.param(*t) - lr * g;
                }),
                mom => with_momentum!(mom, first, m => run3(&mut p.value, g, &mut slot.bufs[0], |t, g, b| {
                    let g = d.grad(prep.apply(g), *t);
                    let dir = m.dir(g, b);
                    *t = d.param(*t) - lr * dir;
                })),
            });
        }
        Ok(())
    }

    impl_optimizer_common!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LrControl;
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
    fn invalid_hyperparameters_are_errors() {
        assert!(
            SgdConfig {
                lr: -1.0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        assert!(
            SgdConfig {
                momentum: -0.1,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        let e = SgdConfig {
            nesterov: true,
            ..Default::default()
        }
        .init()
        .unwrap_err();
        assert!(e.to_string().contains("nesterov"), "{e}");
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
