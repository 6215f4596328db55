//! Low-level kernels on contiguous CHW planes: padded crops, separable resampling and inverse-map
//! warps. The public functional API (`geometry::functional`) wraps them.

pub mod crop;
pub mod resample;
pub mod warp;

use ndarray::{Array3, ArrayBase, Data, Ix3};
use std::borrow::Cow;

/// The image as one contiguous CHW slice (copies only if the input is not in standard layout).
pub(crate) fn contiguous<S: Data<Elem = f32>>(img: &ArrayBase<S, Ix3>) -> Cow<'_, [f32]> {
    match img.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(img.iter().copied().collect()),
    }
}

/// Wraps a CHW vector into an array.
pub(crate) fn from_vec(c: usize, h: usize, w: usize, v: Vec<f32>) -> Array3<f32> {
    debug_assert_eq!(v.len(), c * h * w);
    Array3::from_shape_vec((c, h, w), v).expect("kernel produced a buffer of the wrong length")
}
