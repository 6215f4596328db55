//! Brightness, contrast, saturation and hue adjustments with torchvision's tensor semantics
//! (`F.adjust_*` on float images in `[0, 1]`), in place and as pure functions.
//!
//! * brightness `f`: `x ← clamp(f·x, 0, 1)`
//! * contrast `f`: `x ← clamp(f·x + (1−f)·μ, 0, 1)`, `μ` = mean of the grayscale image
//! * saturation `f`: `x ← clamp(f·x + (1−f)·gray, 0, 1)` per pixel
//! * hue `δ ∈ [−½, ½]`: RGB → HSV, `h ← (h + δ) mod 1`, HSV → RGB
//! * grayscale: `gray = 0.2989·R + 0.587·G + 0.114·B` (ITU-R 601-2 luma)
//!
//! Single-channel images: saturation and hue are no-ops, contrast uses the image mean.

use super::planes_mut;
use ndarray::{Array3, ArrayBase, Data, Ix3};

/// Luma weights of torchvision's `rgb_to_grayscale`.
pub const LUMA: [f32; 3] = [0.2989, 0.587, 0.114];

fn check_channels(op: &str, c: usize) {
    assert!(c == 1 || c == 3, "{op}: expected 1 or 3 channels, got {c}");
}

/// In-place brightness: `x ← clamp(f·x, 0, 1)`.
pub fn brightness_inplace(img: &mut Array3<f32>, factor: f32) {
    check_channels("adjust_brightness", img.dim().0);
    for x in planes_mut(img) {
        *x = (*x * factor).clamp(0.0, 1.0);
    }
}

/// Mean of the grayscale image (or of the single channel).
pub fn gray_mean(img: &Array3<f32>) -> f32 {
    let (c, h, w) = img.dim();
    let n = h * w;
    if n == 0 {
        return 0.0;
    }
    let s = img
        .as_slice()
        .map(std::borrow::Cow::Borrowed)
        .unwrap_or_else(|| std::borrow::Cow::Owned(img.iter().copied().collect::<Vec<f32>>()));
    if c == 1 {
        let sum: f64 = s.iter().map(|&x| x as f64).sum();
        return (sum / n as f64) as f32;
    }
    let (r, rest) = s.split_at(n);
    let (g, b) = rest.split_at(n);
    // f32 partial sums per 256-element chunk, then f64: accurate and vectorisable.
    let mut total = 0.0f64;
    for ((rc, gc), bc) in r.chunks(256).zip(g.chunks(256)).zip(b.chunks(256)) {
        let mut acc = 0.0f32;
        for ((x, y), z) in rc.iter().zip(gc).zip(bc) {
            acc += x * LUMA[0] + y * LUMA[1] + z * LUMA[2];
        }
        total += acc as f64;
    }
    (total / n as f64) as f32
}

/// In-place contrast: `x ← clamp(f·x + (1−f)·μ, 0, 1)`.
pub fn contrast_inplace(img: &mut Array3<f32>, factor: f32) {
    check_channels("adjust_contrast", img.dim().0);
    let mean = gray_mean(img);
    let off = (1.0 - factor) * mean;
    for x in planes_mut(img) {
        *x = (*x * factor + off).clamp(0.0, 1.0);
    }
}

/// In-place saturation: blend each pixel with its luma, `x ← clamp(f·x + (1−f)·gray, 0, 1)`.
pub fn saturation_inplace(img: &mut Array3<f32>, factor: f32) {
    let (c, h, w) = img.dim();
    check_channels("adjust_saturation", c);
    if c == 1 {
        return;
    }
    let n = h * w;
    let s = planes_mut(img);
    let (r, rest) = s.split_at_mut(n);
    let (g, b) = rest.split_at_mut(n);
    let k = 1.0 - factor;
    for ((x, y), z) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
        let gray = (*x * LUMA[0] + *y * LUMA[1] + *z * LUMA[2]) * k;
        *x = (*x * factor + gray).clamp(0.0, 1.0);
        *y = (*y * factor + gray).clamp(0.0, 1.0);
        *z = (*z * factor + gray).clamp(0.0, 1.0);
    }
}

/// RGB → HSV exactly as torchvision's `_rgb_to_hsv` (`h, s, v ∈ [0, 1]`).
#[inline]
pub fn rgb_to_hsv(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
    let maxc = r.max(g).max(b);
    let minc = r.min(g).min(b);
    let eqc = maxc == minc;
    let cr = maxc - minc;
    let s = cr / if eqc { 1.0 } else { maxc };
    let d = if eqc { 1.0 } else { cr };
    let rc = (maxc - r) / d;
    let gc = (maxc - g) / d;
    let bc = (maxc - b) / d;
    let h = if maxc == r {
        bc - gc
    } else if maxc == g {
        2.0 + rc - bc
    } else {
        4.0 + gc - rc
    };
    let x = h * (1.0 / 6.0) + 1.0; // in [5/6, 11/6]: fmod(x, 1) = x − trunc(x), exactly
    let h = x - (x as i32 as f32);
    (h, s, maxc)
}

/// HSV → RGB exactly as torchvision's `_hsv_to_rgb`.
#[inline]
pub fn hsv_to_rgb(h: f32, s: f32, v: f32) -> (f32, f32, f32) {
    let h6 = h * 6.0;
    let i = crate::kernels::floor_f32(h6);
    let f = h6 - i;
    let i = (i as i32).rem_euclid(6);
    let sxf = s * f;
    let one_minus_s = 1.0 - s;
    let q = ((1.0 - sxf) * v).clamp(0.0, 1.0);
    let t = ((sxf + one_minus_s) * v).clamp(0.0, 1.0);
    let p = (one_minus_s * v).clamp(0.0, 1.0);
    match i {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    }
}

/// In-place hue shift by `delta ∈ [−½, ½]` turns.
pub fn hue_inplace(img: &mut Array3<f32>, delta: f32) {
    let (c, h, w) = img.dim();
    check_channels("adjust_hue", c);
    assert!(
        (-0.5..=0.5).contains(&delta),
        "adjust_hue: factor {delta} is not in [-0.5, 0.5]"
    );
    if c == 1 {
        return;
    }
    let n = h * w;
    let s = planes_mut(img);
    let (r, rest) = s.split_at_mut(n);
    let (g, b) = rest.split_at_mut(n);
    for ((x, y), z) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
        let (hh, ss, vv) = rgb_to_hsv(*x, *y, *z);
        let hh = hh + delta;
        let hh = hh - crate::kernels::floor_f32(hh); // torch.remainder(·, 1)
        let (a, bb, cc) = hsv_to_rgb(hh, ss, vv);
        *x = a;
        *y = bb;
        *z = cc;
    }
}

macro_rules! pure {
    ($name:ident, $inplace:ident, $doc:literal) => {
        #[doc = $doc]
        pub fn $name<S: Data<Elem = f32>>(img: &ArrayBase<S, Ix3>, factor: f32) -> Array3<f32> {
            let mut out = img.as_standard_layout().into_owned();
            $inplace(&mut out, factor);
            out
        }
    };
}

pure!(
    adjust_brightness,
    brightness_inplace,
    "Brightness (torchvision `F.adjust_brightness`)."
);
pure!(
    adjust_contrast,
    contrast_inplace,
    "Contrast (torchvision `F.adjust_contrast`)."
);
pure!(
    adjust_saturation,
    saturation_inplace,
    "Saturation (torchvision `F.adjust_saturation`)."
);
pure!(
    adjust_hue,
    hue_inplace,
    "Hue shift (torchvision `F.adjust_hue`)."
);

/// Grayscale with `num_output_channels` (1 or 3) channels (torchvision `F.rgb_to_grayscale`).
pub fn rgb_to_grayscale<S: Data<Elem = f32>>(
    img: &ArrayBase<S, Ix3>,
    num_output_channels: usize,
) -> Array3<f32> {
    let (c, h, w) = img.dim();
    check_channels("rgb_to_grayscale", c);
    assert!(
        num_output_channels == 1 || num_output_channels == 3,
        "rgb_to_grayscale: num_output_channels must be 1 or 3, got {num_output_channels}"
    );
    let n = h * w;
    let gray: Vec<f32> = if c == 1 {
        img.iter().copied().collect()
    } else {
        let src = crate::kernels::contiguous(img);
        let (r, rest) = src.split_at(n);
        let (g, b) = rest.split_at(n);
        r.iter()
            .zip(g)
            .zip(b)
            .map(|((x, y), z)| x * LUMA[0] + y * LUMA[1] + z * LUMA[2])
            .collect()
    };
    let mut out = Vec::with_capacity(num_output_channels * n);
    for _ in 0..num_output_channels {
        out.extend_from_slice(&gray);
    }
    Array3::from_shape_vec((num_output_channels, h, w), out).expect("grayscale shape")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::test_image;

    #[test]
    fn hsv_round_trip() {
        for &(r, g, b) in &[
            (0.2f32, 0.4, 0.6),
            (1.0, 0.0, 0.0),
            (0.5, 0.5, 0.5),
            (0.9, 0.8, 0.1),
        ] {
            let (h, s, v) = rgb_to_hsv(r, g, b);
            assert!((0.0..=1.0).contains(&h) && (0.0..=1.0).contains(&s));
            let (r2, g2, b2) = hsv_to_rgb(h, s, v);
            assert!((r - r2).abs() < 1e-6 && (g - g2).abs() < 1e-6 && (b - b2).abs() < 1e-6);
        }
        // Gray has no saturation.
        assert_eq!(rgb_to_hsv(0.3, 0.3, 0.3).1, 0.0);
    }

    #[test]
    fn factor_one_is_the_identity_and_brightness_clamps() {
        let img = test_image(6, 7);
        let mut same = img.clone();
        brightness_inplace(&mut same, 1.0);
        contrast_inplace(&mut same, 1.0);
        saturation_inplace(&mut same, 1.0);
        hue_inplace(&mut same, 0.0);
        for (a, b) in same.iter().zip(&img) {
            assert!((a - b).abs() < 1e-6);
        }
        let mut bright = img.clone();
        brightness_inplace(&mut bright, 10.0);
        assert!(bright.iter().all(|&x| (0.0..=1.0).contains(&x)));
        let mut dark = img.clone();
        brightness_inplace(&mut dark, 0.0);
        assert!(dark.iter().all(|&x| x == 0.0));
    }

    #[test]
    fn saturation_zero_gives_the_grayscale_image() {
        let img = test_image(4, 4);
        let mut s = img.clone();
        saturation_inplace(&mut s, 0.0);
        let gray = rgb_to_grayscale(&img, 1);
        for c in 0..3 {
            for (a, b) in s.index_axis(ndarray::Axis(0), c).iter().zip(gray.iter()) {
                assert!((a - b).abs() < 1e-6);
            }
        }
    }
}
