//! Per-channel normalisation `x ← (x − mean_c) / std_c` (torchvision `Normalize`), usually the
//! last step of a pipeline. [`NormalizeConfig::imagenet`] and [`NormalizeConfig::cifar10`] carry
//! the usual statistics.

use super::planes_mut;
use crate::error::{AugmentError, Result};
use crate::shape::{Shape, ShapeRange};
use crate::transform::Transform;
use ndarray::{Array3, ArrayBase, Data, Ix3};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Config of [`Normalize`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalizeConfig {
    /// Per-channel means.
    pub mean: Vec<f32>,
    /// Per-channel standard deviations (> 0).
    pub std: Vec<f32>,
}

impl NormalizeConfig {
    /// ImageNet statistics.
    pub fn imagenet() -> Self {
        NormalizeConfig {
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
        }
    }

    /// CIFAR-10 training-set statistics.
    pub fn cifar10() -> Self {
        NormalizeConfig {
            mean: vec![0.4914, 0.4822, 0.4465],
            std: vec![0.2470, 0.2435, 0.2616],
        }
    }

    /// Validates and builds the transform.
    pub fn init(&self) -> Result<Normalize> {
        let t = "normalize";
        if self.mean.is_empty() || self.mean.len() != self.std.len() {
            return Err(AugmentError::invalid(
                t,
                "std",
                &self.std,
                format!("as many values as mean ({})", self.mean.len()),
            ));
        }
        for (i, &s) in self.std.iter().enumerate() {
            if !(s > 0.0 && s.is_finite()) {
                return Err(AugmentError::invalid(
                    t,
                    &format!("std[{i}]"),
                    s,
                    "a finite value > 0",
                ));
            }
        }
        for (i, &m) in self.mean.iter().enumerate() {
            if !m.is_finite() {
                return Err(AugmentError::invalid(
                    t,
                    &format!("mean[{i}]"),
                    m,
                    "a finite value",
                ));
            }
        }
        Ok(Normalize { cfg: self.clone() })
    }
}

/// `x ← (x − mean_c) / std_c`.
#[derive(Clone, Debug, PartialEq)]
pub struct Normalize {
    cfg: NormalizeConfig,
}

/// Normalises in place.
///
/// # Panics
/// If the image has a different number of channels than `mean` (unless `mean` has one value).
pub fn normalize_inplace(img: &mut Array3<f32>, mean: &[f32], std: &[f32]) {
    let (c, h, w) = img.dim();
    assert!(
        mean.len() == c || mean.len() == 1,
        "normalize: {} means for an image with {c} channels",
        mean.len()
    );
    let n = (h * w).max(1);
    for (k, plane) in planes_mut(img).chunks_exact_mut(n).enumerate() {
        let (m, s) = if mean.len() == 1 {
            (mean[0], std[0])
        } else {
            (mean[k], std[k])
        };
        plane.iter_mut().for_each(|x| *x = (*x - m) / s);
    }
}

/// Normalises (torchvision `F.normalize`).
pub fn normalize<S: Data<Elem = f32>>(
    img: &ArrayBase<S, Ix3>,
    mean: &[f32],
    std: &[f32],
) -> Array3<f32> {
    let mut o = img.as_standard_layout().into_owned();
    normalize_inplace(&mut o, mean, std);
    o
}

impl fmt::Display for Normalize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Normalize(mean={:?}, std={:?})",
            self.cfg.mean, self.cfg.std
        )
    }
}

impl Transform for Normalize {
    type Params = ();
    fn sample_params(&self, _shape: Shape, _rng: &mut dyn RngCore) {}
    fn apply(&self, img: &Array3<f32>, params: &()) -> Array3<f32> {
        self.apply_owned(img.clone(), params)
    }
    fn apply_owned(&self, mut img: Array3<f32>, _params: &()) -> Array3<f32> {
        normalize_inplace(&mut img, &self.cfg.mean, &self.cfg.std);
        img
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        let n = self.cfg.mean.len();
        if n == 1 || input.channels == [n, n] {
            Ok(input)
        } else {
            Err(AugmentError::shape(
                "normalize",
                input,
                format!("{n} channels (one per mean/std value)"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn normalises_each_channel_with_its_mean_and_std() {
        let img = Array3::from_shape_fn((2, 2, 2), |(c, i, j)| (c * 4 + i * 2 + j) as f32);
        let out = normalize(&img, &[1.0, 5.0], &[2.0, 0.5]);
        assert_eq!(out[[0, 0, 0]], -0.5);
        assert_eq!(out[[0, 1, 1]], 1.0);
        assert_eq!(out[[1, 0, 0]], -2.0);
        assert_eq!(out[[1, 1, 1]], 4.0);
    }

    #[test]
    fn configs_validate() {
        assert!(NormalizeConfig::imagenet().init().is_ok());
        assert!(NormalizeConfig::cifar10().init().is_ok());
        let mut bad = NormalizeConfig::cifar10();
        bad.std[1] = 0.0;
        assert!(bad.init().is_err());
    }
}
