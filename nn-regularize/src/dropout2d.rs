//! Channel dropout for convolutional feature maps (Tompson et al., "Efficient Object Localization
//! Using Convolutional Networks", CVPR 2015; PyTorch's `nn.Dropout2d`).
//!
//! Neighbouring pixels of a feature map are strongly correlated, so element-wise dropout barely
//! regularises a convolution. Channel dropout zeroes whole channels: for an input of shape
//! `[N, C, *]` one mask entry m₍ₙ,꜀₎ ~ Bernoulli(q) per sample and channel,
//!
//! ```text
//! training:   y[n, c, …] = x[n, c, …] · m[n, c] / q        (inverted; vanilla: no 1/q)
//! evaluation: y = x                                         (vanilla: y = q·x)
//! ```
//!
//! with the same variants as [`crate::Dropout`]. Accepts any input with at least 3 axes (so it is
//! also PyTorch's `Dropout1d` for `[N, C, L]` and `Dropout3d` for `[N, C, D, H, W]`).

use nn_core::{Ctx, Entry, Mode, Module, Tensor};
use rand::Rng;

use crate::dropout::{DropoutConfig, apply_dropout};

/// Channel-wise dropout (see the module docs); built by [`DropoutConfig::init_2d`].
///
/// ```
/// use nn_core::{Ctx, Module, Tensor};
/// use nn_regularize::DropoutConfig;
///
/// let drop = DropoutConfig::new(0.5).init_2d().unwrap();
/// let y = drop.forward(&Tensor::ones(&[2, 3, 4, 4]), &mut Ctx::train(0)).to_array();
/// for n in 0..2 {
///     for c in 0..3 {
///         let first = y[[n, c, 0, 0]];
///         assert!(y.iter().skip((n * 3 + c) * 16).take(16).all(|&v| v == first)); // whole channel
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Dropout2d {
    config: DropoutConfig,
}

impl Dropout2d {
    pub(crate) fn from_config(config: DropoutConfig) -> Self {
        Dropout2d { config }
    }

    /// The configuration.
    pub fn config(&self) -> &DropoutConfig {
        &self.config
    }

    /// The keep probability q = 1 − p.
    pub fn keep_prob(&self) -> f32 {
        1.0 - self.config.drop_prob
    }

    /// Channel dropout in `mode`, drawing the `[N, C]` mask from `rng` in training.
    ///
    /// # Panics
    /// If `x` has fewer than 3 axes.
    pub fn apply<R: Rng + ?Sized>(&self, x: &Tensor, mode: Mode, rng: &mut R) -> Tensor {
        assert!(
            x.ndim() >= 3,
            "Dropout2d: expected an input of shape [N, C, *] with at least 3 axes, got {:?}",
            x.shape()
        );
        let mut mask_shape = vec![1; x.ndim()];
        mask_shape[0] = x.shape()[0];
        mask_shape[1] = x.shape()[1];
        apply_dropout(
            x,
            &mask_shape,
            self.keep_prob(),
            self.config.variant,
            mode,
            rng,
        )
    }
}

impl Module for Dropout2d {
    fn forward(&self, input: &Tensor, ctx: &mut Ctx) -> Tensor {
        let mode = crate::mc::mask_mode(ctx.mode());
        self.apply(input, mode, ctx.rng())
    }
    fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(Entry<'_>)) {}
    fn describe(&self) -> String {
        format!(
            "Dropout2d(p={}, {:?})",
            self.config.drop_prob, self.config.variant
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DropoutVariant;
    use nn_core::rng::seeded;

    #[test]
    fn whole_channels_are_dropped() {
        let d = DropoutConfig::new(0.5).init_2d().unwrap();
        let x = Tensor::ones(&[8, 16, 3, 5]);
        let y = d.forward(&x, &mut Ctx::train(2)).to_array();
        let mut zeros = 0;
        for n in 0..8 {
            for c in 0..16 {
                let plane = y.slice(ndarray::s![n, c, .., ..]);
                let v = *plane.iter().next().unwrap();
                assert!(plane.iter().all(|&p| p == v));
                assert!(v == 0.0 || v == 2.0);
                zeros += usize::from(v == 0.0);
            }
        }
        assert!(zeros > 0 && zeros < 128);
    }

    #[test]
    fn eval_and_vanilla() {
        let x = Tensor::randn(&[2, 3, 4], 0.0, 1.0, &mut seeded(0));
        let d = DropoutConfig::new(0.3).init_2d().unwrap();
        assert_eq!(d.forward(&x, &mut Ctx::eval()).to_vec(), x.to_vec());
        let v = DropoutConfig::new(0.3)
            .variant(DropoutVariant::Vanilla)
            .init_2d()
            .unwrap();
        let y = v.forward(&x, &mut Ctx::eval()).to_vec();
        for (a, b) in y.iter().zip(x.to_vec()) {
            assert!((a - 0.7 * b).abs() < 1e-6);
        }
    }

    #[test]
    #[should_panic(expected = "Dropout2d: expected an input of shape [N, C, *]")]
    fn needs_three_axes() {
        let d = DropoutConfig::new(0.5).init_2d().unwrap();
        let _ = d.forward(&Tensor::ones(&[2, 3]), &mut Ctx::train(0));
    }
}
