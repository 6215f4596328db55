//! [`ExplodeGuard`]: stop a trial whose loss explodes ("if the cost is ever > 3 × original
//! cost, break out early" — CS231n, "Choosing hyperparameters"), so that a hopeless learning
//! rate costs a few steps instead of a whole trial.

use crate::callback::{Callback, Control, StepInfo};

/// Why a guard stopped its trial.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Explosion {
    /// Global step (0-based) whose loss tripped the guard.
    pub step: u64,
    /// Its training loss.
    pub loss: f32,
    /// The loss of the first step.
    pub first_loss: f32,
}

/// A [`Callback`] that stops training as soon as a step's training loss is not finite or
/// exceeds `factor` × the loss of the first step (the mini-batch loss before the first update,
/// about log C for a fresh classifier).
#[derive(Debug, Clone)]
pub struct ExplodeGuard {
    factor: f32,
    first_loss: Option<f32>,
    explosion: Option<Explosion>,
}

impl ExplodeGuard {
    /// A guard with the given factor (the lecture uses 3; [`ExplodeGuard::default`]).
    /// Panics unless `factor` is finite and > 1 (a programmer error: search settings are
    /// validated before).
    pub fn new(factor: f32) -> ExplodeGuard {
        assert!(
            factor.is_finite() && factor > 1.0,
            "ExplodeGuard::new: factor must be finite and > 1, got {factor}"
        );
        ExplodeGuard {
            factor,
            first_loss: None,
            explosion: None,
        }
    }

    /// What stopped the trial, if the guard did.
    pub fn explosion(&self) -> Option<Explosion> {
        self.explosion
    }
}

impl Default for ExplodeGuard {
    fn default() -> Self {
        ExplodeGuard::new(3.0)
    }
}

impl Callback for ExplodeGuard {
    fn on_step(&mut self, info: &StepInfo<'_>) -> Control {
        let first = *self.first_loss.get_or_insert(info.loss);
        if !info.loss.is_finite() || info.loss > self.factor * first {
            self.explosion = Some(Explosion {
                step: info.step,
                loss: info.loss,
                first_loss: first,
            });
            return Control::Stop;
        }
        Control::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::layers::{Linear, LinearConfig};

    fn feed(guard: &mut ExplodeGuard, losses: &[f32]) -> Vec<Control> {
        let model: Linear = LinearConfig::new(1, 1)
            .init(&mut nn_core::rng::seeded(0))
            .unwrap();
        losses
            .iter()
            .enumerate()
            .map(|(i, &loss)| {
                guard.on_step(&StepInfo {
                    epoch: 0,
                    step: i as u64,
                    loss,
                    lr: 0.1,
                    batch_size: 1,
                    model: &model,
                })
            })
            .collect()
    }

    #[test]
    fn stops_above_the_factor() {
        let mut g = ExplodeGuard::default();
        let c = feed(&mut g, &[2.0, 5.9, 6.0, 6.1]);
        assert_eq!(c[..3], [Control::Continue; 3]);
        assert_eq!(c[3], Control::Stop);
        assert_eq!(
            g.explosion(),
            Some(Explosion {
                step: 3,
                loss: 6.1,
                first_loss: 2.0
            })
        );
    }

    #[test]
    fn stops_on_non_finite_loss() {
        let mut g = ExplodeGuard::new(10.0);
        assert_eq!(feed(&mut g, &[2.0, f32::NAN])[1], Control::Stop);
        let mut g = ExplodeGuard::new(10.0);
        assert_eq!(feed(&mut g, &[f32::INFINITY])[0], Control::Stop);
        let mut g = ExplodeGuard::new(10.0);
        assert!(
            feed(&mut g, &[2.0, 1.0, 0.5])
                .iter()
                .all(|&c| c == Control::Continue)
        );
        assert_eq!(g.explosion(), None);
    }
}
