//! DropConnect on a 2-d convolution's kernel: y = conv2d(x, W ⊙ M / q, b) in training,
//! conv2d(x, W, b) at test time (mean field, see the [parent module](super)).
//!
//! One mask of the kernel's shape `[C_out, C_in/groups, kH, kW]` per forward pass
//! ([`MaskSharing::PerBatch`]): each kernel tap of each filter is dropped for the whole batch and
//! every spatial position. (A mask per example would be a different convolution per example;
//! it is rejected with an error.)

use ndarray::IxDyn;
use ndarray_rand::RandomExt;
use nn_core::module::join;
use nn_core::ops::Conv2dOptions;
use nn_core::{Array, Ctx, Entry, Module, Parameter, Tensor};
use rand::Rng;
use rand_distr::Uniform;

use super::{DropConnectConfig, MaskSharing};
use crate::error::{Result, invalid};

impl DropConnectConfig {
    /// Validates and builds a [`DropConnectConv2d`] with fresh parameters initialised as PyTorch's
    /// `nn.Conv2d` (W, b ~ U(−1/√fan_in, 1/√fan_in), fan_in = C_in/groups·kH·kW), drawn from `rng`.
    pub fn init_conv2d<R: Rng + ?Sized>(
        self,
        in_channels: usize,
        out_channels: usize,
        kernel: (usize, usize),
        options: Conv2dOptions,
        bias: bool,
        rng: &mut R,
    ) -> Result<DropConnectConv2d> {
        let g = options.groups;
        if in_channels == 0
            || out_channels == 0
            || kernel.0 == 0
            || kernel.1 == 0
            || g == 0
            || !in_channels.is_multiple_of(g)
            || !out_channels.is_multiple_of(g)
        {
            return Err(invalid(
                "DropConnectConv2d",
                "in_channels/out_channels/kernel/groups",
                format!("{in_channels}/{out_channels}/{kernel:?}/{g}"),
                "positive sizes with channels divisible by groups",
            ));
        }
        let fan_in = in_channels / g * kernel.0 * kernel.1;
        let bound = 1.0 / (fan_in as f32).sqrt();
        let dist = Uniform::new_inclusive(-bound, bound).expect("finite bound");
        let mut draw = |shape: &[usize]| Array::random_using(IxDyn(shape), &dist, rng);
        let weight = Parameter::new(draw(&[out_channels, in_channels / g, kernel.0, kernel.1]));
        let bias = bias.then(|| Parameter::new(draw(&[out_channels])));
        self.wrap_conv2d(weight, bias, options)
    }

    /// Validates and builds a [`DropConnectConv2d`] around existing parameters (weight
    /// `[C_out, C_in/groups, kH, kW]`, bias `[C_out]`), sharing them.
    pub fn wrap_conv2d(
        self,
        weight: Parameter,
        bias: Option<Parameter>,
        options: Conv2dOptions,
    ) -> Result<DropConnectConv2d> {
        self.validate()?;
        if self.sharing != MaskSharing::PerBatch {
            return Err(invalid(
                "DropConnectConfig",
                "sharing",
                format!("{:?}", self.sharing),
                "PerBatch for a convolution",
            ));
        }
        let ws = weight.shape();
        if ws.len() != 4 {
            return Err(invalid(
                "DropConnectConv2d",
                "weight",
                format!("shape {ws:?}"),
                "a 4-d kernel [out, in/groups, kh, kw]",
            ));
        }
        if let Some(b) = &bias
            && b.shape() != [ws[0]]
        {
            return Err(invalid(
                "DropConnectConv2d",
                "bias",
                format!("shape {:?}", b.shape()),
                "a 1-d bias [out] matching the kernel",
            ));
        }
        Ok(DropConnectConv2d {
            config: self,
            weight,
            bias,
            options,
        })
    }
}

/// A 2-d convolution with DropConnect on its kernel (see the module docs). Parameters `weight`
/// and `bias`, named as in PyTorch.
///
/// ```
/// use nn_core::{Ctx, Module, Tensor, ops::Conv2dOptions, rng::seeded};
/// use nn_regularize::DropConnectConfig;
///
/// let conv = DropConnectConfig::new(0.3)
///     .init_conv2d(3, 8, (3, 3), Conv2dOptions::default().with_padding(1), true, &mut seeded(0))
///     .unwrap();
/// let y = conv.forward(&Tensor::ones(&[2, 3, 5, 5]), &mut Ctx::train(1));
/// assert_eq!(y.shape(), &[2, 8, 5, 5]);
/// ```
#[derive(Debug, Clone)]
pub struct DropConnectConv2d {
    config: DropConnectConfig,
    weight: Parameter,
    bias: Option<Parameter>,
    options: Conv2dOptions,
}

impl DropConnectConv2d {
    /// The kernel `[C_out, C_in/groups, kH, kW]`.
    pub fn weight(&self) -> &Parameter {
        &self.weight
    }

    /// The bias `[C_out]`, if any.
    pub fn bias(&self) -> Option<&Parameter> {
        self.bias.as_ref()
    }

    /// Stride, padding, dilation, groups.
    pub fn options(&self) -> &Conv2dOptions {
        &self.options
    }

    /// The regularisation settings.
    pub fn config(&self) -> &DropConnectConfig {
        &self.config
    }
}

impl Module for DropConnectConv2d {
    fn forward(&self, input: &Tensor, ctx: &mut Ctx) -> Tensor {
        let mode = crate::mc::mask_mode(ctx.mode());
        let w = self
            .config
            .mask_weight(&self.weight.tensor(), mode, ctx.rng());
        let b = self.bias.as_ref().map(Parameter::tensor);
        input.conv2d(&w, b.as_ref(), self.options)
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
            "DropConnectConv2d(out={}, in/groups={}, kernel=({}, {}), {:?}, bias={}, p={}, {:?})",
            s[0],
            s[1],
            s[2],
            s[3],
            self.options,
            self.bias.is_some(),
            self.config.drop_prob,
            self.config.variant
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::{bernoulli_mask, mask_mul};
    use nn_core::gradcheck::{assert_gradients, check_module_gradients, random_inputs};
    use nn_core::rng::seeded;

    #[test]
    fn validation() {
        let c = DropConnectConfig::new(0.5);
        let o = Conv2dOptions::default();
        assert!(
            c.init_conv2d(3, 4, (3, 3), o.with_groups(2), true, &mut seeded(0))
                .is_err()
        );
        assert!(
            c.init_conv2d(0, 4, (3, 3), o, true, &mut seeded(0))
                .is_err()
        );
        let e = c
            .sharing(MaskSharing::PerSample)
            .init_conv2d(3, 4, (3, 3), o, true, &mut seeded(0))
            .unwrap_err();
        assert!(e.to_string().contains("sharing"), "{e}");
        let e = c
            .wrap_conv2d(Parameter::new(Array::zeros(IxDyn(&[2, 2]))), None, o)
            .unwrap_err();
        assert!(e.to_string().contains("weight"), "{e}");
    }

    #[test]
    fn eval_is_the_plain_convolution() {
        let conv = DropConnectConfig::new(0.5)
            .init_conv2d(
                2,
                3,
                (3, 3),
                Conv2dOptions::default().with_padding(1),
                true,
                &mut seeded(0),
            )
            .unwrap();
        let x = Tensor::randn(&[2, 2, 4, 4], 0.0, 1.0, &mut seeded(1));
        let y = conv.forward(&x, &mut Ctx::eval());
        let b = conv.bias().map(Parameter::tensor);
        let plain = x.conv2d(&conv.weight().tensor(), b.as_ref(), *conv.options());
        assert_eq!(y.to_vec(), plain.to_vec());
    }

    #[test]
    fn gradient_with_a_fixed_mask() {
        let mask = bernoulli_mask(&[3, 2, 2, 2], 0.6, 1.0 / 0.6, &mut seeded(2));
        assert_gradients(
            move |t| {
                t[0].conv2d(
                    &mask_mul(&t[1], mask.clone()),
                    Some(&t[2]),
                    Conv2dOptions::default().with_stride(2),
                )
            },
            &[&[2, 2, 5, 5], &[3, 2, 2, 2], &[3]],
            3,
        );
        let conv = DropConnectConfig::new(0.4)
            .init_conv2d(2, 2, (3, 3), Conv2dOptions::default(), true, &mut seeded(4))
            .unwrap();
        let x = Tensor::from_array(random_inputs(&[&[2, 2, 4, 4]], 5).remove(0));
        let report = check_module_gradients(
            &conv,
            || {
                let y = conv.forward(&x, &mut Ctx::train(6));
                (&y * &y).sum_all()
            },
            &Default::default(),
        );
        assert!(report.passed(), "{report}");
    }
}
