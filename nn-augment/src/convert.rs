//! Conversion between `image` crate images and CHW `f32` arrays in `[0, 1]` (torchvision's
//! `ToTensor` / `ToPILImage` conventions: `x = v / 255`; back with rounding and clamping).

use image::{DynamicImage, GrayImage, RgbImage};
use ndarray::{Array3, ArrayBase, Data, Ix3};

/// RGB image → `[3, H, W]` array, `x = v / 255`.
pub fn from_rgb(img: &RgbImage) -> Array3<f32> {
    let (w, h) = img.dimensions();
    let (w, h) = (w as usize, h as usize);
    let raw = img.as_raw();
    let mut out = Vec::with_capacity(3 * h * w);
    for c in 0..3 {
        out.extend(
            raw.iter()
                .skip(c)
                .step_by(3)
                .map(|&v| v as f32 * (1.0 / 255.0)),
        );
    }
    Array3::from_shape_vec((3, h, w), out).expect("rgb shape")
}

/// Grayscale image → `[1, H, W]` array.
pub fn from_gray(img: &GrayImage) -> Array3<f32> {
    let (w, h) = img.dimensions();
    let data = img
        .as_raw()
        .iter()
        .map(|&v| v as f32 * (1.0 / 255.0))
        .collect();
    Array3::from_shape_vec((1, h as usize, w as usize), data).expect("gray shape")
}

/// Any image → `[1, H, W]` for luma images, `[3, H, W]` otherwise (alpha is dropped).
pub fn from_dynamic(img: &DynamicImage) -> Array3<f32> {
    match img {
        DynamicImage::ImageLuma8(g) => from_gray(g),
        DynamicImage::ImageLuma16(_)
        | DynamicImage::ImageLumaA8(_)
        | DynamicImage::ImageLumaA16(_) => from_gray(&img.to_luma8()),
        _ => from_rgb(&img.to_rgb8()),
    }
}

#[inline]
fn to_u8(x: f32) -> u8 {
    (x * 255.0).round().clamp(0.0, 255.0) as u8
}

/// `[3, H, W]` (or `[1, H, W]`, replicated) array → RGB image, `v = round(255·clamp(x, 0, 1))`.
///
/// # Panics
/// If the array has neither 1 nor 3 channels.
pub fn to_rgb<S: Data<Elem = f32>>(img: &ArrayBase<S, Ix3>) -> RgbImage {
    let (c, h, w) = img.dim();
    assert!(
        c == 1 || c == 3,
        "to_rgb: expected 1 or 3 channels, got {c}"
    );
    let mut out = RgbImage::new(w as u32, h as u32);
    for (x, y, p) in out.enumerate_pixels_mut() {
        let (x, y) = (x as usize, y as usize);
        for k in 0..3 {
            p.0[k] = to_u8(img[[if c == 1 { 0 } else { k }, y, x]]);
        }
    }
    out
}

/// `[1, H, W]` array → grayscale image (3 channels are converted with the luma weights).
pub fn to_gray<S: Data<Elem = f32>>(img: &ArrayBase<S, Ix3>) -> GrayImage {
    let g = if img.dim().0 == 1 {
        img.to_owned()
    } else {
        crate::color::adjust::rgb_to_grayscale(img, 1)
    };
    let (_, h, w) = g.dim();
    GrayImage::from_fn(w as u32, h as u32, |x, y| {
        image::Luma([to_u8(g[[0, y as usize, x as usize]])])
    })
}

/// Array → `DynamicImage` (luma for 1 channel, RGB for 3).
pub fn to_dynamic<S: Data<Elem = f32>>(img: &ArrayBase<S, Ix3>) -> DynamicImage {
    if img.dim().0 == 1 {
        DynamicImage::ImageLuma8(to_gray(img))
    } else {
        DynamicImage::ImageRgb8(to_rgb(img))
    }
}
