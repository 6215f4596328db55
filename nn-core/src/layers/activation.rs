//! Activation layers: parameter-free modules wrapping the activation ops of [`crate::ops`], with
//! PyTorch's defaults and printouts, and [`Activation`], a serialisable choice of one for configs.
//!
//! | layer | y = | default | paper |
//! |---|---|---|---|
//! | [`ReLU`] | max(0, x) | | Nair & Hinton 2010 |
//! | [`LeakyReLU`] | x if x > 0 else a·x | a = 0.01 | Maas et al. 2013 |
//! | [`ELU`] | x if x > 0 else α(eˣ − 1) | α = 1 | Clevert et al. 2016 |
//! | [`SELU`] | λ·ELU_α(x), λ ≈ 1.0507, α ≈ 1.6733 | | Klambauer et al. 2017 |
//! | [`GELU`] | x·Φ(x) (or its tanh approximation) | exact | Hendrycks & Gimpel 2016 |
//! | [`Sigmoid`] | 1/(1 + e⁻ˣ) | | |
//! | [`Tanh`] | tanh x | | |
//! | [`Softplus`] | (1/β)·ln(1 + e^(βx)), x where βx > threshold | β = 1, threshold = 20 | Dugas et al. 2001 |
//! | [`super::ChannelMaxout`] | max over k consecutive channels (C·k → C) | k = 2 | Goodfellow et al. 2013 |
//!
//! All are deterministic: train and eval mode agree.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::LayerError;
use crate::module::{Ctx, Entry, Module};
use crate::ops::GeluApproximate;
use crate::tensor::Tensor;

/// Defines a parameter-free activation layer from a closure over the input.
macro_rules! activation_layer {
    ($(#[$doc:meta])* $name:ident, |$s:ident, $x:ident| $forward:expr, |$d:ident| $describe:expr) => {
        $(#[$doc])*
        impl Module for $name {
            fn forward(&self, $x: &Tensor, _ctx: &mut Ctx) -> Tensor {
                let $s = self;
                $forward
            }
            fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(Entry<'_>)) {}
            fn describe(&self) -> String {
                let $d = self;
                $describe
            }
            fn as_any(&self) -> Option<&dyn std::any::Any> {
                Some(self)
            }
            fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
                Some(self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.describe())
            }
        }
    };
}

/// ReLU, y = max(0, x); see [`Tensor::relu`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReLU;
activation_layer!(ReLU, |_s, x| x.relu(), |_d| "ReLU()".into());

/// Sigmoid, y = 1/(1 + e⁻ˣ); see [`Tensor::sigmoid`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sigmoid;
activation_layer!(Sigmoid, |_s, x| x.sigmoid(), |_d| "Sigmoid()".into());

/// Hyperbolic tangent; see [`Tensor::tanh`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tanh;
activation_layer!(Tanh, |_s, x| x.tanh(), |_d| "Tanh()".into());

/// SELU, λ·ELU_α(x) with the self-normalising constants; see [`Tensor::selu`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SELU;
activation_layer!(SELU, |_s, x| x.selu(), |_d| "SELU()".into());

/// Leaky ReLU with negative slope `a` (default 0.01); see [`Tensor::leaky_relu`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakyReLU {
    negative_slope: f32,
}

impl LeakyReLU {
    /// A leaky ReLU with `negative_slope`.
    ///
    /// # Errors
    /// [`LayerError::InvalidConfig`] if the slope is not finite.
    pub fn new(negative_slope: f32) -> Result<LeakyReLU, LayerError> {
        if !negative_slope.is_finite() {
            return Err(LayerError::invalid(
                "LeakyReLU",
                "negative_slope",
                negative_slope,
                "a finite number",
            ));
        }
        Ok(LeakyReLU { negative_slope })
    }

    /// The negative slope.
    pub fn negative_slope(&self) -> f32 {
        self.negative_slope
    }
}

impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU {
            negative_slope: 0.01,
        }
    }
}
activation_layer!(
    LeakyReLU,
    |s, x| x.leaky_relu(s.negative_slope),
    |d| format!("LeakyReLU(negative_slope={:?})", d.negative_slope)
);

/// ELU with parameter α (default 1); see [`Tensor::elu`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ELU {
    alpha: f32,
}

impl ELU {
    /// An ELU with `alpha`.
    ///
    /// # Errors
    /// [`LayerError::InvalidConfig`] if `alpha` is not finite.
    pub fn new(alpha: f32) -> Result<ELU, LayerError> {
        if !alpha.is_finite() {
            return Err(LayerError::invalid(
                "ELU",
                "alpha",
                alpha,
                "a finite number",
            ));
        }
        Ok(ELU { alpha })
    }

    /// α.
    pub fn alpha(&self) -> f32 {
        self.alpha
    }
}

impl Default for ELU {
    fn default() -> Self {
        ELU { alpha: 1.0 }
    }
}
activation_layer!(ELU, |s, x| x.elu(s.alpha), |d| format!(
    "ELU(alpha={:?})",
    d.alpha
));

/// GELU, exact x·Φ(x) by default or the tanh approximation; see [`Tensor::gelu_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GELU {
    /// Which formula (PyTorch's `approximate`, default exact).
    pub approximate: GeluApproximate,
}
activation_layer!(GELU, |s, x| x.gelu_with(s.approximate), |d| format!(
    "GELU(approximate='{}')",
    match d.approximate {
        GeluApproximate::None => "none",
        GeluApproximate::Tanh => "tanh",
    }
));

/// Softplus (1/β)·ln(1 + e^(βx)), linear above `threshold` (defaults β = 1, threshold = 20); see
/// [`Tensor::softplus_with`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Softplus {
    beta: f32,
    threshold: f32,
}

impl Softplus {
    /// A softplus with `beta` and `threshold`.
    ///
    /// # Errors
    /// [`LayerError::InvalidConfig`] unless `beta > 0` and both are finite.
    pub fn new(beta: f32, threshold: f32) -> Result<Softplus, LayerError> {
        if !(beta.is_finite() && beta > 0.0) {
            return Err(LayerError::invalid(
                "Softplus",
                "beta",
                beta,
                "a finite number > 0",
            ));
        }
        if !threshold.is_finite() {
            return Err(LayerError::invalid(
                "Softplus",
                "threshold",
                threshold,
                "a finite number",
            ));
        }
        Ok(Softplus { beta, threshold })
    }
}

impl Default for Softplus {
    fn default() -> Self {
        Softplus {
            beta: 1.0,
            threshold: 20.0,
        }
    }
}
activation_layer!(
    Softplus,
    |s, x| x.softplus_with(s.beta, s.threshold),
    |d| format!("Softplus(beta={:?}, threshold={:?})", d.beta, d.threshold)
);

fn leaky_default() -> f32 {
    0.01
}
fn one() -> f32 {
    1.0
}
fn twenty() -> f32 {
    20.0
}

/// A serialisable choice of activation, with PyTorch's defaults for omitted fields, e.g.
/// `{"kind": "leaky_relu", "negative_slope": 0.2}` or `{"kind": "gelu"}`.
///
/// ```
/// use nn_core::layers::Activation;
/// use nn_core::{Ctx, Module, Tensor};
///
/// let act: Activation = serde_json::from_str(r#"{"kind": "leaky_relu"}"#).unwrap();
/// let layer = act.layer().unwrap();
/// assert_eq!(layer.describe(), "LeakyReLU(negative_slope=0.01)");
/// let y = layer.forward(&Tensor::from_vec(vec![-1.0, 2.0], &[2]), &mut Ctx::eval());
/// assert_eq!(y.to_vec(), vec![-0.01, 2.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Activation {
    /// [`ReLU`].
    Relu,
    /// [`LeakyReLU`].
    LeakyRelu {
        /// Negative slope (default 0.01).
        #[serde(default = "leaky_default")]
        negative_slope: f32,
    },
    /// [`ELU`].
    Elu {
        /// α (default 1).
        #[serde(default = "one")]
        alpha: f32,
    },
    /// [`SELU`].
    Selu,
    /// [`GELU`].
    Gelu {
        /// Which formula (default exact).
        #[serde(default)]
        approximate: GeluApproximate,
    },
    /// [`Sigmoid`].
    Sigmoid,
    /// [`Tanh`].
    Tanh,
    /// [`Softplus`].
    Softplus {
        /// β (default 1).
        #[serde(default = "one")]
        beta: f32,
        /// Threshold of the linear regime (default 20).
        #[serde(default = "twenty")]
        threshold: f32,
    },
    /// Maxout over `pieces` consecutive channels ([`super::ChannelMaxout`]): divides the
    /// channels by k, so the layer before it must produce k times as many
    /// ([`Activation::width_factor`]).
    Maxout {
        /// Pieces k per output unit (≥ 1; default 2).
        #[serde(default = "two")]
        pieces: usize,
    },
}

fn two() -> usize {
    2
}

impl Activation {
    /// How many times more channels the layer before this activation must produce: k for
    /// [`Activation::Maxout`], 1 for the elementwise activations.
    pub fn width_factor(&self) -> usize {
        match *self {
            Activation::Maxout { pieces } => pieces,
            _ => 1,
        }
    }

    /// The layer, validated.
    ///
    /// # Errors
    /// [`LayerError::InvalidConfig`] for an invalid hyperparameter.
    pub fn layer(&self) -> Result<Box<dyn Module>, LayerError> {
        Ok(match *self {
            Activation::Maxout { pieces } => Box::new(super::ChannelMaxout::new(pieces)?),
            Activation::Relu => Box::new(ReLU),
            Activation::LeakyRelu { negative_slope } => Box::new(LeakyReLU::new(negative_slope)?),
            Activation::Elu { alpha } => Box::new(ELU::new(alpha)?),
            Activation::Selu => Box::new(SELU),
            Activation::Gelu { approximate } => Box::new(GELU { approximate }),
            Activation::Sigmoid => Box::new(Sigmoid),
            Activation::Tanh => Box::new(Tanh),
            Activation::Softplus { beta, threshold } => Box::new(Softplus::new(beta, threshold)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::assert_gradients;

    /// A layer, its printout and its scalar reference function.
    type Case = (Box<dyn Module>, &'static str, fn(f32) -> f32);

    fn layers() -> Vec<Case> {
        fn sig(x: f32) -> f32 {
            1.0 / (1.0 + (-x).exp())
        }
        vec![
            (Box::new(ReLU), "ReLU()", |x| x.max(0.0)),
            (
                Box::new(LeakyReLU::new(0.2).unwrap()),
                "LeakyReLU(negative_slope=0.2)",
                |x| if x > 0.0 { x } else { 0.2 * x },
            ),
            (Box::new(ELU::default()), "ELU(alpha=1.0)", |x| {
                if x > 0.0 { x } else { x.exp() - 1.0 }
            }),
            (Box::new(SELU), "SELU()", |x| {
                1.050_701
                    * if x > 0.0 {
                        x
                    } else {
                        1.673_263_2 * (x.exp() - 1.0)
                    }
            }),
            (Box::new(GELU::default()), "GELU(approximate='none')", |x| {
                x * 0.5 * (1.0 + crate::ops::erf(x / 2f32.sqrt()))
            }),
            (
                Box::new(GELU {
                    approximate: GeluApproximate::Tanh,
                }),
                "GELU(approximate='tanh')",
                |x| 0.5 * x * (1.0 + (0.797_884_6 * (x + 0.044_715 * x * x * x)).tanh()),
            ),
            (Box::new(Sigmoid), "Sigmoid()", sig),
            (Box::new(Tanh), "Tanh()", f32::tanh),
            (
                Box::new(Softplus::default()),
                "Softplus(beta=1.0, threshold=20.0)",
                |x| (1.0 + x.exp()).ln(),
            ),
        ]
    }

    #[test]
    fn forward_describe_and_gradients() {
        let x = Tensor::from_vec(vec![-2.0, -0.5, 0.3, 1.7, -1.1, 0.9], &[2, 3]);
        for (k, (layer, name, f)) in layers().into_iter().enumerate() {
            assert_eq!(layer.describe(), name);
            assert_eq!(layer.num_parameters(), 0);
            let y = layer.forward(&x, &mut Ctx::eval()).to_vec();
            for (a, b) in y.iter().zip(x.to_vec()) {
                assert!((a - f(b)).abs() < 1e-5, "{name}: {a} vs {}", f(b));
            }
            assert_gradients(
                |xs| layer.forward(&xs[0], &mut Ctx::eval()),
                &[&[3, 4]],
                k as u64,
            );
        }
    }

    #[test]
    fn configs_round_trip_and_are_validated() {
        for (act, name) in [
            (Activation::Relu, "ReLU()"),
            (
                Activation::LeakyRelu {
                    negative_slope: 0.1,
                },
                "LeakyReLU(negative_slope=0.1)",
            ),
            (Activation::Elu { alpha: 0.5 }, "ELU(alpha=0.5)"),
            (Activation::Selu, "SELU()"),
            (
                Activation::Gelu {
                    approximate: GeluApproximate::Tanh,
                },
                "GELU(approximate='tanh')",
            ),
            (Activation::Sigmoid, "Sigmoid()"),
            (Activation::Tanh, "Tanh()"),
            (
                Activation::Softplus {
                    beta: 2.0,
                    threshold: 10.0,
                },
                "Softplus(beta=2.0, threshold=10.0)",
            ),
        ] {
            assert_eq!(act.layer().unwrap().describe(), name);
            let s = serde_json::to_string(&act).unwrap();
            assert_eq!(serde_json::from_str::<Activation>(&s).unwrap(), act, "{s}");
        }
        let a: Activation = serde_json::from_str(r#"{"kind": "softplus"}"#).unwrap();
        assert_eq!(
            a.layer().unwrap().describe(),
            "Softplus(beta=1.0, threshold=20.0)"
        );
        let Err(e) = Activation::Softplus {
            beta: 0.0,
            threshold: 20.0,
        }
        .layer() else {
            panic!("beta = 0 must be rejected")
        };
        assert!(e.to_string().contains("Softplus: beta = 0"), "{e}");
        assert!(LeakyReLU::new(f32::NAN).is_err());
        assert!(ELU::new(f32::INFINITY).is_err());
    }
}
