//! # nn-augment
//!
//! Composable, seeded image augmentation and test-time augmentation on CHW `f32` images with
//! values in `[0, 1]` (`ndarray::Array3<f32>`, torchvision's `ToTensor` convention), converted
//! from/to `image` crate images by [`convert`].
//!
//! Every random transform first **samples its parameters** from an explicit generator and then
//! **applies them deterministically** ([`Transform::sample_params`] / [`Transform::apply`], as
//! torchvision v2's `make_params` / `transform`), so an image, its mask and its label stay in sync
//! and tests are exact. Deterministic operations match torchvision's functional API numerically
//! (fixtures in `tests/fixtures/`).
//!
//! ```
//! use nn_augment::{Pipeline, Transform, synthetic};
//! use rand::SeedableRng;
//!
//! // The CIFAR-10 recipe (pad 4, random 32×32 crop, horizontal flip) from a JSON config.
//! let pipeline = Pipeline::from_json(r#"{"transforms": [
//!     {"type": "random_crop", "size": 32, "padding": 4},
//!     {"type": "horizontal_flip"}
//! ]}"#).unwrap();
//! println!("{pipeline}");
//!
//! let img = synthetic::test_image(32, 32);
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
//! let out = pipeline.apply_random(&img, &mut rng);
//! assert_eq!(out.dim(), (3, 32, 32));
//!
//! // Same seed, same output.
//! let mut rng2 = rand_chacha::ChaCha8Rng::seed_from_u64(7);
//! assert_eq!(pipeline.apply_random(&img, &mut rng2), out);
//! ```
//!
//! ## Contents
//! | module | what |
//! |---|---|
//! | [`transform`] | the [`Transform`] trait (typed parameters per transform), [`DynTransform`] / [`DynParams`] for pipelines |
//! | [`geometry`] | flips, crops (CIFAR pad-and-crop, centre, five/ten), resize (nearest, bilinear, bicubic, antialias), random resized crop, ResNet scale augmentation, affine (translate, rotate, scale, shear), stretch, rotation, lens distortion |
//! | [`color`] | brightness/contrast/saturation/hue jitter, grayscale, AlexNet PCA lighting, normalise, AutoAugment point ops |
//! | [`erasing`] | Cutout, RandomErasing |
//! | [`policy`] | AutoAugment (ImageNet, CIFAR-10, SVHN), RandAugment, TrivialAugmentWide |
//! | [`compose`] | `Sequence` (= [`Pipeline`]), `RandomApply`, `OneOf`, `RandomOrder`; a pipeline's output shape |
//! | [`config`] | serde configs (JSON/TOML) with validated hyperparameters |
//! | [`shape`] | image shapes and the shape ranges transforms map ([`Transform::output_size`]) |
//! | [`interpolation`], [`padding`], [`shorthand`] | interpolation modes, padding modes/amounts/fill, the "number or pair" config values |
//! | [`recipes`] | CIFAR-10, ResNet and Inception training pipelines, ImageNet evaluation |
//! | [`tta`] | test-time augmentation views and probability averaging |
//! | [`functional`] | the deterministic operations as plain functions |
//!
//! Rendering a grid of augmented images (to look at a pipeline) is in nn-train
//! (`nn-train augment-grid`), not here.

pub mod color;
pub mod compose;
pub mod config;
pub mod convert;
pub mod erasing;
pub mod error;
pub mod geometry;
pub mod interpolation;
pub mod kernels;
pub mod padding;
pub mod policy;
pub mod recipes;
pub mod shape;
pub mod shorthand;
pub mod synthetic;
pub mod transform;
pub mod tta;

pub use color::grayscale::{Grayscale, GrayscaleConfig, RandomGrayscale, RandomGrayscaleConfig};
pub use color::jitter::{ColorJitter, ColorJitterConfig, JitterParams};
pub use color::normalize::{Normalize, NormalizeConfig};
pub use color::pca::{PcaLighting, PcaLightingConfig};
pub use compose::{
    Choice, OneOf, OneOfConfig, OrderParams, Pipeline, PipelineConfig, RandomApply,
    RandomApplyConfig, RandomOrder, RandomOrderConfig, Sequence, SequenceConfig,
};
pub use config::TransformConfig;
pub use erasing::ErasureValue;
pub use erasing::cutout::{Cutout, CutoutBox, CutoutConfig};
pub use erasing::random_erasing::{
    EraseWith, Erasure, RandomErasing, RandomErasingConfig, RandomKeyword,
};
pub use error::{AugmentError, Result};
pub use geometry::affine::{
    AffineParams, RandomAffine, RandomAffineConfig, RandomStretch, RandomStretchConfig, Shear,
    StretchFactors,
};
pub use geometry::crop::{
    CenterCrop, CenterCropConfig, CropBox, Pad, PadConfig, RandomCrop, RandomCropConfig,
};
pub use geometry::flip::{FlipConfig, HorizontalFlip, VerticalFlip};
pub use geometry::lens::{LensCoefficients, LensDistortion, LensDistortionConfig};
pub use geometry::resize::{RandomResize, RandomResizeConfig, Resize, ResizeConfig};
pub use geometry::resized_crop::{RandomResizedCrop, RandomResizedCropConfig};
pub use geometry::rotate::{RandomRotation, RandomRotationConfig};
pub use interpolation::Interpolation;
pub use padding::{Fill, Padding, PaddingMode};
pub use policy::autoaugment::{AutoAugment, AutoAugmentConfig, AutoAugmentPolicy};
pub use policy::randaugment::{
    RandAugment, RandAugmentConfig, TrivialAugmentWide, TrivialAugmentWideConfig,
};
pub use policy::{AugOp, MagnitudeSpace};
pub use shape::{Shape, ShapeRange};
pub use shorthand::{Range, Size};
pub use transform::{DynParams, DynTransform, Transform};

/// The deterministic operations as plain functions (torchvision's `transforms.v2.functional`).
pub mod functional {
    pub use crate::color::adjust::{
        adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation, hsv_to_rgb,
        rgb_to_grayscale, rgb_to_hsv,
    };
    pub use crate::color::normalize::normalize;
    pub use crate::color::ops::{
        adjust_sharpness, autocontrast, equalize, invert, posterize, solarize,
    };
    pub use crate::erasing::{erase, erase_inplace};
    pub use crate::geometry::affine::{affine, inverse_affine_matrix};
    pub use crate::geometry::crop::{center_crop, crop, five_crop, pad, ten_crop};
    pub use crate::geometry::flip::{hflip, vflip};
    pub use crate::geometry::lens::lens_distort;
    pub use crate::geometry::resize::{resize, resize_short_side};
    pub use crate::geometry::resized_crop::resized_crop;
    pub use crate::geometry::rotate::{rot90, rotate};
    pub use crate::policy::apply_op;
}
