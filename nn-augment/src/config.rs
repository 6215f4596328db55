//! Serde configs: one [`TransformConfig`] variant per transform, tagged by `type`, so a whole
//! pipeline is a JSON/TOML document:
//!
//! ```json
//! {"transforms": [
//!   {"type": "random_crop", "size": 32, "padding": 4},
//!   {"type": "horizontal_flip"},
//!   {"type": "normalize", "mean": [0.4914, 0.4822, 0.4465], "std": [0.247, 0.2435, 0.2616]}
//! ]}
//! ```
//!
//! Omitted fields take torchvision's defaults; unknown fields are rejected; [`TransformConfig::build`]
//! validates every hyperparameter and names the offending field (with its path inside containers).

use crate::color::grayscale::{GrayscaleConfig, RandomGrayscaleConfig};
use crate::color::jitter::ColorJitterConfig;
use crate::color::normalize::NormalizeConfig;
use crate::color::pca::PcaLightingConfig;
use crate::compose::{OneOfConfig, RandomApplyConfig, RandomOrderConfig, SequenceConfig};
use crate::error::Result;
use crate::geometry::affine::{RandomAffineConfig, RandomStretchConfig};
use crate::geometry::crop::{CenterCropConfig, PadConfig, RandomCropConfig};
use crate::geometry::flip::FlipConfig;
use crate::geometry::lens::LensDistortionConfig;
use crate::geometry::resize::{RandomResizeConfig, ResizeConfig};
use crate::geometry::resized_crop::RandomResizedCropConfig;
use crate::geometry::rotate::RandomRotationConfig;
use crate::policy::autoaugment::AutoAugmentConfig;
use crate::policy::randaugment::{RandAugmentConfig, TrivialAugmentWideConfig};
use crate::transform::Transform;
use serde::{Deserialize, Serialize};

/// The config of any transform, tagged by `"type"` (snake_case of the transform name).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TransformConfig {
    /// [`crate::HorizontalFlip`].
    HorizontalFlip(FlipConfig),
    /// [`crate::VerticalFlip`].
    VerticalFlip(FlipConfig),
    /// [`crate::RandomCrop`].
    RandomCrop(RandomCropConfig),
    /// [`crate::CenterCrop`].
    CenterCrop(CenterCropConfig),
    /// [`crate::Pad`].
    Pad(PadConfig),
    /// [`crate::Resize`].
    Resize(ResizeConfig),
    /// [`crate::RandomResize`].
    RandomResize(RandomResizeConfig),
    /// [`crate::RandomResizedCrop`].
    RandomResizedCrop(RandomResizedCropConfig),
    /// [`crate::RandomAffine`].
    RandomAffine(RandomAffineConfig),
    /// [`crate::RandomRotation`].
    RandomRotation(RandomRotationConfig),
    /// [`crate::RandomStretch`].
    RandomStretch(RandomStretchConfig),
    /// [`crate::LensDistortion`].
    LensDistortion(LensDistortionConfig),
    /// [`crate::ColorJitter`].
    ColorJitter(ColorJitterConfig),
    /// [`crate::Grayscale`].
    Grayscale(GrayscaleConfig),
    /// [`crate::RandomGrayscale`].
    RandomGrayscale(RandomGrayscaleConfig),
    /// [`crate::PcaLighting`].
    PcaLighting(PcaLightingConfig),
    /// [`crate::Normalize`].
    Normalize(NormalizeConfig),
    /// [`crate::AutoAugment`].
    AutoAugment(AutoAugmentConfig),
    /// [`crate::RandAugment`].
    RandAugment(RandAugmentConfig),
    /// [`crate::TrivialAugmentWide`].
    TrivialAugmentWide(TrivialAugmentWideConfig),
    /// [`crate::Sequence`] (`Compose`).
    Sequence(SequenceConfig),
    /// [`crate::RandomApply`].
    RandomApply(RandomApplyConfig),
    /// [`crate::OneOf`].
    OneOf(OneOfConfig),
    /// [`crate::RandomOrder`].
    RandomOrder(RandomOrderConfig),
}

impl TransformConfig {
    /// Validates the hyperparameters and builds the transform.
    pub fn build(&self) -> Result<Box<dyn Transform>> {
        use TransformConfig as C;
        Ok(match self {
            C::HorizontalFlip(c) => Box::new(c.init_horizontal()?),
            C::VerticalFlip(c) => Box::new(c.init_vertical()?),
            C::RandomCrop(c) => Box::new(c.init()?),
            C::CenterCrop(c) => Box::new(c.init()?),
            C::Pad(c) => Box::new(c.init()?),
            C::Resize(c) => Box::new(c.init()?),
            C::RandomResize(c) => Box::new(c.init()?),
            C::RandomResizedCrop(c) => Box::new(c.init()?),
            C::RandomAffine(c) => Box::new(c.init()?),
            C::RandomRotation(c) => Box::new(c.init()?),
            C::RandomStretch(c) => Box::new(c.init()?),
            C::LensDistortion(c) => Box::new(c.init()?),
            C::ColorJitter(c) => Box::new(c.init()?),
            C::Grayscale(c) => Box::new(c.init()?),
            C::RandomGrayscale(c) => Box::new(c.init()?),
            C::PcaLighting(c) => Box::new(c.init()?),
            C::Normalize(c) => Box::new(c.init()?),
            C::AutoAugment(c) => Box::new(c.init()?),
            C::RandAugment(c) => Box::new(c.init()?),
            C::TrivialAugmentWide(c) => Box::new(c.init()?),
            C::Sequence(c) => Box::new(c.init()?),
            C::RandomApply(c) => Box::new(c.init()?),
            C::OneOf(c) => Box::new(c.init()?),
            C::RandomOrder(c) => Box::new(c.init()?),
        })
    }

    /// Parses one transform config from JSON.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| crate::AugmentError::Parse {
            format: "JSON",
            message: e.to_string(),
        })
    }
}
