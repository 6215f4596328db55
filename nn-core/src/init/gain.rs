//! The recommended gain for a nonlinearity, as PyTorch's `torch.nn.init.calculate_gain`.
//!
//! | nonlinearity | gain |
//! |---|---|
//! | linear / identity / conv / sigmoid | 1 |
//! | tanh | 5/3 |
//! | relu | √2 |
//! | leaky_relu with negative slope a | √(2 / (1 + a²)) |
//! | selu | 3/4 |
//!
//! The ReLU and leaky-ReLU gains are He et al.'s ("Delving Deep into Rectifiers", ICCV 2015):
//! a rectifier halves the second moment of a zero-mean input, which the factor 2 restores. The
//! SELU gain 3/4 is PyTorch's choice (it makes Kaiming-normal SELU networks self-normalise with
//! `mode = fan_in`).

use serde::{Deserialize, Serialize};

/// A nonlinearity that a layer's initialisation is scaled for (PyTorch's `nonlinearity` strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Nonlinearity {
    /// No nonlinearity (also PyTorch's `conv1d`/`conv2d`/`conv3d`/`conv_transpose*`): gain 1.
    Linear,
    /// Logistic sigmoid: gain 1.
    Sigmoid,
    /// Hyperbolic tangent: gain 5/3.
    Tanh,
    /// ReLU: gain √2.
    Relu,
    /// Leaky ReLU: gain √(2/(1 + a²)) for negative slope a (PyTorch's default for Kaiming, with
    /// a = 0, i.e. the ReLU gain √2).
    #[default]
    LeakyRelu,
    /// SELU: gain 3/4.
    Selu,
}

impl Nonlinearity {
    /// The gain of this nonlinearity. `param` is the negative slope of a leaky ReLU (PyTorch's
    /// default 0.01 when `None`); the other nonlinearities ignore it.
    pub fn gain(self, param: Option<f32>) -> f32 {
        match self {
            Nonlinearity::Linear | Nonlinearity::Sigmoid => 1.0,
            Nonlinearity::Tanh => 5.0 / 3.0,
            Nonlinearity::Relu => 2f32.sqrt(),
            Nonlinearity::LeakyRelu => {
                let a = param.unwrap_or(0.01);
                (2.0 / (1.0 + a * a)).sqrt()
            }
            Nonlinearity::Selu => 0.75,
        }
    }

    /// PyTorch's name of this nonlinearity (`"leaky_relu"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Nonlinearity::Linear => "linear",
            Nonlinearity::Sigmoid => "sigmoid",
            Nonlinearity::Tanh => "tanh",
            Nonlinearity::Relu => "relu",
            Nonlinearity::LeakyRelu => "leaky_relu",
            Nonlinearity::Selu => "selu",
        }
    }
}

/// PyTorch's `calculate_gain(nonlinearity, param)`; see [`Nonlinearity::gain`].
pub fn calculate_gain(nonlinearity: Nonlinearity, param: Option<f32>) -> f32 {
    nonlinearity.gain(param)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gains() {
        assert_eq!(calculate_gain(Nonlinearity::Linear, None), 1.0);
        assert_eq!(calculate_gain(Nonlinearity::Sigmoid, None), 1.0);
        assert!((calculate_gain(Nonlinearity::Tanh, None) - 5.0 / 3.0).abs() < 1e-7);
        assert!((calculate_gain(Nonlinearity::Relu, None) - std::f32::consts::SQRT_2).abs() < 1e-6);
        assert!(
            (calculate_gain(Nonlinearity::LeakyRelu, Some(0.0)) - std::f32::consts::SQRT_2).abs()
                < 1e-6
        );
        // The default slope 0.01: √(2/1.0001).
        assert!((calculate_gain(Nonlinearity::LeakyRelu, None) - 1.414_142_8).abs() < 1e-6);
        // a = √5 (PyTorch's Linear/Conv default): √(1/3).
        let g = calculate_gain(Nonlinearity::LeakyRelu, Some(5f32.sqrt()));
        assert!((g - (1.0f32 / 3.0).sqrt()).abs() < 1e-6);
        assert_eq!(calculate_gain(Nonlinearity::Selu, None), 0.75);
    }
}
