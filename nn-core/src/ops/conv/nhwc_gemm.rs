//! im2col + GEMM on channels-last (NHWC) activations, for wide convolutions.
//!
//! In NHWC memory an image is a `[pixels, C_in]` matrix, so a 1×1 stride-1 convolution is one
//! plain product `Y[pixels, C_out] = X[pixels, C_in] · Wᵀ` and a k×k one unfolds each output
//! pixel's receptive field as a row of kH·kW runs of C_in adjacent values (copies, no transposes):
//!
//! ```text
//! cols[(n, oy, ox), (i, j, c)] = x[n, oy·sH − pH + i·dH, ox·sW − pW + j·dW, c]   (0 outside)
//! Y = cols · Wt,            Wt[(i, j, c), o] = w[o, c, i, j]
//! ∂L/∂Wt = colsᵀ · ∂L/∂Y,   ∂L/∂cols = ∂L/∂Y · Wtᵀ,   ∂L/∂x = fold(∂L/∂cols)
//! ```
//!
//! The products go through the GEMM seam ([`crate::linalg`]). From 128 channels it beats the
//! register-blocked direct and Winograd kernels of `direct/` (the products are large enough for
//! the GEMM kernel's cache blocking, which the direct kernels lack), except Winograd's 3×3
//! stride-1 shapes up to 256 channels (and on AVX-512 maps of 16×16 or more) — see [`applies`].
//! Blocks of whole images are unfolded into the per-thread workspace (a fixed number per shape);
//! the weight gradient accumulates over the blocks in order and the fold adds each image's
//! contributions in a fixed order, so results do not depend on the number of threads.

use ndarray::{ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

use super::backward::ConvGrads;
use super::geometry::Geom;
use super::workspace::with_workspace;
use crate::linalg::gemm;
use crate::simd::Isa;

/// Fewest input and output channels for which a channels-last convolution runs as im2col +
/// GEMM instead of the direct / Winograd kernels (a fixed rule of the shape, never of timings:
/// the algorithms round differently). Measured in `BENCHMARKS.md` (2026-12-05).
pub(crate) const GEMM_MIN_CHANNELS: usize = 128;

/// AVX-512: output pixels per image from which a 3×3 stride-1 convolution keeps the
/// channels-last Winograd kernels at any channel count (from [`GEMM_MIN_CHANNELS`]): their
/// fewer multiplications win on 16×16 maps (fwd+bwd, batch 32, CPU time, Intel Xeon family 6
/// model 167, with F(2×2, 3×3): 128→128 @16² Winograd 0.040 s against GEMM 0.057 s). On smaller
/// maps [`WINOGRAD_MAX_CHANNELS`] decides, as on AVX2.
const WINOGRAD_MIN_PIXELS: usize = 256;

/// Most input and output channels for which a 3×3 stride-1 convolution keeps the Winograd
/// kernels at [`GEMM_MIN_CHANNELS`], on maps of any size (a fixed rule of the shape).
///
/// AVX2: Winograd won at 128 and 256 channels down to 4×4 maps and lost at 512 (fwd+bwd, batch
/// 128, 2 threads, AMD EPYC family 25 model 17 with AVX2 only, GEMM ÷ Winograd time, medians of
/// 3-5 alternating rounds: 128→128 @7² 1.23, @8² 1.62, @4² 1.27; 256→256 @8² 1.59, @4² 1.23;
/// 512→512 @4² 0.62, @2² 0.27).
///
/// AVX-512, with F(4×4, 3×3): the same picture on an AMD EPYC family 26 model 2 (Zen 5; 2
/// threads, GEMM ÷ Winograd time, fwd+bwd, medians of 5 alternating rounds, 2026-12-07): 128→128
/// @7² 1.11 (forward 1.59), @8² 1.41, @4² 1.19 (batch 128, 128, 64); 256→256 @8² 1.11, @4² 1.42;
/// 512→512 @4² 0.96 (batch 64). (Until then AVX-512 ran these small maps on the GEMM, from
/// F(2×2, 3×3) figures on an Intel Xeon family 6 model 167: 128→128 @8² 0.017 s against the
/// GEMM's 0.015, 256→256 @8² 0.080 against 0.067, 512→512 @4² 0.28 against 0.12; F(4×4) has
/// 1.78x fewer multiplications than F(2×2); not re-measured on Intel.)
const WINOGRAD_MAX_CHANNELS: usize = 256;

/// Unfolded values per block (4 MiB): a block holds whole images, at least one.
const BLOCK_FLOATS: usize = 1 << 20;

/// Whether a channels-last convolution takes this path: ungrouped, non-empty, with at least
/// [`GEMM_MIN_CHANNELS`] input and output channels, and not a Winograd shape (3×3, stride 1)
/// that keeps the Winograd kernels ([`keeps_winograd`]).
pub(crate) fn applies(g: &Geom) -> bool {
    applies_on(Isa::detect(), g)
}

/// [`applies`] on a given instruction set.
pub(crate) fn applies_on(isa: Isa, g: &Geom) -> bool {
    let winograd = super::direct::algo_for(isa, g) == super::direct::Algo::Winograd;
    g.groups == 1
        && g.n > 0
        && g.oh > 0
        && g.ow > 0
        && g.cin >= GEMM_MIN_CHANNELS
        && g.cout >= GEMM_MIN_CHANNELS
        && !(winograd && keeps_winograd(isa, g))
}

/// Whether a Winograd shape of [`GEMM_MIN_CHANNELS`] or more keeps the Winograd kernels on
/// `isa`: up to [`WINOGRAD_MAX_CHANNELS`] channels, and on AVX-512 also from
/// [`WINOGRAD_MIN_PIXELS`] output pixels per image (a fixed rule of the shape and the
/// instruction set); at stride 2 (Winograd in phases, measured below 128 channels only) never.
fn keeps_winograd(isa: Isa, g: &Geom) -> bool {
    if g.sh != 1 {
        return false;
    }
    let few_channels = g.cin <= WINOGRAD_MAX_CHANNELS && g.cout <= WINOGRAD_MAX_CHANNELS;
    few_channels || (isa == Isa::Avx512 && g.p() >= WINOGRAD_MIN_PIXELS)
}

/// A 1×1, stride-1, unpadded convolution: the input is its own unfolding.
fn plain(g: &Geom) -> bool {
    g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0
}

/// Images per unfolded block (shape-only).
fn block_images(g: &Geom) -> usize {
    (BLOCK_FLOATS / (g.p() * g.k()).max(1)).clamp(1, g.n.max(1))
}

/// `Wt[(i, j, c), o] = scale[o] · w[o, c, i, j]`, `[kH·kW·C_in][C_out]`.
fn weight_t(g: &Geom, w: &[f32], scale: Option<&[f32]>) -> Vec<f32> {
    let (k, cout) = (g.k(), g.cout);
    let mut wt = crate::buffer_pool::take(k * cout); // every element is written
    for o in 0..cout {
        let s = scale.map_or(1.0, |s| s[o]);
        for c in 0..g.cin {
            for i in 0..g.kh {
                for j in 0..g.kw {
                    wt[((i * g.kw + j) * g.cin + c) * cout + o] =
                        s * w[((o * g.cin + c) * g.kh + i) * g.kw + j];
                }
            }
        }
    }
    wt
}

/// The input position of output `o` and tap `t` along one axis, if inside.
#[inline]
fn src(o: usize, t: usize, s: usize, p: usize, d: usize, len: usize) -> Option<usize> {
    let v = (o * s + t * d).checked_sub(p)?;
    (v < len).then_some(v)
}

/// Unfolds one NHWC image into `cols` (`[oH·oW][kH·kW·C_in]`).
fn unfold(g: &Geom, x: &[f32], cols: &mut [f32]) {
    let (k, c) = (g.k(), g.cin);
    for (px, row) in cols.chunks_mut(k).enumerate() {
        let (oy, ox) = (px / g.ow, px % g.ow);
        for i in 0..g.kh {
            let iy = src(oy, i, g.sh, g.ph, g.dh, g.h);
            for j in 0..g.kw {
                let seg = &mut row[(i * g.kw + j) * c..(i * g.kw + j + 1) * c];
                match (iy, src(ox, j, g.sw, g.pw, g.dw, g.w)) {
                    (Some(iy), Some(ix)) => {
                        seg.copy_from_slice(&x[(iy * g.w + ix) * c..(iy * g.w + ix + 1) * c])
                    }
                    _ => seg.fill(0.0),
                }
            }
        }
    }
}

/// Adds the unfolded gradient `cols` of one image into its NHWC input gradient `dx` (zeroed
/// first), in a fixed order.
fn fold(g: &Geom, cols: &[f32], dx: &mut [f32]) {
    let (k, c) = (g.k(), g.cin);
    dx.fill(0.0);
    for (px, row) in cols.chunks(k).enumerate() {
        let (oy, ox) = (px / g.ow, px % g.ow);
        for i in 0..g.kh {
            let Some(iy) = src(oy, i, g.sh, g.ph, g.dh, g.h) else {
                continue;
            };
            for j in 0..g.kw {
                let Some(ix) = src(ox, j, g.sw, g.pw, g.dw, g.w) else {
                    continue;
                };
                let seg = &row[(i * g.kw + j) * c..(i * g.kw + j + 1) * c];
                let d = &mut dx[(iy * g.w + ix) * c..(iy * g.w + ix + 1) * c];
                for (a, &v) in d.iter_mut().zip(seg) {
                    *a += v;
                }
            }
        }
    }
}

/// A row-major `rows × cols` view.
fn view(v: &[f32], rows: usize, cols: usize) -> ArrayView2<'_, f32> {
    ArrayView2::from_shape((rows, cols), v).expect("matrix size")
}

fn view_mut(v: &mut [f32], rows: usize, cols: usize) -> ArrayViewMut2<'_, f32> {
    ArrayViewMut2::from_shape((rows, cols), v).expect("matrix size")
}

/// Runs `f(first_image, images, cols)` per block of whole images, with `cols` holding their
/// unfolding (`x` itself for a plain 1×1 convolution) — blocks in order.
fn for_blocks(
    g: &Geom,
    x: &[f32],
    extra: usize,
    mut f: impl FnMut(usize, usize, &[f32], &mut [f32]),
) {
    let (xs, p, k) = (g.hw() * g.cin, g.p(), g.k());
    if plain(g) {
        return with_workspace(extra * g.n * p, |ws| f(0, g.n, x, ws));
    }
    let b = block_images(g);
    let per = p * k;
    with_workspace(b * per * (1 + extra), |ws| {
        let (cols, rest) = ws.split_at_mut(b * per);
        for n0 in (0..g.n).step_by(b) {
            let nb = b.min(g.n - n0);
            let cols = &mut cols[..nb * per];
            cols.par_chunks_mut(per)
                .zip(x[n0 * xs..(n0 + nb) * xs].par_chunks(xs))
                .for_each(|(c, x_n)| unfold(g, x_n, c));
            f(n0, nb, cols, &mut rest[..extra * nb * per]);
        }
    });
}

/// The forward convolution of the NHWC `x` with `w` (`[C_out, C_in, kH, kW]`): NHWC
/// `[N][oH][oW][C_out]`. `scale` multiplies output channel o's weights, `bias` is added and
/// `relu` applied before the store (as the direct kernels' epilogue).
pub(crate) fn forward(
    g: &Geom,
    x: &[f32],
    w: &[f32],
    scale: Option<&[f32]>,
    bias: Option<&[f32]>,
    relu: bool,
) -> Vec<f32> {
    let (p, k, cout) = (g.p(), g.k(), g.cout);
    let wt = weight_t(g, w, scale);
    let mut y = crate::buffer_pool::take(g.n * p * cout); // every element is written (β = 0)
    for_blocks(g, x, 0, |n0, nb, cols, _| {
        let yb = &mut y[n0 * p * cout..(n0 + nb) * p * cout];
        gemm(
            1.0,
            view(cols, nb * p, k),
            view(&wt, k, cout),
            0.0,
            view_mut(yb, nb * p, cout),
        );
    });
    crate::buffer_pool::recycle_vec(wt);
    if bias.is_some() || relu {
        y.par_chunks_mut(cout * 64).for_each(|chunk| {
            for px in chunk.chunks_mut(cout) {
                if let Some(b) = bias {
                    px.iter_mut().zip(b).for_each(|(v, b)| *v += b);
                }
                if relu {
                    px.iter_mut().for_each(|v| *v = crate::ops::relu::relu(*v));
                }
            }
        });
    }
    y
}

/// The gradients of [`forward`] (without scale or ReLU) for the NHWC output gradient `dy`: the
/// input gradient NHWC, the weight gradient `[C_out, C_in, kH, kW]`, the bias gradient, each if
/// requested.
pub(crate) fn backward(
    g: &Geom,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    (need_x, need_w, need_b): (bool, bool, bool),
) -> ConvGrads {
    let (p, k, cout, xs) = (g.p(), g.k(), g.cout, g.hw() * g.cin);
    let db = need_b.then(|| super::direct::bias_grad(dy, cout));
    let wt = need_x.then(|| weight_t(g, w, None));
    let mut dwt = need_w.then(|| crate::buffer_pool::take(k * cout)); // β = 0 first
    let mut dx = need_x.then(|| crate::buffer_pool::take(g.n * xs)); // every element is written
    if need_x || need_w {
        for_blocks(
            g,
            x,
            usize::from(need_x && !plain(g)),
            |n0, nb, cols, dcols| {
                let rows = nb * p;
                let dyb = view(&dy[n0 * p * cout..(n0 + nb) * p * cout], rows, cout);
                if let Some(dwt) = dwt.as_deref_mut() {
                    let beta = if n0 == 0 { 0.0 } else { 1.0 };
                    gemm(
                        1.0,
                        view(cols, rows, k).t(),
                        dyb,
                        beta,
                        view_mut(dwt, k, cout),
                    );
                }
                if let (Some(wt), Some(dx)) = (wt.as_deref(), dx.as_deref_mut()) {
                    let dxb = &mut dx[n0 * xs..(n0 + nb) * xs];
                    if plain(g) {
                        gemm(1.0, dyb, view(wt, k, cout).t(), 0.0, view_mut(dxb, rows, k));
                    } else {
                        gemm(
                            1.0,
                            dyb,
                            view(wt, k, cout).t(),
                            0.0,
                            view_mut(dcols, rows, k),
                        );
                        dxb.par_chunks_mut(xs)
                            .zip(dcols.par_chunks(p * k))
                            .for_each(|(d, c)| fold(g, c, d));
                    }
                }
            },
        );
    }
    if let Some(wt) = wt {
        crate::buffer_pool::recycle_vec(wt);
    }
    let dw = dwt.map(|dwt| {
        let dw = super::direct::weight_from_khwc(g, &dwt, cout);
        crate::buffer_pool::recycle_vec(dwt);
        dw
    });
    ConvGrads { dx, dw, db }
}

#[cfg(test)]
mod tests {
    use super::super::direct::tests::{naive, values};
    use super::*;
    use crate::Tensor;
    use crate::ops::conv::geometry::Conv2dOptions;

    /// Against the naive reference, exactly (small integers: every sum is exact).
    fn check(x_shape: [usize; 4], cout: usize, k: usize, o: Conv2dOptions, with_bias: bool) {
        let g = Geom::new(&x_shape, &[cout, x_shape[1], k, k], &o);
        // A shape of this path on AVX-512 (the kernels below run it on this CPU either way).
        assert!(applies_on(Isa::Avx512, &g));
        let x = values(g.n * g.h * g.w * g.cin, 1);
        let w = values(g.cout * g.cin * g.kh * g.kw, 2);
        let b = values(g.cout, 3);
        let dy = values(g.n * g.oh * g.ow * g.cout, 4);
        let bias = with_bias.then_some(&b[..]);
        let (y, dx, dw, db) = naive(&g, &x, &w, bias, &dy);
        assert_eq!(forward(&g, &x, &w, None, bias, false), y, "forward {g:?}");
        let relu: Vec<f32> = y.iter().map(|&v| v.max(0.0)).collect();
        assert_eq!(
            forward(&g, &x, &w, None, bias, true),
            relu,
            "forward + relu"
        );
        let r = backward(&g, &x, &w, &dy, (true, true, with_bias));
        assert_eq!(r.dx.unwrap(), dx, "input gradient {g:?}");
        assert_eq!(r.dw.unwrap(), dw, "weight gradient {g:?}");
        if with_bias {
            assert_eq!(r.db.unwrap(), db, "bias gradient");
        }
        let only_w = backward(&g, &x, &w, &dy, (false, true, false));
        assert!(only_w.dx.is_none());
        assert_eq!(only_w.dw.unwrap(), dw);
    }

    #[test]
    fn wide_shapes_against_the_reference() {
        let p1 = Conv2dOptions::default().with_padding(1);
        // 3×3 stride 1 on a small map: the GEMM from 257 channels (fewer keep Winograd).
        check([2, 272, 5, 5], 128, 3, p1, false);
        check([2, 128, 6, 7], 144, 3, p1.with_stride(2), true);
        check([3, 128, 4, 4], 128, 1, Conv2dOptions::default(), true);
        check(
            [2, 130, 5, 4],
            128,
            1,
            Conv2dOptions::default().with_stride(2),
            false,
        );
        check(
            [1, 128, 6, 6],
            128,
            3,
            p1.with_padding(2).with_dilation(2),
            false,
        );
        check([2, 128, 3, 3], 136, 3, Conv2dOptions::default(), false);
    }

    /// Which 3×3 stride-1 shapes keep Winograd: up to 256 channels on any map, and on AVX-512
    /// any channel count on 16×16 maps and larger; below 128 channels the direct / Winograd
    /// kernels everywhere.
    #[test]
    fn the_winograd_or_gemm_rule() {
        let p1 = Conv2dOptions::default().with_padding(1);
        let geom = |c: usize, hw: usize| Geom::new(&[1, c, hw, hw], &[c, c, 3, 3], &p1);
        let (avx512, avx2) = (Isa::Avx512, Isa::Avx2);
        assert!(!applies_on(avx512, &geom(128, 16)));
        assert!(!applies_on(avx512, &geom(128, 8)));
        assert!(!applies_on(avx512, &geom(128, 7)));
        assert!(!applies_on(avx512, &geom(256, 4)));
        assert!(!applies_on(avx512, &geom(512, 16)));
        assert!(applies_on(avx512, &geom(512, 4)));
        assert!(!applies_on(avx2, &geom(128, 16)));
        assert!(!applies_on(avx2, &geom(128, 7)));
        assert!(!applies_on(avx2, &geom(256, 4)));
        assert!(applies_on(avx2, &geom(512, 4)));
        for isa in [avx512, avx2] {
            assert!(!applies_on(
                isa,
                &Geom::new(&[1, 64, 8, 8], &[128, 64, 3, 3], &p1)
            ));
            // Stride 2: the GEMM (Winograd in phases only below 128 channels).
            assert!(applies_on(
                isa,
                &Geom::new(&[1, 128, 8, 8], &[128, 128, 3, 3], &p1.with_stride(2))
            ));
        }
    }

    /// The fused ReLU keeps NaN (PyTorch's `relu`; `f32::max` would turn it into 0).
    #[test]
    fn the_fused_relu_keeps_nan() {
        let g = Geom::new(
            &[1, 128, 2, 2],
            &[128, 128, 1, 1],
            &Conv2dOptions::default(),
        );
        assert!(applies(&g));
        let mut x = values(g.n * g.h * g.w * g.cin, 1);
        x[0] = f32::NAN; // pixel 0, channel 0: every output channel of pixel 0 is NaN
        let w = values(g.cout * g.cin, 2);
        let y = forward(&g, &x, &w, None, None, true);
        assert!(y[..g.cout].iter().all(|v| v.is_nan()), "{:?}", &y[..4]);
        assert!(y[g.cout..].iter().all(|v| *v >= 0.0));
    }

    #[test]
    fn blocks_of_images_cover_the_batch() {
        // More unfolded values than one block: several blocks, the last one partial.
        let g = Geom::new(
            &[5, 128, 16, 16],
            &[128, 128, 3, 3],
            &Conv2dOptions::default().with_padding(1),
        );
        assert!(block_images(&g) < g.n && !g.n.is_multiple_of(block_images(&g)));
        let x = values(g.n * g.h * g.w * g.cin, 5);
        let w = values(g.cout * g.cin * 9, 6);
        let dy = values(g.n * g.p() * g.cout, 7);
        let (y, dx, dw, _) = naive(&g, &x, &w, None, &dy);
        assert_eq!(forward(&g, &x, &w, None, None, false), y);
        let r = backward(&g, &x, &w, &dy, (true, true, false));
        assert_eq!(r.dx.unwrap(), dx);
        assert_eq!(r.dw.unwrap(), dw);
    }

    #[test]
    fn channels_last_tensors_take_this_path_and_match_row_major() {
        let x = Tensor::from_vec(values(2 * 128 * 6 * 6, 8), &[2, 128, 6, 6]).with_requires_grad();
        let w = Tensor::from_vec(values(128 * 128 * 9, 9), &[128, 128, 3, 3]).with_requires_grad();
        let o = Conv2dOptions::default().with_padding(1).with_stride(2);
        let y_row = x.conv2d(&w, None, o);
        let y_cl = x.to_channels_last().conv2d(&w, None, o);
        assert!(y_cl.is_channels_last());
        assert_eq!(y_row.to_vec(), y_cl.to_vec());
        let g = Tensor::from_vec(values(y_row.to_vec().len(), 10), y_row.shape());
        (&y_row * &g).sum_all().backward();
        let (dx_row, dw_row) = (x.grad().unwrap(), w.grad().unwrap());
        x.zero_grad();
        w.zero_grad();
        (&y_cl * &g).sum_all().backward();
        assert_eq!(x.grad().unwrap(), dx_row);
        assert_eq!(w.grad().unwrap(), dw_row);
    }
}
