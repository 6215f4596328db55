//! [`Conv2d`]: the 2-d convolution layer, PyTorch's `nn.Conv2d`.
//!
//! Weight `[out_channels, in_channels/groups, kH, kW]` and bias `[out_channels]`, named `weight`
//! and `bias` (PyTorch state dicts load unchanged). Default initialisation is PyTorch's:
//! `kaiming_uniform_(a=√5)` for the weight, i.e. U(±1/√fan_in) with fan_in =
//! in_channels/groups·kH·kW, and U(±1/√fan_in) for the bias ([`Init::TorchDefault`]). The
//! forward pass is [`Tensor::conv2d`] (see [`crate::ops::conv`] for the formula and algorithm).

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::LayerError;
use crate::init::{Fans, Init};
use crate::module::{Ctx, Entry, Module, Parameter, join};
use crate::ops::Conv2dOptions;
use crate::tensor::{Array, Tensor};

fn yes() -> bool {
    true
}

fn torch_default() -> Init {
    Init::TorchDefault
}

fn one() -> (usize, usize) {
    (1, 1)
}

fn one_group() -> usize {
    1
}

/// Configuration of a [`Conv2d`] layer (PyTorch's `nn.Conv2d` arguments and defaults: stride 1,
/// padding 0, dilation 1, groups 1, bias on, PyTorch's initialisation).
///
/// ```
/// use nn_core::layers::Conv2dConfig;
/// use nn_core::{Ctx, Module, Tensor, rng::seeded};
///
/// let conv = Conv2dConfig::new(3, 16, 3).with_padding(1).init(&mut seeded(0)).unwrap();
/// let y = conv.forward(&Tensor::zeros(&[2, 3, 8, 8]), &mut Ctx::eval());
/// assert_eq!(y.shape(), &[2, 16, 8, 8]);
/// assert_eq!(conv.to_string(), "Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))");
/// // Groups must divide the channels: a clear error, not a panic.
/// assert!(Conv2dConfig::new(6, 4, 3).with_groups(4).init(&mut seeded(0)).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Conv2dConfig {
    /// Channels of the input.
    pub in_channels: usize,
    /// Channels of the output.
    pub out_channels: usize,
    /// Kernel size (height, width).
    pub kernel_size: (usize, usize),
    /// Stride (height, width); default (1, 1).
    #[serde(default = "one")]
    pub stride: (usize, usize),
    /// Zero padding on both sides (height, width); default (0, 0).
    #[serde(default)]
    pub padding: (usize, usize),
    /// Dilation (height, width); default (1, 1).
    #[serde(default = "one")]
    pub dilation: (usize, usize),
    /// Groups (must divide both channel counts); default 1. `groups == in_channels` is a
    /// depthwise convolution.
    #[serde(default = "one_group")]
    pub groups: usize,
    /// Whether to learn an additive bias (default true).
    #[serde(default = "yes")]
    pub bias: bool,
    /// Initialisation of the weight (default PyTorch's, U(±1/√fan_in)).
    #[serde(default = "torch_default")]
    pub weight_init: Init,
    /// Initialisation of the bias, computed with the weight's fans (default PyTorch's).
    #[serde(default = "torch_default")]
    pub bias_init: Init,
}

impl Conv2dConfig {
    /// A `kernel`×`kernel` convolution from `in_channels` to `out_channels` with PyTorch's
    /// defaults.
    pub fn new(in_channels: usize, out_channels: usize, kernel: usize) -> Conv2dConfig {
        Conv2dConfig {
            in_channels,
            out_channels,
            kernel_size: (kernel, kernel),
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
            bias: true,
            weight_init: Init::TorchDefault,
            bias_init: Init::TorchDefault,
        }
    }
    /// Sets a rectangular kernel.
    pub fn with_kernel_size(mut self, kh: usize, kw: usize) -> Self {
        self.kernel_size = (kh, kw);
        self
    }
    /// Sets the same stride in both directions.
    pub fn with_stride(mut self, s: usize) -> Self {
        self.stride = (s, s);
        self
    }
    /// Sets the same padding in both directions.
    pub fn with_padding(mut self, p: usize) -> Self {
        self.padding = (p, p);
        self
    }
    /// Sets the same dilation in both directions.
    pub fn with_dilation(mut self, d: usize) -> Self {
        self.dilation = (d, d);
        self
    }
    /// Sets the number of groups.
    pub fn with_groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }
    /// Sets whether the layer has a bias.
    pub fn with_bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }
    /// Sets the weight initialisation.
    pub fn with_weight_init(mut self, init: Init) -> Self {
        self.weight_init = init;
        self
    }
    /// Sets the bias initialisation.
    pub fn with_bias_init(mut self, init: Init) -> Self {
        self.bias_init = init;
        self
    }

    /// The op options of this configuration.
    pub fn options(&self) -> Conv2dOptions {
        Conv2dOptions {
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
            groups: self.groups,
        }
    }

    /// Checks every hyperparameter (without building anything).
    ///
    /// # Errors
    /// [`LayerError::InvalidConfig`] naming the first invalid field.
    pub fn validate(&self) -> Result<(), LayerError> {
        let positive = [
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
            ("kernel_size", self.kernel_size.0.min(self.kernel_size.1)),
            ("stride", self.stride.0.min(self.stride.1)),
            ("dilation", self.dilation.0.min(self.dilation.1)),
            ("groups", self.groups),
        ];
        for (field, v) in positive {
            if v == 0 {
                return Err(LayerError::invalid("Conv2d", field, v, "at least 1"));
            }
        }
        if !self.in_channels.is_multiple_of(self.groups)
            || !self.out_channels.is_multiple_of(self.groups)
        {
            return Err(LayerError::invalid(
                "Conv2d",
                "groups",
                self.groups,
                format!(
                    "a divisor of both in_channels = {} and out_channels = {}",
                    self.in_channels, self.out_channels
                ),
            ));
        }
        Ok(())
    }

    /// Validates the configuration and builds the layer, drawing the weight then the bias from
    /// `rng`.
    ///
    /// # Errors
    /// [`LayerError::InvalidConfig`] for a zero size or groups that do not divide the channels;
    /// [`LayerError::Init`] for an invalid initialisation.
    pub fn init<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Conv2d, LayerError> {
        self.validate()?;
        let shape = [
            self.out_channels,
            self.in_channels / self.groups,
            self.kernel_size.0,
            self.kernel_size.1,
        ];
        let err = |param| {
            move |source| LayerError::Init {
                layer: "Conv2d",
                param,
                source,
            }
        };
        let weight = self
            .weight_init
            .sample(&shape, rng)
            .map_err(err("weight"))?;
        let bias = if self.bias {
            let fans = Fans::of(&shape).expect("4-d weight");
            Some(
                self.bias_init
                    .sample_with_fans(&[self.out_channels], fans, rng)
                    .map_err(err("bias"))?,
            )
        } else {
            None
        };
        Ok(Conv2d::from_arrays(weight, bias, self.options()))
    }
}

/// A 2-d convolution layer (see the module docs and [`Conv2dConfig`]). Input `[N, C_in, H, W]`,
/// output `[N, C_out, oH, oW]`.
#[derive(Debug, Clone)]
pub struct Conv2d {
    weight: Parameter,
    bias: Option<Parameter>,
    options: Conv2dOptions,
}

impl Conv2d {
    /// A layer with the given weight `[C_out, C_in/groups, kH, kW]`, optional bias `[C_out]` and
    /// options (e.g. loaded or folded values).
    ///
    /// # Panics
    /// If the weight is not 4-d, the bias does not have C_out elements, or the groups do not
    /// divide C_out.
    pub fn from_arrays(weight: Array, bias: Option<Array>, options: Conv2dOptions) -> Conv2d {
        assert!(
            weight.ndim() == 4
                && options.groups >= 1
                && weight.shape()[0].is_multiple_of(options.groups),
            "Conv2d::from_arrays: weight must be [C_out, C_in/groups, kH, kW] with C_out \
             divisible by groups = {}, got shape {:?}",
            options.groups,
            weight.shape()
        );
        if let Some(b) = &bias {
            assert_eq!(
                b.shape(),
                &[weight.shape()[0]],
                "Conv2d::from_arrays: bias shape {:?} does not match weight shape {:?}",
                b.shape(),
                weight.shape()
            );
        }
        Conv2d {
            weight: Parameter::new(weight),
            bias: bias.map(Parameter::new),
            options,
        }
    }

    /// The weight `[C_out, C_in/groups, kH, kW]`.
    pub fn weight(&self) -> &Parameter {
        &self.weight
    }
    /// The bias `[C_out]`, if any.
    pub fn bias(&self) -> Option<&Parameter> {
        self.bias.as_ref()
    }
    /// Stride, padding, dilation and groups.
    pub fn options(&self) -> Conv2dOptions {
        self.options
    }
    /// Input channels.
    pub fn in_channels(&self) -> usize {
        self.weight.shape()[1] * self.options.groups
    }
    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.weight.shape()[0]
    }
    /// Kernel size (height, width).
    pub fn kernel_size(&self) -> (usize, usize) {
        let s = self.weight.shape();
        (s[2], s[3])
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let b = self.bias.as_ref().map(Parameter::tensor);
        x.conv2d(&self.weight.tensor(), b.as_ref(), self.options)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(Entry<'_>)) {
        f(Entry::Param(&join(prefix, "weight"), &self.weight));
        if let Some(b) = &self.bias {
            f(Entry::Param(&join(prefix, "bias"), b));
        }
    }

    /// PyTorch's repr: `Conv2d(3, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1),
    /// bias=False)`, listing dilation, groups and bias only when not the default.
    fn describe(&self) -> String {
        let o = self.options;
        let (kh, kw) = self.kernel_size();
        let mut s = format!(
            "Conv2d({}, {}, kernel_size=({kh}, {kw}), stride=({}, {})",
            self.in_channels(),
            self.out_channels(),
            o.stride.0,
            o.stride.1
        );
        if o.padding != (0, 0) {
            s += &format!(", padding=({}, {})", o.padding.0, o.padding.1);
        }
        if o.dilation != (1, 1) {
            s += &format!(", dilation=({}, {})", o.dilation.0, o.dilation.1);
        }
        if o.groups != 1 {
            s += &format!(", groups={}", o.groups);
        }
        if self.bias.is_none() {
            s += ", bias=False";
        }
        s + ")"
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        Some(self)
    }
}

impl fmt::Display for Conv2d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{GradCheckConfig, check_module_gradients};
    use crate::rng::seeded;

    #[test]
    fn names_shapes_and_pytorch_default_init() {
        let conv = Conv2dConfig::new(16, 32, 3)
            .with_groups(2)
            .init(&mut seeded(0))
            .unwrap();
        let names: Vec<String> = conv
            .named_parameters()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["weight", "bias"]);
        assert_eq!(conv.weight().shape(), vec![32, 8, 3, 3]);
        assert_eq!(conv.in_channels(), 16);
        // kaiming_uniform(a = √5) = U(±1/√fan_in), fan_in = 8·3·3.
        let bound = 1.0 / 72f32.sqrt();
        let w = conv.weight().value();
        assert!(w.iter().all(|v| v.abs() < bound) && w.iter().any(|v| v.abs() > 0.98 * bound));
        let b = conv.bias().unwrap().value();
        assert!(b.iter().all(|v| v.abs() < bound));
        assert_eq!(
            conv.describe(),
            "Conv2d(16, 32, kernel_size=(3, 3), stride=(1, 1), groups=2)"
        );
        let nb = Conv2dConfig::new(3, 4, 1)
            .with_bias(false)
            .with_stride(2)
            .with_dilation(2)
            .init(&mut seeded(0))
            .unwrap();
        assert_eq!(nb.named_parameters().len(), 1);
        assert_eq!(
            nb.to_string(),
            "Conv2d(3, 4, kernel_size=(1, 1), stride=(2, 2), dilation=(2, 2), bias=False)"
        );
    }

    #[test]
    fn invalid_configs_are_errors() {
        let e = Conv2dConfig::new(6, 4, 3)
            .with_groups(4)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("groups = 4"), "{e}");
        assert!(Conv2dConfig::new(0, 4, 3).validate().is_err());
        assert!(Conv2dConfig::new(3, 4, 0).validate().is_err());
        assert!(
            Conv2dConfig::new(3, 4, 3)
                .with_stride(0)
                .validate()
                .is_err()
        );
    }

    #[test]
    fn module_gradients() {
        let conv = Conv2dConfig::new(2, 3, 3)
            .with_padding(1)
            .with_stride(2)
            .init(&mut seeded(1))
            .unwrap();
        let x = Tensor::randn(&[2, 2, 5, 5], 0.0, 1.0, &mut seeded(2));
        let w = Tensor::randn(&[2, 3, 3, 3], 0.0, 1.0, &mut seeded(3));
        let report = check_module_gradients(
            &conv,
            || (&conv.forward(&x, &mut Ctx::eval()) * &w).sum_all(),
            &GradCheckConfig::default(),
        );
        assert!(report.passed(), "{report}");
    }
}
