//! RandAugment (Cubuk et al. 2020, "RandAugment: Practical automated data augmentation with a
//! reduced search space"): `N` operations drawn uniformly from 14, all at the same magnitude bin
//! `M` (of 31 by default); and TrivialAugmentWide (Müller & Hutter 2021): one operation, one
//! uniformly random magnitude bin, from a wider magnitude space.

use super::autoaugment::{apply_ops, apply_ops_mask, policy_output_size, signed};
use super::op::{AugOp, MagnitudeSpace};
use crate::error::{AugmentError, Result};
use crate::interpolation::Interpolation;
use crate::padding::Fill;
use crate::shape::{Shape, ShapeRange};
use crate::transform::Transform;
use ndarray::Array3;
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use std::fmt;

fn two() -> usize {
    2
}
fn nine() -> usize {
    9
}
fn bins() -> usize {
    31
}
fn nearest() -> Interpolation {
    Interpolation::Nearest
}

/// The largest `num_ops` accepted: each operation costs a full pass over the image, and
/// RandAugment (Cubuk et al., 2020) uses N = 1 to 3; a million would hang the loader.
pub const MAX_RAND_AUGMENT_OPS: usize = 32;

/// Config of [`RandAugment`] (torchvision defaults: N = 2, M = 9 of 31 bins, nearest).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandAugmentConfig {
    /// Number of operations per image (`N`).
    #[serde(default = "two")]
    pub num_ops: usize,
    /// Magnitude bin (`M`), `< num_magnitude_bins`.
    #[serde(default = "nine")]
    pub magnitude: usize,
    /// Number of magnitude bins (≥ 2).
    #[serde(default = "bins")]
    pub num_magnitude_bins: usize,
    /// Interpolation of the geometric operations.
    #[serde(default = "nearest")]
    pub interpolation: Interpolation,
    /// Fill of the geometric operations (`null` = zero padding).
    #[serde(default)]
    pub fill: Option<Fill>,
}

impl Default for RandAugmentConfig {
    fn default() -> Self {
        RandAugmentConfig {
            num_ops: 2,
            magnitude: 9,
            num_magnitude_bins: 31,
            interpolation: Interpolation::Nearest,
            fill: None,
        }
    }
}

fn check_common(t: &str, bins: usize, interp: Interpolation, fill: Option<&Fill>) -> Result<()> {
    if bins < 2 {
        return Err(AugmentError::invalid(t, "num_magnitude_bins", bins, "≥ 2"));
    }
    crate::geometry::affine::check_warp_interp(t, interp)?;
    if let Some(f) = fill {
        f.validate(t, "fill")?;
    }
    Ok(())
}

impl RandAugmentConfig {
    /// Validates and builds the transform.
    pub fn init(&self) -> Result<RandAugment> {
        let t = "rand_augment";
        check_common(
            t,
            self.num_magnitude_bins,
            self.interpolation,
            self.fill.as_ref(),
        )?;
        if self.num_ops > MAX_RAND_AUGMENT_OPS {
            return Err(AugmentError::invalid(
                t,
                "num_ops",
                self.num_ops,
                format!(
                    "at most {MAX_RAND_AUGMENT_OPS} operations per image (the paper uses 1 to 3)"
                ),
            ));
        }
        if self.magnitude >= self.num_magnitude_bins {
            return Err(AugmentError::invalid(
                t,
                "magnitude",
                self.magnitude,
                format!("a bin in [0, {}]", self.num_magnitude_bins - 1),
            ));
        }
        Ok(RandAugment { cfg: self.clone() })
    }
}

/// RandAugment(N, M).
#[derive(Clone, Debug, PartialEq)]
pub struct RandAugment {
    cfg: RandAugmentConfig,
}

impl RandAugment {
    /// `num_ops` operations at magnitude bin `magnitude` of 31.
    pub fn new(num_ops: usize, magnitude: usize) -> Result<Self> {
        RandAugmentConfig {
            num_ops,
            magnitude,
            ..Default::default()
        }
        .init()
    }
}

impl fmt::Display for RandAugment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RandAugment(num_ops={}, magnitude={}, num_magnitude_bins={}, interpolation={})",
            self.cfg.num_ops,
            self.cfg.magnitude,
            self.cfg.num_magnitude_bins,
            self.cfg.interpolation
        )
    }
}

impl Transform for RandAugment {
    type Params = Vec<(AugOp, f64)>;
    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> Vec<(AugOp, f64)> {
        let [_, h, w] = shape;
        (0..self.cfg.num_ops)
            .map(|_| {
                let op = AugOp::RANDAUGMENT[rng.random_range(0..AugOp::RANDAUGMENT.len())];
                let m = MagnitudeSpace::Standard.magnitude(
                    op,
                    self.cfg.magnitude,
                    self.cfg.num_magnitude_bins,
                    h,
                    w,
                );
                (op, signed(rng, m))
            })
            .collect()
    }
    fn apply(&self, img: &Array3<f32>, ops: &Vec<(AugOp, f64)>) -> Array3<f32> {
        self.apply_owned(img.clone(), ops)
    }
    fn apply_owned(&self, img: Array3<f32>, ops: &Vec<(AugOp, f64)>) -> Array3<f32> {
        apply_ops(img, ops, self.cfg.interpolation, self.cfg.fill.as_ref())
    }
    fn apply_mask(&self, mask: &Array3<f32>, ops: &Vec<(AugOp, f64)>) -> Array3<f32> {
        apply_ops_mask(mask, ops)
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        policy_output_size("rand_augment", self.cfg.fill.as_ref(), input)
    }
}

/// Config of [`TrivialAugmentWide`] (torchvision defaults: 31 bins, nearest).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrivialAugmentWideConfig {
    /// Number of magnitude bins (≥ 2).
    #[serde(default = "bins")]
    pub num_magnitude_bins: usize,
    /// Interpolation of the geometric operations.
    #[serde(default = "nearest")]
    pub interpolation: Interpolation,
    /// Fill of the geometric operations (`null` = zero padding).
    #[serde(default)]
    pub fill: Option<Fill>,
}

impl Default for TrivialAugmentWideConfig {
    fn default() -> Self {
        TrivialAugmentWideConfig {
            num_magnitude_bins: 31,
            interpolation: Interpolation::Nearest,
            fill: None,
        }
    }
}

impl TrivialAugmentWideConfig {
    /// Validates and builds the transform.
    pub fn init(&self) -> Result<TrivialAugmentWide> {
        check_common(
            "trivial_augment_wide",
            self.num_magnitude_bins,
            self.interpolation,
            self.fill.as_ref(),
        )?;
        Ok(TrivialAugmentWide { cfg: self.clone() })
    }
}

/// TrivialAugmentWide: one random operation at a random magnitude.
#[derive(Clone, Debug, PartialEq)]
pub struct TrivialAugmentWide {
    cfg: TrivialAugmentWideConfig,
}

impl fmt::Display for TrivialAugmentWide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TrivialAugmentWide(num_magnitude_bins={}, interpolation={})",
            self.cfg.num_magnitude_bins, self.cfg.interpolation
        )
    }
}

impl Transform for TrivialAugmentWide {
    type Params = Vec<(AugOp, f64)>;
    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> Vec<(AugOp, f64)> {
        let [_, h, w] = shape;
        let op = AugOp::RANDAUGMENT[rng.random_range(0..AugOp::RANDAUGMENT.len())];
        let n = self.cfg.num_magnitude_bins;
        let m = MagnitudeSpace::Wide.magnitude(op, 0, n, h, w).map(|_| {
            let bin = rng.random_range(0..n);
            MagnitudeSpace::Wide
                .magnitude(op, bin, n, h, w)
                .expect("op has a magnitude")
        });
        vec![(op, signed(rng, m))]
    }
    fn apply(&self, img: &Array3<f32>, ops: &Vec<(AugOp, f64)>) -> Array3<f32> {
        self.apply_owned(img.clone(), ops)
    }
    fn apply_owned(&self, img: Array3<f32>, ops: &Vec<(AugOp, f64)>) -> Array3<f32> {
        apply_ops(img, ops, self.cfg.interpolation, self.cfg.fill.as_ref())
    }
    fn apply_mask(&self, mask: &Array3<f32>, ops: &Vec<(AugOp, f64)>) -> Array3<f32> {
        apply_ops_mask(mask, ops)
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        policy_output_size("trivial_augment_wide", self.cfg.fill.as_ref(), input)
    }
}
