//! AlexNet's PCA colour augmentation ("fancy PCA", Krizhevsky, Sutskever & Hinton 2012, §4.1)
//! with its statistics **fitted on the job's training split** (nn-data's [`ColorPca`]) instead of
//! typed by hand: the `[pca_lighting]` block.
//!
//! ```toml
//! [pca_lighting]
//! alpha_std = 0.1   # σ of the per-image coefficients α (AlexNet: 0.1)
//! clamp = false     # clamp to [0, 1] afterwards (AlexNet and fb.resnet.torch: no)
//! ```
//!
//! At the start of the job the 3×3 covariance of the RGB values of every training pixel is
//! decomposed (eigenvalues λ, eigenvectors p), and every training image gets the offset
//! `[p₁ p₂ p₃]·[α₁λ₁, α₂λ₂, α₃λ₃]ᵀ` added to each pixel, α ~ N(0, σ²) drawn per image
//! (nn-augment's `pca_lighting` transform, appended to the `augment` pipeline, before the
//! preprocessing). The images must have 3 channels: a grayscale source can be replicated into
//! RGB with `data.channels = 3`. The fitted statistics are kept in the run's `preprocess.json`
//! (`color_pca`). A fine-tune refits them on its own training split: they describe the data
//! being augmented, while the input preprocessing is the run's (the network was trained on it).

use nn_augment::{PcaLightingConfig, PipelineConfig, TransformConfig};
use nn_data::{ColorPca, Dataset};
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// The `[pca_lighting]` block of a job.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PcaLightingSettings {
    /// σ of the coefficients α. Default 0.1.
    pub alpha_std: f64,
    /// Clamp the result to [0, 1]. Default false.
    pub clamp: bool,
}

impl Default for PcaLightingSettings {
    fn default() -> Self {
        PcaLightingSettings {
            alpha_std: 0.1,
            clamp: false,
        }
    }
}

impl PcaLightingSettings {
    /// Checks the values, naming the field.
    pub fn validate(&self) -> Result<()> {
        if !(self.alpha_std.is_finite() && self.alpha_std >= 0.0) {
            return Err(invalid(
                "pca_lighting.alpha_std",
                self.alpha_std,
                "a finite σ >= 0",
            ));
        }
        Ok(())
    }

    /// nn-augment's transform config with the fitted statistics.
    pub fn transform(&self, fitted: &ColorPca) -> TransformConfig {
        TransformConfig::PcaLighting(PcaLightingConfig {
            alpha_std: self.alpha_std,
            eigenvalues: fitted.eigenvalues,
            eigenvectors: fitted.eigenvectors,
            clamp: self.clamp,
        })
    }
}

/// AlexNet's colour statistics of `train` (3-channel images, else an error naming
/// `pca_lighting` and suggesting `data.channels = 3`).
pub fn fit_color_pca(train: &dyn Dataset) -> Result<ColorPca> {
    let c = train.get(0)?.image.dim().0;
    if c != 3 {
        return Err(invalid(
            "pca_lighting",
            format!("images with {c} channel(s)"),
            "RGB images (3 channels): PCA colour augmentation works on the RGB covariance; \
             set data.channels = 3 to replicate a grayscale source into RGB",
        ));
    }
    Ok(ColorPca::fit(train)?)
}

/// The training pipeline: the job's `augment` transforms, then the fitted PCA lighting (if
/// any). `None` when both are absent.
pub fn training_pipeline(
    augment: Option<&PipelineConfig>,
    lighting: Option<(&PcaLightingSettings, &ColorPca)>,
) -> Option<PipelineConfig> {
    let mut config = augment.cloned();
    if let Some((settings, fitted)) = lighting {
        config
            .get_or_insert_with(PipelineConfig::default)
            .transforms
            .push(settings.transform(fitted));
    }
    config
}
