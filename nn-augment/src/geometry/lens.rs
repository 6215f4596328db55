//! Radial lens distortion (barrel and pincushion), the Brown–Conrady radial model
//! (Brown 1966, "Decentering distortion of lenses").
//!
//! An output pixel at centred coordinates `p = (x, y)` (pixel units, origin at the image centre)
//! samples the input at `p · (1 + k₁r² + k₂r⁴)`, with `r = |p| / R` and `R` the half diagonal
//! (so `r = 1` at the corners). `k > 0` gives barrel distortion (straight lines bow outwards, the
//! corners are pulled in), `k < 0` pincushion. The image size is kept.

use super::affine::check_warp_interp;
use crate::error::{Result, check};
use crate::interpolation::Interpolation;
use crate::kernels::warp::warp;
use crate::padding::Fill;
use crate::shape::{Shape, ShapeRange};
use crate::shorthand::Range;
use crate::transform::{Transform, uniform};
use ndarray::{Array3, ArrayBase, Data, Ix3};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Applies radial distortion with coefficients `k1`, `k2` (see the module docs).
pub fn lens_distort<S: Data<Elem = f32>>(
    img: &ArrayBase<S, Ix3>,
    k1: f64,
    k2: f64,
    interpolation: Interpolation,
    fill: Option<&Fill>,
) -> Array3<f32> {
    let (_, h, w) = img.dim();
    let (cx, cy) = ((w as f64 - 1.0) * 0.5, (h as f64 - 1.0) * 0.5);
    let r2max = 0.25 * ((w * w + h * h) as f64);
    let inv = 1.0 / r2max.max(f64::MIN_POSITIVE);
    warp(img, h, w, interpolation, fill, |i, xs, ys| {
        let y = i as f64 - cy;
        for (j, (sx, sy)) in xs.iter_mut().zip(ys.iter_mut()).enumerate() {
            let x = j as f64 - cx;
            let r2 = (x * x + y * y) * inv;
            let f = 1.0 + k1 * r2 + k2 * r2 * r2;
            *sx = (x * f + cx) as f32;
            *sy = (y * f + cy) as f32;
        }
    })
}

fn zero() -> Range {
    Range::Around(0.0)
}

fn default_fill() -> Option<Fill> {
    Some(Fill::Scalar(0.0))
}

/// Config of [`LensDistortion`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LensDistortionConfig {
    /// Range of `k₁` (`x` = `[−x, x]`); each in `[−1, 1]`.
    pub k1: Range,
    /// Range of `k₂`; default 0.
    #[serde(default = "zero")]
    pub k2: Range,
    /// Interpolation (nearest or bilinear).
    #[serde(default)]
    pub interpolation: Interpolation,
    /// Fill outside the image (`null` = plain zero padding).
    #[serde(default = "default_fill")]
    pub fill: Option<Fill>,
}

impl LensDistortionConfig {
    /// `k₁ ∈ [−k, k]`, no `k₂`, bilinear, fill 0.
    pub fn new(k1: impl Into<Range>) -> Self {
        LensDistortionConfig {
            k1: k1.into(),
            k2: zero(),
            interpolation: Interpolation::Bilinear,
            fill: default_fill(),
        }
    }

    /// Validates and builds the transform.
    pub fn init(&self) -> Result<LensDistortion> {
        let t = "lens_distortion";
        let k1 = self.k1.resolve(t, "k1", 0.0)?;
        check::range(t, "k1", k1, -1.0, 1.0)?;
        let k2 = self.k2.resolve(t, "k2", 0.0)?;
        check::range(t, "k2", k2, -1.0, 1.0)?;
        check_warp_interp(t, self.interpolation)?;
        if let Some(f) = &self.fill {
            f.validate(t, "fill")?;
        }
        Ok(LensDistortion {
            cfg: self.clone(),
            k1,
            k2,
        })
    }
}

/// Random radial distortion `k₁ ~ U(k1)`, `k₂ ~ U(k2)`.
#[derive(Clone, Debug, PartialEq)]
pub struct LensDistortion {
    cfg: LensDistortionConfig,
    k1: [f64; 2],
    k2: [f64; 2],
}

impl fmt::Display for LensDistortion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "LensDistortion(k1={:?}, k2={:?}, interpolation={})",
            self.k1, self.k2, self.cfg.interpolation
        )
    }
}

/// Sampled radial coefficients of a [`LensDistortion`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LensCoefficients {
    /// `k₁` (barrel > 0, pincushion < 0).
    pub k1: f64,
    /// `k₂`.
    pub k2: f64,
}

impl Transform for LensDistortion {
    type Params = LensCoefficients;
    fn sample_params(&self, _shape: Shape, rng: &mut dyn RngCore) -> LensCoefficients {
        let k1 = uniform(rng, self.k1[0], self.k1[1]);
        let k2 = uniform(rng, self.k2[0], self.k2[1]);
        LensCoefficients { k1, k2 }
    }
    fn apply(&self, img: &Array3<f32>, k: &LensCoefficients) -> Array3<f32> {
        lens_distort(
            img,
            k.k1,
            k.k2,
            self.cfg.interpolation,
            self.cfg.fill.as_ref(),
        )
    }
    fn apply_mask(&self, mask: &Array3<f32>, k: &LensCoefficients) -> Array3<f32> {
        lens_distort(mask, k.k1, k.k2, Interpolation::Nearest, None)
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        super::affine::warp_output_size("lens_distortion", self.cfg.fill.as_ref(), input)
    }
}
