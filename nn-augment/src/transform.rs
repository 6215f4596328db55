//! The [`Transform`] trait: sample parameters, then apply them deterministically
//! (torchvision v2's `make_params` / `transform` split).

use crate::types::{Shape, shape_of};
use ndarray::Array3;
use rand::RngCore;
use std::fmt;

/// Axis-aligned crop box in (possibly padded) pixel coordinates. `top`/`left` may be negative or
/// the box may extend past the image: the outside is padded (torchvision `crop` semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CropBox {
    /// First row of the crop (image coordinates; negative = inside the top padding).
    pub top: isize,
    /// First column of the crop.
    pub left: isize,
    /// Crop height.
    pub height: usize,
    /// Crop width.
    pub width: usize,
}

/// Parameters of torchvision's affine warp (`F.affine`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AffineParams {
    /// Rotation in degrees, counter-clockwise (torchvision's affine convention).
    pub angle: f64,
    /// Translation `(dx, dy)` in pixels.
    pub translate: (f64, f64),
    /// Isotropic scale.
    pub scale: f64,
    /// Shear angles `(x, y)` in degrees.
    pub shear: (f64, f64),
}

impl AffineParams {
    /// The identity warp.
    pub const IDENTITY: AffineParams = AffineParams {
        angle: 0.0,
        translate: (0.0, 0.0),
        scale: 1.0,
        shear: (0.0, 0.0),
    };
}

/// Sampled parameters of a colour jitter: the order of the four adjustments and their factors
/// (`None` = that adjustment is disabled).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JitterParams {
    /// Permutation of `0 = brightness, 1 = contrast, 2 = saturation, 3 = hue`.
    pub order: [u8; 4],
    /// Brightness factor.
    pub brightness: Option<f32>,
    /// Contrast factor.
    pub contrast: Option<f32>,
    /// Saturation factor.
    pub saturation: Option<f32>,
    /// Hue shift in turns, in `[-0.5, 0.5]`.
    pub hue: Option<f32>,
}

/// The sampled parameters of one application of a transform.
///
/// Sampling is separate from applying so that an image and its segmentation mask (or several
/// views) receive exactly the same geometry, and so that tests can apply chosen parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Params {
    /// Nothing to do (a skipped random transform) or a deterministic transform.
    Identity,
    /// A flip happens (`true`) or not.
    Flip(bool),
    /// Crop (with padding outside the image).
    Crop(CropBox),
    /// Resize to `(height, width)`.
    Resize(usize, usize),
    /// Crop, then resize to `(height, width)`.
    ResizedCrop(CropBox, usize, usize),
    /// torchvision affine parameters.
    Affine(AffineParams),
    /// A raw inverse affine matrix (output pixel → input pixel, centred coordinates) and the
    /// output `(height, width)`.
    Matrix([f64; 6], usize, usize),
    /// Radial lens-distortion coefficients `(k1, k2)`.
    Lens(f64, f64),
    /// Colour jitter parameters.
    Jitter(JitterParams),
    /// One scalar (a brightness factor, ...).
    Scalar(f64),
    /// Three values (PCA lighting offsets, per channel).
    Rgb([f32; 3]),
    /// A list of augmentation operations with their magnitudes (AutoAugment family).
    Ops(Vec<(crate::policy::AugOp, f64)>),
    /// Parameters of the children of a sequence, in order.
    Seq(Vec<Params>),
    /// A random-apply container: `Some(children)` if applied.
    Maybe(Option<Box<Params>>),
    /// A one-of container: the chosen child and its parameters.
    Choice(usize, Box<Params>),
    /// A random-order container: the order and the parameters of each child (in its order).
    Order(Vec<usize>, Vec<Params>),
    /// Free-form values for user-defined transforms.
    Values(Vec<f64>),
}

/// An image transform in the torchvision v2 style.
///
/// A random transform first draws its parameters from an explicit generator
/// ([`sample_params`](Transform::sample_params)) and then applies them deterministically
/// ([`apply`](Transform::apply)). Deterministic transforms return [`Params::Identity`].
///
/// Images are CHW `f32` arrays with values in `[0, 1]` (torchvision's `ToTensor` convention).
/// The trait is object safe: pipelines hold `Box<dyn Transform>` and are `Send + Sync`.
///
/// ```
/// use nn_augment::{HorizontalFlip, Transform};
/// use ndarray::Array3;
/// use rand::SeedableRng;
///
/// let flip = HorizontalFlip::new(1.0).unwrap();
/// let img = Array3::from_shape_fn((3, 2, 3), |(c, y, x)| (c + y + x) as f32 / 8.0);
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let params = flip.sample_params([3, 2, 3], &mut rng);
/// let out = flip.apply(&img, &params);
/// assert_eq!(out[[0, 0, 0]], img[[0, 0, 2]]);
/// ```
pub trait Transform: Send + Sync + fmt::Display + fmt::Debug {
    /// Draws the parameters of one application to an image of shape `[C, H, W]`.
    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> Params;

    /// Applies previously sampled parameters (deterministic).
    ///
    /// # Panics
    /// If `params` did not come from this transform's `sample_params`.
    fn apply(&self, img: &Array3<f32>, params: &Params) -> Array3<f32>;

    /// Like [`apply`](Transform::apply) but may reuse the input buffer (in-place colour ops).
    fn apply_owned(&self, img: Array3<f32>, params: &Params) -> Array3<f32> {
        self.apply(&img, params)
    }

    /// Applies the same parameters to a label mask (`[K, H, W]`, e.g. class ids as `f32`):
    /// geometric transforms warp it with nearest-neighbour sampling and fill 0, photometric ones
    /// leave it unchanged.
    fn apply_mask(&self, mask: &Array3<f32>, params: &Params) -> Array3<f32> {
        let _ = params;
        mask.clone()
    }

    /// Output shape for an input of `shape` under `params` (lets containers sample the
    /// parameters of later transforms before anything is applied).
    fn output_shape(&self, shape: Shape, params: &Params) -> Shape {
        let _ = params;
        shape
    }

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

impl<T: Transform + ?Sized> Transform for Box<T> {
    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> Params {
        (**self).sample_params(shape, rng)
    }
    fn apply(&self, img: &Array3<f32>, params: &Params) -> Array3<f32> {
        (**self).apply(img, params)
    }
    fn apply_owned(&self, img: Array3<f32>, params: &Params) -> Array3<f32> {
        (**self).apply_owned(img, params)
    }
    fn apply_mask(&self, mask: &Array3<f32>, params: &Params) -> Array3<f32> {
        (**self).apply_mask(mask, params)
    }
    fn output_shape(&self, shape: Shape, params: &Params) -> Shape {
        (**self).output_shape(shape, params)
    }
}

impl<T: Transform + ?Sized> Transform for std::sync::Arc<T> {
    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> Params {
        (**self).sample_params(shape, rng)
    }
    fn apply(&self, img: &Array3<f32>, params: &Params) -> Array3<f32> {
        (**self).apply(img, params)
    }
    fn apply_owned(&self, img: Array3<f32>, params: &Params) -> Array3<f32> {
        (**self).apply_owned(img, params)
    }
    fn apply_mask(&self, mask: &Array3<f32>, params: &Params) -> Array3<f32> {
        (**self).apply_mask(mask, params)
    }
    fn output_shape(&self, shape: Shape, params: &Params) -> Shape {
        (**self).output_shape(shape, params)
    }
}

/// Panics with a message naming the transform and the parameters it did not expect.
#[cold]
#[track_caller]
pub(crate) fn wrong_params(transform: &str, params: &Params) -> ! {
    panic!("{transform}: parameters {params:?} were not sampled by this transform")
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
