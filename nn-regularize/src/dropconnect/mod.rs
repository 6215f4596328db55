//! DropConnect (Wan, Zeiler, Zhang, LeCun, Fergus, "Regularization of Neural Networks using
//! DropConnect", ICML 2013): drop individual *weights* instead of activations.
//!
//! With keep probability q = 1 − p and a mask M ~ Bernoulli(q) of the weight's shape:
//!
//! ```text
//! training:   y = x · (W ⊙ M / q)ᵀ + b        (inverted, default; vanilla: W ⊙ M, no 1/q)
//! evaluation: y = x · Wᵀ + b                  (inverted;          vanilla: x · (q·W)ᵀ + b)
//! ```
//!
//! **Test time: the mean-field approximation.** The training output is random; the exact test
//! output would be E_M[f(x·(W⊙M/q)ᵀ)] for the layer's activation f. Wan et al. approximate the
//! distribution of the pre-activation by a Gaussian and average f over samples of it; like most
//! implementations this crate uses the simpler mean-field rule f(E_M[x·(W⊙M/q)ᵀ]) = f(x·Wᵀ): it
//! is exact for the pre-activation (E[M/q] = 1, so the *expected training output of the layer
//! equals its test output*, which the tests check statistically) and an approximation after a
//! non-linearity. The bias is not masked.
//!
//! **Mask sharing** ([`MaskSharing`]). The paper draws a mask per training example;
//! [`MaskSharing::PerBatch`] (default) draws one mask per forward pass shared by the whole batch,
//! which keeps the layer one GEMM; [`MaskSharing::PerSample`] follows the paper (a different mask
//! for every example; B× the work, no extra memory — masks are regenerated from seeds in backward).
//!
//! The masking itself is [`DropConnectConfig::mask_weight`], usable for any layer that takes a
//! weight tensor; [`DropConnectLinear`] is the fully connected layer and [`DropConnectConv2d`]
//! the convolution. To add DropConnect to an existing `nn_core::layers::Linear`, wrap its
//! parameters: `config.wrap_linear(linear.weight().clone(), linear.bias().cloned())`.

mod conv;
mod per_sample;

pub use conv::DropConnectConv2d;

pub use per_sample::{PerSampleMasks, dropconnect_linear_per_sample};

use ndarray::IxDyn;
use ndarray_rand::RandomExt;
use nn_core::module::join;
use nn_core::{Array, Ctx, Entry, Mode, Module, Parameter, Tensor};
use rand::{Rng, RngCore};
use rand_distr::Uniform;
use serde::{Deserialize, Serialize};

use crate::dropout::{DropoutVariant, train_scale};
use crate::error::{Result, check_range, invalid};
use crate::mask::{BitMask, bit_mask_mul, mask_mul};

/// Whether a batch shares one weight mask or every example draws its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MaskSharing {
    /// One mask per forward pass (default; one GEMM).
    #[default]
    PerBatch,
    /// One mask per example, as in Wan et al. (B masked mat-vecs).
    PerSample,
}

/// The regularisation settings of a DropConnect layer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DropConnectConfig {
    /// Probability p of dropping a weight, in [0, 1). Default 0.5 (the paper's choice).
    pub drop_prob: f32,
    /// Inverted (default) or vanilla scaling (see the module docs).
    pub variant: DropoutVariant,
    /// Mask per batch (default) or per example.
    pub sharing: MaskSharing,
}

impl Default for DropConnectConfig {
    fn default() -> Self {
        DropConnectConfig {
            drop_prob: 0.5,
            variant: DropoutVariant::Inverted,
            sharing: MaskSharing::PerBatch,
        }
    }
}

impl DropConnectConfig {
    /// Inverted DropConnect dropping each weight with probability `drop_prob`, one mask per batch.
    pub fn new(drop_prob: f32) -> Self {
        DropConnectConfig {
            drop_prob,
            ..Self::default()
        }
    }

    /// Sets the variant.
    pub fn variant(mut self, variant: DropoutVariant) -> Self {
        self.variant = variant;
        self
    }

    /// Sets the mask sharing.
    pub fn sharing(mut self, sharing: MaskSharing) -> Self {
        self.sharing = sharing;
        self
    }

    /// Checks `drop_prob ∈ [0, 1)` (p = 1 would remove every connection).
    pub fn validate(&self) -> Result<()> {
        check_range(
            "DropConnectConfig",
            "drop_prob",
            self.drop_prob,
            0.0,
            1.0,
            "a probability in [0, 1)",
        )?;
        if self.drop_prob == 1.0 {
            return Err(invalid(
                "DropConnectConfig",
                "drop_prob",
                1.0,
                "a probability in [0, 1)",
            ));
        }
        Ok(())
    }

    /// The keep probability q = 1 − p.
    pub fn keep_prob(&self) -> f32 {
        1.0 - self.drop_prob
    }

    /// The weight a layer should use in `mode`: W ⊙ M / q (inverted) or W ⊙ M (vanilla) with a fresh
    /// mask M of `w`'s shape drawn from `rng` in training; W (inverted) or q·W (vanilla) in
    /// evaluation. Differentiable with respect to `w`. Ignores [`DropConnectConfig::sharing`] (one
    /// mask).
    pub fn mask_weight<R: Rng + ?Sized>(&self, w: &Tensor, mode: Mode, rng: &mut R) -> Tensor {
        let q = self.keep_prob();
        match (mode, self.variant) {
            (_, _) if q == 1.0 => w.clone(),
            (Mode::Eval, DropoutVariant::Inverted) => w.clone(),
            (Mode::Eval, DropoutVariant::Vanilla) => mask_mul(w, Array::from_elem(IxDyn(&[]), q)),
            (Mode::Train, v) => {
                bit_mask_mul(w, BitMask::sample(w.len(), q, rng), train_scale(v, q))
            }
        }
    }

    /// Validates and builds a [`DropConnectLinear`] with fresh parameters initialised as PyTorch's
    /// `nn.Linear` does (W, b ~ U(−1/√in, 1/√in)), drawn from `rng`.
    pub fn init_linear<R: Rng + ?Sized>(
        self,
        in_features: usize,
        out_features: usize,
        bias: bool,
        rng: &mut R,
    ) -> Result<DropConnectLinear> {
        if in_features == 0 || out_features == 0 {
            return Err(invalid(
                "DropConnectLinear",
                "in_features/out_features",
                format!("{in_features}/{out_features}"),
                "sizes >= 1",
            ));
        }
        let bound = 1.0 / (in_features as f32).sqrt();
        let dist = Uniform::new_inclusive(-bound, bound).expect("finite bound");
        let mut draw = |shape: &[usize]| Array::random_using(IxDyn(shape), &dist, rng);
        let weight = Parameter::new(draw(&[out_features, in_features]));
        let bias = bias.then(|| Parameter::new(draw(&[out_features])));
        self.wrap_linear(weight, bias)
    }

    /// Validates and builds a [`DropConnectLinear`] around existing parameters (e.g. those of a
    /// trained `nn.Linear`: weight `[out, in]`, bias `[out]`); the layer shares them.
    pub fn wrap_linear(
        self,
        weight: Parameter,
        bias: Option<Parameter>,
    ) -> Result<DropConnectLinear> {
        self.validate()?;
        let ws = weight.shape();
        if ws.len() != 2 {
            return Err(invalid(
                "DropConnectLinear",
                "weight",
                format!("shape {ws:?}"),
                "a 2-d weight [out, in]",
            ));
        }
        if let Some(b) = &bias
            && b.shape() != [ws[0]]
        {
            return Err(invalid(
                "DropConnectLinear",
                "bias",
                format!("shape {:?}", b.shape()),
                "a 1-d bias [out] matching the weight",
            ));
        }
        Ok(DropConnectLinear {
            config: self,
            weight,
            bias,
        })
    }
}

/// A fully connected layer with DropConnect on its weight: y = x·(W ⊙ M / q)ᵀ + b in training,
/// y = x·Wᵀ + b in evaluation (see the module docs). Parameters `weight` `[out, in]` and `bias`
/// `[out]`, named as in PyTorch.
///
/// ```
/// use nn_core::{Ctx, Module, Tensor, rng::seeded};
/// use nn_regularize::DropConnectConfig;
///
/// let layer = DropConnectConfig::new(0.5).init_linear(4, 3, true, &mut seeded(0)).unwrap();
/// let x = Tensor::ones(&[2, 4]);
/// let train = layer.forward(&x, &mut Ctx::train(1)); // a random sub-network
/// let test = layer.forward(&x, &mut Ctx::eval()); // all the weights
/// assert_eq!(train.shape(), &[2, 3]);
/// assert_eq!(test.shape(), &[2, 3]);
/// ```
#[derive(Debug, Clone)]
pub struct DropConnectLinear {
    config: DropConnectConfig,
    weight: Parameter,
    bias: Option<Parameter>,
}

impl DropConnectLinear {
    /// The weight `[out, in]`.
    pub fn weight(&self) -> &Parameter {
        &self.weight
    }

    /// The bias `[out]`, if any.
    pub fn bias(&self) -> Option<&Parameter> {
        self.bias.as_ref()
    }

    /// The regularisation settings.
    pub fn config(&self) -> &DropConnectConfig {
        &self.config
    }
}

impl Module for DropConnectLinear {
    fn forward(&self, input: &Tensor, ctx: &mut Ctx) -> Tensor {
        let w = self.weight.tensor();
        let b = self.bias.as_ref().map(Parameter::tensor);
        let q = self.config.keep_prob();
        let mode = crate::mc::mask_mode(ctx.mode());
        if mode == Mode::Train && self.config.sharing == MaskSharing::PerSample && q < 1.0 {
            let masks = PerSampleMasks {
                seed: ctx.rng().next_u64(),
                keep: q,
                scale: train_scale(self.config.variant, q),
            };
            return dropconnect_linear_per_sample(input, &w, b.as_ref(), masks);
        }
        let wm = self.config.mask_weight(&w, mode, ctx.rng());
        input.linear(&wm, b.as_ref())
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(Entry<'_>)) {
        f(Entry::Param(&join(prefix, "weight"), &self.weight));
        if let Some(b) = &self.bias {
            f(Entry::Param(&join(prefix, "bias"), b));
        }
    }

    fn describe(&self) -> String {
        let s = self.weight.shape();
        format!(
            "DropConnectLinear(in={}, out={}, bias={}, p={}, {:?}, {:?})",
            s[1],
            s[0],
            self.bias.is_some(),
            self.config.drop_prob,
            self.config.variant,
            self.config.sharing
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::gradcheck::{assert_gradients, random_inputs};
    use nn_core::rng::seeded;

    #[test]
    fn validation() {
        assert!(DropConnectConfig::new(1.0).validate().is_err());
        assert!(DropConnectConfig::new(-0.1).validate().is_err());
        assert!(DropConnectConfig::new(0.0).validate().is_ok());
        let e = DropConnectConfig::new(0.5)
            .wrap_linear(Parameter::new(Array::zeros(IxDyn(&[3]))), None)
            .unwrap_err();
        assert!(e.to_string().contains("weight"), "{e}");
        let e = DropConnectConfig::new(0.5)
            .wrap_linear(
                Parameter::new(Array::zeros(IxDyn(&[3, 2]))),
                Some(Parameter::new(Array::zeros(IxDyn(&[2])))),
            )
            .unwrap_err();
        assert!(e.to_string().contains("bias"), "{e}");
        assert!(
            DropConnectConfig::new(0.5)
                .init_linear(0, 3, true, &mut seeded(0))
                .is_err()
        );
    }

    #[test]
    fn eval_uses_all_weights() {
        let layer = DropConnectConfig::new(0.4)
            .init_linear(5, 3, true, &mut seeded(0))
            .unwrap();
        let x = Tensor::randn(&[4, 5], 0.0, 1.0, &mut seeded(1));
        let y = layer.forward(&x, &mut Ctx::eval());
        let expected = x.linear(
            &layer.weight().tensor(),
            layer.bias().map(Parameter::tensor).as_ref(),
        );
        assert_eq!(y.to_vec(), expected.to_vec());
        let vanilla = DropConnectConfig::new(0.4)
            .variant(DropoutVariant::Vanilla)
            .wrap_linear(layer.weight().clone(), None)
            .unwrap();
        let yv = vanilla.forward(&x, &mut Ctx::eval()).to_vec();
        let plain = x.linear(&layer.weight().tensor(), None).to_vec();
        for (a, b) in yv.iter().zip(plain) {
            assert!((a - 0.6 * b).abs() < 1e-5);
        }
    }

    #[test]
    fn training_masks_weights_not_inputs() {
        // With x = e_j, y = column j of the masked weight: each entry is 0 or W/q.
        let layer = DropConnectConfig::new(0.5)
            .init_linear(3, 4, false, &mut seeded(2))
            .unwrap();
        let w = layer.weight().value();
        let x = Tensor::from_vec(vec![0.0, 1.0, 0.0], &[1, 3]);
        let y = layer.forward(&x, &mut Ctx::train(3)).to_vec();
        for (o, v) in y.iter().enumerate() {
            assert!(*v == 0.0 || (v - 2.0 * w[[o, 1]]).abs() < 1e-6, "{v}");
        }
    }

    #[test]
    fn gradient_with_a_fixed_mask() {
        // The layer's training computation with its mask fixed: x·(W ⊙ M)ᵀ + b.
        let mask = crate::mask::bernoulli_mask(&[3, 4], 0.5, 2.0, &mut seeded(5));
        assert_gradients(
            move |t| t[0].linear(&mask_mul(&t[1], mask.clone()), Some(&t[2])),
            &[&[2, 4], &[3, 4], &[3]],
            7,
        );
        // And the module itself: same Ctx seed ⇒ same mask, so the loss is a deterministic
        // function of the parameters that the module gradient check can differentiate.
        let layer = DropConnectConfig::new(0.3)
            .init_linear(4, 3, true, &mut seeded(1))
            .unwrap();
        let x = Tensor::from_array(random_inputs(&[&[5, 4]], 2).remove(0));
        let report = nn_core::gradcheck::check_module_gradients(
            &layer,
            || {
                let y = layer.forward(&x, &mut Ctx::train(11));
                (&y * &y).sum_all()
            },
            &Default::default(),
        );
        assert!(report.passed(), "{report}");
    }
}
