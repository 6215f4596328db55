//! Inverse-map warps (affine, rotation, lens distortion) with `grid_sample` semantics
//! (`align_corners=False`, zero padding) and torchvision's fill rule.
//!
//! For every output pixel the caller gives a source position `(x, y)` in input pixel coordinates
//! (pixel centres at integers). Bilinear: the four neighbours `⌊x⌋, ⌊x⌋+1 × ⌊y⌋, ⌊y⌋+1` with
//! weights `(1−fx)(1−fy) …`, out-of-image taps reading 0. Nearest: `round-half-even(x, y)`.
//! With a fill value `f`, torchvision also warps an all-ones mask `m` and returns
//! `m·(v − f) + f` (bilinear) or `f` where `m < ½` (nearest); without one the zero padding shows.

use super::{contiguous, from_vec};
use crate::types::{Fill, Interpolation};
use ndarray::{Array3, ArrayBase, Data, Ix3};

/// Warps `img` to `out_h × out_w`: `map(i, j, xs, ys)` must write the source coordinates of the
/// output row `i` into `xs[j], ys[j]` for all columns `j`.
pub fn warp<S, F>(
    img: &ArrayBase<S, Ix3>,
    out_h: usize,
    out_w: usize,
    interp: Interpolation,
    fill: Option<&Fill>,
    mut map: F,
) -> Array3<f32>
where
    S: Data<Elem = f32>,
    F: FnMut(usize, &mut [f32], &mut [f32]),
{
    let (c, h, w) = img.dim();
    let src = contiguous(img);
    let mut out = vec![0.0f32; c * out_h * out_w];
    let mut xs = vec![0.0f32; out_w];
    let mut ys = vec![0.0f32; out_w];
    let fills: Vec<f32> = (0..c).map(|ch| fill.map_or(0.0, |f| f.value(ch))).collect();
    let plane_out = out_h * out_w;
    let (wi, hi) = (w as isize, h as isize);
    if interp.is_nearest() {
        let mut idx: Vec<Option<usize>> = vec![None; out_w];
        for i in 0..out_h {
            map(i, &mut xs, &mut ys);
            for j in 0..out_w {
                let x = xs[j].round_ties_even();
                let y = ys[j].round_ties_even();
                idx[j] = if x >= 0.0 && y >= 0.0 && (x as isize) < wi && (y as isize) < hi {
                    Some(y as usize * w + x as usize)
                } else {
                    None
                };
            }
            for ch in 0..c {
                let plane = &src[ch * h * w..(ch + 1) * h * w];
                let orow = &mut out[ch * plane_out + i * out_w..ch * plane_out + (i + 1) * out_w];
                let f = fills[ch];
                for (o, k) in orow.iter_mut().zip(&idx) {
                    *o = match k {
                        Some(k) => plane[*k],
                        None => f,
                    };
                }
            }
        }
    } else {
        // Per output pixel: top-left index (may be out of range) and the fractional parts.
        let mut x0s = vec![0isize; out_w];
        let mut y0s = vec![0isize; out_w];
        let mut inside = vec![false; out_w];
        let with_fill = fill.is_some();
        let mut mask = vec![0.0f32; out_w];
        for i in 0..out_h {
            map(i, &mut xs, &mut ys);
            for j in 0..out_w {
                let (x, y) = (xs[j], ys[j]);
                let (fx, fy) = (x.floor(), y.floor());
                let (x0, y0) = (fx as isize, fy as isize);
                x0s[j] = x0;
                y0s[j] = y0;
                xs[j] = x - fx;
                ys[j] = y - fy;
                inside[j] = x0 >= 0 && y0 >= 0 && x0 + 1 < wi && y0 + 1 < hi;
                if with_fill {
                    let (ax, ay) = (xs[j], ys[j]);
                    let cx0 = (0..wi).contains(&x0);
                    let cx1 = (0..wi).contains(&(x0 + 1));
                    let cy0 = (0..hi).contains(&y0);
                    let cy1 = (0..hi).contains(&(y0 + 1));
                    let mut m = 0.0;
                    if cy0 && cx0 {
                        m += (1.0 - ax) * (1.0 - ay);
                    }
                    if cy0 && cx1 {
                        m += ax * (1.0 - ay);
                    }
                    if cy1 && cx0 {
                        m += (1.0 - ax) * ay;
                    }
                    if cy1 && cx1 {
                        m += ax * ay;
                    }
                    mask[j] = m;
                }
            }
            for ch in 0..c {
                let plane = &src[ch * h * w..(ch + 1) * h * w];
                let orow = &mut out[ch * plane_out + i * out_w..ch * plane_out + (i + 1) * out_w];
                for j in 0..out_w {
                    let (ax, ay) = (xs[j], ys[j]);
                    let (x0, y0) = (x0s[j], y0s[j]);
                    let v = if inside[j] {
                        let k = y0 as usize * w + x0 as usize;
                        let (a, b) = (plane[k], plane[k + 1]);
                        let (cc, d) = (plane[k + w], plane[k + w + 1]);
                        (a * (1.0 - ax) + b * ax) * (1.0 - ay) + (cc * (1.0 - ax) + d * ax) * ay
                    } else {
                        let get = |yy: isize, xx: isize| -> f32 {
                            if (0..hi).contains(&yy) && (0..wi).contains(&xx) {
                                plane[yy as usize * w + xx as usize]
                            } else {
                                0.0
                            }
                        };
                        (get(y0, x0) * (1.0 - ax) + get(y0, x0 + 1) * ax) * (1.0 - ay)
                            + (get(y0 + 1, x0) * (1.0 - ax) + get(y0 + 1, x0 + 1) * ax) * ay
                    };
                    orow[j] = v;
                }
                if with_fill {
                    let f = fills[ch];
                    for (o, m) in orow.iter_mut().zip(&mask) {
                        *o = (*o - f) * m + f;
                    }
                }
            }
        }
    }
    from_vec(c, out_h, out_w, out)
}

/// `torch.linspace(start, end, n)` in `f32` (PyTorch's CPU kernel: from the start for the first
/// half, from the end for the second).
pub(crate) fn linspace_f32(start: f32, end: f32, n: usize) -> Vec<f32> {
    if n == 1 {
        return vec![start];
    }
    let step = (end - start) / (n - 1) as f32;
    let half = n / 2;
    (0..n)
        .map(|i| {
            if i < half {
                start + step * i as f32
            } else {
                end - step * (n - i - 1) as f32
            }
        })
        .collect()
}

/// Warps with an inverse affine matrix `m` in torchvision's centred convention: an output pixel at
/// centred coordinates `(u, v) = (j − (W'−1)/2, i − (H'−1)/2)` samples the input at
/// `x = m0·u + m1·v + m2 + (W−1)/2`, `y = m3·u + m4·v + m5 + (H−1)/2`.
///
/// The coordinates are computed in `f32` in the same order as torchvision's `_affine_grid` and
/// `grid_sample`, so that nearest-neighbour ties round the same way.
pub fn warp_affine<S: Data<Elem = f32>>(
    img: &ArrayBase<S, Ix3>,
    m: [f64; 6],
    out_h: usize,
    out_w: usize,
    interp: Interpolation,
    fill: Option<&Fill>,
) -> Array3<f32> {
    let (_, h, w) = img.dim();
    let (hw, hh) = ((0.5 * w as f64) as f32, (0.5 * h as f64) as f32);
    let t = [
        m[0] as f32 / hw,
        m[1] as f32 / hw,
        m[2] as f32 / hw,
        m[3] as f32 / hh,
        m[4] as f32 / hh,
        m[5] as f32 / hh,
    ];
    let us = linspace_f32(
        (1.0 - out_w as f32) * 0.5,
        (out_w as f32 - 1.0) * 0.5,
        out_w.max(1),
    );
    let vs = linspace_f32(
        (1.0 - out_h as f32) * 0.5,
        (out_h as f32 - 1.0) * 0.5,
        out_h.max(1),
    );
    let (sx, sy) = (w as f32 / 2.0, h as f32 / 2.0);
    warp(img, out_h, out_w, interp, fill, |i, xs, ys| {
        let v = vs[i];
        let (bx, by) = (v * t[1], v * t[4]);
        for ((x, y), &u) in xs.iter_mut().zip(ys.iter_mut()).zip(&us) {
            let gx = (u * t[0] + bx) + t[2];
            let gy = (u * t[3] + by) + t[5];
            *x = (gx + 1.0) * sx - 0.5;
            *y = (gy + 1.0) * sy - 0.5;
        }
    })
}
