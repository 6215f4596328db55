//! Convolution forward pass: im2col into a reused per-thread block, one GEMM per group and batch
//! chunk through the GEMM seam, chunks in parallel over the batch.
//!
//! Y_n,g = W_g · col(x_n,g) (+ b), with W_g the `[C_out/groups, K]` rows of the weight. A 1×1
//! stride-1 unpadded kernel multiplies the input directly (no unfolding). For small images
//! several samples share one unfolded block side by side (see [`samples_per_gemm`]), so that the
//! products stay wide enough for the GEMM kernel; the result is then copied to NCHW.

use ndarray::{ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

use super::geometry::Geom;
use super::im2col::im2col;
use super::workspace::with_workspace;
use crate::linalg::{gemm, gemm_serial};

/// A GEMM entry point (the parallel seam or its single-threaded form).
pub(crate) type GemmFn =
    fn(f32, ArrayView2<'_, f32>, ArrayView2<'_, f32>, f32, ArrayViewMut2<'_, f32>);

/// How many samples share one unfolded block: one, unless the images are so small (fewer than
/// `MIN_COLUMNS` output pixels) that a single sample gives a degenerate product, and never more
/// than `MAX_BLOCK_FLOATS` unfolded values (measured on Zen 4 with the `gemm` crate: products
/// whose right operand exceeds a couple of MiB lose 3-4x, so a wide block is not better). Depends
/// on the shape only, never on the thread count, so results are the same for any number of
/// threads.
pub(crate) fn samples_per_gemm(g: &Geom) -> usize {
    const MIN_COLUMNS: usize = 64;
    const MAX_BLOCK_FLOATS: usize = 1 << 18;
    let p = g.p().max(1);
    let by_width = MIN_COLUMNS.div_ceil(p);
    let by_size = (MAX_BLOCK_FLOATS / (g.k() * p).max(1)).max(1);
    by_width.min(by_size).clamp(1, g.n.max(1))
}

/// Whether to run chunks in parallel (each with a single-threaded GEMM) or one chunk at a time
/// with the parallel GEMM. Both give bitwise the same result.
pub(crate) fn gemm_for(parallel_chunks: bool) -> GemmFn {
    if parallel_chunks { gemm_serial } else { gemm }
}

/// The forward convolution of `x` (`[N, C_in, H, W]`, contiguous) with `w`
/// (`[C_out, C_in/groups, kH, kW]`) and an optional bias, as a contiguous `[N, C_out, oH, oW]`
/// buffer.
pub(crate) fn forward(g: &Geom, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (p, cout) = (g.p(), g.cout);
    // Every element is written (GEMM with β = 0 or the copy from the product block).
    let mut y = crate::buffer_pool::take(g.n * cout * p);
    if y.is_empty() {
        return y;
    }
    let b = samples_per_gemm(g);
    let (xs, ys) = (g.cin * g.hw(), cout * p);
    let chunks = g.n.div_ceil(b);
    let parallel = chunks >= 2 && rayon::current_num_threads() > 1;
    let mm = gemm_for(parallel);
    let work = |(yc, xc): (&mut [f32], &[f32])| {
        chunk_forward(g, xc, w, yc, mm);
        if let Some(bias) = bias {
            for y_n in yc.chunks_mut(ys) {
                for (plane, &bv) in y_n.chunks_mut(p).zip(bias) {
                    plane.iter_mut().for_each(|v| *v += bv);
                }
            }
        }
    };
    if parallel {
        y.par_chunks_mut(b * ys)
            .zip(x.par_chunks(b * xs))
            .for_each(work);
    } else {
        y.chunks_mut(b * ys).zip(x.chunks(b * xs)).for_each(work);
    }
    y
}

/// Forward for one chunk of samples `xc` → `yc`.
fn chunk_forward(g: &Geom, xc: &[f32], w: &[f32], yc: &mut [f32], mm: GemmFn) {
    let (p, k, hw) = (g.p(), g.k(), g.hw());
    let (cin_g, cout_g) = (g.cin_g(), g.cout_g());
    let (xs, ys) = (g.cin * hw, g.cout * p);
    let nb = xc.len() / xs;
    for gi in 0..g.groups {
        let wg = ArrayView2::from_shape((cout_g, k), &w[gi * cout_g * k..(gi + 1) * cout_g * k])
            .expect("weight block");
        if nb == 1 && g.is_pointwise() {
            let xg =
                ArrayView2::from_shape((cin_g, p), &xc[gi * cin_g * hw..(gi + 1) * cin_g * hw])
                    .expect("input block");
            let yg = ArrayViewMut2::from_shape(
                (cout_g, p),
                &mut yc[gi * cout_g * p..(gi + 1) * cout_g * p],
            )
            .expect("output block");
            mm(1.0, wg, xg, 0.0, yg);
            continue;
        }
        let ld = nb * p;
        let tmp_len = if nb > 1 { cout_g * ld } else { 0 };
        with_workspace(k * ld + tmp_len, |ws| {
            let (col, tmp) = ws.split_at_mut(k * ld);
            for (bi, x_n) in xc.chunks(xs).enumerate() {
                im2col(g, x_n, gi * cin_g, col, ld, bi * p);
            }
            let colv = ArrayView2::from_shape((k, ld), &*col).expect("unfolded block");
            if nb == 1 {
                let yg = ArrayViewMut2::from_shape(
                    (cout_g, p),
                    &mut yc[gi * cout_g * p..(gi + 1) * cout_g * p],
                )
                .expect("output block");
                mm(1.0, wg, colv, 0.0, yg);
            } else {
                mm(
                    1.0,
                    wg,
                    colv,
                    0.0,
                    ArrayViewMut2::from_shape((cout_g, ld), tmp).expect("product block"),
                );
                for (bi, y_n) in yc.chunks_mut(ys).enumerate() {
                    for co in 0..cout_g {
                        let dst = &mut y_n[(gi * cout_g + co) * p..(gi * cout_g + co + 1) * p];
                        dst.copy_from_slice(&tmp[co * ld + bi * p..co * ld + (bi + 1) * p]);
                    }
                }
            }
        });
    }
}
