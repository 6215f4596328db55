//! The operations of the AutoAugment family and their magnitude spaces (torchvision's
//! `_AUGMENTATION_SPACE` tables and `_apply_image_or_video_transform`).
//!
//! | op | effect of magnitude `m` | standard space (AutoAugment, RandAugment) | wide (TrivialAugment) |
//! |---|---|---|---|
//! | ShearX/Y | affine shear `atan(m)` about the top-left corner | `[0, 0.3]` ± | `[0, 0.99]` ± |
//! | TranslateX/Y | shift by `trunc(m)` pixels | `[0, 150/331·W]` ± | `[0, 32]` ± |
//! | Rotate | rotate by `m` degrees | `[0, 30]` ± | `[0, 135]` ± |
//! | Brightness/Color/Contrast/Sharpness | factor `1 + m` | `[0, 0.9]` ± | `[0, 0.99]` ± |
//! | Posterize | `m` bits | `8 − round(i/((n−1)/4))` | `8 − round(i/((n−1)/6))` |
//! | Solarize | threshold `m` | `[1, 0]` | `[1, 0]` |
//! | AutoContrast, Equalize, Invert, Identity | — | — | — |
//!
//! "±": the sign is flipped with probability ½.

use crate::color::adjust::{brightness_inplace, contrast_inplace, saturation_inplace};
use crate::color::ops;
use crate::geometry::affine::AffineParams;
use crate::geometry::affine::affine;
use crate::geometry::rotate::rotate;
use crate::interpolation::Interpolation;
use crate::padding::Fill;
use ndarray::Array3;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One augmentation operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum AugOp {
    Identity,
    ShearX,
    ShearY,
    TranslateX,
    TranslateY,
    Rotate,
    Brightness,
    Color,
    Contrast,
    Sharpness,
    Posterize,
    Solarize,
    AutoContrast,
    Equalize,
    Invert,
}

impl AugOp {
    /// The 14 operations of RandAugment and TrivialAugmentWide, in torchvision's order.
    pub const RANDAUGMENT: [AugOp; 14] = [
        AugOp::Identity,
        AugOp::ShearX,
        AugOp::ShearY,
        AugOp::TranslateX,
        AugOp::TranslateY,
        AugOp::Rotate,
        AugOp::Brightness,
        AugOp::Color,
        AugOp::Contrast,
        AugOp::Sharpness,
        AugOp::Posterize,
        AugOp::Solarize,
        AugOp::AutoContrast,
        AugOp::Equalize,
    ];

    /// `true` for the operations that move pixels (they also apply to masks).
    pub fn is_geometric(self) -> bool {
        matches!(
            self,
            AugOp::ShearX | AugOp::ShearY | AugOp::TranslateX | AugOp::TranslateY | AugOp::Rotate
        )
    }
}

impl fmt::Display for AugOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Magnitude tables: torchvision's standard space (AutoAugment, RandAugment) or TrivialAugment's
/// wide space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MagnitudeSpace {
    /// AutoAugment / RandAugment.
    Standard,
    /// TrivialAugmentWide.
    Wide,
}

fn linspace(a: f64, b: f64, n: usize, i: usize) -> f64 {
    // torch.linspace in float32
    if n <= 1 {
        return a as f32 as f64;
    }
    let step = (b as f32 - a as f32) / (n - 1) as f32;
    let v = if i < n / 2 {
        a as f32 + step * i as f32
    } else {
        b as f32 - step * (n - 1 - i) as f32
    };
    v as f64
}

impl MagnitudeSpace {
    /// Magnitude of `op` at bin `i` of `n` for an `h × w` image, and whether its sign is random;
    /// `None` for operations without a magnitude.
    pub fn magnitude(
        self,
        op: AugOp,
        i: usize,
        n: usize,
        h: usize,
        w: usize,
    ) -> Option<(f64, bool)> {
        let wide = self == MagnitudeSpace::Wide;
        let (lin_max, signed) = match op {
            AugOp::ShearX | AugOp::ShearY => (if wide { 0.99 } else { 0.3 }, true),
            AugOp::TranslateX => (if wide { 32.0 } else { 150.0 / 331.0 * w as f64 }, true),
            AugOp::TranslateY => (if wide { 32.0 } else { 150.0 / 331.0 * h as f64 }, true),
            AugOp::Rotate => (if wide { 135.0 } else { 30.0 }, true),
            AugOp::Brightness | AugOp::Color | AugOp::Contrast | AugOp::Sharpness => {
                (if wide { 0.99 } else { 0.9 }, true)
            }
            AugOp::Posterize => {
                let d = if wide { 6.0 } else { 4.0 };
                let v = (8.0 - (i as f64 / ((n as f64 - 1.0) / d))).round_ties_even();
                return Some((v, false));
            }
            AugOp::Solarize => return Some((linspace(1.0, 0.0, n, i), false)),
            AugOp::Identity | AugOp::AutoContrast | AugOp::Equalize | AugOp::Invert => return None,
        };
        Some((linspace(0.0, lin_max, n, i), signed))
    }
}

/// Applies `op` with `magnitude` (torchvision's `_apply_image_or_video_transform` on a float
/// image). `fill` as in [`crate::functional::affine`].
pub fn apply_op(
    img: Array3<f32>,
    op: AugOp,
    magnitude: f64,
    interpolation: Interpolation,
    fill: Option<&Fill>,
) -> Array3<f32> {
    let mut img = img;
    match op {
        AugOp::Identity => img,
        AugOp::ShearX | AugOp::ShearY | AugOp::TranslateX | AugOp::TranslateY | AugOp::Rotate => {
            geometric(&img, op, magnitude, interpolation, fill)
        }
        AugOp::Brightness => {
            brightness_inplace(&mut img, (1.0 + magnitude) as f32);
            img
        }
        AugOp::Color => {
            saturation_inplace(&mut img, (1.0 + magnitude) as f32);
            img
        }
        AugOp::Contrast => {
            contrast_inplace(&mut img, (1.0 + magnitude) as f32);
            img
        }
        AugOp::Sharpness => {
            ops::sharpness_inplace(&mut img, (1.0 + magnitude) as f32);
            img
        }
        AugOp::Posterize => {
            ops::posterize_inplace(&mut img, magnitude.clamp(0.0, 8.0) as u32);
            img
        }
        AugOp::Solarize => {
            ops::solarize_inplace(&mut img, magnitude as f32);
            img
        }
        AugOp::AutoContrast => {
            ops::autocontrast_inplace(&mut img);
            img
        }
        AugOp::Equalize => {
            ops::equalize_inplace(&mut img);
            img
        }
        AugOp::Invert => {
            ops::invert_inplace(&mut img);
            img
        }
    }
}

/// The geometric part of [`apply_op`] (also used for masks).
pub(crate) fn geometric(
    img: &Array3<f32>,
    op: AugOp,
    m: f64,
    interpolation: Interpolation,
    fill: Option<&Fill>,
) -> Array3<f32> {
    let id = AffineParams::IDENTITY;
    match op {
        AugOp::ShearX => {
            let p = AffineParams {
                shear: (m.atan().to_degrees(), 0.0),
                ..id
            };
            affine(img, &p, interpolation, fill, Some((0.0, 0.0)))
        }
        AugOp::ShearY => {
            let p = AffineParams {
                shear: (0.0, m.atan().to_degrees()),
                ..id
            };
            affine(img, &p, interpolation, fill, Some((0.0, 0.0)))
        }
        AugOp::TranslateX => {
            let p = AffineParams {
                translate: (m.trunc(), 0.0),
                ..id
            };
            affine(img, &p, interpolation, fill, None)
        }
        AugOp::TranslateY => {
            let p = AffineParams {
                translate: (0.0, m.trunc()),
                ..id
            };
            affine(img, &p, interpolation, fill, None)
        }
        AugOp::Rotate => rotate(img, m, interpolation, false, None, fill),
        _ => img.clone(),
    }
}
