//! Erasing regions of the input: [`Cutout`](cutout::Cutout) (DeVries & Taylor 2017) and
//! [`RandomErasing`](random_erasing::RandomErasing) (Zhong et al. 2017, torchvision
//! `RandomErasing`), and the deterministic [`erase`] they share (torchvision `F.erase`).
//!
//! Both are per-sample, training-only transforms; they leave segmentation masks unchanged (as
//! torchvision passes masks through `RandomErasing`).

pub mod cutout;
pub mod random_erasing;

use ndarray::{Array3, s};

/// What [`erase`] writes into the region: one value for every channel, one per channel, or a
/// `[C, h, w]` array (RandomErasing's `value="random"`: per-pixel normal noise).
#[derive(Clone, Debug, PartialEq)]
pub enum ErasureValue {
    /// One value per channel, or one value for all channels.
    Values(Vec<f32>),
    /// The region's new contents, `[C, height, width]`.
    Pixels(Array3<f32>),
}

/// Sets rows `top..top+height`, columns `left..left+width` of every channel to `value`
/// (torchvision `F.erase(img, i, j, h, w, v)` with `v` broadcast), in place.
///
/// # Panics
/// If the region is not inside the image, or `value` has neither 1 nor `C` values (or its
/// pixels are not `[C, height, width]`).
pub fn erase_inplace(
    img: &mut Array3<f32>,
    top: usize,
    left: usize,
    height: usize,
    width: usize,
    value: &ErasureValue,
) {
    let (c, h, w) = img.dim();
    assert!(
        top + height <= h && left + width <= w,
        "erase: region {height}x{width} at ({top}, {left}) is not inside the {h}x{w} image"
    );
    let mut region = img.slice_mut(s![.., top..top + height, left..left + width]);
    match value {
        ErasureValue::Values(v) if v.len() == 1 => region.fill(v[0]),
        ErasureValue::Values(v) => {
            assert!(
                v.len() == c,
                "erase: {} values for an image with {c} channels",
                v.len()
            );
            for (mut plane, &x) in region.outer_iter_mut().zip(v) {
                plane.fill(x);
            }
        }
        ErasureValue::Pixels(p) => {
            assert_eq!(
                p.dim(),
                (c, height, width),
                "erase: pixels of shape {:?} for a region of {c}x{height}x{width}",
                p.dim()
            );
            region.assign(p);
        }
    }
}

/// [`erase_inplace`] on a copy (torchvision `F.erase`).
pub fn erase(
    img: &Array3<f32>,
    top: usize,
    left: usize,
    height: usize,
    width: usize,
    value: &ErasureValue,
) -> Array3<f32> {
    let mut out = img.to_owned();
    erase_inplace(&mut out, top, left, height, width, value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erase_writes_only_the_region() {
        let img = Array3::from_elem((3, 4, 5), 1.0f32);
        let out = erase(&img, 1, 2, 2, 3, &ErasureValue::Values(vec![0.0, 0.5, 2.0]));
        for ((c, y, x), &v) in out.indexed_iter() {
            let inside = (1..3).contains(&y) && (2..5).contains(&x);
            let want = if inside { [0.0, 0.5, 2.0][c] } else { 1.0 };
            assert_eq!(v, want, "({c}, {y}, {x})");
        }
        let px = Array3::from_shape_fn((3, 1, 1), |(c, _, _)| c as f32);
        let out = erase(&img, 3, 4, 1, 1, &ErasureValue::Pixels(px));
        assert_eq!(out[[2, 3, 4]], 2.0);
        assert_eq!(out.sum(), 60.0 - 3.0 + 3.0);
    }

    #[test]
    #[should_panic(expected = "not inside")]
    fn regions_outside_the_image_panic() {
        let mut img = Array3::zeros((1, 4, 4));
        erase_inplace(&mut img, 3, 0, 2, 1, &ErasureValue::Values(vec![0.0]));
    }
}
