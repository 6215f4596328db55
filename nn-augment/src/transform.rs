//! The [`Transform`] trait: sample typed parameters, then apply them deterministically
//! (torchvision v2's `make_params` / `transform` split), and its object-safe form
//! [`DynTransform`] with type-erased [`DynParams`] for pipelines.
//!
//! Each transform owns its parameter type (a flip: `bool`; a crop: [`crate::CropBox`]; colour
//! jitter: [`crate::JitterParams`]; ...), declared next to it, so a new transform is one file
//! plus one line in [`crate::TransformConfig`].

use crate::error::{AugmentError, Result};
use crate::shape::{Shape, ShapeRange, shape_of};
use ndarray::Array3;
use rand::RngCore;
use std::any::Any;
use std::fmt;

/// An image transform in the torchvision v2 style.
///
/// A random transform first draws its [`Params`](Transform::Params) from an explicit generator
/// ([`sample_params`](Transform::sample_params)) and then applies them deterministically
/// ([`apply`](Transform::apply)). Deterministic transforms have `Params = ()` (or parameters
/// computed from the input shape alone, as a centre crop's box).
///
/// Images are CHW `f32` arrays with values in `[0, 1]` (torchvision's `ToTensor` convention).
/// Pipelines hold transforms as `Box<dyn DynTransform>` (every `Transform` is one), which is
/// itself a `Transform` with [`DynParams`].
///
/// ```
/// use nn_augment::{HorizontalFlip, Transform};
/// use ndarray::Array3;
/// use rand::SeedableRng;
///
/// let flip = HorizontalFlip::new(1.0).unwrap();
/// let img = Array3::from_shape_fn((3, 2, 3), |(c, y, x)| (c + y + x) as f32 / 8.0);
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let flipped: bool = flip.sample_params([3, 2, 3], &mut rng);
/// assert!(flipped);
/// let out = flip.apply(&img, &flipped);
/// assert_eq!(out[[0, 0, 0]], img[[0, 0, 2]]);
/// ```
pub trait Transform: Send + Sync + fmt::Display + fmt::Debug {
    /// The parameters of one application (what [`sample_params`](Transform::sample_params)
    /// draws).
    type Params: Clone + fmt::Debug + PartialEq + Send + Sync + 'static;

    /// Draws the parameters of one application to an image of shape `[C, H, W]`.
    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> Self::Params;

    /// Applies previously sampled parameters (deterministic).
    fn apply(&self, img: &Array3<f32>, params: &Self::Params) -> Array3<f32>;

    /// Like [`apply`](Transform::apply) but may reuse the input buffer (in-place colour ops).
    fn apply_owned(&self, img: Array3<f32>, params: &Self::Params) -> Array3<f32> {
        self.apply(&img, params)
    }

    /// Applies the same parameters to a label mask (`[K, H, W]`, e.g. class ids as `f32`):
    /// geometric transforms warp it with nearest-neighbour sampling and fill 0, photometric ones
    /// leave it unchanged.
    fn apply_mask(&self, mask: &Array3<f32>, params: &Self::Params) -> Array3<f32> {
        let _ = params;
        mask.clone()
    }

    /// Output shape for an input of `shape` under `params` (lets containers sample the
    /// parameters of later transforms before anything is applied).
    fn output_shape(&self, shape: Shape, params: &Self::Params) -> Shape {
        let _ = params;
        shape
    }

    /// The shapes this transform can output for inputs in `input`, whatever the random draw —
    /// or an [`AugmentError::Shape`] if it cannot take some of those inputs (a crop larger than
    /// the padded image, a normalisation with 3 means for 1-channel images, ...). Lets a
    /// pipeline report its output shape and reject impossible configurations before any data
    /// is loaded ([`crate::PipelineConfig::output_shape`]).
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange>;

    /// Samples parameters and applies them: the per-sample augmentation call.
    fn apply_random(&self, img: &Array3<f32>, rng: &mut dyn RngCore) -> Array3<f32> {
        let params = self.sample_params(shape_of(img), rng);
        self.apply(img, &params)
    }

    /// Owned variant of [`apply_random`](Transform::apply_random) (avoids a copy for in-place
    /// transforms); this is the shape of a data loader's per-sample hook.
    fn apply_random_owned(&self, img: Array3<f32>, rng: &mut dyn RngCore) -> Array3<f32> {
        let params = self.sample_params(shape_of(&img), rng);
        self.apply_owned(img, &params)
    }
}

/// The sampled parameters of any transform, type-erased (what a [`DynTransform`] samples and
/// applies). [`downcast_ref`](DynParams::downcast_ref) recovers the transform's own type.
///
/// ```
/// use nn_augment::{DynParams, CropBox};
/// let b = CropBox { top: 1, left: 2, height: 3, width: 4 };
/// let p = DynParams::new(b);
/// assert_eq!(p.downcast_ref::<CropBox>(), Some(&b));
/// assert_eq!(p.downcast_ref::<bool>(), None);
/// ```
pub struct DynParams(Box<dyn ErasedParams>);

/// What `DynParams` needs of a parameter type: `Any` plus clone, compare and debug-print.
trait ErasedParams: Any + Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn clone_box(&self) -> Box<dyn ErasedParams>;
    fn eq_dyn(&self, other: &dyn ErasedParams) -> bool;
    fn debug(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
    fn type_name(&self) -> &'static str;
}

impl<T: Clone + fmt::Debug + PartialEq + Send + Sync + 'static> ErasedParams for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn clone_box(&self) -> Box<dyn ErasedParams> {
        Box::new(self.clone())
    }
    fn eq_dyn(&self, other: &dyn ErasedParams) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
    fn debug(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
}

impl DynParams {
    /// Erases the type of a transform's parameters.
    pub fn new<T: Clone + fmt::Debug + PartialEq + Send + Sync + 'static>(params: T) -> Self {
        DynParams(Box::new(params))
    }

    /// The parameters as `T`, if they are a `T`.
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref()
    }

    /// The Rust type name of the parameters (for messages).
    pub fn type_name(&self) -> &'static str {
        self.0.type_name()
    }

    /// The parameters as `T`.
    ///
    /// # Panics
    /// If they are not a `T`, naming `transform` and both types: parameters sampled by one
    /// transform were given to another (a programmer error).
    #[track_caller]
    pub fn expect<T: 'static>(&self, transform: &dyn fmt::Display) -> &T {
        self.downcast_ref().unwrap_or_else(|| {
            panic!(
                "{transform}: parameters of type {} were not sampled by this transform (expected {})",
                self.type_name(),
                std::any::type_name::<T>()
            )
        })
    }
}

impl Clone for DynParams {
    fn clone(&self) -> Self {
        DynParams(self.0.clone_box())
    }
}

impl PartialEq for DynParams {
    fn eq(&self, other: &Self) -> bool {
        self.0.eq_dyn(&*other.0)
    }
}

impl fmt::Debug for DynParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.debug(f)
    }
}

/// The object-safe form of [`Transform`], implemented for every `Transform`: what pipelines and
/// [`crate::TransformConfig::build`] hold (`Box<dyn DynTransform>`). `dyn DynTransform` is
/// itself a [`Transform`] with [`DynParams`], so use it through the `Transform` methods; the
/// `*_dyn` methods are the erased plumbing.
pub trait DynTransform: Send + Sync + fmt::Display + fmt::Debug {
    /// [`Transform::sample_params`], erased.
    fn sample_dyn(&self, shape: Shape, rng: &mut dyn RngCore) -> DynParams;
    /// [`Transform::apply`], erased.
    fn apply_dyn(&self, img: &Array3<f32>, params: &DynParams) -> Array3<f32>;
    /// [`Transform::apply_owned`], erased.
    fn apply_owned_dyn(&self, img: Array3<f32>, params: &DynParams) -> Array3<f32>;
    /// [`Transform::apply_mask`], erased.
    fn apply_mask_dyn(&self, mask: &Array3<f32>, params: &DynParams) -> Array3<f32>;
    /// [`Transform::output_shape`], erased.
    fn output_shape_dyn(&self, shape: Shape, params: &DynParams) -> Shape;
    /// [`Transform::output_size`].
    fn output_size_dyn(&self, input: ShapeRange) -> Result<ShapeRange>;
    /// [`Transform::apply_random_owned`] without erasing the parameters.
    fn apply_random_owned_dyn(&self, img: Array3<f32>, rng: &mut dyn RngCore) -> Array3<f32>;
}

impl<T: Transform> DynTransform for T {
    fn sample_dyn(&self, shape: Shape, rng: &mut dyn RngCore) -> DynParams {
        DynParams::new(self.sample_params(shape, rng))
    }
    fn apply_dyn(&self, img: &Array3<f32>, params: &DynParams) -> Array3<f32> {
        self.apply(img, params.expect(self))
    }
    fn apply_owned_dyn(&self, img: Array3<f32>, params: &DynParams) -> Array3<f32> {
        self.apply_owned(img, params.expect(self))
    }
    fn apply_mask_dyn(&self, mask: &Array3<f32>, params: &DynParams) -> Array3<f32> {
        self.apply_mask(mask, params.expect(self))
    }
    fn output_shape_dyn(&self, shape: Shape, params: &DynParams) -> Shape {
        self.output_shape(shape, params.expect(self))
    }
    fn output_size_dyn(&self, input: ShapeRange) -> Result<ShapeRange> {
        self.output_size(input)
    }
    fn apply_random_owned_dyn(&self, img: Array3<f32>, rng: &mut dyn RngCore) -> Array3<f32> {
        self.apply_random_owned(img, rng)
    }
}

impl Transform for dyn DynTransform + '_ {
    type Params = DynParams;
    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> DynParams {
        self.sample_dyn(shape, rng)
    }
    fn apply(&self, img: &Array3<f32>, params: &DynParams) -> Array3<f32> {
        self.apply_dyn(img, params)
    }
    fn apply_owned(&self, img: Array3<f32>, params: &DynParams) -> Array3<f32> {
        self.apply_owned_dyn(img, params)
    }
    fn apply_mask(&self, mask: &Array3<f32>, params: &DynParams) -> Array3<f32> {
        self.apply_mask_dyn(mask, params)
    }
    fn output_shape(&self, shape: Shape, params: &DynParams) -> Shape {
        self.output_shape_dyn(shape, params)
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        self.output_size_dyn(input)
    }
    fn apply_random(&self, img: &Array3<f32>, rng: &mut dyn RngCore) -> Array3<f32> {
        self.apply_random_owned_dyn(img.clone(), rng)
    }
    fn apply_random_owned(&self, img: Array3<f32>, rng: &mut dyn RngCore) -> Array3<f32> {
        self.apply_random_owned_dyn(img, rng)
    }
}

impl<T: Transform + ?Sized> Transform for Box<T> {
    type Params = T::Params;
    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> T::Params {
        (**self).sample_params(shape, rng)
    }
    fn apply(&self, img: &Array3<f32>, params: &T::Params) -> Array3<f32> {
        (**self).apply(img, params)
    }
    fn apply_owned(&self, img: Array3<f32>, params: &T::Params) -> Array3<f32> {
        (**self).apply_owned(img, params)
    }
    fn apply_mask(&self, mask: &Array3<f32>, params: &T::Params) -> Array3<f32> {
        (**self).apply_mask(mask, params)
    }
    fn output_shape(&self, shape: Shape, params: &T::Params) -> Shape {
        (**self).output_shape(shape, params)
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        (**self).output_size(input)
    }
    fn apply_random(&self, img: &Array3<f32>, rng: &mut dyn RngCore) -> Array3<f32> {
        (**self).apply_random(img, rng)
    }
    fn apply_random_owned(&self, img: Array3<f32>, rng: &mut dyn RngCore) -> Array3<f32> {
        (**self).apply_random_owned(img, rng)
    }
}

impl<T: Transform + ?Sized> Transform for std::sync::Arc<T> {
    type Params = T::Params;
    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> T::Params {
        (**self).sample_params(shape, rng)
    }
    fn apply(&self, img: &Array3<f32>, params: &T::Params) -> Array3<f32> {
        (**self).apply(img, params)
    }
    fn apply_owned(&self, img: Array3<f32>, params: &T::Params) -> Array3<f32> {
        (**self).apply_owned(img, params)
    }
    fn apply_mask(&self, mask: &Array3<f32>, params: &T::Params) -> Array3<f32> {
        (**self).apply_mask(mask, params)
    }
    fn output_shape(&self, shape: Shape, params: &T::Params) -> Shape {
        (**self).output_shape(shape, params)
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        (**self).output_size(input)
    }
    fn apply_random(&self, img: &Array3<f32>, rng: &mut dyn RngCore) -> Array3<f32> {
        (**self).apply_random(img, rng)
    }
    fn apply_random_owned(&self, img: Array3<f32>, rng: &mut dyn RngCore) -> Array3<f32> {
        (**self).apply_random_owned(img, rng)
    }
}

/// Checks that every image in `input` has 1 or 3 channels (the colour operations' inputs).
pub(crate) fn gray_or_rgb(transform: &str, input: ShapeRange) -> Result<ShapeRange> {
    let [lo, hi] = input.channels;
    if (lo == 1 || lo == 3) && (hi == 1 || hi == 3) {
        Ok(input)
    } else {
        Err(AugmentError::shape(
            transform,
            input,
            "1 (grayscale) or 3 (RGB) channels",
        ))
    }
}

/// Uniform `f64` in `[lo, hi)` (torch's `uniform_`).
#[inline]
pub(crate) fn uniform(rng: &mut dyn RngCore, lo: f64, hi: f64) -> f64 {
    use rand::Rng;
    if lo == hi {
        lo
    } else {
        lo + (hi - lo) * rng.random::<f64>()
    }
}

/// Uniform integer in `lo..=hi`.
#[inline]
pub(crate) fn int_inclusive(rng: &mut dyn RngCore, lo: usize, hi: usize) -> usize {
    use rand::Rng;
    if lo >= hi {
        lo
    } else {
        rng.random_range(lo..=hi)
    }
}

/// `true` with probability `p`.
#[inline]
pub(crate) fn bernoulli(rng: &mut dyn RngCore, p: f64) -> bool {
    use rand::Rng;
    if p >= 1.0 {
        true
    } else if p <= 0.0 {
        false
    } else {
        rng.random::<f64>() < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CropBox, HorizontalFlip, RandomCrop};
    use rand::SeedableRng;

    #[test]
    fn dyn_params_compare_by_type_and_value() {
        assert_eq!(DynParams::new(true), DynParams::new(true));
        assert_ne!(DynParams::new(true), DynParams::new(false));
        assert_ne!(DynParams::new(1.0f64), DynParams::new(1.0f32));
        assert_eq!(format!("{:?}", DynParams::new(Some(3u8))), "Some(3)");
        let p = DynParams::new(vec![1usize, 2]);
        assert_eq!(p.clone(), p);
    }

    #[test]
    fn erased_transforms_sample_and_apply_like_typed_ones() {
        let crop = RandomCrop::new(4, 1).unwrap();
        let erased: Box<dyn DynTransform> = Box::new(crop.clone());
        let img = crate::synthetic::test_image(6, 6);
        let mut r1 = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut r2 = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let typed: CropBox = crop.sample_params([3, 6, 6], &mut r1);
        let dynamic = erased.sample_params([3, 6, 6], &mut r2);
        assert_eq!(dynamic.downcast_ref::<CropBox>(), Some(&typed));
        assert_eq!(erased.apply(&img, &dynamic), crop.apply(&img, &typed));
        assert_eq!(erased.output_shape([3, 6, 6], &dynamic), [3, 4, 4]);
    }

    #[test]
    #[should_panic(expected = "were not sampled by this transform")]
    fn foreign_parameters_panic_naming_the_transform() {
        let flip: Box<dyn DynTransform> = Box::new(HorizontalFlip::new(0.5).unwrap());
        let img = crate::synthetic::test_image(4, 4);
        let _ = flip.apply(&img, &DynParams::new(3.0f64));
    }
}
