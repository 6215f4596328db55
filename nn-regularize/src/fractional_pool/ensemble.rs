//! Test-time averaging over pooling draws (Graham 2014, §3: "average the output of the network
//! over several test runs with different pooling regions").
//!
//! Evaluation-mode [`super::FractionalMaxPool2d`] layers are deterministic: their regions are a
//! function of the layer's `eval_seed` and of the *test draw* k, a per-thread value that is 0
//! unless code runs inside [`with_test_draw`]`(k, …)`. Every FMP layer of a model evaluated inside
//! the scope uses draw k, so running the model for k = 0..K−1 and averaging gives Graham's
//! K-draw test ensemble — with no change to the model and every other layer still in eval mode.
//!
//! The scope is per thread (like `no_grad`): a model evaluated on another thread inside the
//! closure does not see it.

use std::cell::Cell;

use ndarray::{Axis, Ix2};
use nn_core::{Array, Ctx, Module, Tensor, with_no_grad};

thread_local! {
    static TEST_DRAW: Cell<u64> = const { Cell::new(0) };
}

/// The test draw evaluation-mode FMP layers on this thread use (0 outside [`with_test_draw`]).
pub fn current_test_draw() -> u64 {
    TEST_DRAW.with(Cell::get)
}

/// Runs `f` with the test draw set to `draw` on this thread, restoring the previous value
/// afterwards (also if `f` panics).
pub fn with_test_draw<T>(draw: u64, f: impl FnOnce() -> T) -> T {
    struct Restore(u64);
    impl Drop for Restore {
        fn drop(&mut self) {
            TEST_DRAW.with(|d| d.set(self.0));
        }
    }
    let _restore = Restore(TEST_DRAW.with(|d| d.replace(draw)));
    f()
}

/// The mean of `predict()` evaluated under test draws 0..`draws` (elementwise over the returned
/// arrays, which must all have one shape).
///
/// # Panics
/// If `draws` is 0 or the predictions' shapes differ.
pub fn average_over_draws(draws: usize, mut predict: impl FnMut() -> Array) -> Array {
    assert!(draws >= 1, "average_over_draws: need at least one draw");
    let mut sum = with_test_draw(0, &mut predict);
    for k in 1..draws {
        let p = with_test_draw(k as u64, &mut predict);
        assert_eq!(
            p.shape(),
            sum.shape(),
            "average_over_draws: prediction shapes differ between draws"
        );
        sum += &p;
    }
    sum / draws as f32
}

/// Graham's test-time ensemble: the class probabilities softmax(model(x)) averaged over `draws`
/// pooling draws, with the model in evaluation mode and no graph recorded. `model` must return
/// logits `[N, classes]`.
///
/// # Panics
/// If `draws` is 0 or the model's output is not 2-d.
pub fn predict_averaged(model: &dyn Module, x: &Tensor, draws: usize) -> Array {
    with_no_grad(|| {
        average_over_draws(draws, || {
            softmax_rows(&model.forward(x, &mut Ctx::eval()).to_array())
        })
    })
}

/// Row-wise softmax of a 2-d array (max-subtracted for stability).
pub(crate) fn softmax_rows(logits: &Array) -> Array {
    let l = logits
        .view()
        .into_dimensionality::<Ix2>()
        .unwrap_or_else(|_| {
            panic!(
                "softmax: expected logits [N, classes], got {:?}",
                logits.shape()
            )
        });
    let mut out = l.to_owned();
    for mut row in out.axis_iter_mut(Axis(0)) {
        let m = row.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        row.mapv_inplace(|v| (v - m).exp());
        let s = row.sum();
        row /= s;
    }
    out.into_dyn()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fractional_pool::{FmpRegions, FractionalMaxPool2dConfig};
    use nn_core::rng::seeded;
    use nn_core::{Entry, Parameter};

    #[test]
    fn scope_sets_and_restores() {
        assert_eq!(current_test_draw(), 0);
        let inner = with_test_draw(5, || {
            with_test_draw(7, current_test_draw) * 10 + current_test_draw()
        });
        assert_eq!(inner, 75);
        assert_eq!(current_test_draw(), 0);
        let r = std::panic::catch_unwind(|| with_test_draw(3, || panic!("boom")));
        assert!(r.is_err());
        assert_eq!(current_test_draw(), 0);
    }

    /// FMP then a linear read-out of the flattened map: logits [N, 3].
    struct Net {
        pool: crate::FractionalMaxPool2d,
        w: Parameter,
    }
    impl Module for Net {
        fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
            let p = self.pool.forward(x, ctx).to_array();
            let n = p.shape()[0];
            let flat = p.into_shape_with_order(ndarray::IxDyn(&[n, 16])).unwrap();
            Tensor::from_array(flat).linear(&self.w.tensor(), None)
        }
        fn visit(&self, _: &str, f: &mut dyn FnMut(Entry<'_>)) {
            f(Entry::Param("w", &self.w));
        }
        fn describe(&self) -> String {
            "Net".into()
        }
    }

    #[test]
    fn averaged_prediction_is_the_mean_of_the_draws() {
        let net = Net {
            pool: FractionalMaxPool2dConfig::ratio(0.6)
                .regions(FmpRegions::Disjoint)
                .init()
                .unwrap(),
            w: Parameter::new(Tensor::randn(&[3, 16], 0.0, 1.0, &mut seeded(0)).to_array()),
        };
        let x = Tensor::randn(&[2, 1, 7, 7], 0.0, 1.0, &mut seeded(1));
        let avg = predict_averaged(&net, &x, 4);
        let manual: Vec<Array> = (0..4)
            .map(|k| {
                with_test_draw(k, || {
                    softmax_rows(&net.forward(&x, &mut Ctx::eval()).to_array())
                })
            })
            .collect();
        assert_ne!(manual[0], manual[1], "draws must differ");
        let mean = manual
            .iter()
            .fold(Array::zeros(manual[0].raw_dim()), |a, b| a + b)
            / 4.0;
        for (a, b) in avg.iter().zip(mean.iter()) {
            assert!((a - b).abs() < 1e-6);
        }
        for row in avg.outer_iter() {
            assert!((row.sum() - 1.0).abs() < 1e-5);
        }
        // Deterministic.
        assert_eq!(avg, predict_averaged(&net, &x, 4));
    }
}
