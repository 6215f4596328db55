//! Rotation: `rotate` (torchvision `F.rotate`, counter-clockwise for positive angles, optional
//! `expand`) and `RandomRotation`.
//!
//! Multiples of 90° about the centre are exact index permutations (as torchvision's `rot90` fast
//! path); other angles use the affine warp with the inverse matrix of a rotation by `−angle`.

use super::affine::{AffineParams, check_warp_interp, inverse_affine_matrix, warp_output_size};
use crate::error::{Result, check};
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

/// `k` quarter turns counter-clockwise (`torch.rot90(img, k, dims=(-2, -1))`).
pub fn rot90<S: Data<Elem = f32>>(img: &ArrayBase<S, Ix3>, k: usize) -> Array3<f32> {
    let (c, h, w) = img.dim();
    match k % 4 {
        0 => img.to_owned(),
        1 => Array3::from_shape_fn((c, w, h), |(ch, i, j)| img[[ch, j, w - 1 - i]]),
        2 => Array3::from_shape_fn((c, h, w), |(ch, i, j)| img[[ch, h - 1 - i, w - 1 - j]]),
        _ => Array3::from_shape_fn((c, w, h), |(ch, i, j)| img[[ch, h - 1 - j, i]]),
    }
}

fn rotation_matrix(angle: f64, center: Option<(f64, f64)>, h: usize, w: usize) -> [f64; 6] {
    let c = center.map_or((0.0, 0.0), |(x, y)| {
        (x - w as f64 * 0.5, y - h as f64 * 0.5)
    });
    inverse_affine_matrix(
        c,
        &AffineParams {
            angle: -angle,
            ..AffineParams::IDENTITY
        },
    )
}

/// Output `(height, width)` of a rotation with `expand` (torchvision
/// `_compute_affine_output_size`, including its 1e-4 truncation).
pub fn expanded_size(angle: f64, h: usize, w: usize) -> (usize, usize) {
    let angle = angle.rem_euclid(360.0);
    if angle == 0.0 || angle == 180.0 {
        return (h, w);
    }
    if angle == 90.0 || angle == 270.0 {
        return (w, h);
    }
    let m = rotation_matrix(angle, None, h, w);
    let (hw, hh) = (0.5 * w as f64, 0.5 * h as f64);
    let pts = [(-hw, -hh), (-hw, hh), (hw, hh), (hw, -hh)];
    let (mut minx, mut maxx, mut miny, mut maxy) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in pts {
        // torchvision computes these in f32.
        let nx = (m[0] as f32 * x as f32 + m[1] as f32 * y as f32 + m[2] as f32) as f64 + hw;
        let ny = (m[3] as f32 * x as f32 + m[4] as f32 * y as f32 + m[5] as f32) as f64 + hh;
        minx = minx.min(nx);
        maxx = maxx.max(nx);
        miny = miny.min(ny);
        maxy = maxy.max(ny);
    }
    let trunc = |v: f64| (v * 1e4).trunc() * 1e-4;
    let nw = trunc(maxx).ceil() - trunc(minx).floor();
    let nh = trunc(maxy).ceil() - trunc(miny).floor();
    (nh as usize, nw as usize)
}

/// The angles of `[lo, hi]` (degrees) where [`expanded_size`] of an `h × w` image can be
/// smallest or largest: the ends, the multiples of 90° (kinks of |cos|, |sin|) and the angles
/// `k·90° ± atan(h/w)`, `k·90° ± atan(w/h)` where the rotated box's width or height peaks.
fn expanded_extreme_angles(lo: f64, hi: f64, h: usize, w: usize) -> Vec<f64> {
    let t1 = (h as f64).atan2(w as f64).to_degrees();
    let t2 = 90.0 - t1;
    let mut out = vec![lo, hi];
    let (k0, k1) = (
        (lo / 90.0).floor() as i64 - 1,
        (hi / 90.0).ceil() as i64 + 1,
    );
    for k in k0..=k1 {
        let base = k as f64 * 90.0;
        for a in [base, base + t1, base - t1, base + t2, base - t2] {
            if lo <= a && a <= hi {
                out.push(a);
            }
        }
    }
    out
}

/// Rotates by `angle` degrees counter-clockwise (torchvision `F.rotate` on a float tensor).
///
/// `center` in pixel coordinates (`None` = image centre); `expand` enlarges the output to hold the
/// whole rotated image.
pub fn rotate<S: Data<Elem = f32>>(
    img: &ArrayBase<S, Ix3>,
    angle: f64,
    interpolation: Interpolation,
    expand: bool,
    center: Option<(f64, f64)>,
    fill: Option<&Fill>,
) -> Array3<f32> {
    let (_, h, w) = img.dim();
    let a = angle.rem_euclid(360.0);
    if center.is_none() {
        if a == 0.0 {
            return img.to_owned();
        }
        if a == 180.0 {
            return rot90(img, 2);
        }
        if expand || h == w {
            if a == 90.0 {
                return rot90(img, 1);
            }
            if a == 270.0 {
                return rot90(img, 3);
            }
        }
    }
    let m = rotation_matrix(a, center, h, w);
    let (oh, ow) = if expand {
        expanded_size(a, h, w)
    } else {
        (h, w)
    };
    warp_affine(img, m, oh, ow, interpolation, fill)
}

fn default_fill() -> Option<Fill> {
    Some(Fill::Scalar(0.0))
}

fn default_nearest() -> Interpolation {
    Interpolation::Nearest
}

/// Config of [`RandomRotation`] (torchvision defaults: nearest, no expand, fill 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomRotationConfig {
    /// Angle range in degrees (`x` = `[−x, x]`).
    pub degrees: Range,
    /// Interpolation (nearest or bilinear).
    #[serde(default = "default_nearest")]
    pub interpolation: Interpolation,
    /// Enlarge the output to contain the whole rotated image.
    #[serde(default)]
    pub expand: bool,
    /// Centre of rotation in pixels (default: image centre).
    #[serde(default)]
    pub center: Option<[f64; 2]>,
    /// Fill outside the image (`null` = plain zero padding).
    #[serde(default = "default_fill")]
    pub fill: Option<Fill>,
}

impl RandomRotationConfig {
    /// Torchvision defaults for `degrees`.
    pub fn new(degrees: impl Into<Range>) -> Self {
        RandomRotationConfig {
            degrees: degrees.into(),
            interpolation: Interpolation::Nearest,
            expand: false,
            center: None,
            fill: default_fill(),
        }
    }

    /// Validates and builds the transform.
    pub fn init(&self) -> Result<RandomRotation> {
        let t = "random_rotation";
        let degrees = self.degrees.resolve(t, "degrees", 0.0)?;
        check::range(t, "degrees", degrees, -3600.0, 3600.0)?;
        check_warp_interp(t, self.interpolation)?;
        if let Some(f) = &self.fill {
            f.validate(t, "fill")?;
        }
        Ok(RandomRotation {
            cfg: self.clone(),
            degrees,
        })
    }
}

/// Rotation by `angle ~ U(degrees)` (torchvision `RandomRotation`).
#[derive(Clone, Debug, PartialEq)]
pub struct RandomRotation {
    cfg: RandomRotationConfig,
    degrees: [f64; 2],
}

impl RandomRotation {
    fn center(&self) -> Option<(f64, f64)> {
        self.cfg.center.map(|[x, y]| (x, y))
    }
}

impl fmt::Display for RandomRotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RandomRotation(degrees={:?}, interpolation={}, expand={}",
            self.degrees, self.cfg.interpolation, self.cfg.expand
        )?;
        if let Some(c) = self.cfg.center {
            write!(f, ", center={c:?}")?;
        }
        match &self.cfg.fill {
            Some(fl) => write!(f, ", fill={fl})"),
            None => write!(f, ", fill=None)"),
        }
    }
}

/// Parameters: the angle in degrees.
impl Transform for RandomRotation {
    type Params = f64;
    fn sample_params(&self, _shape: Shape, rng: &mut dyn RngCore) -> f64 {
        uniform(rng, self.degrees[0], self.degrees[1])
    }
    fn apply(&self, img: &Array3<f32>, &angle: &f64) -> Array3<f32> {
        rotate(
            img,
            angle,
            self.cfg.interpolation,
            self.cfg.expand,
            self.center(),
            self.cfg.fill.as_ref(),
        )
    }
    fn apply_mask(&self, mask: &Array3<f32>, &angle: &f64) -> Array3<f32> {
        rotate(
            mask,
            angle,
            Interpolation::Nearest,
            self.cfg.expand,
            self.center(),
            None,
        )
    }
    fn output_shape(&self, shape: Shape, &angle: &f64) -> Shape {
        if self.cfg.expand {
            let (h, w) = expanded_size(angle, shape[1], shape[2]);
            [shape[0], h, w]
        } else {
            shape
        }
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        let input = warp_output_size("random_rotation", self.cfg.fill.as_ref(), input)?;
        if !self.cfg.expand {
            return Ok(input);
        }
        let [lo, hi] = self.degrees;
        let outputs = input.hw_corners().into_iter().flat_map(|(h, w)| {
            expanded_extreme_angles(lo, hi, h, w)
                .into_iter()
                .map(move |a| expanded_size(a, h, w))
        });
        Ok(input.hw_bounds(outputs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::test_image;

    #[test]
    fn quarter_turns_compose_and_swap_the_sides() {
        let img = test_image(3, 5);
        let r1 = rot90(&img, 1);
        assert_eq!(r1.dim(), (3, 5, 3));
        // Counter-clockwise: the top-right pixel goes to the top-left.
        assert_eq!(r1[[0, 0, 0]], img[[0, 0, 4]]);
        assert_eq!(rot90(&r1, 1), rot90(&img, 2));
        assert_eq!(rot90(&img, 4), img);
        assert_eq!(rot90(&rot90(&img, 3), 1), img);
    }

    #[test]
    fn expanded_size_of_right_angles_and_45_degrees() {
        assert_eq!(expanded_size(0.0, 10, 20), (10, 20));
        assert_eq!(expanded_size(180.0, 10, 20), (10, 20));
        assert_eq!(expanded_size(90.0, 10, 20), (20, 10));
        assert_eq!(expanded_size(-90.0, 10, 20), (20, 10));
        // Values of torchvision's `rotate(..., expand=True)`: the rotated corners ±7.07 around
        // the centre give floor/ceil bounds 16 apart; 30° on 10×20 gives 20×24.
        assert_eq!(expanded_size(45.0, 10, 10), (16, 16));
        assert_eq!(expanded_size(30.0, 10, 20), (20, 24));
    }
}
