//! Resizing: `resize` (nearest, bilinear, bicubic; antialias on downscale as in PIL/torchvision),
//! the `Resize` transform, and `RandomResize`, the scale augmentation of Simonyan & Zisserman 2015
//! (VGG) and He et al. 2016 (ResNet): resize the shorter side to a random `L ∈ [256, 480]`.
//!
//! Resampling formulas are in [`crate::kernels::resample`].

use crate::error::{AugmentError, Result};
use crate::interpolation::Interpolation;
use crate::kernels::resample;
use crate::shape::{Shape, ShapeRange};
use crate::shorthand::{Size, default_true};
use crate::transform::{Transform, int_inclusive};
use ndarray::{Array3, ArrayBase, Data, Ix3};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;

pub use crate::kernels::resample::short_side_size;

/// Resizes to exactly `height × width` (torchvision `F.resize(img, [h, w], interpolation,
/// antialias=antialias)`; `align_corners=False`; no clamping).
pub fn resize<S: Data<Elem = f32>>(
    img: &ArrayBase<S, Ix3>,
    height: usize,
    width: usize,
    interpolation: Interpolation,
    antialias: bool,
) -> Array3<f32> {
    resample::resize(img, height, width, interpolation, antialias)
}

/// Resizes so that the shorter side becomes `side` (torchvision `F.resize(img, side)`).
pub fn resize_short_side<S: Data<Elem = f32>>(
    img: &ArrayBase<S, Ix3>,
    side: usize,
    interpolation: Interpolation,
    antialias: bool,
) -> Array3<f32> {
    let (_, h, w) = img.dim();
    let (nh, nw) = short_side_size(h, w, side, None);
    resample::resize(img, nh, nw, interpolation, antialias)
}

/// Config of [`Resize`] (torchvision defaults: bilinear, antialias on).
///
/// `size` is torchvision's: a single number resizes the *shorter side* to it (keeping the aspect
/// ratio; `max_size` caps the longer side); `[h, w]` resizes to exactly that.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResizeConfig {
    /// Shorter side (a number) or exact `[h, w]`.
    pub size: Size,
    /// Interpolation mode.
    #[serde(default)]
    pub interpolation: Interpolation,
    /// Low-pass filter when downscaling (bilinear/bicubic only).
    #[serde(default = "default_true")]
    pub antialias: bool,
    /// Upper bound on the longer side (only with a single-number size).
    #[serde(default)]
    pub max_size: Option<usize>,
}

impl ResizeConfig {
    /// Torchvision defaults for `size`.
    pub fn new(size: impl Into<Size>) -> Self {
        ResizeConfig {
            size: size.into(),
            interpolation: Interpolation::Bilinear,
            antialias: true,
            max_size: None,
        }
    }

    /// Validates and builds the transform.
    pub fn init(&self) -> Result<Resize> {
        let t = "resize";
        self.size.validate(t, "size")?;
        if let (Some(m), Size::Square(s)) = (self.max_size, self.size) {
            if m <= s {
                return Err(AugmentError::invalid(
                    t,
                    "max_size",
                    m,
                    format!("> size ({s})"),
                ));
            }
        }
        if let (Some(m), Size::Hw(_)) = (self.max_size, self.size) {
            return Err(AugmentError::invalid(
                t,
                "max_size",
                m,
                "none when size is [h, w]",
            ));
        }
        Ok(Resize { cfg: self.clone() })
    }
}

/// Deterministic resize (torchvision `Resize`).
#[derive(Clone, Debug, PartialEq)]
pub struct Resize {
    cfg: ResizeConfig,
}

impl Resize {
    /// Output `(height, width)` for an input `h × w`.
    pub fn target(&self, h: usize, w: usize) -> (usize, usize) {
        match self.cfg.size {
            Size::Square(s) => short_side_size(h, w, s, self.cfg.max_size),
            Size::Hw([a, b]) => (a, b),
        }
    }
}

impl fmt::Display for Resize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.cfg.size {
            Size::Square(s) => write!(f, "Resize(size={s}")?,
            Size::Hw([h, w]) => write!(f, "Resize(size=({h}, {w})")?,
        }
        if let Some(m) = self.cfg.max_size {
            write!(f, ", max_size={m}")?;
        }
        write!(
            f,
            ", interpolation={}, antialias={})",
            self.cfg.interpolation, self.cfg.antialias
        )
    }
}

/// Output size (height, width) of a resize of images in `input` so that the shorter side is in
/// `sides` (`[s, s]` for a fixed side): evaluated at the corners, since the output height grows
/// with the input height and the side and shrinks with the input width (the width likewise).
fn short_side_range(
    t: &str,
    input: ShapeRange,
    sides: [usize; 2],
    max_size: Option<usize>,
) -> Result<ShapeRange> {
    if input.height[0] == 0 || input.width[0] == 0 {
        return Err(AugmentError::shape(t, input, "non-empty images"));
    }
    let outputs = input
        .hw_corners()
        .into_iter()
        .flat_map(|(h, w)| sides.map(|s| short_side_size(h, w, s, max_size)));
    Ok(input.hw_bounds(outputs))
}

/// Parameters: the output (height, width) for the input's size (no randomness).
impl Transform for Resize {
    type Params = (usize, usize);
    fn sample_params(&self, shape: Shape, _rng: &mut dyn RngCore) -> (usize, usize) {
        self.target(shape[1], shape[2])
    }
    fn apply(&self, img: &Array3<f32>, &(h, w): &(usize, usize)) -> Array3<f32> {
        resize(img, h, w, self.cfg.interpolation, self.cfg.antialias)
    }
    fn apply_mask(&self, mask: &Array3<f32>, &(h, w): &(usize, usize)) -> Array3<f32> {
        resize(mask, h, w, Interpolation::Nearest, false)
    }
    fn output_shape(&self, shape: Shape, &(h, w): &(usize, usize)) -> Shape {
        [shape[0], h, w]
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        match self.cfg.size {
            Size::Square(s) => short_side_range("resize", input, [s, s], self.cfg.max_size),
            Size::Hw([h, w]) if input.height[0] > 0 && input.width[0] > 0 => {
                Ok(input.with_hw([h, h], [w, w]))
            }
            Size::Hw(_) => Err(AugmentError::shape("resize", input, "non-empty images")),
        }
    }
}

/// Config of [`RandomResize`]: the ResNet scale augmentation's `L ∈ [min_size, max_size]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomResizeConfig {
    /// Smallest shorter side (inclusive), 256 for ResNet.
    pub min_size: usize,
    /// Largest shorter side (inclusive), 480 for ResNet.
    pub max_size: usize,
    /// Interpolation mode.
    #[serde(default)]
    pub interpolation: Interpolation,
    /// Low-pass filter when downscaling.
    #[serde(default = "default_true")]
    pub antialias: bool,
}

impl RandomResizeConfig {
    /// Validates and builds the transform.
    pub fn init(&self) -> Result<RandomResize> {
        let t = "random_resize";
        if self.min_size == 0 {
            return Err(AugmentError::invalid(t, "min_size", self.min_size, "≥ 1"));
        }
        if self.max_size < self.min_size {
            return Err(AugmentError::invalid(
                t,
                "max_size",
                self.max_size,
                format!("≥ min_size ({})", self.min_size),
            ));
        }
        Ok(RandomResize { cfg: self.clone() })
    }
}

/// Resize the shorter side to a uniformly random integer `L ∈ [min_size, max_size]` (both
/// inclusive, as in the ResNet paper's "[256, 480]"; torchvision's `RandomResize` excludes the
/// upper end).
#[derive(Clone, Debug, PartialEq)]
pub struct RandomResize {
    cfg: RandomResizeConfig,
}

impl RandomResize {
    /// Shorter side in `[min_size, max_size]`, bilinear with antialias.
    pub fn new(min_size: usize, max_size: usize) -> Result<Self> {
        RandomResizeConfig {
            min_size,
            max_size,
            interpolation: Interpolation::Bilinear,
            antialias: true,
        }
        .init()
    }
}

impl fmt::Display for RandomResize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RandomResize(min_size={}, max_size={}, interpolation={}, antialias={})",
            self.cfg.min_size, self.cfg.max_size, self.cfg.interpolation, self.cfg.antialias
        )
    }
}

/// Parameters: the output (height, width), from the drawn shorter side.
impl Transform for RandomResize {
    type Params = (usize, usize);
    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> (usize, usize) {
        let side = int_inclusive(rng, self.cfg.min_size, self.cfg.max_size);
        short_side_size(shape[1], shape[2], side, None)
    }
    fn apply(&self, img: &Array3<f32>, &(h, w): &(usize, usize)) -> Array3<f32> {
        resize(img, h, w, self.cfg.interpolation, self.cfg.antialias)
    }
    fn apply_mask(&self, mask: &Array3<f32>, &(h, w): &(usize, usize)) -> Array3<f32> {
        resize(mask, h, w, Interpolation::Nearest, false)
    }
    fn output_shape(&self, shape: Shape, &(h, w): &(usize, usize)) -> Shape {
        [shape[0], h, w]
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        let sides = [self.cfg.min_size, self.cfg.max_size];
        short_side_range("random_resize", input, sides, None)
    }
}
