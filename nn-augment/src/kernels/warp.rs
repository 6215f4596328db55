//! Inverse-map warps (affine, rotation, lens distortion) with `grid_sample` semantics
//! (`align_corners=False`, zero padding) and torchvision's fill rule.
//!
//! For every output pixel the caller gives a source position `(x, y)` in input pixel coordinates
//! (pixel centres at integers). Bilinear: the four neighbours `⌊x⌋, ⌊x⌋+1 × ⌊y⌋, ⌊y⌋+1` with
//! weights `(1−fx)(1−fy) …`, out-of-image taps reading 0. Nearest: `round-half-even(x, y)`.
//! With a fill value `f`, torchvision also warps an all-ones mask `m` and returns
//! `m·(v − f) + f` (bilinear) or `f` where `m < ½` (nearest); without one the zero padding shows.

use super::{contiguous, floor_f32, from_vec, round_even_f32};
use crate::interpolation::Interpolation;
use crate::padding::Fill;
use ndarray::{Array3, ArrayBase, Data, Ix3};

/// Copies each channel into a `(h+2) × (w+2)` plane with a one-pixel border of `border[c]`, so
/// that every tap of an in-range sample is a valid index (no per-pixel branches).
fn padded_planes(src: &[f32], c: usize, h: usize, w: usize, border: &[f32]) -> Vec<f32> {
    let (ph, pw) = (h + 2, w + 2);
    let mut out = Vec::with_capacity(c * ph * pw);
    for ch in 0..c {
        let b = border[ch];
        out.extend(std::iter::repeat_n(b, pw));
        for row in src[ch * h * w..(ch + 1) * h * w]
            .chunks_exact(w.max(1))
            .take(h)
        {
            out.push(b);
            out.extend_from_slice(row);
            out.push(b);
        }
        out.extend(std::iter::repeat_n(b, pw));
    }
    out
}

/// Warps `img` to `out_h × out_w`: `map(i, xs, ys)` must write the source coordinates of the
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
    if out.is_empty() {
        return from_vec(c, out_h, out_w, out);
    }
    let mut xs = vec![0.0f32; out_w];
    let mut ys = vec![0.0f32; out_w];
    let fills: Vec<f32> = (0..c).map(|ch| fill.map_or(0.0, |f| f.value(ch))).collect();
    let plane_out = out_h * out_w;
    let pw = w + 2;
    let plane_in = (h + 2) * pw;
    let (wf, hf) = (w as f32, h as f32);
    let mut idx = vec![0usize; out_w];
    if interp.is_nearest() {
        // Border = fill (0 without one); out-of-image samples read the corner border pixel.
        let padded = padded_planes(&src, c, h, w, &fills);
        for i in 0..out_h {
            map(i, &mut xs, &mut ys);
            for j in 0..out_w {
                let x = round_even_f32(xs[j]);
                let y = round_even_f32(ys[j]);
                idx[j] = if x >= 0.0 && y >= 0.0 && x < wf && y < hf {
                    (y as usize + 1) * pw + x as usize + 1
                } else {
                    0
                };
            }
            for ch in 0..c {
                let plane = &padded[ch * plane_in..(ch + 1) * plane_in];
                let orow = &mut out[ch * plane_out + i * out_w..ch * plane_out + (i + 1) * out_w];
                for (o, &k) in orow.iter_mut().zip(&idx) {
                    *o = plane[k];
                }
            }
        }
    } else {
        let zeros = vec![0.0f32; c];
        let padded = padded_planes(&src, c, h, w, &zeros);
        let with_fill = fill.is_some();
        // grid_sample's weights: nw = (x1 − x)(y1 − y), ne = (x − x0)(y1 − y),
        // sw = (x1 − x)(y − y0), se = (x − x0)(y − y0).
        let mut wts = vec![[0.0f32; 4]; out_w];
        let mut mask = vec![0.0f32; out_w];
        for i in 0..out_h {
            map(i, &mut xs, &mut ys);
            for j in 0..out_w {
                let (x, y) = (xs[j], ys[j]);
                let (x0, y0) = (floor_f32(x), floor_f32(y));
                if x0 >= -1.0 && y0 >= -1.0 && x0 < wf && y0 < hf {
                    let (dx0, dx1) = (x - x0, x0 + 1.0 - x);
                    let (dy0, dy1) = (y - y0, y0 + 1.0 - y);
                    let wt = [dx1 * dy1, dx0 * dy1, dx1 * dy0, dx0 * dy0];
                    idx[j] = (y0 as isize + 1) as usize * pw + (x0 as isize + 1) as usize;
                    wts[j] = wt;
                    if with_fill {
                        let cx0 = x0 >= 0.0;
                        let cx1 = x0 + 1.0 < wf;
                        let cy0 = y0 >= 0.0;
                        let cy1 = y0 + 1.0 < hf;
                        let mut m = 0.0;
                        if cy0 && cx0 {
                            m += wt[0];
                        }
                        if cy0 && cx1 {
                            m += wt[1];
                        }
                        if cy1 && cx0 {
                            m += wt[2];
                        }
                        if cy1 && cx1 {
                            m += wt[3];
                        }
                        mask[j] = m;
                    }
                } else {
                    idx[j] = 0;
                    wts[j] = [0.0; 4];
                    mask[j] = 0.0;
                }
            }
            for ch in 0..c {
                let plane = &padded[ch * plane_in..(ch + 1) * plane_in];
                let orow = &mut out[ch * plane_out + i * out_w..ch * plane_out + (i + 1) * out_w];
                for ((o, &k), wt) in orow.iter_mut().zip(&idx).zip(&wts) {
                    let q = &plane[k..k + pw + 2];
                    *o = wt[0] * q[0] + wt[1] * q[1] + wt[2] * q[pw] + wt[3] * q[pw + 1];
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
