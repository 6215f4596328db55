//! Affine warps: `affine` (torchvision `F.affine`), `RandomAffine` (rotation, translation, scale,
//! shear) and `RandomStretch` (anisotropic scale).
//!
//! torchvision's forward map about the centre `c` is `M = T·C·R(a)·S(s)·SHy(sy)·SHx(sx)·C⁻¹`;
//! the warp samples the input at `M⁻¹·p` for each output pixel `p`
//! ([`inverse_affine_matrix`]). Random translations, rotations and scalings are the "jittering"
//! of LeCun et al. 1998 and Simard et al. 2003.

use crate::error::{AugmentError, Result, check};
use crate::interpolation::Interpolation;
use crate::kernels::warp::warp_affine;
use crate::padding::Fill;
use crate::shape::{Shape, ShapeRange};
use crate::shorthand::Range;
use crate::transform::{Transform, uniform};
use ndarray::{Array3, ArrayBase, Data, Ix3};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Parameters of torchvision's affine warp (`F.affine`); those of [`RandomAffine`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AffineParams {
    /// Rotation in degrees, counter-clockwise (torchvision's affine convention).
    pub angle: f64,
    /// Translation `(dx, dy)` in pixels.
    pub translate: (f64, f64),
    /// Isotropic scale.
    pub scale: f64,
    /// Shear angles `(x, y)` in degrees.
    pub shear: (f64, f64),
}

impl AffineParams {
    /// The identity warp.
    pub const IDENTITY: AffineParams = AffineParams {
        angle: 0.0,
        translate: (0.0, 0.0),
        scale: 1.0,
        shear: (0.0, 0.0),
    };
}

/// The output size of a warp that keeps the image size, after checking the fill's channels.
pub(crate) fn warp_output_size(
    t: &str,
    fill: Option<&Fill>,
    input: ShapeRange,
) -> Result<ShapeRange> {
    if let Some(f) = fill {
        f.check_channels(t, input)?;
    }
    Ok(input)
}

/// torchvision's `_get_inverse_affine_matrix`: the 2×3 matrix mapping centred output
/// coordinates to centred input coordinates, for rotation `angle` (degrees), translation,
/// scale and shear (degrees) about `center` (centred coordinates: `(0, 0)` = image centre).
pub fn inverse_affine_matrix(center: (f64, f64), p: &AffineParams) -> [f64; 6] {
    let rot = p.angle.to_radians();
    let sx = p.shear.0.to_radians();
    let sy = p.shear.1.to_radians();
    let (cx, cy) = center;
    let (tx, ty) = p.translate;
    let a = (rot - sy).cos() / sy.cos();
    let b = -(a * sx.tan() + rot.sin());
    let c = (rot - sy).sin() / sy.cos();
    let d = rot.cos() - c * sx.tan();
    let s = p.scale;
    let mut m = [d / s, -b / s, 0.0, -c / s, a / s, 0.0];
    m[2] += cx - m[0] * (cx + tx) - m[1] * (cy + ty);
    m[5] += cy - m[3] * (cx + tx) - m[4] * (cy + ty);
    m
}

/// Converts a pixel-coordinate centre to torchvision's centred coordinates.
fn centred(center: Option<(f64, f64)>, h: usize, w: usize) -> (f64, f64) {
    center.map_or((0.0, 0.0), |(x, y)| {
        (x - w as f64 * 0.5, y - h as f64 * 0.5)
    })
}

/// Affine warp keeping the image size (torchvision `F.affine` on a float tensor).
///
/// `center` is in pixel coordinates (`None` = image centre); `fill = None` is torchvision's
/// `fill=None` (plain zero padding), `Some` applies its mask-and-fill rule.
pub fn affine<S: Data<Elem = f32>>(
    img: &ArrayBase<S, Ix3>,
    p: &AffineParams,
    interpolation: Interpolation,
    fill: Option<&Fill>,
    center: Option<(f64, f64)>,
) -> Array3<f32> {
    let (_, h, w) = img.dim();
    let m = inverse_affine_matrix(centred(center, h, w), p);
    warp_affine(img, m, h, w, interpolation, fill)
}

fn default_fill() -> Option<Fill> {
    Some(Fill::Scalar(0.0))
}

fn default_nearest() -> Interpolation {
    Interpolation::Nearest
}

/// Config of [`RandomAffine`] (torchvision defaults: no translation/scale/shear, nearest, fill 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomAffineConfig {
    /// Rotation range in degrees (`x` = `[−x, x]`).
    #[serde(default = "zero_range")]
    pub degrees: Range,
    /// Maximal translation as a fraction of `(width, height)`, each in `[0, 1]`.
    #[serde(default)]
    pub translate: Option<[f64; 2]>,
    /// Scale range `[lo, hi]`, `lo > 0`.
    #[serde(default)]
    pub scale: Option<[f64; 2]>,
    /// Shear in degrees: `x` (x-shear in `[−x, x]`), `[lo, hi]` (x-shear) or
    /// `[xlo, xhi, ylo, yhi]`.
    #[serde(default)]
    pub shear: Option<Shear>,
    /// Interpolation (nearest or bilinear).
    #[serde(default = "default_nearest")]
    pub interpolation: Interpolation,
    /// Fill outside the image (`null` = plain zero padding).
    #[serde(default = "default_fill")]
    pub fill: Option<Fill>,
    /// Centre of rotation in pixels (default: the image centre).
    #[serde(default)]
    pub center: Option<[f64; 2]>,
}

/// Shear ranges in degrees: `x` (x-shear in `[−x, x]`), `[lo, hi]` (x-shear) or
/// `[xlo, xhi, ylo, yhi]` (both).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Shear {
    /// x-shear in `[−x, x]`.
    Around(f64),
    /// `[lo, hi]` or `[xlo, xhi, ylo, yhi]`.
    Ranges(Vec<f64>),
}

fn zero_range() -> Range {
    Range::Around(0.0)
}

impl Default for RandomAffineConfig {
    fn default() -> Self {
        RandomAffineConfig {
            degrees: zero_range(),
            translate: None,
            scale: None,
            shear: None,
            interpolation: Interpolation::Nearest,
            fill: default_fill(),
            center: None,
        }
    }
}

pub(crate) fn check_warp_interp(t: &str, i: Interpolation) -> Result<()> {
    if i == Interpolation::Bicubic {
        Err(AugmentError::invalid(
            t,
            "interpolation",
            i.name(),
            "nearest or bilinear",
        ))
    } else {
        Ok(())
    }
}

impl RandomAffineConfig {
    /// Validates and builds the transform.
    pub fn init(&self) -> Result<RandomAffine> {
        let t = "random_affine";
        let degrees = self.degrees.resolve(t, "degrees", 0.0)?;
        check::range(t, "degrees", degrees, -360.0, 360.0)?;
        if let Some(tr) = self.translate {
            for v in tr {
                if !(0.0..=1.0).contains(&v) {
                    return Err(AugmentError::invalid(
                        t,
                        "translate",
                        tr,
                        "fractions in [0, 1]",
                    ));
                }
            }
        }
        if let Some(s) = self.scale {
            check::range(t, "scale", s, f64::MIN_POSITIVE, f64::MAX)?;
        }
        let shear_list = match &self.shear {
            None => None,
            Some(Shear::Around(x)) => Some(vec![*x]),
            Some(Shear::Ranges(v)) => Some(v.clone()),
        };
        let shear = match shear_list.as_deref() {
            None => None,
            Some([x]) if *x >= 0.0 => Some([-x, *x, 0.0, 0.0]),
            Some([a, b]) => Some([*a, *b, 0.0, 0.0]),
            Some([a, b, c, d]) => Some([*a, *b, *c, *d]),
            Some(v) => {
                return Err(AugmentError::invalid(
                    t,
                    "shear",
                    v,
                    "x ≥ 0, [lo, hi] or [xlo, xhi, ylo, yhi] (degrees)",
                ));
            }
        };
        if let Some(s) = shear {
            check::range(t, "shear", [s[0], s[1]], -90.0, 90.0)?;
            check::range(t, "shear", [s[2], s[3]], -90.0, 90.0)?;
        }
        check_warp_interp(t, self.interpolation)?;
        if let Some(f) = &self.fill {
            f.validate(t, "fill")?;
        }
        Ok(RandomAffine {
            cfg: self.clone(),
            degrees,
            shear,
        })
    }
}

/// Random rotation, translation, scale and shear about the centre (torchvision `RandomAffine`).
///
/// Parameters: `angle ~ U(degrees)`, `tx = round(U(−a·W, a·W))`, `ty` likewise,
/// `scale ~ U(scale)`, `shear_x ~ U(shear[0..2])`, `shear_y ~ U(shear[2..4])`.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomAffine {
    cfg: RandomAffineConfig,
    degrees: [f64; 2],
    shear: Option<[f64; 4]>,
}

impl RandomAffine {
    /// Samples the affine parameters for an `h × w` image.
    pub fn sample(&self, h: usize, w: usize, rng: &mut dyn RngCore) -> AffineParams {
        let angle = uniform(rng, self.degrees[0], self.degrees[1]);
        let translate = match self.cfg.translate {
            Some([a, b]) => {
                let (mx, my) = (a * w as f64, b * h as f64);
                let tx = uniform(rng, -mx, mx).round_ties_even();
                let ty = uniform(rng, -my, my).round_ties_even();
                (tx, ty)
            }
            None => (0.0, 0.0),
        };
        let scale = self.cfg.scale.map_or(1.0, |s| uniform(rng, s[0], s[1]));
        let shear = match self.shear {
            Some(s) => {
                let x = uniform(rng, s[0], s[1]);
                let y = if s[2] == 0.0 && s[3] == 0.0 {
                    0.0
                } else {
                    uniform(rng, s[2], s[3])
                };
                (x, y)
            }
            None => (0.0, 0.0),
        };
        AffineParams {
            angle,
            translate,
            scale,
            shear,
        }
    }

    fn center(&self) -> Option<(f64, f64)> {
        self.cfg.center.map(|[x, y]| (x, y))
    }
}

impl fmt::Display for RandomAffine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RandomAffine(degrees={:?}", self.degrees)?;
        if let Some(t) = self.cfg.translate {
            write!(f, ", translate={t:?}")?;
        }
        if let Some(s) = self.cfg.scale {
            write!(f, ", scale={s:?}")?;
        }
        if let Some(s) = self.shear {
            write!(f, ", shear={s:?}")?;
        }
        write!(f, ", interpolation={}", self.cfg.interpolation)?;
        match &self.cfg.fill {
            Some(fl) => write!(f, ", fill={fl}")?,
            None => write!(f, ", fill=None")?,
        }
        if let Some(c) = self.cfg.center {
            write!(f, ", center={c:?}")?;
        }
        write!(f, ")")
    }
}

impl Transform for RandomAffine {
    type Params = AffineParams;
    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> AffineParams {
        self.sample(shape[1], shape[2], rng)
    }
    fn apply(&self, img: &Array3<f32>, p: &AffineParams) -> Array3<f32> {
        affine(
            img,
            p,
            self.cfg.interpolation,
            self.cfg.fill.as_ref(),
            self.center(),
        )
    }
    fn apply_mask(&self, mask: &Array3<f32>, p: &AffineParams) -> Array3<f32> {
        affine(mask, p, Interpolation::Nearest, None, self.center())
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        warp_output_size("random_affine", self.cfg.fill.as_ref(), input)
    }
}

/// Config of [`RandomStretch`]: independent scale factors along x and y.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomStretchConfig {
    /// Horizontal scale range `[lo, hi]`, `lo > 0`.
    pub x: [f64; 2],
    /// Vertical scale range `[lo, hi]`, `lo > 0`.
    pub y: [f64; 2],
    /// Interpolation (nearest or bilinear).
    #[serde(default)]
    pub interpolation: Interpolation,
    /// Fill outside the image (`null` = plain zero padding).
    #[serde(default = "default_fill")]
    pub fill: Option<Fill>,
}

impl RandomStretchConfig {
    /// Validates and builds the transform.
    pub fn init(&self) -> Result<RandomStretch> {
        let t = "random_stretch";
        check::range(t, "x", self.x, f64::MIN_POSITIVE, f64::MAX)?;
        check::range(t, "y", self.y, f64::MIN_POSITIVE, f64::MAX)?;
        check_warp_interp(t, self.interpolation)?;
        if let Some(f) = &self.fill {
            f.validate(t, "fill")?;
        }
        Ok(RandomStretch { cfg: self.clone() })
    }
}

/// Anisotropic scaling about the image centre ("stretching"): `x' = sx·x`, `y' = sy·y` in centred
/// coordinates, `sx ~ U(x)`, `sy ~ U(y)`; the image size is kept.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomStretch {
    cfg: RandomStretchConfig,
}

/// The inverse matrix of a stretch by `(sx, sy)` about the centre.
pub fn stretch_matrix(sx: f64, sy: f64) -> [f64; 6] {
    [1.0 / sx, 0.0, 0.0, 0.0, 1.0 / sy, 0.0]
}

impl fmt::Display for RandomStretch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RandomStretch(x={:?}, y={:?}, interpolation={})",
            self.cfg.x, self.cfg.y, self.cfg.interpolation
        )
    }
}

/// Sampled factors of a [`RandomStretch`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StretchFactors {
    /// Horizontal scale factor `sx`.
    pub x: f64,
    /// Vertical scale factor `sy`.
    pub y: f64,
}

impl Transform for RandomStretch {
    type Params = StretchFactors;
    fn sample_params(&self, _shape: Shape, rng: &mut dyn RngCore) -> StretchFactors {
        let x = uniform(rng, self.cfg.x[0], self.cfg.x[1]);
        let y = uniform(rng, self.cfg.y[0], self.cfg.y[1]);
        StretchFactors { x, y }
    }
    fn apply(&self, img: &Array3<f32>, s: &StretchFactors) -> Array3<f32> {
        let (_, h, w) = img.dim();
        let m = stretch_matrix(s.x, s.y);
        warp_affine(img, m, h, w, self.cfg.interpolation, self.cfg.fill.as_ref())
    }
    fn apply_mask(&self, mask: &Array3<f32>, s: &StretchFactors) -> Array3<f32> {
        let (_, h, w) = mask.dim();
        warp_affine(
            mask,
            stretch_matrix(s.x, s.y),
            h,
            w,
            Interpolation::Nearest,
            None,
        )
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        warp_output_size("random_stretch", self.cfg.fill.as_ref(), input)
    }
}
