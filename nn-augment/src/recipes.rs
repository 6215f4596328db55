//! Ready-made pipeline configs of the classic papers (returned as configs so they can be tweaked,
//! printed and saved before [`SequenceConfig::init`]).

use crate::color::jitter::ColorJitterConfig;
use crate::color::normalize::NormalizeConfig;
use crate::color::pca::PcaLightingConfig;
use crate::compose::SequenceConfig;
use crate::config::TransformConfig as T;
use crate::geometry::crop::{CenterCropConfig, RandomCropConfig};
use crate::geometry::flip::FlipConfig;
use crate::geometry::resize::{RandomResizeConfig, ResizeConfig};
use crate::geometry::resized_crop::RandomResizedCropConfig;
use crate::interpolation::Interpolation;
use crate::shorthand::Size;

/// CIFAR-10 training (He et al. 2016, §4.2): pad 4, random 32×32 crop, horizontal flip.
/// Normalisation is left to the data pipeline (nn-data's per-channel mean/std).
pub fn cifar10_train() -> SequenceConfig {
    SequenceConfig {
        transforms: vec![
            T::RandomCrop(RandomCropConfig::new(32).with_padding(4)),
            T::HorizontalFlip(FlipConfig::default()),
        ],
    }
}

/// ResNet ImageNet training (He et al. 2016, §3.4): shorter side to a random `L ∈ [256, 480]`,
/// random 224 crop, horizontal flip, AlexNet PCA lighting, normalisation.
pub fn resnet_imagenet_train() -> SequenceConfig {
    SequenceConfig {
        transforms: vec![
            T::RandomResize(RandomResizeConfig {
                min_size: 256,
                max_size: 480,
                interpolation: Interpolation::Bilinear,
                antialias: true,
            }),
            T::RandomCrop(RandomCropConfig::new(224)),
            T::HorizontalFlip(FlipConfig::default()),
            T::PcaLighting(PcaLightingConfig::imagenet()),
            T::Normalize(NormalizeConfig::imagenet()),
        ],
    }
}

/// Inception-style ImageNet training (torchvision reference recipe): random resized crop 224,
/// flip, colour jitter 0.4, PCA lighting, normalisation.
pub fn inception_imagenet_train() -> SequenceConfig {
    SequenceConfig {
        transforms: vec![
            T::RandomResizedCrop(RandomResizedCropConfig::new(224)),
            T::HorizontalFlip(FlipConfig::default()),
            T::ColorJitter(ColorJitterConfig::new(0.4, 0.4, 0.4, 0.0)),
            T::PcaLighting(PcaLightingConfig::imagenet()),
            T::Normalize(NormalizeConfig::imagenet()),
        ],
    }
}

/// ImageNet evaluation: shorter side 256, centre crop 224, normalisation.
pub fn imagenet_eval() -> SequenceConfig {
    SequenceConfig {
        transforms: vec![
            T::Resize(ResizeConfig::new(256)),
            T::CenterCrop(CenterCropConfig {
                size: Size::Square(224),
            }),
            T::Normalize(NormalizeConfig::imagenet()),
        ],
    }
}
