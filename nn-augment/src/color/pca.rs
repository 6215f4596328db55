//! AlexNet's PCA colour augmentation ("fancy PCA", Krizhevsky et al. 2012, §4.1).
//!
//! With the eigen-decomposition `Σ = P diag(λ) Pᵀ` of the 3×3 covariance of the training set's
//! RGB values, every pixel gets the same offset
//! `[p₁ p₂ p₃] · [α₁λ₁, α₂λ₂, α₃λ₃]ᵀ`, `αᵢ ~ N(0, σ²)` drawn once per image (σ = 0.1 in the
//! paper). Eigenvectors are the *columns* of `eigenvectors` (`eigenvectors[c][i]` = component
//! `c` of eigenvector `i`), as `numpy.linalg.eigh` returns them. nn-data computes both from a data
//! set; [`PcaLightingConfig::imagenet`] has the ImageNet values used by fb.resnet.torch and timm.

use super::planes_mut;
use crate::error::{AugmentError, Result, check};
use crate::shape::{Shape, ShapeRange};
use crate::transform::Transform;
use ndarray::Array3;
use rand::RngCore;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};
use std::fmt;

fn default_std() -> f64 {
    0.1
}

/// Config of [`PcaLighting`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcaLightingConfig {
    /// σ of the coefficients `αᵢ` (AlexNet: 0.1).
    #[serde(default = "default_std")]
    pub alpha_std: f64,
    /// Eigenvalues `λ` of the RGB covariance (values in the image's `[0, 1]` scale).
    pub eigenvalues: [f32; 3],
    /// Eigenvectors as columns: `eigenvectors[c][i]`.
    pub eigenvectors: [[f32; 3]; 3],
    /// Clamp the result to `[0, 1]` (off by default, as in AlexNet/fb.resnet.torch).
    #[serde(default)]
    pub clamp: bool,
}

impl PcaLightingConfig {
    /// ImageNet statistics (fb.resnet.torch / timm), σ = 0.1.
    pub fn imagenet() -> Self {
        PcaLightingConfig {
            alpha_std: 0.1,
            eigenvalues: [0.2175, 0.0188, 0.0045],
            eigenvectors: [
                [-0.5675, 0.7192, 0.4009],
                [-0.5808, -0.0045, -0.8140],
                [-0.5836, -0.6948, 0.4203],
            ],
            clamp: false,
        }
    }

    /// Validates and builds the transform.
    pub fn init(&self) -> Result<PcaLighting> {
        let t = "pca_lighting";
        if !(self.alpha_std >= 0.0 && self.alpha_std.is_finite()) {
            return Err(AugmentError::invalid(
                t,
                "alpha_std",
                self.alpha_std,
                "a finite σ ≥ 0",
            ));
        }
        for (i, &l) in self.eigenvalues.iter().enumerate() {
            if !(l >= 0.0 && l.is_finite()) {
                return Err(AugmentError::invalid(
                    t,
                    &format!("eigenvalues[{i}]"),
                    l,
                    "a finite eigenvalue ≥ 0 (of a covariance matrix)",
                ));
            }
        }
        for (c, row) in self.eigenvectors.iter().enumerate() {
            for (i, &v) in row.iter().enumerate() {
                check::finite(t, &format!("eigenvectors[{c}][{i}]"), v as f64)?;
            }
        }
        Ok(PcaLighting { cfg: self.clone() })
    }
}

/// Adds `P·(α ⊙ λ)` to every pixel, `α ~ N(0, σ²)` per image.
#[derive(Clone, Debug, PartialEq)]
pub struct PcaLighting {
    cfg: PcaLightingConfig,
}

impl PcaLighting {
    /// The per-channel offset for coefficients `alpha`.
    pub fn offset(&self, alpha: [f64; 3]) -> [f32; 3] {
        let mut rgb = [0.0f32; 3];
        for (c, o) in rgb.iter_mut().enumerate() {
            *o = (0..3)
                .map(|i| {
                    self.cfg.eigenvectors[c][i] as f64 * alpha[i] * self.cfg.eigenvalues[i] as f64
                })
                .sum::<f64>() as f32;
        }
        rgb
    }
}

/// Adds a per-channel offset in place (optionally clamping to `[0, 1]`).
pub fn add_channel_offset(img: &mut Array3<f32>, offset: [f32; 3], clamp: bool) {
    let (c, h, w) = img.dim();
    assert!(c == 3, "pca_lighting: expected 3 channels, got {c}");
    let n = h * w;
    for (plane, o) in planes_mut(img).chunks_exact_mut(n.max(1)).zip(offset) {
        if clamp {
            plane.iter_mut().for_each(|x| *x = (*x + o).clamp(0.0, 1.0));
        } else {
            plane.iter_mut().for_each(|x| *x += o);
        }
    }
}

impl fmt::Display for PcaLighting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PcaLighting(alpha_std={}, eigenvalues={:?}, clamp={})",
            self.cfg.alpha_std, self.cfg.eigenvalues, self.cfg.clamp
        )
    }
}

/// Parameters: the RGB offset added to every pixel ([`PcaLighting::offset`] of the drawn α).
impl Transform for PcaLighting {
    type Params = [f32; 3];
    fn sample_params(&self, _shape: Shape, rng: &mut dyn RngCore) -> [f32; 3] {
        let mut alpha = [0.0f64; 3];
        if self.cfg.alpha_std > 0.0 {
            let n = Normal::new(0.0, self.cfg.alpha_std).expect("validated σ");
            for a in &mut alpha {
                *a = n.sample(rng);
            }
        }
        self.offset(alpha)
    }
    fn apply(&self, img: &Array3<f32>, offset: &[f32; 3]) -> Array3<f32> {
        self.apply_owned(img.clone(), offset)
    }
    fn apply_owned(&self, mut img: Array3<f32>, offset: &[f32; 3]) -> Array3<f32> {
        add_channel_offset(&mut img, *offset, self.cfg.clamp);
        img
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        if input.channels == [3, 3] {
            Ok(input)
        } else {
            Err(AugmentError::shape(
                "pca_lighting",
                input,
                "3 (RGB) channels",
            ))
        }
    }
}
