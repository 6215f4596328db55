//! The channels-last kernels of 2-d max pooling ([`Tensor::max_pool2d`] on a channels-last
//! input): the same values, the same maxima and the same gradients as the row-major kernel, with
//! the output kept channels-last.
//!
//! For each output pixel, every tap of its window is a run of C adjacent channels in NHWC memory:
//! the running maximum and its position are updated for all C channels at once (vectorised
//! selects), visiting the taps in the row-major kernel's order (rows, then columns) with its rule
//! (a strictly larger value or any NaN wins, starting from the first tap inside the image), so the
//! maxima and their positions — the flat in-plane index `h·W + w`, as PyTorch's indices — are
//! those of the row-major kernel. The backward pass adds each output gradient at its maximum's
//! position, visiting the outputs of an image in the same order as the row-major kernel, so the
//! sums are bit-identical too; when the windows tile the input (each pixel in one window) it
//! writes `0.0 + g` or 0 per window pixel in one vector pass instead, the same bits.
//!
//! [`Tensor::max_pool2d`]: crate::Tensor::max_pool2d

use rayon::prelude::*;

use super::max::EMPTY;
use crate::simd::{Isa, Simd, dispatch};

/// Shapes of one channels-last max pooling: input `[n][h][w][c]`, output `[n][oh][ow][c]`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Nhwc {
    pub n: usize,
    pub c: usize,
    pub w: usize,
    pub oh: usize,
    pub ow: usize,
    /// Dilation (rows, columns): the distance between window taps.
    pub dilation: (usize, usize),
    /// The window (rows, columns) when the windows tile the input exactly (stride = kernel, no
    /// padding or dilation, `oh·kh = h`, `ow·kw = w`): every input pixel lies in one window.
    pub tiles: Option<(usize, usize)>,
}

/// The forward pass over the NHWC buffer `x`: the NHWC output and, per output element, the
/// in-plane index of its maximum. `rows[oy]` / `cols[ox]`: the first tap inside the image and
/// the number of taps inside, per output row / column.
pub(super) fn forward(
    s: &Nhwc,
    x: &[f32],
    rows: &[(isize, usize)],
    cols: &[(isize, usize)],
) -> (Vec<f32>, Vec<u32>) {
    let (c, ow) = (s.c, s.ow);
    let len = s.n * s.oh * ow * c;
    let mut y = crate::buffer_pool::take(len); // every output is written
    let mut argmax = vec![0u32; len];
    let row_len = ow * c;
    if len == 0 {
        return (y, argmax);
    }
    let plane_in = x.len() / s.n;
    let isa = Isa::detect();
    // One output row per task (a fixed split; every output is computed independently).
    y.par_chunks_mut(row_len)
        .zip(argmax.par_chunks_mut(row_len))
        .enumerate()
        .for_each(|(r, (yr, ar))| {
            let (img, oy) = (r / s.oh, r % s.oh);
            let xn = &x[img * plane_in..(img + 1) * plane_in];
            output_row(isa, s, xn, rows[oy], cols, (yr, ar));
        });
    (y, argmax)
}

/// One output row of maxima `yr` and their positions `ar` from the image `xn`: `(y0, ny)` is the
/// row's first tap inside the image and the number of taps inside, `cols` the same per output
/// column. Compiled per instruction set ([`dispatch!`]) so that [`take_max`] runs in vectors.
#[inline(always)]
fn row<S: Simd>(
    s: &Nhwc,
    xn: &[f32],
    (y0, ny): (isize, usize),
    cols: &[(isize, usize)],
    (yr, ar): (&mut [f32], &mut [u32]),
) {
    let c = s.c;
    let (dh, dw) = s.dilation;
    for (ox, (yp, ap)) in yr.chunks_mut(c).zip(ar.chunks_mut(c)).enumerate() {
        let (x0, nx) = cols[ox];
        let first = if ny == 0 || nx == 0 {
            EMPTY // a window wholly in the padding: -∞, no gradient
        } else {
            (y0 as usize * s.w + x0 as usize) as u32
        };
        yp.fill(f32::NEG_INFINITY);
        ap.fill(first);
        for i in 0..ny {
            let base = (y0 as usize + i * dh) * s.w + x0 as usize;
            for j in 0..nx {
                let idx = base + j * dw;
                take_max(yp, ap, &xn[idx * c..(idx + 1) * c], idx as u32);
            }
        }
    }
}

dispatch!(fn output_row(
    s: &Nhwc,
    xn: &[f32],
    r: (isize, usize),
    cols: &[(isize, usize)],
    out: (&mut [f32], &mut [u32]),
) = row);

/// The running maxima `b` and their positions `a` updated with one tap's values `v` at position
/// `idx`, by PyTorch's rule (as the row-major kernel's): a strictly larger value or a NaN wins.
/// Branch-free (selects, `|` not `||`), so that it compiles to vector compares and blends
/// instead of a branch per value (which a random input mispredicts).
#[inline(always)]
fn take_max(b: &mut [f32], a: &mut [u32], v: &[f32], idx: u32) {
    let n = b.len();
    let (a, v) = (&mut a[..n], &v[..n]);
    for k in 0..n {
        let (x, m) = (v[k], b[k]);
        #[allow(clippy::eq_op)]
        let take = (x > m) | (x != x);
        b[k] = if take { x } else { m };
        a[k] = if take { idx } else { a[k] };
    }
}

/// The input gradient `[n][h][w][c]` (`plane_in` = h·w pixels per image) of the output gradient
/// `g` (NHWC) and the forward pass's `argmax` (NHWC).
pub(super) fn backward(s: &Nhwc, plane_in: usize, g: &[f32], argmax: &[u32]) -> Vec<f32> {
    let c = s.c;
    let (per_in, per_out) = (plane_in * c, s.oh * s.ow * c);
    if let Some(window) = s.tiles {
        // Each input pixel receives at most the gradient of its one window: written, not added
        // (one pass, in vectors, no zeroed buffer).
        let mut dx = crate::buffer_pool::take(s.n * per_in); // every element is written
        if per_in > 0 && per_out > 0 {
            let isa = Isa::detect();
            dx.par_chunks_mut(per_in)
                .zip(g.par_chunks(per_out))
                .zip(argmax.par_chunks(per_out))
                .for_each(|((dxn, gn), an)| tiled_image(isa, s, window, dxn, gn, an));
        }
        return dx;
    }
    let mut dx = crate::buffer_pool::take_zeroed(s.n * per_in);
    if per_in == 0 || per_out == 0 {
        return dx;
    }
    dx.par_chunks_mut(per_in)
        .zip(g.par_chunks(per_out))
        .zip(argmax.par_chunks(per_out))
        .for_each(|((dxn, gn), an)| {
            for (gp, ap) in gn.chunks(c).zip(an.chunks(c)) {
                for (k, (&v, &a)) in gp.iter().zip(ap).enumerate() {
                    if a != EMPTY {
                        dxn[a as usize * c + k] += v;
                    }
                }
            }
        });
    dx
}

/// One image's input gradient `dxn` when the windows tile it: each window pixel gets its
/// window's gradient where it holds the maximum, else 0 (`0.0 + g`, the bits of the sum into a
/// zeroed buffer, as the general path).
#[inline(always)]
fn tiled<S: Simd>(s: &Nhwc, (kh, kw): (usize, usize), dxn: &mut [f32], gn: &[f32], an: &[u32]) {
    let c = s.c;
    for oy in 0..s.oh {
        for ox in 0..s.ow {
            let at = (oy * s.ow + ox) * c;
            let (gp, ap) = (&gn[at..at + c], &an[at..at + c]);
            for i in 0..kh {
                for j in 0..kw {
                    let idx = (oy * kh + i) * s.w + ox * kw + j;
                    let d = &mut dxn[idx * c..(idx + 1) * c];
                    let idx = idx as u32;
                    for k in 0..c {
                        d[k] = if ap[k] == idx { 0.0 + gp[k] } else { 0.0 };
                    }
                }
            }
        }
    }
}

dispatch!(fn tiled_image(
    s: &Nhwc,
    window: (usize, usize),
    dxn: &mut [f32],
    gn: &[f32],
    an: &[u32],
) = tiled);
