//! Crop from a virtually padded image in one pass (pad + crop fused, as used by the CIFAR
//! `RandomCrop(32, padding=4)` recipe), and flips.

use super::{contiguous, from_vec};
use crate::padding::{Fill, PaddingMode};
use ndarray::{Array3, ArrayBase, Data, Ix3};

/// Crops the window `top..top+height`, `left..left+width` of `img`; coordinates outside the image
/// are filled according to `mode` (`fill` for [`PaddingMode::Constant`]).
///
/// `pad` then `crop` in torchvision equals one call here with shifted coordinates.
pub fn crop_padded<S: Data<Elem = f32>>(
    img: &ArrayBase<S, Ix3>,
    top: isize,
    left: isize,
    height: usize,
    width: usize,
    mode: PaddingMode,
    fill: &Fill,
) -> Array3<f32> {
    let (c, h, w) = img.dim();
    assert!(
        h > 0 && w > 0 || (mode == PaddingMode::Constant),
        "crop: cannot pad an empty {h}x{w} image with mode {mode}"
    );
    let src = contiguous(img);
    let mut out: Vec<f32> = Vec::with_capacity(c * height * width);
    // Column map: source column for each output column (None = fill).
    let cols: Vec<Option<usize>> = (0..width)
        .map(|j| mode.map_index(left + j as isize, w))
        .collect();
    // The contiguous in-bounds run [j0, j1) where source = left + j.
    let j0 = ((-left).max(0) as usize).min(width);
    let j1 = ((w as isize - left).clamp(0, width as isize) as usize).max(j0);
    for ch in 0..c {
        let plane = &src[ch * h * w..(ch + 1) * h * w];
        let fv = fill.value(ch);
        for i in 0..height {
            match mode.map_index(top + i as isize, h) {
                None => out.extend(std::iter::repeat_n(fv, width)),
                Some(r) => {
                    let row = &plane[r * w..(r + 1) * w];
                    for col in &cols[..j0] {
                        out.push(col.map_or(fv, |x| row[x]));
                    }
                    if j1 > j0 {
                        let s0 = (left + j0 as isize) as usize;
                        out.extend_from_slice(&row[s0..s0 + (j1 - j0)]);
                    }
                    for col in &cols[j1..] {
                        out.push(col.map_or(fv, |x| row[x]));
                    }
                }
            }
        }
    }
    from_vec(c, height, width, out)
}

/// Mirror left-right.
pub fn hflip<S: Data<Elem = f32>>(img: &ArrayBase<S, Ix3>) -> Array3<f32> {
    let (c, h, w) = img.dim();
    let src = contiguous(img);
    let mut out = vec![0.0f32; c * h * w];
    if w > 0 {
        for (o, i) in out.chunks_exact_mut(w).zip(src.chunks_exact(w)) {
            for (a, b) in o.iter_mut().zip(i.iter().rev()) {
                *a = *b;
            }
        }
    }
    from_vec(c, h, w, out)
}

/// In-place mirror left-right.
pub fn hflip_inplace(img: &mut Array3<f32>) {
    let w = img.dim().2;
    if w == 0 {
        return;
    }
    match img.as_slice_mut() {
        Some(s) => s.chunks_exact_mut(w).for_each(|row| row.reverse()),
        None => *img = hflip(img),
    }
}

/// Mirror top-bottom.
pub fn vflip<S: Data<Elem = f32>>(img: &ArrayBase<S, Ix3>) -> Array3<f32> {
    let (c, h, w) = img.dim();
    let src = contiguous(img);
    let mut out: Vec<f32> = Vec::with_capacity(c * h * w);
    for ch in 0..c {
        for r in (0..h).rev() {
            let s = (ch * h + r) * w;
            out.extend_from_slice(&src[s..s + w]);
        }
    }
    from_vec(c, h, w, out)
}
