//! Point and neighbourhood operations of the AutoAugment family (Cubuk et al. 2019), PIL's
//! `ImageOps` with torchvision's float-tensor semantics:
//!
//! * invert: `1 − x`; solarize(t): `x ≥ t ? 1 − x : x`
//! * posterize(b): `⌊x·2ᵇ⌋ clamped to [0, 2ᵇ−1], / 2ᵇ`
//! * autocontrast: per channel `(x − min) / (max − min)` (unchanged if `max = min`)
//! * equalize: per-channel histogram equalisation on the 8-bit quantisation `⌊x·255.999⌋`
//!   with PIL's lookup table, back to `[0, 1]` as `v / 255`
//! * sharpness(f): blend with the 3×3 smoothing filter `[1 1 1; 1 5 1; 1 1 1]/13` (interior
//!   pixels only): `x ← clamp(blur + f·(x − blur), 0, 1)`

use super::planes_mut;
use ndarray::{Array3, ArrayBase, Data, Ix3};

fn owned<S: Data<Elem = f32>>(img: &ArrayBase<S, Ix3>) -> Array3<f32> {
    img.as_standard_layout().into_owned()
}

/// In-place invert: `x ← 1 − x`.
pub fn invert_inplace(img: &mut Array3<f32>) {
    for x in planes_mut(img) {
        *x = 1.0 - *x;
    }
}

/// Invert (torchvision `F.invert`).
pub fn invert<S: Data<Elem = f32>>(img: &ArrayBase<S, Ix3>) -> Array3<f32> {
    let mut o = owned(img);
    invert_inplace(&mut o);
    o
}

/// In-place solarize: invert values `≥ threshold`.
pub fn solarize_inplace(img: &mut Array3<f32>, threshold: f32) {
    for x in planes_mut(img) {
        if *x >= threshold {
            *x = 1.0 - *x;
        }
    }
}

/// Solarize (torchvision `F.solarize`).
pub fn solarize<S: Data<Elem = f32>>(img: &ArrayBase<S, Ix3>, threshold: f32) -> Array3<f32> {
    let mut o = owned(img);
    solarize_inplace(&mut o, threshold);
    o
}

/// In-place posterize to `bits ∈ [0, 8]` bits.
pub fn posterize_inplace(img: &mut Array3<f32>, bits: u32) {
    assert!(bits <= 8, "posterize: bits must be in [0, 8], got {bits}");
    let levels = (1u32 << bits) as f32;
    let inv = 1.0 / levels;
    for x in planes_mut(img) {
        *x = crate::kernels::floor_f32(*x * levels).clamp(0.0, levels - 1.0) * inv;
    }
}

/// Posterize (torchvision `F.posterize`).
pub fn posterize<S: Data<Elem = f32>>(img: &ArrayBase<S, Ix3>, bits: u32) -> Array3<f32> {
    let mut o = owned(img);
    posterize_inplace(&mut o, bits);
    o
}

/// In-place autocontrast (per channel).
pub fn autocontrast_inplace(img: &mut Array3<f32>) {
    let (_, h, w) = img.dim();
    let n = h * w;
    if n == 0 {
        return;
    }
    for plane in planes_mut(img).chunks_exact_mut(n) {
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &x in plane.iter() {
            lo = lo.min(x);
            hi = hi.max(x);
        }
        let (min, scale) = if hi == lo { (0.0, 1.0) } else { (lo, hi - lo) };
        for x in plane.iter_mut() {
            *x = ((*x - min) / scale).clamp(0.0, 1.0);
        }
    }
}

/// Autocontrast (torchvision `F.autocontrast`).
pub fn autocontrast<S: Data<Elem = f32>>(img: &ArrayBase<S, Ix3>) -> Array3<f32> {
    let mut o = owned(img);
    autocontrast_inplace(&mut o);
    o
}

/// Float → uint8 as torchvision's `to_dtype(scale=True)`: `⌊x · 255.999⌋`.
#[inline]
fn to_u8(x: f32) -> u8 {
    (x * (255.0f32 + 1.0 - 1e-3)).clamp(0.0, 255.0) as u8
}

/// In-place histogram equalisation (per channel).
pub fn equalize_inplace(img: &mut Array3<f32>) {
    let (_, h, w) = img.dim();
    let n = h * w;
    if n == 0 {
        return;
    }
    let inv = 1.0f32 / 255.0;
    for plane in planes_mut(img).chunks_exact_mut(n) {
        let mut hist = [0usize; 256];
        for &x in plane.iter() {
            hist[to_u8(x) as usize] += 1;
        }
        let last = (0..256).rev().find(|&i| hist[i] > 0).unwrap_or(0);
        let step = (n - hist[last]) / 255;
        let mut lut = [0u8; 256];
        match std::num::NonZeroUsize::new(step) {
            None => {
                for (i, l) in lut.iter_mut().enumerate() {
                    *l = i as u8;
                }
            }
            Some(nz) => {
                let mut cum = 0usize;
                for k in 1..256 {
                    cum += hist[k - 1];
                    lut[k] = ((cum + step / 2) / nz).min(255) as u8;
                }
            }
        }
        for x in plane.iter_mut() {
            *x = lut[to_u8(*x) as usize] as f32 * inv;
        }
    }
}

/// Histogram equalisation (torchvision `F.equalize`).
pub fn equalize<S: Data<Elem = f32>>(img: &ArrayBase<S, Ix3>) -> Array3<f32> {
    let mut o = owned(img);
    equalize_inplace(&mut o);
    o
}

/// In-place sharpness adjustment.
pub fn sharpness_inplace(img: &mut Array3<f32>, factor: f32) {
    let (_, h, w) = img.dim();
    if h <= 2 || w <= 2 {
        return;
    }
    let n = h * w;
    let (a, b) = (1.0f32 / 13.0, 5.0f32 / 13.0);
    let k = 1.0 - factor;
    let mut orig = vec![0.0f32; n];
    for plane in planes_mut(img).chunks_exact_mut(n) {
        orig.copy_from_slice(plane);
        for i in 1..h - 1 {
            let (up, mid, dn) = (
                &orig[(i - 1) * w..i * w],
                &orig[i * w..(i + 1) * w],
                &orig[(i + 1) * w..(i + 2) * w],
            );
            let row = &mut plane[i * w..(i + 1) * w];
            for j in 1..w - 1 {
                let blur = (up[j - 1]
                    + up[j]
                    + up[j + 1]
                    + mid[j - 1]
                    + mid[j + 1]
                    + dn[j - 1]
                    + dn[j]
                    + dn[j + 1])
                    * a
                    + mid[j] * b;
                let x = mid[j];
                row[j] = x + k * (blur - x);
            }
        }
        for x in plane.iter_mut() {
            *x = x.clamp(0.0, 1.0);
        }
    }
}

/// Sharpness (torchvision `F.adjust_sharpness`): `0` = blurred, `1` = original, `2` = sharper.
pub fn adjust_sharpness<S: Data<Elem = f32>>(img: &ArrayBase<S, Ix3>, factor: f32) -> Array3<f32> {
    let mut o = owned(img);
    sharpness_inplace(&mut o, factor);
    o
}
