//! [`DrawAveraged`]: Graham's test-time averaging over fractional-max-pooling draws, as a model.
//!
//! In training the wrapped network runs as is (each pass draws new pooling regions). In
//! evaluation it runs K times under test draws 0..K (`nn_regularize::with_test_draw`: every
//! fractional pooling layer uses that draw's fixed regions) and returns the logarithm of the
//! averaged class probabilities,
//!
//! ```text
//! z = ln( (1/K) · Σ_k softmax(f_k(x)) )
//! ```
//!
//! so that softmax(z) is the averaged prediction and argmax, accuracy and cross-entropy are those
//! of Graham's K-draw ensemble — for every caller of the model (validation, `eval`, ensembles),
//! with no change on their side. With K = 1 the wrapper is not used.

use nn_core::{Ctx, Entry, Module, Tensor};
use nn_regularize::with_test_draw;

/// A network whose evaluation averages the predictions of `draws` pooling draws (see the
/// module docs). Parameters keep the wrapped network's names.
pub struct DrawAveraged {
    inner: Box<dyn Module>,
    draws: usize,
}

impl DrawAveraged {
    /// Wraps `inner` (which must return logits `[N, classes]`), averaging `draws` ≥ 1 draws.
    pub fn new(inner: Box<dyn Module>, draws: usize) -> DrawAveraged {
        DrawAveraged {
            inner,
            draws: draws.max(1),
        }
    }

    /// The number of test-time draws K.
    pub fn draws(&self) -> usize {
        self.draws
    }
}

impl Module for DrawAveraged {
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        if ctx.is_train() {
            return self.inner.forward(x, ctx);
        }
        let mut sum: Option<Tensor> = None;
        for k in 0..self.draws {
            let p = with_test_draw(k as u64, || self.inner.forward(x, ctx)).softmax(1);
            sum = Some(match sum {
                Some(s) => &s + &p,
                None => p,
            });
        }
        let mean = &sum.expect("at least one draw") * (1.0 / self.draws as f32);
        mean.log()
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(Entry<'_>)) {
        self.inner.visit(prefix, f);
    }

    fn inference_chunk(&self, input: &[usize]) -> Option<usize> {
        self.inner.inference_chunk(input)
    }

    fn describe(&self) -> String {
        format!(
            "DrawAveraged(draws={}, {})",
            self.draws,
            self.inner.describe()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::layers::{Flatten, LinearConfig, Sequential};
    use nn_core::rng::seeded;
    use nn_regularize::FractionalMaxPool2dConfig;

    fn net() -> Sequential {
        Sequential::new()
            .with(FractionalMaxPool2dConfig::ratio(0.6).init().unwrap())
            .with(Flatten::default())
            .with(
                LinearConfig::new(2 * 3 * 3, 4)
                    .init(&mut seeded(0))
                    .unwrap(),
            )
    }

    #[test]
    fn evaluation_averages_the_draws_probabilities() {
        let x = Tensor::randn(&[3, 2, 6, 6], 0.0, 1.0, &mut seeded(1));
        let avg = DrawAveraged::new(Box::new(net()), 3);
        let z = avg.forward(&x, &mut Ctx::eval()).to_array();
        let reference = nn_regularize::predict_averaged(&net(), &x, 3).mapv(|p: f32| p.ln());
        for (a, b) in z.iter().zip(reference.iter()) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        // Training is the plain network; names are unchanged.
        let t = avg.forward(&x, &mut Ctx::train(5)).to_vec();
        assert_eq!(t, net().forward(&x, &mut Ctx::train(5)).to_vec());
        assert_eq!(avg.named_parameters()[0].0, "2.weight");
        assert_eq!(avg.draws(), 3);
    }
}
