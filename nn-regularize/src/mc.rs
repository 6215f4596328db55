//! Monte-Carlo masks at test time: averaging the predictions of K random masks instead of using
//! the scaling rule (Srivastava et al. 2014, §7.5 "Monte-Carlo model averaging vs. weight
//! scaling"; Gal & Ghahramani 2016, "MC dropout").
//!
//! In evaluation mode the mask regularisers — [`crate::Dropout`], [`crate::Dropout2d`],
//! [`crate::DropConnectLinear`], [`crate::DropConnectConv2d`], [`crate::StochasticDepth`] and
//! [`crate::StochasticResidual`] — use the scaling rule (identity for inverted scaling, ×q for
//! vanilla). Inside [`with_mc_masks`] they draw masks as in training instead, from the pass's
//! generator ([`nn_core::Ctx::rng`]), while **every other layer stays in evaluation mode**
//! (batch norm uses its running statistics and updates nothing). [`predict_mc`] runs a model
//! K times this way, each pass with its own generator, and averages the class probabilities:
//!
//! ```text
//! p̂(y | x) = (1/K) · Σ_k softmax(f(x; M_k))        (M_k: the k-th set of masks)
//! ```
//!
//! whose limit as K → ∞ is the exact average over masks that the scaling rule approximates.
//! The scope is per thread (like `no_grad` and [`crate::with_test_draw`]).
//!
//! ```
//! use nn_core::{Ctx, Module, Tensor, rng::seeded};
//! use nn_regularize::{DropoutConfig, mask_mode, with_mc_masks};
//!
//! let drop = DropoutConfig::new(0.5).init().unwrap();
//! let x = Tensor::ones(&[2, 8]);
//! // Evaluation: the scaling rule (identity for inverted dropout).
//! assert_eq!(drop.forward(&x, &mut Ctx::eval()).to_vec(), x.to_vec());
//! // Inside the scope, an evaluation pass draws a mask from its generator.
//! let y = with_mc_masks(|| drop.forward(&x, &mut Ctx::new(nn_core::Mode::Eval, seeded(3))));
//! assert!(y.to_vec().iter().all(|&v| v == 0.0 || v == 2.0));
//! assert_eq!(mask_mode(nn_core::Mode::Eval), nn_core::Mode::Eval); // outside: unchanged
//! ```

use std::cell::Cell;

use nn_core::rng::stream;
use nn_core::{Array, Ctx, Mode, Module, Tensor, with_no_grad};

use crate::fractional_pool::ensemble::softmax_rows;

thread_local! {
    static MC_MASKS: Cell<bool> = const { Cell::new(false) };
}

/// Whether evaluation-mode mask regularisers on this thread draw masks ([`with_mc_masks`]).
pub fn mc_masks_active() -> bool {
    MC_MASKS.with(Cell::get)
}

/// Runs `f` with Monte-Carlo masks on this thread: evaluation-mode mask regularisers draw masks
/// from the pass's generator as in training. Restores the previous state afterwards (also if
/// `f` panics).
pub fn with_mc_masks<T>(f: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            MC_MASKS.with(|m| m.set(self.0));
        }
    }
    let _restore = Restore(MC_MASKS.with(|m| m.replace(true)));
    f()
}

/// The mode a mask regulariser uses in a pass of `mode`: [`Mode::Train`] for an evaluation pass
/// inside [`with_mc_masks`], else `mode`.
pub fn mask_mode(mode: Mode) -> Mode {
    if mode == Mode::Eval && mc_masks_active() {
        Mode::Train
    } else {
        mode
    }
}

/// The class probabilities of `model` (which returns logits `[N, classes]`) on `x`, averaged
/// over `draws` passes in evaluation mode with Monte-Carlo masks; pass k draws its masks from
/// `nn_core::rng::stream(seed, k)`. No graph is recorded.
///
/// # Panics
/// If `draws` is 0 or the model's output is not 2-d.
pub fn predict_mc(model: &dyn Module, x: &Tensor, draws: usize, seed: u64) -> Array {
    assert!(draws >= 1, "predict_mc: need at least one draw");
    let mut sum: Option<Array> = None;
    for k in 0..draws {
        let p = predict_mc_draw(model, x, seed, k as u64);
        sum = Some(match sum {
            Some(s) => s + &p,
            None => p,
        });
    }
    sum.expect("at least one draw") / draws as f32
}

/// The class probabilities of one Monte-Carlo pass (draw `k` of [`predict_mc`]).
pub fn predict_mc_draw(model: &dyn Module, x: &Tensor, seed: u64, k: u64) -> Array {
    with_no_grad(|| {
        with_mc_masks(|| {
            let mut ctx = Ctx::new(Mode::Eval, stream(seed, k));
            softmax_rows(&model.forward(x, &mut ctx).to_array())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DropConnectConfig, DropoutConfig, DropoutVariant};
    use nn_core::layers::{BatchNormConfig, LinearConfig, Sequential};
    use nn_core::rng::seeded;

    #[test]
    fn the_scope_nests_and_restores() {
        assert!(!mc_masks_active());
        with_mc_masks(|| {
            assert!(mc_masks_active());
            with_mc_masks(|| assert_eq!(mask_mode(Mode::Eval), Mode::Train));
            assert!(mc_masks_active());
        });
        assert!(!mc_masks_active());
        let r = std::panic::catch_unwind(|| with_mc_masks(|| panic!("boom")));
        assert!(r.is_err());
        assert!(!mc_masks_active());
        assert_eq!(mask_mode(Mode::Train), Mode::Train);
    }

    #[test]
    fn an_mc_pass_draws_the_training_mask_and_keeps_batch_norm_in_eval() {
        let mut rng = seeded(0);
        let net = Sequential::new()
            .with(LinearConfig::new(6, 16).init(&mut rng).unwrap())
            .with(BatchNormConfig::new(16).init_1d().unwrap())
            .with(DropoutConfig::new(0.5).init().unwrap())
            .with(
                DropConnectConfig::new(0.3)
                    .init_linear(16, 4, true, &mut rng)
                    .unwrap(),
            );
        let x = Tensor::randn(&[5, 6], 0.0, 1.0, &mut seeded(1));
        let before = net.state_dict();
        let a = with_mc_masks(|| net.forward(&x, &mut Ctx::new(Mode::Eval, seeded(7))));
        let b = with_mc_masks(|| net.forward(&x, &mut Ctx::new(Mode::Eval, seeded(7))));
        let c = with_mc_masks(|| net.forward(&x, &mut Ctx::new(Mode::Eval, seeded(8))));
        assert_eq!(a.to_vec(), b.to_vec(), "same generator, same masks");
        assert_ne!(a.to_vec(), c.to_vec(), "another generator, other masks");
        let plain = net.forward(&x, &mut Ctx::eval());
        assert_ne!(a.to_vec(), plain.to_vec());
        // Batch norm normalised with its running statistics and left them alone.
        assert_eq!(before, net.state_dict());
    }

    #[test]
    fn many_masks_average_to_the_scaling_rule_for_a_linear_model() {
        for variant in [DropoutVariant::Inverted, DropoutVariant::Vanilla] {
            let drop = DropoutConfig::new(0.4).variant(variant).init().unwrap();
            let x = Tensor::randn(&[3, 50], 0.0, 1.0, &mut seeded(2));
            let rule = drop.forward(&x, &mut Ctx::eval()).to_vec();
            let k = 4000;
            let mut mean = vec![0.0f64; rule.len()];
            for i in 0..k {
                let y = with_mc_masks(|| drop.forward(&x, &mut Ctx::new(Mode::Eval, stream(9, i))));
                for (m, v) in mean.iter_mut().zip(y.to_vec()) {
                    *m += f64::from(v) / k as f64;
                }
            }
            let worst = mean
                .iter()
                .zip(&rule)
                .map(|(m, r)| (m - f64::from(*r)).abs())
                .fold(0.0, f64::max);
            assert!(worst < 0.1, "{variant:?}: worst deviation {worst}");
        }
    }

    #[test]
    fn predict_mc_averages_probabilities_and_is_seeded() {
        let mut rng = seeded(3);
        let net = Sequential::new()
            .with(LinearConfig::new(4, 8).init(&mut rng).unwrap())
            .with(DropoutConfig::new(0.5).init().unwrap())
            .with(LinearConfig::new(8, 3).init(&mut rng).unwrap());
        let x = Tensor::randn(&[6, 4], 0.0, 1.0, &mut seeded(4));
        let p = predict_mc(&net, &x, 5, 11);
        let manual = (0..5)
            .map(|k| predict_mc_draw(&net, &x, 11, k))
            .fold(Array::zeros(p.raw_dim()), |s, q| s + &q)
            / 5.0;
        assert_eq!(p, manual);
        assert_eq!(p, predict_mc(&net, &x, 5, 11));
        for row in p.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-5);
        }
    }
}
