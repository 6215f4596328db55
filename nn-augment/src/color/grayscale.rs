//! Grayscale conversion: deterministic `Grayscale` and `RandomGrayscale` (torchvision), keeping
//! the channel count of the input for the random variant.

use super::adjust::rgb_to_grayscale;
use crate::error::{AugmentError, Result, check};
use crate::transform::{Params, Transform, bernoulli, wrong_params};
use crate::types::Shape;
use ndarray::Array3;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;

fn one() -> usize {
    1
}

fn tenth() -> f64 {
    0.1
}

/// Config of [`Grayscale`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrayscaleConfig {
    /// 1 or 3 output channels (default 1).
    #[serde(default = "one")]
    pub num_output_channels: usize,
}

impl GrayscaleConfig {
    /// Validates and builds the transform.
    pub fn init(&self) -> Result<Grayscale> {
        if self.num_output_channels != 1 && self.num_output_channels != 3 {
            return Err(AugmentError::invalid(
                "grayscale",
                "num_output_channels",
                self.num_output_channels,
                "1 or 3",
            ));
        }
        Ok(Grayscale {
            channels: self.num_output_channels,
        })
    }
}

/// Deterministic conversion to grayscale, `0.2989·R + 0.587·G + 0.114·B`.
#[derive(Clone, Debug, PartialEq)]
pub struct Grayscale {
    channels: usize,
}

impl fmt::Display for Grayscale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Grayscale(num_output_channels={})", self.channels)
    }
}

impl Transform for Grayscale {
    fn sample_params(&self, _shape: Shape, _rng: &mut dyn RngCore) -> Params {
        Params::Identity
    }
    fn apply(&self, img: &Array3<f32>, _params: &Params) -> Array3<f32> {
        rgb_to_grayscale(img, self.channels)
    }
    fn output_shape(&self, shape: Shape, _params: &Params) -> Shape {
        [self.channels, shape[1], shape[2]]
    }
}

/// Config of [`RandomGrayscale`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomGrayscaleConfig {
    /// Probability of converting (torchvision default 0.1).
    #[serde(default = "tenth")]
    pub p: f64,
}

impl RandomGrayscaleConfig {
    /// Validates and builds the transform.
    pub fn init(&self) -> Result<RandomGrayscale> {
        check::prob("random_grayscale", "p", self.p)?;
        Ok(RandomGrayscale { p: self.p })
    }
}

/// Grayscale with probability `p`, as many output channels as input channels.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomGrayscale {
    p: f64,
}

impl fmt::Display for RandomGrayscale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RandomGrayscale(p={})", self.p)
    }
}

impl Transform for RandomGrayscale {
    fn sample_params(&self, _shape: Shape, rng: &mut dyn RngCore) -> Params {
        Params::Flip(bernoulli(rng, self.p))
    }
    fn apply(&self, img: &Array3<f32>, params: &Params) -> Array3<f32> {
        match params {
            Params::Flip(true) => rgb_to_grayscale(img, img.dim().0),
            Params::Flip(false) => img.clone(),
            p => wrong_params("RandomGrayscale", p),
        }
    }
    fn apply_owned(&self, img: Array3<f32>, params: &Params) -> Array3<f32> {
        match params {
            Params::Flip(false) => img,
            p => self.apply(&img, p),
        }
    }
}
