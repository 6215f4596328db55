//! [`Interpolation`]: how pixel values are sampled between pixels (torchvision's
//! `InterpolationMode`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// How pixel values are interpolated when the sampling grid falls between pixels
/// (torchvision's `InterpolationMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    /// PyTorch `"nearest"`: source index `floor(i · in/out)` (resize), `round-half-even` (warps).
    Nearest,
    /// PyTorch `"nearest-exact"`: source index `floor((i + ½) · in/out)` (resize only; warps
    /// treat it as `Nearest`).
    NearestExact,
    /// Linear in each axis (triangle filter; widened by the scale factor when antialiasing).
    #[default]
    Bilinear,
    /// Cubic convolution (Keys, a = −0.75; a = −0.5 with antialias, as PIL and PyTorch).
    Bicubic,
}

impl Interpolation {
    /// Lower-case config name.
    pub fn name(self) -> &'static str {
        match self {
            Interpolation::Nearest => "nearest",
            Interpolation::NearestExact => "nearest_exact",
            Interpolation::Bilinear => "bilinear",
            Interpolation::Bicubic => "bicubic",
        }
    }

    /// `true` for the two nearest-neighbour modes.
    pub fn is_nearest(self) -> bool {
        matches!(self, Interpolation::Nearest | Interpolation::NearestExact)
    }
}

impl fmt::Display for Interpolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
