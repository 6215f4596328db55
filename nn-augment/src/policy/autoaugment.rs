//! AutoAugment (Cubuk et al. 2019, "AutoAugment: Learning Augmentation Strategies from Data"):
//! pick one of 25 learned sub-policies uniformly; each is two operations applied with their own
//! probability and magnitude bin (of 10). Policies for ImageNet, CIFAR-10 and SVHN, transcribed
//! from the paper's appendix as torchvision does.

use super::op::{AugOp, MagnitudeSpace, apply_op, geometric};
use crate::error::Result;
use crate::interpolation::Interpolation;
use crate::padding::Fill;
use crate::shape::{Shape, ShapeRange};
use crate::transform::{Transform, bernoulli, gray_or_rgb};
use ndarray::Array3;
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use std::fmt;

use AugOp::*;

/// Which learned policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoAugmentPolicy {
    /// Learned on reduced ImageNet.
    #[default]
    Imagenet,
    /// Learned on reduced CIFAR-10.
    Cifar10,
    /// Learned on reduced SVHN.
    Svhn,
}

type Sub = [(AugOp, f64, usize); 2];

const NO: usize = 0;

const IMAGENET: [Sub; 25] = [
    [(Posterize, 0.4, 8), (Rotate, 0.6, 9)],
    [(Solarize, 0.6, 5), (AutoContrast, 0.6, NO)],
    [(Equalize, 0.8, NO), (Equalize, 0.6, NO)],
    [(Posterize, 0.6, 7), (Posterize, 0.6, 6)],
    [(Equalize, 0.4, NO), (Solarize, 0.2, 4)],
    [(Equalize, 0.4, NO), (Rotate, 0.8, 8)],
    [(Solarize, 0.6, 3), (Equalize, 0.6, NO)],
    [(Posterize, 0.8, 5), (Equalize, 1.0, NO)],
    [(Rotate, 0.2, 3), (Solarize, 0.6, 8)],
    [(Equalize, 0.6, NO), (Posterize, 0.4, 6)],
    [(Rotate, 0.8, 8), (Color, 0.4, 0)],
    [(Rotate, 0.4, 9), (Equalize, 0.6, NO)],
    [(Equalize, 0.0, NO), (Equalize, 0.8, NO)],
    [(Invert, 0.6, NO), (Equalize, 1.0, NO)],
    [(Color, 0.6, 4), (Contrast, 1.0, 8)],
    [(Rotate, 0.8, 8), (Color, 1.0, 2)],
    [(Color, 0.8, 8), (Solarize, 0.8, 7)],
    [(Sharpness, 0.4, 7), (Invert, 0.6, NO)],
    [(ShearX, 0.6, 5), (Equalize, 1.0, NO)],
    [(Color, 0.4, 0), (Equalize, 0.6, NO)],
    [(Equalize, 0.4, NO), (Solarize, 0.2, 4)],
    [(Solarize, 0.6, 5), (AutoContrast, 0.6, NO)],
    [(Invert, 0.6, NO), (Equalize, 1.0, NO)],
    [(Color, 0.6, 4), (Contrast, 1.0, 8)],
    [(Equalize, 0.8, NO), (Equalize, 0.6, NO)],
];

const CIFAR10: [Sub; 25] = [
    [(Invert, 0.1, NO), (Contrast, 0.2, 6)],
    [(Rotate, 0.7, 2), (TranslateX, 0.3, 9)],
    [(Sharpness, 0.8, 1), (Sharpness, 0.9, 3)],
    [(ShearY, 0.5, 8), (TranslateY, 0.7, 9)],
    [(AutoContrast, 0.5, NO), (Equalize, 0.9, NO)],
    [(ShearY, 0.2, 7), (Posterize, 0.3, 7)],
    [(Color, 0.4, 3), (Brightness, 0.6, 7)],
    [(Sharpness, 0.3, 9), (Brightness, 0.7, 9)],
    [(Equalize, 0.6, NO), (Equalize, 0.5, NO)],
    [(Contrast, 0.6, 7), (Sharpness, 0.6, 5)],
    [(Color, 0.7, 7), (TranslateX, 0.5, 8)],
    [(Equalize, 0.3, NO), (AutoContrast, 0.4, NO)],
    [(TranslateY, 0.4, 3), (Sharpness, 0.2, 6)],
    [(Brightness, 0.9, 6), (Color, 0.2, 8)],
    [(Solarize, 0.5, 2), (Invert, 0.0, NO)],
    [(Equalize, 0.2, NO), (AutoContrast, 0.6, NO)],
    [(Equalize, 0.2, NO), (Equalize, 0.6, NO)],
    [(Color, 0.9, 9), (Equalize, 0.6, NO)],
    [(AutoContrast, 0.8, NO), (Solarize, 0.2, 8)],
    [(Brightness, 0.1, 3), (Color, 0.7, 0)],
    [(Solarize, 0.4, 5), (AutoContrast, 0.9, NO)],
    [(TranslateY, 0.9, 9), (TranslateY, 0.7, 9)],
    [(AutoContrast, 0.9, NO), (Solarize, 0.8, 3)],
    [(Equalize, 0.8, NO), (Invert, 0.1, NO)],
    [(TranslateY, 0.7, 9), (AutoContrast, 0.9, NO)],
];

const SVHN: [Sub; 25] = [
    [(ShearX, 0.9, 4), (Invert, 0.2, NO)],
    [(ShearY, 0.9, 8), (Invert, 0.7, NO)],
    [(Equalize, 0.6, NO), (Solarize, 0.6, 6)],
    [(Invert, 0.9, NO), (Equalize, 0.6, NO)],
    [(Equalize, 0.6, NO), (Rotate, 0.9, 3)],
    [(ShearX, 0.9, 4), (AutoContrast, 0.8, NO)],
    [(ShearY, 0.9, 8), (Invert, 0.4, NO)],
    [(ShearY, 0.9, 5), (Solarize, 0.2, 6)],
    [(Invert, 0.9, NO), (AutoContrast, 0.8, NO)],
    [(Equalize, 0.6, NO), (Rotate, 0.9, 3)],
    [(ShearX, 0.9, 4), (Solarize, 0.3, 3)],
    [(ShearY, 0.8, 8), (Invert, 0.7, NO)],
    [(Equalize, 0.9, NO), (TranslateY, 0.6, 6)],
    [(Invert, 0.9, NO), (Equalize, 0.6, NO)],
    [(Contrast, 0.3, 3), (Rotate, 0.8, 4)],
    [(Invert, 0.8, NO), (TranslateY, 0.0, 2)],
    [(ShearY, 0.7, 6), (Solarize, 0.4, 8)],
    [(Invert, 0.6, NO), (Rotate, 0.8, 4)],
    [(ShearY, 0.3, 7), (TranslateX, 0.9, 3)],
    [(ShearX, 0.1, 6), (Invert, 0.6, NO)],
    [(Solarize, 0.7, 2), (TranslateY, 0.6, 7)],
    [(ShearY, 0.8, 4), (Invert, 0.8, NO)],
    [(ShearX, 0.7, 9), (TranslateY, 0.8, 3)],
    [(ShearY, 0.8, 5), (AutoContrast, 0.7, NO)],
    [(ShearX, 0.7, 2), (Invert, 0.1, NO)],
];

impl AutoAugmentPolicy {
    /// The 25 sub-policies: `(op, probability, magnitude bin)` pairs.
    pub fn sub_policies(self) -> &'static [[(AugOp, f64, usize); 2]; 25] {
        match self {
            AutoAugmentPolicy::Imagenet => &IMAGENET,
            AutoAugmentPolicy::Cifar10 => &CIFAR10,
            AutoAugmentPolicy::Svhn => &SVHN,
        }
    }
}

fn nearest() -> Interpolation {
    Interpolation::Nearest
}

/// Config of [`AutoAugment`] (torchvision defaults: ImageNet policy, nearest, no fill).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoAugmentConfig {
    /// Which learned policy.
    #[serde(default)]
    pub policy: AutoAugmentPolicy,
    /// Interpolation of the geometric operations (nearest or bilinear).
    #[serde(default = "nearest")]
    pub interpolation: Interpolation,
    /// Fill of the geometric operations (`null` = zero padding).
    #[serde(default)]
    pub fill: Option<Fill>,
}

impl AutoAugmentConfig {
    /// Validates and builds the transform.
    pub fn init(&self) -> Result<AutoAugment> {
        crate::geometry::affine::check_warp_interp("auto_augment", self.interpolation)?;
        if let Some(f) = &self.fill {
            f.validate("auto_augment", "fill")?;
        }
        Ok(AutoAugment { cfg: self.clone() })
    }
}

/// AutoAugment with a learned policy.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoAugment {
    cfg: AutoAugmentConfig,
}

impl AutoAugment {
    /// AutoAugment with `policy` and torchvision's defaults.
    pub fn new(policy: AutoAugmentPolicy) -> Result<Self> {
        AutoAugmentConfig {
            policy,
            ..Default::default()
        }
        .init()
    }
}

impl fmt::Display for AutoAugment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AutoAugment(policy={:?}, interpolation={})",
            self.cfg.policy, self.cfg.interpolation
        )
    }
}

/// Applies a list of sampled operations (shared by the policies).
pub(crate) fn apply_ops(
    img: Array3<f32>,
    ops: &[(AugOp, f64)],
    interpolation: Interpolation,
    fill: Option<&Fill>,
) -> Array3<f32> {
    ops.iter().fold(img, |acc, &(op, m)| {
        apply_op(acc, op, m, interpolation, fill)
    })
}

/// The geometric operations of a sampled list applied to a mask (nearest, zero fill).
pub(crate) fn apply_ops_mask(mask: &Array3<f32>, ops: &[(AugOp, f64)]) -> Array3<f32> {
    let mut out = mask.clone();
    for &(op, m) in ops {
        if op.is_geometric() {
            out = geometric(&out, op, m, Interpolation::Nearest, None);
        }
    }
    out
}

/// The output size of a policy: the input's, for 1- or 3-channel images the fill covers.
pub(crate) fn policy_output_size(
    t: &str,
    fill: Option<&Fill>,
    input: ShapeRange,
) -> Result<ShapeRange> {
    if let Some(f) = fill {
        f.check_channels(t, input)?;
    }
    gray_or_rgb(t, input)
}

/// Signs a magnitude at random when the op's space is signed.
pub(crate) fn signed(rng: &mut dyn RngCore, m: Option<(f64, bool)>) -> f64 {
    match m {
        Some((v, true)) => {
            if bernoulli(rng, 0.5) {
                -v
            } else {
                v
            }
        }
        Some((v, false)) => v,
        None => 0.0,
    }
}

/// Parameters: the operations of the drawn sub-policy that passed their probability, with
/// their (signed) magnitudes.
impl Transform for AutoAugment {
    type Params = Vec<(AugOp, f64)>;
    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> Vec<(AugOp, f64)> {
        let [_, h, w] = shape;
        let policies = self.cfg.policy.sub_policies();
        let sub = &policies[rng.random_range(0..policies.len())];
        let mut ops = Vec::with_capacity(2);
        for &(op, p, bin) in sub {
            // torchvision: `if not torch.rand(()) <= probability: continue`
            if rng.random::<f64>() > p {
                continue;
            }
            let m = MagnitudeSpace::Standard.magnitude(op, bin, 10, h, w);
            ops.push((op, signed(rng, m)));
        }
        ops
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
        policy_output_size("auto_augment", self.cfg.fill.as_ref(), input)
    }
}
