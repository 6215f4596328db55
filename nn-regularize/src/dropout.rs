//! Dropout (Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from
//! Overfitting", JMLR 2014), in the inverted form used in practice and the original ("vanilla")
//! form taught in CS231n.
//!
//! With keep probability `q = 1 − p` (p = `drop_prob`, PyTorch's convention) and a mask
//! mᵢ ~ Bernoulli(q) drawn independently per element and per forward pass:
//!
//! | variant | training | evaluation |
//! |---|---|---|
//! | [`DropoutVariant::Inverted`] (default, = `torch.nn.Dropout`) | yᵢ = xᵢ·mᵢ / q | y = x (identity) |
//! | [`DropoutVariant::Vanilla`] (the paper's original) | yᵢ = xᵢ·mᵢ | y = q·x |
//!
//! Both make the evaluation output equal the *expected* training output, E\[y\] = q·x/q = x or
//! E\[y\] = q·x: the test pass averages the random sub-networks out exactly for one linear layer
//! and approximately (the "weight scaling" rule) for a deep network. The inverted form puts the
//! scaling in training so that evaluation costs nothing. With p = 1 the output is zero (as in
//! PyTorch).
//!
//! Note the lecture's `p` is the *keep* probability; here the field is named `drop_prob` to follow
//! PyTorch, and [`DropoutConfig::with_keep_prob`] accepts the lecture's convention.

use nn_core::{Array, Ctx, Entry, Mode, Module, Tensor};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Result, check_range};
use crate::mask::{BitMask, bernoulli_mask, bit_mask_mul, mask_mul};

/// Where the 1/q rescaling happens (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DropoutVariant {
    /// Scale kept units by 1/q in training; identity at test time (PyTorch's behaviour).
    #[default]
    Inverted,
    /// Keep units unscaled in training; multiply by q at test time (the original paper).
    Vanilla,
}

/// Configuration of [`Dropout`] (and [`crate::Dropout2d`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DropoutConfig {
    /// Probability p of zeroing a unit, in [0, 1]. Default 0.5 (PyTorch's default).
    pub drop_prob: f32,
    /// Inverted (default) or vanilla scaling.
    pub variant: DropoutVariant,
}

impl Default for DropoutConfig {
    fn default() -> Self {
        DropoutConfig {
            drop_prob: 0.5,
            variant: DropoutVariant::Inverted,
        }
    }
}

impl DropoutConfig {
    /// Inverted dropout that zeroes each unit with probability `drop_prob`.
    pub fn new(drop_prob: f32) -> Self {
        DropoutConfig {
            drop_prob,
            ..Self::default()
        }
    }

    /// Inverted dropout that keeps each unit with probability `keep_prob` (the lecture's `p`).
    pub fn with_keep_prob(keep_prob: f32) -> Self {
        Self::new(1.0 - keep_prob)
    }

    /// Sets the variant.
    pub fn variant(mut self, variant: DropoutVariant) -> Self {
        self.variant = variant;
        self
    }

    fn validate(&self, config: &'static str) -> Result<()> {
        check_range(
            config,
            "drop_prob",
            self.drop_prob,
            0.0,
            1.0,
            "a probability in [0, 1]",
        )
    }

    /// Validates the configuration and builds the layer.
    pub fn init(self) -> Result<Dropout> {
        self.validate("DropoutConfig")?;
        Ok(Dropout { config: self })
    }

    /// Validates the configuration and builds the channel-wise layer [`crate::Dropout2d`].
    pub fn init_2d(self) -> Result<crate::Dropout2d> {
        self.validate("DropoutConfig")?;
        Ok(crate::Dropout2d::from_config(self))
    }
}

/// Element-wise dropout (see the module docs). Has no parameters.
///
/// ```
/// use nn_core::{Ctx, Module, Tensor};
/// use nn_regularize::DropoutConfig;
///
/// let drop = DropoutConfig::new(0.5).init().unwrap();
/// let x = Tensor::ones(&[4, 8]);
/// let y = drop.forward(&x, &mut Ctx::train(0));
/// assert!(y.to_vec().iter().all(|&v| v == 0.0 || v == 2.0)); // kept units scaled by 1/q
/// assert_eq!(drop.forward(&x, &mut Ctx::eval()).to_vec(), x.to_vec()); // identity at test time
/// ```
#[derive(Debug, Clone)]
pub struct Dropout {
    config: DropoutConfig,
}

impl Dropout {
    /// The configuration.
    pub fn config(&self) -> &DropoutConfig {
        &self.config
    }

    /// The keep probability q = 1 − p.
    pub fn keep_prob(&self) -> f32 {
        1.0 - self.config.drop_prob
    }

    /// Dropout in `mode`, drawing the mask from `rng` in training (any generator; the module's
    /// [`Module::forward`] passes the pass's `ctx.rng()`).
    pub fn apply<R: Rng + ?Sized>(&self, x: &Tensor, mode: Mode, rng: &mut R) -> Tensor {
        apply_dropout(
            x,
            x.shape(),
            self.keep_prob(),
            self.config.variant,
            mode,
            rng,
        )
    }
}

impl Module for Dropout {
    fn forward(&self, input: &Tensor, ctx: &mut Ctx) -> Tensor {
        let mode = crate::mc::mask_mode(ctx.mode());
        self.apply(input, mode, ctx.rng())
    }
    fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(Entry<'_>)) {}
    fn describe(&self) -> String {
        format!(
            "Dropout(p={}, {:?})",
            self.config.drop_prob, self.config.variant
        )
    }
}

/// The scale of kept units in training for `variant` and keep probability `keep` (0 when
/// nothing is kept, so that p = 1 gives zeros rather than NaN).
pub(crate) fn train_scale(variant: DropoutVariant, keep: f32) -> f32 {
    match variant {
        DropoutVariant::Inverted if keep > 0.0 => 1.0 / keep,
        DropoutVariant::Inverted => 0.0,
        DropoutVariant::Vanilla => 1.0,
    }
}

/// Shared by every dropout-like layer: in training multiply by a Bernoulli(`keep`) mask of
/// `mask_shape` (which broadcasts to `x`), scaled for `variant`; in evaluation the identity
/// (inverted) or a multiplication by `keep` (vanilla).
pub(crate) fn apply_dropout<R: Rng + ?Sized>(
    x: &Tensor,
    mask_shape: &[usize],
    keep: f32,
    variant: DropoutVariant,
    mode: Mode,
    rng: &mut R,
) -> Tensor {
    match (mode, variant) {
        (Mode::Eval, DropoutVariant::Inverted) => x.clone(),
        (Mode::Eval, DropoutVariant::Vanilla) if keep == 1.0 => x.clone(),
        (Mode::Eval, DropoutVariant::Vanilla) => {
            mask_mul(x, Array::from_elem(ndarray::IxDyn(&[]), keep))
        }
        (Mode::Train, _) if keep == 1.0 => x.clone(),
        (Mode::Train, _) if mask_shape == x.shape() => {
            let mask = BitMask::sample(x.len(), keep, rng);
            bit_mask_mul(x, mask, train_scale(variant, keep))
        }
        (Mode::Train, _) => {
            let mask = bernoulli_mask(mask_shape, keep, train_scale(variant, keep), rng);
            mask_mul(x, mask)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::rng::seeded;

    #[test]
    fn config_validation() {
        assert!(DropoutConfig::new(-0.1).init().is_err());
        assert!(DropoutConfig::new(1.1).init().is_err());
        assert!(DropoutConfig::new(f32::NAN).init().is_err());
        assert!(DropoutConfig::new(0.0).init().is_ok());
        assert!(DropoutConfig::new(1.0).init().is_ok());
        let d = DropoutConfig::with_keep_prob(0.8).init().unwrap();
        assert!((d.keep_prob() - 0.8).abs() < 1e-6);
        assert_eq!(DropoutConfig::default().drop_prob, 0.5);
    }

    #[test]
    fn vanilla_scales_at_test_time() {
        let d = DropoutConfig::new(0.25)
            .variant(DropoutVariant::Vanilla)
            .init()
            .unwrap();
        let x = Tensor::full(&[3, 4], 2.0);
        let y = d.forward(&x, &mut Ctx::eval());
        assert!(y.to_vec().iter().all(|&v| (v - 1.5).abs() < 1e-6));
        let t = d.forward(&x, &mut Ctx::train(1));
        assert!(t.to_vec().iter().all(|&v| v == 0.0 || v == 2.0));
    }

    #[test]
    fn extremes() {
        let x = Tensor::full(&[10], 3.0);
        let all = DropoutConfig::new(1.0).init().unwrap();
        assert!(
            all.forward(&x, &mut Ctx::train(0))
                .to_vec()
                .iter()
                .all(|&v| v == 0.0)
        );
        let none = DropoutConfig::new(0.0).init().unwrap();
        assert_eq!(none.forward(&x, &mut Ctx::train(0)).to_vec(), x.to_vec());
    }

    #[test]
    fn eval_is_deterministic_and_does_not_draw() {
        let d = DropoutConfig::new(0.5).init().unwrap();
        let x = Tensor::randn(&[5, 5], 0.0, 1.0, &mut seeded(0));
        let mut rng = seeded(1);
        let before = rng.clone();
        let _ = d.apply(&x, Mode::Eval, &mut rng);
        assert_eq!(rng, before, "eval mode must not consume randomness");
    }

    #[test]
    fn same_seed_same_mask() {
        let d = DropoutConfig::new(0.5).init().unwrap();
        let x = Tensor::ones(&[64]);
        let a = d.forward(&x, &mut Ctx::train(5)).to_vec();
        let b = d.forward(&x, &mut Ctx::train(5)).to_vec();
        let c = d.forward(&x, &mut Ctx::train(6)).to_vec();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn gradient_flows_only_through_kept_units() {
        let d = DropoutConfig::new(0.5).init().unwrap();
        let x = Tensor::ones(&[200]).with_requires_grad();
        let y = d.forward(&x, &mut Ctx::train(3));
        let kept: Vec<f32> = y.to_vec();
        y.sum_all().backward();
        let g = x.grad().unwrap();
        for (gv, yv) in g.iter().zip(kept) {
            assert_eq!(*gv, yv, "dy/dx = mask/q, and y = mask/q for x = 1");
        }
    }
}
