//! `RandomResizedCrop` (Szegedy et al. 2015, "Going Deeper with Convolutions", the Inception
//! crop): a crop covering a random fraction `s ∈ scale` of the area with a log-uniform aspect ratio
//! `r ∈ ratio`, resized to the output size.
//!
//! Sampling (torchvision): up to 10 tries of `area = s·H·W`, `log r ~ U(log r₀, log r₁)`,
//! `w = round(√(area·r))`, `h = round(√(area/r))`, accepted if it fits; otherwise the largest
//! centred crop with the ratio clamped to `ratio`.

use super::crop::CropBox;
use super::crop::crop;
use super::resize::resize;
use crate::error::{AugmentError, Result, check};
use crate::interpolation::Interpolation;
use crate::shape::{Shape, ShapeRange};
use crate::shorthand::{Size, default_true};
use crate::transform::{Transform, int_inclusive, uniform};
use ndarray::{Array3, ArrayBase, Data, Ix3};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Crops `b` (zero outside the image) and resizes it to `height × width` (torchvision
/// `F.resized_crop`).
pub fn resized_crop<S: Data<Elem = f32>>(
    img: &ArrayBase<S, Ix3>,
    b: CropBox,
    height: usize,
    width: usize,
    interpolation: Interpolation,
    antialias: bool,
) -> Array3<f32> {
    let (_, h, w) = img.dim();
    let inside = b.top >= 0
        && b.left >= 0
        && b.top as usize + b.height <= h
        && b.left as usize + b.width <= w;
    if inside {
        // Resample straight from a view of the box (no copy of the crop).
        let (t, l) = (b.top as usize, b.left as usize);
        let v = img.slice(ndarray::s![.., t..t + b.height, l..l + b.width]);
        return resize(&v, height, width, interpolation, antialias);
    }
    let c = crop(img, b.top, b.left, b.height, b.width);
    resize(&c, height, width, interpolation, antialias)
}

fn default_scale() -> [f64; 2] {
    [0.08, 1.0]
}

fn default_ratio() -> [f64; 2] {
    [3.0 / 4.0, 4.0 / 3.0]
}

/// Config of [`RandomResizedCrop`] (torchvision defaults: scale [0.08, 1], ratio [3/4, 4/3],
/// bilinear, antialias).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomResizedCropConfig {
    /// Output size.
    pub size: Size,
    /// Range of the crop area as a fraction of the image area.
    #[serde(default = "default_scale")]
    pub scale: [f64; 2],
    /// Range of the aspect ratio `w/h` (sampled log-uniformly).
    #[serde(default = "default_ratio")]
    pub ratio: [f64; 2],
    /// Interpolation mode.
    #[serde(default)]
    pub interpolation: Interpolation,
    /// Low-pass filter when downscaling.
    #[serde(default = "default_true")]
    pub antialias: bool,
}

impl RandomResizedCropConfig {
    /// Torchvision defaults for `size`.
    pub fn new(size: impl Into<Size>) -> Self {
        RandomResizedCropConfig {
            size: size.into(),
            scale: default_scale(),
            ratio: default_ratio(),
            interpolation: Interpolation::Bilinear,
            antialias: true,
        }
    }

    /// Validates and builds the transform.
    pub fn init(&self) -> Result<RandomResizedCrop> {
        let t = "random_resized_crop";
        let (h, w) = self.size.validate(t, "size")?;
        check::range(t, "scale", self.scale, f64::MIN_POSITIVE, 1.0)?;
        check::range(t, "ratio", self.ratio, f64::MIN_POSITIVE, f64::MAX)?;
        if self.scale[0] <= 0.0 {
            return Err(AugmentError::invalid(
                t,
                "scale",
                self.scale,
                "0 < lo ≤ hi ≤ 1",
            ));
        }
        Ok(RandomResizedCrop {
            cfg: self.clone(),
            h,
            w,
        })
    }
}

/// Random-area, random-aspect crop resized to a fixed size (torchvision `RandomResizedCrop`).
#[derive(Clone, Debug, PartialEq)]
pub struct RandomResizedCrop {
    cfg: RandomResizedCropConfig,
    h: usize,
    w: usize,
}

impl RandomResizedCrop {
    /// Torchvision defaults for `size`.
    pub fn new(size: impl Into<Size>) -> Result<Self> {
        RandomResizedCropConfig::new(size).init()
    }

    /// Samples the crop box for an `height × width` image (torchvision's `get_params`).
    pub fn sample_box(&self, height: usize, width: usize, rng: &mut dyn RngCore) -> CropBox {
        let area = (height * width) as f64;
        let (lr0, lr1) = (self.cfg.ratio[0].ln(), self.cfg.ratio[1].ln());
        for _ in 0..10 {
            let target = area * uniform(rng, self.cfg.scale[0], self.cfg.scale[1]);
            let ar = uniform(rng, lr0, lr1).exp();
            let w = (target * ar).sqrt().round_ties_even() as usize;
            let h = (target / ar).sqrt().round_ties_even() as usize;
            if 0 < w && w <= width && 0 < h && h <= height {
                let top = int_inclusive(rng, 0, height - h) as isize;
                let left = int_inclusive(rng, 0, width - w) as isize;
                return CropBox {
                    top,
                    left,
                    height: h,
                    width: w,
                };
            }
        }
        let in_ratio = width as f64 / height as f64;
        let (rmin, rmax) = (self.cfg.ratio[0], self.cfg.ratio[1]);
        let (w, h) = if in_ratio < rmin {
            (width, (width as f64 / rmin).round_ties_even() as usize)
        } else if in_ratio > rmax {
            ((height as f64 * rmax).round_ties_even() as usize, height)
        } else {
            (width, height)
        };
        CropBox {
            top: ((height - h) / 2) as isize,
            left: ((width - w) / 2) as isize,
            height: h,
            width: w,
        }
    }
}

impl fmt::Display for RandomResizedCrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RandomResizedCrop(size=({}, {}), scale={:?}, ratio=[{:.4}, {:.4}], interpolation={}, antialias={})",
            self.h,
            self.w,
            self.cfg.scale,
            self.cfg.ratio[0],
            self.cfg.ratio[1],
            self.cfg.interpolation,
            self.cfg.antialias
        )
    }
}

/// Parameters: the crop box ([`RandomResizedCrop::sample_box`]); the output size is the
/// transform's.
impl Transform for RandomResizedCrop {
    type Params = CropBox;
    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> CropBox {
        self.sample_box(shape[1], shape[2], rng)
    }
    fn apply(&self, img: &Array3<f32>, b: &CropBox) -> Array3<f32> {
        resized_crop(
            img,
            *b,
            self.h,
            self.w,
            self.cfg.interpolation,
            self.cfg.antialias,
        )
    }
    fn apply_mask(&self, mask: &Array3<f32>, b: &CropBox) -> Array3<f32> {
        resized_crop(mask, *b, self.h, self.w, Interpolation::Nearest, false)
    }
    fn output_shape(&self, shape: Shape, _params: &CropBox) -> Shape {
        [shape[0], self.h, self.w]
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        if input.height[0] == 0 || input.width[0] == 0 {
            return Err(AugmentError::shape(
                "random_resized_crop",
                input,
                "non-empty images",
            ));
        }
        Ok(input.with_hw([self.h; 2], [self.w; 2]))
    }
}
