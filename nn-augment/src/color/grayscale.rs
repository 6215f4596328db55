//! Grayscale conversion: deterministic `Grayscale` and `RandomGrayscale` (torchvision), keeping
//! the channel count of the input for the random variant.

use super::adjust::rgb_to_grayscale;
use crate::error::{AugmentError, Result, check};
use crate::shape::{Shape, ShapeRange};
use crate::transform::{Transform, bernoulli, gray_or_rgb};
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
    type Params = ();
    fn sample_params(&self, _shape: Shape, _rng: &mut dyn RngCore) {}
    fn apply(&self, img: &Array3<f32>, _params: &()) -> Array3<f32> {
        rgb_to_grayscale(img, self.channels)
    }
    fn output_shape(&self, shape: Shape, _params: &()) -> Shape {
        [self.channels, shape[1], shape[2]]
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        Ok(gray_or_rgb("grayscale", input)?.with_channels(self.channels))
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

/// Parameters: whether to convert (`true` with probability `p`).
impl Transform for RandomGrayscale {
    type Params = bool;
    fn sample_params(&self, _shape: Shape, rng: &mut dyn RngCore) -> bool {
        bernoulli(rng, self.p)
    }
    fn apply(&self, img: &Array3<f32>, &gray: &bool) -> Array3<f32> {
        if gray {
            rgb_to_grayscale(img, img.dim().0)
        } else {
            img.clone()
        }
    }
    fn apply_owned(&self, img: Array3<f32>, &gray: &bool) -> Array3<f32> {
        if gray {
            rgb_to_grayscale(&img, img.dim().0)
        } else {
            img
        }
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        gray_or_rgb("random_grayscale", input)
    }
}
