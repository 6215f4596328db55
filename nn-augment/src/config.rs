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
//!
//! Adding a transform: its file (config, transform, `impl Transform`) and one line in the table
//! below.

use crate::color::grayscale::{GrayscaleConfig, RandomGrayscaleConfig};
use crate::color::jitter::ColorJitterConfig;
use crate::color::normalize::NormalizeConfig;
use crate::color::pca::PcaLightingConfig;
use crate::compose::{OneOfConfig, RandomApplyConfig, RandomOrderConfig, SequenceConfig};
use crate::erasing::cutout::CutoutConfig;
use crate::erasing::random_erasing::RandomErasingConfig;
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
use crate::transform::DynTransform;
use serde::{Deserialize, Serialize};

/// Declares [`TransformConfig`] (one variant per transform, tagged by `"type"`, the snake_case
/// of the variant) and its `build`, from one line per transform: `Variant(Config) => constructor`.
macro_rules! transform_configs {
    ($($(#[$doc:meta])* $variant:ident($config:ty) => $init:ident;)*) => {
        /// The config of any transform, tagged by `"type"` (snake_case of the transform name).
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum TransformConfig {
            $($(#[$doc])* $variant($config),)*
        }

        impl TransformConfig {
            /// Validates the hyperparameters and builds the transform.
            pub fn build(&self) -> Result<Box<dyn DynTransform>> {
                Ok(match self {
                    $(TransformConfig::$variant(c) => Box::new(c.$init()?),)*
                })
            }
        }
    };
}

transform_configs! {
    /// [`crate::HorizontalFlip`].
    HorizontalFlip(FlipConfig) => init_horizontal;
    /// [`crate::VerticalFlip`].
    VerticalFlip(FlipConfig) => init_vertical;
    /// [`crate::RandomCrop`].
    RandomCrop(RandomCropConfig) => init;
    /// [`crate::CenterCrop`].
    CenterCrop(CenterCropConfig) => init;
    /// [`crate::Pad`].
    Pad(PadConfig) => init;
    /// [`crate::Resize`].
    Resize(ResizeConfig) => init;
    /// [`crate::RandomResize`].
    RandomResize(RandomResizeConfig) => init;
    /// [`crate::RandomResizedCrop`].
    RandomResizedCrop(RandomResizedCropConfig) => init;
    /// [`crate::RandomAffine`].
    RandomAffine(RandomAffineConfig) => init;
    /// [`crate::RandomRotation`].
    RandomRotation(RandomRotationConfig) => init;
    /// [`crate::RandomStretch`].
    RandomStretch(RandomStretchConfig) => init;
    /// [`crate::LensDistortion`].
    LensDistortion(LensDistortionConfig) => init;
    /// [`crate::ColorJitter`].
    ColorJitter(ColorJitterConfig) => init;
    /// [`crate::Grayscale`].
    Grayscale(GrayscaleConfig) => init;
    /// [`crate::RandomGrayscale`].
    RandomGrayscale(RandomGrayscaleConfig) => init;
    /// [`crate::PcaLighting`].
    PcaLighting(PcaLightingConfig) => init;
    /// [`crate::Normalize`].
    Normalize(NormalizeConfig) => init;
    /// [`crate::Cutout`].
    Cutout(CutoutConfig) => init;
    /// [`crate::RandomErasing`].
    RandomErasing(RandomErasingConfig) => init;
    /// [`crate::AutoAugment`].
    AutoAugment(AutoAugmentConfig) => init;
    /// [`crate::RandAugment`].
    RandAugment(RandAugmentConfig) => init;
    /// [`crate::TrivialAugmentWide`].
    TrivialAugmentWide(TrivialAugmentWideConfig) => init;
    /// [`crate::Sequence`] (`Compose`).
    Sequence(SequenceConfig) => init;
    /// [`crate::RandomApply`].
    RandomApply(RandomApplyConfig) => init;
    /// [`crate::OneOf`].
    OneOf(OneOfConfig) => init;
    /// [`crate::RandomOrder`].
    RandomOrder(RandomOrderConfig) => init;
}

impl TransformConfig {
    /// Parses one transform config from JSON.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| crate::AugmentError::Parse {
            format: "JSON",
            message: e.to_string(),
        })
    }
}
