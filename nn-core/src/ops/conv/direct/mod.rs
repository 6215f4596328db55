//! Direct convolution on channels-last (NHWC) activations, the layout oneDNN calls `nhwc` (and,
//! for 16 channels, `nChw16c`): vectors run along the channels, so every spatial size, stride,
//! padding and kernel size vectorises the same way, and 1×1 and strided kernels need no unfolding.
//!
//! * **Forward**: for each image, the input is copied into a zero-padded per-thread buffer
//!   (cheap next to the convolution: it stays in cache), then each output row is computed in
//!   register blocks of R pixels × 16·CB output channels: for every tap and input channel, CB
//!   weight vectors are loaded and each pixel's input value is broadcast into R·CB fused
//!   multiply-adds (`kernels::gather`).
//! * **Input gradient**: for stride 1, the same kernel on the padded output gradient with the
//!   flipped, transposed weight; for larger strides, a scatter form (per output pixel and tap,
//!   Σ_co dy·w added into a padded input-gradient buffer).
//! * **Weight gradient**: per tap and block of input channels, Σ over the image's pixels of
//!   x·dy in registers, added into a per-slice partial; slices of the batch are fixed by the
//!   shape and summed in order, so the result does not depend on the number of threads.
//!
//! Images are independent in the forward pass and the input gradient, so the batch is split
//! between threads freely; small problems run on the calling thread.

mod backward;
mod forward;
mod kernels;
mod pack;
#[cfg(test)]
pub(super) mod tests;
mod winograd;

use rayon::prelude::*;

use self::backward::{Conv, scatter_image, weight_image};
pub(crate) use self::forward::Epilogue;
use self::forward::{Gather, gather_image};
use self::pack::{pack_forward, pack_input_grad, pad_nhwc};
use self::winograd::{Wino, image_forward, image_weight, pack_u, pad_for, weight_from_du};
use super::backward::ConvGrads;
use super::geometry::Geom;
use super::workspace::with_workspace;
use crate::simd::{Isa, LANES, dispatch};

/// Below this many multiply-adds a call runs on the calling thread.
const PARALLEL_MACS: usize = 1 << 21;

/// Upper bound on the batch slices of the weight gradient (partials held at once).
const MAX_SLICES: usize = 8;

/// The algorithm of the channels-last kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algo {
    /// Register-blocked direct convolution (any kernel, stride, padding, dilation).
    Direct,
    /// Winograd F(2×2, 3×3) (3×3, stride 1, channels a multiple of 16; see `winograd.rs`).
    Winograd,
}

/// The algorithm for a convolution: Winograd where it applies and both channel counts are at
/// least [`WINOGRAD_MIN_CHANNELS`], else direct. A fixed rule of the shape (never of timings or
/// of the thread count), so that results are reproducible run to run: the two algorithms round
/// differently.
pub(crate) fn algo(g: &Geom) -> Algo {
    if winograd::applies(g) && g.cin >= WINOGRAD_MIN_CHANNELS && g.cout >= WINOGRAD_MIN_CHANNELS {
        Algo::Winograd
    } else {
        Algo::Direct
    }
}

/// Fewest input and output channels for which the rule picks Winograd. Measured on the ResNet-20
/// shapes (batch 128, fwd+bwd, Intel Xeon family 6 model 167, 2 threads), with blocks of
/// [`winograd::TILES`] = 8 tiles: Winograd took 5.6 ms against the direct kernels' 6.9 at
/// 32→32 @16² and 5.5 against 6.0 (blocks of 32 tiles) at 64→64 @8², and was no faster at
/// 16→16 @32², where the transforms cost about what the saved multiplications do.
pub(crate) const WINOGRAD_MIN_CHANNELS: usize = 32;

/// Whether the direct kernels handle this convolution (ungrouped).
pub(crate) fn applies(g: &Geom) -> bool {
    g.groups == 1 && g.n > 0 && g.oh > 0 && g.ow > 0
}

/// Channel blocks of 16 per register block for `channels` channels: as many as divide the
/// channel blocks evenly, up to 4 for Winograd's products on AVX-512 and 2 otherwise. The direct
/// kernels run 16 / cb pixels per block: 8 pixels × 2 blocks beat 4 × 4 (measured, Intel Xeon
/// family 6 model 167, batch 128, 2 threads: 32→64 3×3 stride 2 @16² forward 1.38 → 1.14 ms,
/// 64→128 stride 2 5.0 → 4.2 ms, 48→64 5×5 19.3 → 15.9 ms; 1×1 64→64 and the 3→64 stem
/// unchanged), while Winograd's 64→64 products were no faster with 2. A fixed rule of the shape.
fn channel_blocks(isa: Isa, algo: Algo, channels: usize) -> usize {
    let nb = channels.div_ceil(LANES);
    let most = if isa == Isa::Avx512 && algo == Algo::Winograd {
        4
    } else {
        2
    };
    [4, 2, 1]
        .into_iter()
        .find(|&cb| cb <= most && nb.is_multiple_of(cb))
        .unwrap_or(1)
}

fn macs(g: &Geom) -> usize {
    g.n * g.p() * g.cout * g.cin * g.kh * g.kw
}

/// Size of the padded input a forward pass reads: rows × columns.
fn padded_input(g: &Geom) -> (usize, usize) {
    (
        (g.oh - 1) * g.sh + (g.kh - 1) * g.dh + 1,
        (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 1,
    )
}

fn conv_of(g: &Geom) -> Conv {
    Conv {
        cin: g.cin,
        cout: g.cout,
        oh: g.oh,
        ow: g.ow,
        kh: g.kh,
        kw: g.kw,
        sh: g.sh,
        sw: g.sw,
        dh: g.dh,
        dw: g.dw,
    }
}

/// Runs `f(first_image, images)` over the batch, split into chunks of whole images, in parallel
/// when the problem is large enough.
fn for_images<T: Send>(
    g: &Geom,
    out: &mut [T],
    per_image: usize,
    f: impl Fn(usize, &mut [T]) + Send + Sync,
) {
    let parallel = macs(g) >= PARALLEL_MACS && rayon::current_num_threads() > 1;
    if !parallel || per_image == 0 {
        f(0, out);
        return;
    }
    let chunk = g.n.div_ceil(4 * rayon::current_num_threads()).max(1);
    out.par_chunks_mut(chunk * per_image)
        .enumerate()
        .for_each(|(i, o)| f(i * chunk, o));
}

/// The forward convolution of the channels-last `x` (`[N][H][W][C_in]`) with `w`
/// (`[C_out, C_in, kH, kW]`): `[N][oH][oW][C_out]`, channels-last. `scale` multiplies output
/// channel o's weights (a folded BatchNorm), `bias` is added and `relu` applied before the store.
pub(crate) fn forward(
    g: &Geom,
    x: &[f32],
    w: &[f32],
    scale: Option<&[f32]>,
    bias: Option<&[f32]>,
    relu: bool,
) -> Vec<f32> {
    forward_with(Isa::detect(), algo(g), g, x, w, scale, bias, relu)
}

/// Called as `hook(n, y_n)` right after output image `n` is computed, while it is still in cache
/// (to gather statistics of the output without another pass over memory). Images run on any
/// thread in any order; each is passed exactly once.
pub(crate) type ImageHook<'a> = Option<&'a (dyn Fn(usize, &[f32]) + Sync)>;

/// [`forward`] with the kernels of `isa` (which the CPU must support) and algorithm `algo`
/// (which must apply).
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward_with(
    isa: Isa,
    algo: Algo,
    g: &Geom,
    x: &[f32],
    w: &[f32],
    scale: Option<&[f32]>,
    bias: Option<&[f32]>,
    relu: bool,
) -> Vec<f32> {
    forward_hooked(isa, algo, g, x, w, (scale, bias, relu), None)
}

/// [`forward`] without a scale or ReLU, calling `hook` on every output image.
pub(crate) fn forward_each_image(
    g: &Geom,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    hook: &(dyn Fn(usize, &[f32]) + Sync),
) -> Vec<f32> {
    forward_hooked(
        Isa::detect(),
        algo(g),
        g,
        x,
        w,
        (None, bias, false),
        Some(hook),
    )
}

/// [`forward_with`] with `(scale, bias, relu)` and an [`ImageHook`].
fn forward_hooked(
    isa: Isa,
    algo: Algo,
    g: &Geom,
    x: &[f32],
    w: &[f32],
    (scale, bias, relu): (Option<&[f32]>, Option<&[f32]>, bool),
    hook: ImageHook<'_>,
) -> Vec<f32> {
    if algo == Algo::Winograd {
        return forward_winograd(isa, g, x, w, (scale, bias, relu), hook);
    }
    let cb = channel_blocks(isa, Algo::Direct, g.cout);
    let wpk = pack_forward(w, (g.cout, g.cin, g.kh, g.kw), cb, scale);
    let gw = cb * LANES;
    let bias_padded = bias.map(|b| {
        let mut v = vec![0.0f32; g.cout.div_ceil(gw) * gw];
        v[..g.cout].copy_from_slice(b);
        v
    });
    // Unpadded (the 1×1 projections): the gather reads each image in place, without a copy.
    let in_place = g.ph == 0 && g.pw == 0;
    let (hp, wp) = if in_place {
        (g.h, g.w)
    } else {
        padded_input(g)
    };
    let gat = Gather {
        oh: g.oh,
        ow: g.ow,
        cout: g.cout,
        cin: g.cin,
        kh: g.kh,
        kw: g.kw,
        sh: g.sh,
        sw: g.sw,
        dh: g.dh,
        dw: g.dw,
        wp,
        cb,
    };
    let epi = Epilogue {
        bias: bias_padded.as_deref(),
        relu,
    };
    let (xs, ys) = (g.hw() * g.cin, g.p() * g.cout);
    let mut y = crate::buffer_pool::take(g.n * ys); // every element is written
    for_images(g, &mut y, ys, |n0, yc| {
        with_workspace(if in_place { 0 } else { hp * wp * g.cin }, |xp| {
            for (k, y_n) in yc.chunks_mut(ys).enumerate() {
                let x_n = &x[(n0 + k) * xs..(n0 + k + 1) * xs];
                if in_place {
                    forward_image(isa, &gat, x_n, &wpk, epi, y_n);
                } else {
                    pad_nhwc(
                        x_n,
                        (g.h, g.w, g.cin),
                        xp,
                        (hp, wp),
                        (g.ph as isize, g.pw as isize),
                    );
                    forward_image(isa, &gat, xp, &wpk, epi, y_n);
                }
                if let Some(h) = hook {
                    h(n0 + k, y_n);
                }
            }
        });
    });
    y
}

/// The Winograd forward (see `winograd.rs`).
fn forward_winograd(
    isa: Isa,
    g: &Geom,
    x: &[f32],
    w: &[f32],
    (scale, bias, relu): (Option<&[f32]>, Option<&[f32]>, bool),
    hook: ImageHook<'_>,
) -> Vec<f32> {
    let cb = channel_blocks(isa, Algo::Winograd, g.cout);
    let wg = Wino::new(g.oh, g.ow, g.cin, g.cout, cb);
    let u = pack_u(w, (g.cout, g.cin), cb, false, scale);
    let epi = Epilogue { bias, relu };
    let (hp, wp) = wg.padded();
    let (xs, ys) = (g.hw() * g.cin, g.p() * g.cout);
    let mut y = crate::buffer_pool::take(g.n * ys); // every element is written
    for_images(g, &mut y, ys, |n0, yc| {
        with_workspace(hp * wp * g.cin + wg.scratch(), |ws| {
            let (xp, scratch) = ws.split_at_mut(hp * wp * g.cin);
            for (k, y_n) in yc.chunks_mut(ys).enumerate() {
                let x_n = &x[(n0 + k) * xs..(n0 + k + 1) * xs];
                pad_for(&wg, x_n, (g.h, g.w, g.cin), xp, (g.ph, g.pw));
                wino_forward(isa, &wg, xp, &u, epi, y_n, scratch);
                if let Some(h) = hook {
                    h(n0 + k, y_n);
                }
            }
        });
    });
    y
}

dispatch!(fn wino_forward(w: &Wino, xp: &[f32], u: &[f32], epi: Epilogue<'_>, y: &mut [f32], scratch: &mut [f32]) = image_forward);
dispatch!(fn wino_weight(w: &Wino, xp: &[f32], dy: &[f32], part: &mut [f32], scratch: &mut [f32]) = image_weight);

dispatch!(fn forward_image(g: &Gather, xp: &[f32], wpk: &[f32], epi: Epilogue<'_>, y: &mut [f32]) = gather_image);
dispatch!(fn scatter(c: &Conv, cb: usize, dy: &[f32], wpk: &[f32], dxp: &mut [f32], wp: usize) = scatter_image);
dispatch!(fn weight_grad(c: &Conv, cb: usize, xp: &[f32], wp: usize, dy: &[f32], part: &mut [f32]) = weight_image);

/// How the input gradient of one image is computed.
enum InputGrad {
    /// Stride 1: a gather over the padded output gradient (`hp × wp`, shifted by `top, left`).
    Gather {
        gat: Gather,
        hp: usize,
        top: isize,
        left: isize,
    },
    /// Strided: a scatter into a padded buffer of `hp × wp` pixels of `cs` channels.
    Scatter { hp: usize, wp: usize, cs: usize },
    /// Winograd on the output gradient padded by (2 − ph, 2 − pw), flipped transposed kernel.
    Winograd { wg: Wino, u: Vec<f32> },
}

fn input_grad_plan(g: &Geom, cb: usize, algo: Algo, w: &[f32]) -> InputGrad {
    if algo == Algo::Winograd {
        let wg = Wino::new(g.h, g.w, g.cout, g.cin, cb);
        let u = pack_u(w, (g.cout, g.cin), cb, true, None);
        return InputGrad::Winograd { wg, u };
    }
    let (kh_span, kw_span) = ((g.kh - 1) * g.dh, (g.kw - 1) * g.dw);
    if g.sh == 1 && g.sw == 1 && g.ph <= kh_span && g.pw <= kw_span {
        InputGrad::Gather {
            gat: Gather {
                oh: g.h,
                ow: g.w,
                cout: g.cin,
                cin: g.cout,
                kh: g.kh,
                kw: g.kw,
                sh: 1,
                sw: 1,
                dh: g.dh,
                dw: g.dw,
                wp: g.w + kw_span,
                cb,
            },
            hp: g.h + kh_span,
            top: (kh_span - g.ph) as isize,
            left: (kw_span - g.pw) as isize,
        }
    } else {
        let (hp, wp) = padded_input(g);
        // The padded buffer must also hold the input's own extent (rows the kernel never
        // reaches still have gradient 0).
        InputGrad::Scatter {
            hp: hp.max(g.h + g.ph),
            wp: wp.max(g.w + g.pw),
            cs: g.cin.div_ceil(cb * LANES) * cb * LANES,
        }
    }
}

/// The gradients of [`forward`] (without scale or ReLU) for the channels-last output gradient
/// `dy`: the input gradient channels-last, the weight gradient `[C_out, C_in, kH, kW]`, the bias
/// gradient `[C_out]`, each if requested.
pub(crate) fn backward(
    g: &Geom,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    need: (bool, bool, bool),
) -> ConvGrads {
    backward_with(Isa::detect(), algo(g), g, x, w, dy, need)
}

/// [`backward`] with the kernels of `isa` (which the CPU must support) and algorithm `algo`
/// (which must apply).
pub(crate) fn backward_with(
    isa: Isa,
    algo: Algo,
    g: &Geom,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    (need_x, need_w, need_b): (bool, bool, bool),
) -> ConvGrads {
    let (xs, ys) = (g.hw() * g.cin, g.p() * g.cout);
    let db = need_b.then(|| bias_grad(dy, g.cout));
    let cb_w = channel_blocks(isa, algo, g.cout);
    let cb_x = channel_blocks(isa, algo, g.cin);
    let ig = input_grad_plan(g, cb_x, algo, w);
    let wpk_x = need_x.then(|| match &ig {
        InputGrad::Winograd { .. } => Vec::new(),
        InputGrad::Gather { .. } => pack_input_grad(w, (g.cout, g.cin, g.kh, g.kw), cb_x, true),
        InputGrad::Scatter { .. } => pack_input_grad(w, (g.cout, g.cin, g.kh, g.kw), cb_x, false),
    });
    let conv = conv_of(g);
    let wino = (algo == Algo::Winograd).then(|| Wino::new(g.oh, g.ow, g.cin, g.cout, cb_w));
    let cs_w = g.cout.div_ceil(cb_w * LANES) * cb_w * LANES;
    let part_len = if wino.is_some() {
        16 * g.cin * g.cout
    } else {
        g.kh * g.kw * g.cin * cs_w
    };
    let slices = g.n.clamp(1, MAX_SLICES);
    let bounds: Vec<(usize, usize)> = (0..slices)
        .map(|s| (s * g.n / slices, (s + 1) * g.n / slices))
        .collect();
    let mut partials: Vec<Vec<f32>> = (0..slices)
        .map(|_| {
            if need_w {
                crate::buffer_pool::take_zeroed(part_len)
            } else {
                Vec::new()
            }
        })
        .collect();
    let mut dx = need_x.then(|| crate::buffer_pool::take(g.n * xs)); // every element is written
    // Direct and unpadded: the weight gradient reads each image in place, without a copy.
    let in_place = wino.is_none() && g.ph == 0 && g.pw == 0;
    let (hp, wp) = match &wino {
        Some(wg) => wg.padded(),
        None if in_place => (g.h, g.w),
        None => padded_input(g),
    };
    let ig_len = match &ig {
        InputGrad::Gather { gat, hp, .. } => hp * gat.wp * g.cout,
        InputGrad::Scatter { hp, wp, cs } => hp * wp * cs,
        InputGrad::Winograd { wg, .. } => {
            let (h, w) = wg.padded();
            h * w * g.cout + wg.scratch()
        }
    };
    let wino_scratch = wino.as_ref().map_or(0, Wino::scratch);
    let work = |((part, dxs), &(lo, hi)): super::backward::SliceJob<'_>| {
        let xlen = if need_w && !in_place {
            hp * wp * g.cin + wino_scratch
        } else {
            0
        };
        let glen = if need_x { ig_len } else { 0 };
        with_workspace(xlen + glen, |ws| {
            let (xbuf, gp) = ws.split_at_mut(xlen);
            let (xp, wscratch) = xbuf.split_at_mut(xlen.min(hp * wp * g.cin));
            for n in lo..hi {
                let dy_n = &dy[n * ys..(n + 1) * ys];
                if need_w && in_place {
                    let x_n = &x[n * xs..(n + 1) * xs];
                    weight_grad(isa, &conv, cb_w, x_n, wp, dy_n, part);
                } else if need_w {
                    let x_n = &x[n * xs..(n + 1) * xs];
                    pad_nhwc(
                        x_n,
                        (g.h, g.w, g.cin),
                        xp,
                        (hp, wp),
                        (g.ph as isize, g.pw as isize),
                    );
                    match &wino {
                        Some(wg) => wino_weight(isa, wg, xp, dy_n, part, wscratch),
                        None => weight_grad(isa, &conv, cb_w, xp, wp, dy_n, part),
                    }
                }
                if let Some(wpk) = &wpk_x {
                    let dx_n = &mut dxs[(n - lo) * xs..(n - lo + 1) * xs];
                    input_grad_image(isa, g, &conv, &ig, cb_x, wpk, dy_n, gp, dx_n);
                }
            }
        });
    };
    let parallel = macs(g) >= PARALLEL_MACS && slices > 1 && rayon::current_num_threads() > 1;
    super::backward::for_each_slice(
        parallel,
        &mut partials,
        dx.as_deref_mut(),
        xs,
        &bounds,
        work,
    );
    let dw = need_w.then(|| match &wino {
        Some(_) => {
            sum_partials(&mut partials);
            weight_from_du(&partials[0], (g.cout, g.cin))
        }
        None => reduce_weight_grad(g, &mut partials, cs_w),
    });
    partials
        .into_iter()
        .filter(|p| !p.is_empty())
        .for_each(crate::buffer_pool::recycle_vec);
    ConvGrads { dx, dw, db }
}

#[allow(clippy::too_many_arguments)]
fn input_grad_image(
    isa: Isa,
    g: &Geom,
    conv: &Conv,
    ig: &InputGrad,
    cb: usize,
    wpk: &[f32],
    dy_n: &[f32],
    buf: &mut [f32],
    dx_n: &mut [f32],
) {
    match *ig {
        InputGrad::Gather { gat, hp, top, left } => {
            pad_nhwc(dy_n, (g.oh, g.ow, g.cout), buf, (hp, gat.wp), (top, left));
            let epi = Epilogue {
                bias: None,
                relu: false,
            };
            forward_image(isa, &gat, buf, wpk, epi, dx_n);
        }
        InputGrad::Winograd { ref wg, ref u } => {
            let (h, w) = wg.padded();
            let (pbuf, scratch) = buf.split_at_mut(h * w * g.cout);
            pad_for(wg, dy_n, (g.oh, g.ow, g.cout), pbuf, (2 - g.ph, 2 - g.pw));
            let epi = Epilogue {
                bias: None,
                relu: false,
            };
            wino_forward(isa, wg, pbuf, u, epi, dx_n, scratch);
        }
        InputGrad::Scatter { hp, wp, cs } => {
            let buf = &mut buf[..hp * wp * cs];
            buf.fill(0.0);
            scatter(isa, conv, cb, dy_n, wpk, buf, wp);
            for iy in 0..g.h {
                for ix in 0..g.w {
                    let src = ((iy + g.ph) * wp + ix + g.pw) * cs;
                    let dst = (iy * g.w + ix) * g.cin;
                    dx_n[dst..dst + g.cin].copy_from_slice(&buf[src..src + g.cin]);
                }
            }
        }
    }
}

/// Adds the partials into the first, in slice order.
fn sum_partials(partials: &mut [Vec<f32>]) {
    let (first, rest) = partials.split_at_mut(1);
    for p in rest.iter() {
        for (a, b) in first[0].iter_mut().zip(p) {
            *a += b;
        }
    }
}

/// Σ_slices partial (in slice order), `[kh][kw][cin][cs]` → `[cout][cin][kh][kw]`.
fn reduce_weight_grad(g: &Geom, partials: &mut [Vec<f32>], cs: usize) -> Vec<f32> {
    sum_partials(partials);
    let sum = &partials[0];
    let mut dw = vec![0.0f32; g.cout * g.cin * g.kh * g.kw];
    for o in 0..g.cout {
        for c in 0..g.cin {
            for i in 0..g.kh {
                for j in 0..g.kw {
                    dw[((o * g.cin + c) * g.kh + i) * g.kw + j] =
                        sum[((i * g.kw + j) * g.cin + c) * cs + o];
                }
            }
        }
    }
    dw
}

/// Σ over pixels of the channels-last `dy` per channel: f32 sums per block of pixels, merged in
/// f64 in a fixed order.
pub(super) fn bias_grad(dy: &[f32], c: usize) -> Vec<f32> {
    const BLOCK: usize = 256;
    let mut total = vec![0.0f64; c];
    let mut acc = vec![0.0f32; c];
    for block in dy.chunks(BLOCK * c) {
        acc.fill(0.0);
        for px in block.chunks_exact(c) {
            for (a, v) in acc.iter_mut().zip(px) {
                *a += v;
            }
        }
        for (t, a) in total.iter_mut().zip(&acc) {
            *t += *a as f64;
        }
    }
    total.into_iter().map(|v| v as f32).collect()
}
