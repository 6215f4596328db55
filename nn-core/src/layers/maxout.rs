//! [`Maxout`] (Goodfellow et al., "Maxout Networks", ICML 2013): the maximum of k affine pieces,
//!
//! ```text
//! yⱼ = max_{p=1..k} (W_{j,p}·x + b_{j,p})
//! ```
//!
//! computed as one `Linear` to `out_features·k` units (one GEMM) followed by a max over each group
//! of k consecutive units ([`Tensor::max`] over the last axis of a `[*, out, k]` view). The parameters are `weight` `[out_features·k, in_features]` and `bias`
//! `[out_features·k]`; row `j·k + p` is piece p of output unit j. The gradient of the max flows to
//! the winning piece only (the first one on ties): ∂L/∂z_{j,p} = ∂L/∂yⱼ · 𝟙[p = argmax].

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{LayerError, Linear, LinearConfig};
use crate::init::Init;
use crate::module::{Ctx, Entry, Module};
use crate::tensor::{Array, Tensor};

fn yes() -> bool {
    true
}

fn torch_default() -> Init {
    Init::TorchDefault
}

/// Configuration of a [`Maxout`] layer.
///
/// ```
/// use nn_core::layers::MaxoutConfig;
/// use nn_core::{Ctx, Module, Tensor, rng::seeded};
///
/// let m = MaxoutConfig::new(8, 4, 3).init(&mut seeded(0)).unwrap();
/// assert_eq!(m.num_parameters(), (8 + 1) * 4 * 3);
/// assert_eq!(m.forward(&Tensor::ones(&[2, 8]), &mut Ctx::eval()).shape(), &[2, 4]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MaxoutConfig {
    /// Size of each input row.
    pub in_features: usize,
    /// Number of output units.
    pub out_features: usize,
    /// Number of affine pieces k per output unit (≥ 1; k = 1 is a plain linear layer).
    pub pieces: usize,
    /// Whether the pieces have biases (default true).
    #[serde(default = "yes")]
    pub bias: bool,
    /// Initialisation of the weight (default PyTorch's `Linear` default, U(±1/√in_features)).
    #[serde(default = "torch_default")]
    pub weight_init: Init,
    /// Initialisation of the bias (default U(±1/√in_features)).
    #[serde(default = "torch_default")]
    pub bias_init: Init,
}

impl MaxoutConfig {
    /// Maxout from `in_features` to `out_features` units of `pieces` pieces each.
    pub fn new(in_features: usize, out_features: usize, pieces: usize) -> MaxoutConfig {
        MaxoutConfig {
            in_features,
            out_features,
            pieces,
            bias: true,
            weight_init: Init::TorchDefault,
            bias_init: Init::TorchDefault,
        }
    }

    /// Sets the weight initialisation.
    pub fn with_weight_init(mut self, init: Init) -> MaxoutConfig {
        self.weight_init = init;
        self
    }

    /// Sets the bias initialisation.
    pub fn with_bias_init(mut self, init: Init) -> MaxoutConfig {
        self.bias_init = init;
        self
    }

    /// Validates the configuration and builds the layer.
    ///
    /// # Errors
    /// [`LayerError::InvalidConfig`] for zero sizes or zero pieces; [`LayerError::Init`] for an
    /// invalid initialisation.
    pub fn init<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Maxout, LayerError> {
        if self.pieces == 0 {
            return Err(LayerError::invalid("Maxout", "pieces", 0, "at least 1"));
        }
        if self.out_features == 0 {
            return Err(LayerError::invalid(
                "Maxout",
                "out_features",
                0,
                "at least 1",
            ));
        }
        let linear = LinearConfig {
            in_features: self.in_features,
            out_features: self.out_features * self.pieces,
            bias: self.bias,
            weight_init: self.weight_init,
            bias_init: self.bias_init,
        }
        .init(rng)
        .map_err(|e| match e {
            LayerError::InvalidConfig {
                field,
                value,
                expected,
                ..
            } => LayerError::InvalidConfig {
                layer: "Maxout",
                field,
                value,
                expected,
            },
            LayerError::Init { param, source, .. } => LayerError::Init {
                layer: "Maxout",
                param,
                source,
            },
        })?;
        Ok(Maxout {
            linear,
            pieces: self.pieces,
        })
    }
}

/// The maxout layer (see the module docs and [`MaxoutConfig`]). Input `[*, in_features]`,
/// output `[*, out_features]`.
#[derive(Debug, Clone)]
pub struct Maxout {
    linear: Linear,
    pieces: usize,
}

impl Maxout {
    /// A maxout layer with the given stacked weight `[out·k, in]` and bias `[out·k]`.
    ///
    /// # Panics
    /// If `pieces` is 0 or does not divide the number of weight rows.
    pub fn from_arrays(weight: Array, bias: Option<Array>, pieces: usize) -> Maxout {
        assert!(
            pieces > 0 && weight.ndim() == 2 && weight.shape()[0].is_multiple_of(pieces),
            "Maxout::from_arrays: weight shape {:?} must be [out·{pieces}, in]",
            weight.shape()
        );
        Maxout {
            linear: Linear::from_arrays(weight, bias),
            pieces,
        }
    }

    /// The stacked affine map (`out_features·pieces` units).
    pub fn linear(&self) -> &Linear {
        &self.linear
    }

    /// The number of pieces k.
    pub fn pieces(&self) -> usize {
        self.pieces
    }

    /// The number of output units.
    pub fn out_features(&self) -> usize {
        self.linear.out_features() / self.pieces
    }
}

impl Module for Maxout {
    /// `[*, in_features] → [*, out_features]`: the stacked affine map, viewed as
    /// `[*, out_features, k]` (no copy), then the max over the last axis.
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        let z = self.linear.forward(x, ctx);
        let mut shape = z.shape().to_vec();
        let last = shape.len() - 1;
        shape[last] = self.out_features();
        shape.push(self.pieces);
        z.reshape(&shape).max(&[last + 1], false)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(Entry<'_>)) {
        self.linear.visit(prefix, f);
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        Some(self)
    }

    fn describe(&self) -> String {
        format!(
            "Maxout(in_features={}, out_features={}, pieces={}, bias={})",
            self.linear.in_features(),
            self.out_features(),
            self.pieces,
            self.linear.bias().is_some()
        )
    }
}

impl fmt::Display for Maxout {
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
    fn forward_is_the_max_of_the_pieces() {
        // 1 input, 2 units × 3 pieces: pieces of unit 0 are x, −x, 0.5; of unit 1: 2x, x−1, −3.
        let w = Array::from_shape_vec(vec![6, 1], vec![1.0, -1.0, 0.0, 2.0, 1.0, 0.0]).unwrap();
        let b = Array::from_shape_vec(vec![6], vec![0.0, 0.0, 0.5, 0.0, -1.0, -3.0]).unwrap();
        let m = Maxout::from_arrays(w, Some(b), 3);
        let x = Tensor::from_vec(vec![2.0, -1.0, 0.25], &[3, 1]);
        let y = m.forward(&x, &mut Ctx::eval());
        assert_eq!(y.shape(), &[3, 2]);
        assert_eq!(y.to_vec(), vec![2.0, 4.0, 1.0, -2.0, 0.5, 0.5]);
        assert_eq!(
            m.to_string(),
            "Maxout(in_features=1, out_features=2, pieces=3, bias=true)"
        );
        let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["weight", "bias"]);
    }

    #[test]
    fn one_piece_is_a_linear_layer() {
        let m = MaxoutConfig::new(4, 3, 1).init(&mut seeded(2)).unwrap();
        let x = Tensor::randn(&[5, 4], 0.0, 1.0, &mut seeded(3));
        let y = m.forward(&x, &mut Ctx::eval());
        let l = m.linear().forward(&x, &mut Ctx::eval());
        assert_eq!(y.to_vec(), l.to_vec());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// y[r, j] = max_p (W[j·k + p] · x[r] + b[j·k + p]), computed naively.
        #[test]
        fn equals_the_naive_max_of_affine_pieces(
            n in 1usize..5, i in 1usize..6, o in 1usize..4, k in 1usize..4, seed in 0u64..1000
        ) {
            let m = MaxoutConfig::new(i, o, k).init(&mut seeded(seed)).unwrap();
            let x = Tensor::randn(&[n, i], 0.0, 1.0, &mut seeded(seed + 1));
            let y = m.forward(&x, &mut Ctx::eval()).to_vec();
            let (w, b) = (m.linear().weight().value(), m.linear().bias().unwrap().value());
            let xv = x.to_vec();
            for r in 0..n {
                for j in 0..o {
                    let naive = (0..k)
                        .map(|p| {
                            let row = j * k + p;
                            b[[row]] + (0..i).map(|c| w[[row, c]] * xv[r * i + c]).sum::<f32>()
                        })
                        .fold(f32::NEG_INFINITY, f32::max);
                    proptest::prop_assert!((y[r * o + j] - naive).abs() < 1e-5);
                }
            }
        }
    }

    #[test]
    fn leading_axes_are_kept() {
        let m = MaxoutConfig::new(4, 3, 2).init(&mut seeded(5)).unwrap();
        let x = Tensor::randn(&[2, 5, 4], 0.0, 1.0, &mut seeded(6));
        let y = m.forward(&x, &mut Ctx::eval());
        assert_eq!(y.shape(), &[2, 5, 3]);
        let flat = m.forward(&x.reshape(&[10, 4]), &mut Ctx::eval());
        assert_eq!(y.to_vec(), flat.to_vec());
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let e = MaxoutConfig::new(4, 3, 0).init(&mut seeded(0)).unwrap_err();
        assert!(e.to_string().contains("pieces"), "{e}");
        let e = MaxoutConfig::new(0, 3, 2).init(&mut seeded(0)).unwrap_err();
        assert!(e.to_string().starts_with("Maxout: in_features"), "{e}");
    }

    #[test]
    fn gradients() {
        let m = MaxoutConfig::new(5, 3, 4).init(&mut seeded(1)).unwrap();
        let x = Tensor::randn(&[6, 5], 0.0, 1.0, &mut seeded(2));
        let w = Tensor::randn(&[6, 3], 0.0, 1.0, &mut seeded(3));
        let report = check_module_gradients(
            &m,
            || (&m.forward(&x, &mut Ctx::eval()) * &w).sum_all(),
            &GradCheckConfig::default(),
        );
        assert!(report.passed(), "{report}");
        // The input gradient, through the max.
        crate::gradcheck::assert_gradients(
            |xs| (&m.forward(&xs[0], &mut Ctx::eval()) * &w).sum_all(),
            &[&[6, 5]],
            4,
        );
    }
}
