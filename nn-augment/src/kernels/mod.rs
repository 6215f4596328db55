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

/// `⌊x⌋` without a libm call (the x86-64 baseline has no `roundss`); exact for `|x| < 2³¹`.
#[inline(always)]
pub(crate) fn floor_f32(x: f32) -> f32 {
    let t = x as i32 as f32;
    if t > x { t - 1.0 } else { t }
}

/// Round half to even (`nearbyint`), exact for `|x| < 2²²`.
#[inline(always)]
pub(crate) fn round_even_f32(x: f32) -> f32 {
    let f = floor_f32(x);
    let d = x - f;
    if d > 0.5 || (d == 0.5 && (f as i32) & 1 == 1) {
        f + 1.0
    } else {
        f
    }
}
