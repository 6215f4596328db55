//! [`Linear`]: the fully connected layer y = x·Wᵀ + b.
//!
//! Weight `[out_features, in_features]` and bias `[out_features]`, named `weight` and `bias`, as
//! PyTorch's `nn.Linear` (so its state dicts load unchanged). Default initialisation is
//! PyTorch's: both drawn from U(±1/√in_features) ([`Init::TorchDefault`]; for the weight this is
//! `kaiming_uniform_(a=√5)`). The forward pass is the fused op [`Tensor::linear`] (one GEMM, bias
//! added in place).

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::LayerError;
use crate::init::{Fans, Init};
use crate::module::{Ctx, Entry, Module, Parameter, join};
use crate::tensor::{Array, Tensor};

fn yes() -> bool {
    true
}

fn torch_default() -> Init {
    Init::TorchDefault
}

/// Configuration of a [`Linear`] layer.
///
/// ```
/// use nn_core::layers::LinearConfig;
/// use nn_core::init::{Init, Nonlinearity};
/// use nn_core::{Ctx, Module, Tensor, rng::seeded};
///
/// let fc = LinearConfig::new(784, 10)
///     .with_weight_init(Init::kaiming_normal(Nonlinearity::Relu))
///     .with_bias_init(Init::Zeros)
///     .init(&mut seeded(0))
///     .unwrap();
/// let y = fc.forward(&Tensor::zeros(&[32, 784]), &mut Ctx::eval());
/// assert_eq!(y.shape(), &[32, 10]);
/// assert_eq!(fc.num_parameters(), 784 * 10 + 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinearConfig {
    /// Size of each input row.
    pub in_features: usize,
    /// Size of each output row.
    pub out_features: usize,
    /// Whether to learn an additive bias (default true).
    #[serde(default = "yes")]
    pub bias: bool,
    /// Initialisation of the weight (default PyTorch's, U(±1/√in_features)).
    #[serde(default = "torch_default")]
    pub weight_init: Init,
    /// Initialisation of the bias, computed with the weight's fans (default PyTorch's,
    /// U(±1/√in_features)).
    #[serde(default = "torch_default")]
    pub bias_init: Init,
}

impl LinearConfig {
    /// A layer from `in_features` to `out_features` with PyTorch's defaults.
    pub fn new(in_features: usize, out_features: usize) -> LinearConfig {
        LinearConfig {
            in_features,
            out_features,
            bias: true,
            weight_init: Init::TorchDefault,
            bias_init: Init::TorchDefault,
        }
    }

    /// Sets whether the layer has a bias.
    pub fn with_bias(mut self, bias: bool) -> LinearConfig {
        self.bias = bias;
        self
    }

    /// Sets the weight initialisation.
    pub fn with_weight_init(mut self, init: Init) -> LinearConfig {
        self.weight_init = init;
        self
    }

    /// Sets the bias initialisation.
    pub fn with_bias_init(mut self, init: Init) -> LinearConfig {
        self.bias_init = init;
        self
    }

    /// Validates the configuration and builds the layer, drawing the weight then the bias from
    /// `rng`.
    ///
    /// # Errors
    /// [`LayerError::InvalidConfig`] for zero `in_features` or `out_features`;
    /// [`LayerError::Init`] for an invalid initialisation.
    pub fn init<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Linear, LayerError> {
        for (field, v) in [
            ("in_features", self.in_features),
            ("out_features", self.out_features),
        ] {
            if v == 0 {
                return Err(LayerError::invalid("Linear", field, v, "at least 1"));
            }
        }
        let shape = [self.out_features, self.in_features];
        let weight = self
            .weight_init
            .sample(&shape, rng)
            .map_err(|source| LayerError::Init {
                layer: "Linear",
                param: "weight",
                source,
            })?;
        let bias = if self.bias {
            let fans = Fans::of(&shape).expect("2-d weight");
            Some(
                self.bias_init
                    .sample_with_fans(&[self.out_features], fans, rng)
                    .map_err(|source| LayerError::Init {
                        layer: "Linear",
                        param: "bias",
                        source,
                    })?,
            )
        } else {
            None
        };
        Ok(Linear::from_arrays(weight, bias))
    }
}

/// A fully connected layer, y = x·Wᵀ + b (see the module docs and [`LinearConfig`]).
///
/// Input `[*, in_features]`, output `[*, out_features]`.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Parameter,
    bias: Option<Parameter>,
}

impl Linear {
    /// A layer with the given weight `[out, in]` and optional bias `[out]` (e.g. loaded or
    /// folded values).
    ///
    /// # Panics
    /// If the weight is not 2-d or the bias does not have `out` elements.
    pub fn from_arrays(weight: Array, bias: Option<Array>) -> Linear {
        assert_eq!(
            weight.ndim(),
            2,
            "Linear::from_arrays: weight must be [out, in], got shape {:?}",
            weight.shape()
        );
        if let Some(b) = &bias {
            assert_eq!(
                b.shape(),
                &[weight.shape()[0]],
                "Linear::from_arrays: bias shape {:?} does not match weight shape {:?}",
                b.shape(),
                weight.shape()
            );
        }
        Linear {
            weight: Parameter::new(weight),
            bias: bias.map(Parameter::new),
        }
    }

    /// The weight `[out_features, in_features]`.
    pub fn weight(&self) -> &Parameter {
        &self.weight
    }

    /// The bias `[out_features]`, if the layer has one.
    pub fn bias(&self) -> Option<&Parameter> {
        self.bias.as_ref()
    }

    /// Size of each input row.
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// Size of each output row.
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }
}

impl Module for Linear {
    /// y = x·Wᵀ + b for `x` of shape `[*, in_features]` (any number of leading axes, as
    /// PyTorch; a 2-d input goes straight to the fused op, others are reshaped around it).
    ///
    /// # Panics
    /// If the last axis of `x` is not `in_features` (the message names both shapes).
    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let b = self.bias.as_ref().map(Parameter::tensor);
        let w = self.weight.tensor();
        let shape = x.shape();
        assert!(
            shape.last() == Some(&self.in_features()),
            "Linear: input shape {shape:?} does not end in in_features = {} (weight {:?})",
            self.in_features(),
            self.weight.shape()
        );
        if shape.len() == 2 {
            return x.linear(&w, b.as_ref());
        }
        let mut out_shape = shape[..shape.len() - 1].to_vec();
        let rows = out_shape.iter().product();
        out_shape.push(self.out_features());
        x.reshape(&[rows, self.in_features()])
            .linear(&w, b.as_ref())
            .reshape(&out_shape)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(Entry<'_>)) {
        f(Entry::Param(&join(prefix, "weight"), &self.weight));
        if let Some(b) = &self.bias {
            f(Entry::Param(&join(prefix, "bias"), b));
        }
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        Some(self)
    }

    fn describe(&self) -> String {
        format!(
            "Linear(in_features={}, out_features={}, bias={})",
            self.in_features(),
            self.out_features(),
            self.bias.is_some()
        )
    }
}

impl fmt::Display for Linear {
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
    fn shapes_names_and_default_init() {
        let fc = LinearConfig::new(300, 200).init(&mut seeded(0)).unwrap();
        let names: Vec<String> = fc.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["weight", "bias"]);
        assert_eq!(fc.weight().shape(), vec![200, 300]);
        assert_eq!(fc.num_parameters(), 300 * 200 + 200);
        let bound = 1.0 / 300f32.sqrt();
        let w = fc.weight().value();
        assert!(w.iter().all(|v| v.abs() < bound));
        assert!(w.iter().any(|v| v.abs() > 0.99 * bound));
        let b = fc.bias().unwrap().value();
        assert!(b.iter().all(|v| v.abs() < bound) && b.iter().any(|v| v.abs() > 0.9 * bound));
        assert_eq!(
            fc.to_string(),
            "Linear(in_features=300, out_features=200, bias=true)"
        );
        let nb = LinearConfig::new(3, 2)
            .with_bias(false)
            .init(&mut seeded(0))
            .unwrap();
        assert_eq!(nb.named_parameters().len(), 1);
        assert!(nb.describe().ends_with("bias=false)"));
    }

    #[test]
    fn forward_matches_definition() {
        let fc = Linear::from_arrays(
            Array::from_shape_vec(vec![2, 3], vec![1.0, 2.0, 3.0, 0.0, -1.0, 0.5]).unwrap(),
            Some(Array::from_shape_vec(vec![2], vec![0.5, -0.5]).unwrap()),
        );
        let x = Tensor::from_vec(vec![1.0, 1.0, 1.0, 2.0, 0.0, -2.0], &[2, 3]);
        let y = fc.forward(&x, &mut Ctx::eval());
        assert_eq!(y.to_vec(), vec![6.5, -1.0, -3.5, -1.5]);
    }

    #[test]
    fn any_number_of_leading_axes() {
        let fc = LinearConfig::new(4, 3).init(&mut seeded(7)).unwrap();
        let x = Tensor::randn(&[2, 5, 4], 0.0, 1.0, &mut seeded(8));
        let y = fc.forward(&x, &mut Ctx::eval());
        assert_eq!(y.shape(), &[2, 5, 3]);
        let y2 = fc.forward(&x.reshape(&[10, 4]), &mut Ctx::eval());
        assert_eq!(y.to_vec(), y2.to_vec());
        let v = fc.forward(&x.reshape(&[40]).slice_axis(0, 0..4, 1), &mut Ctx::eval());
        assert_eq!(v.shape(), &[3]);
        assert_eq!(v.to_vec(), y2.to_vec()[..3]);
        let w = Tensor::randn(&[2, 5, 3], 0.0, 1.0, &mut seeded(9));
        crate::gradcheck::assert_gradients(
            |xs| &fc.forward(&xs[0], &mut Ctx::eval()) * &w,
            &[&[2, 5, 4]],
            3,
        );
    }

    #[test]
    #[should_panic(expected = "does not end in in_features = 4")]
    fn wrong_input_width_panics_with_shapes() {
        let fc = LinearConfig::new(4, 3).init(&mut seeded(7)).unwrap();
        fc.forward(&Tensor::zeros(&[2, 5]), &mut Ctx::eval());
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let e = LinearConfig::new(0, 3).init(&mut seeded(0)).unwrap_err();
        assert!(e.to_string().contains("in_features = 0"), "{e}");
        let e = LinearConfig::new(2, 3)
            .with_bias_init(Init::Normal {
                mean: 0.0,
                std: -1.0,
            })
            .init(&mut seeded(0))
            .unwrap_err();
        assert!(matches!(e, LayerError::Init { param: "bias", .. }), "{e}");
        let c: LinearConfig =
            serde_json::from_str(r#"{"in_features": 4, "out_features": 2}"#).unwrap();
        assert_eq!(c, LinearConfig::new(4, 2));
    }

    #[test]
    fn gradients() {
        let fc = LinearConfig::new(5, 3).init(&mut seeded(1)).unwrap();
        let x = Tensor::randn(&[4, 5], 0.0, 1.0, &mut seeded(2));
        let w = Tensor::randn(&[4, 3], 0.0, 1.0, &mut seeded(3));
        let report = check_module_gradients(
            &fc,
            || (&fc.forward(&x, &mut Ctx::eval()) * &w).sum_all(),
            &GradCheckConfig::default(),
        );
        assert!(report.passed(), "{report}");
        assert_eq!(report.tensors.len(), 2);
    }

    #[test]
    fn frozen_weight_gets_no_gradient() {
        let fc = LinearConfig::new(3, 2).init(&mut seeded(1)).unwrap();
        assert_eq!(fc.freeze("weight"), 1);
        assert_eq!(fc.num_trainable_parameters(), 2);
        let x = Tensor::ones(&[1, 3]);
        fc.forward(&x, &mut Ctx::train(0)).sum_all().backward();
        assert!(fc.weight().grad().is_none());
        assert_eq!(
            fc.bias().unwrap().grad().unwrap().as_slice().unwrap(),
            &[1.0, 1.0]
        );
    }
}
