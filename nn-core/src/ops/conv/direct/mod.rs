//! Direct convolution on channels-last (NHWC) activations, the layout oneDNN calls `nhwc` (and,
//! for 16 channels, `nChw16c`): vectors run along the channels, so every spatial size, stride,
//! padding and kernel size vectorises the same way, and 1×1 and strided kernels need no unfolding.
//!
//! * **Forward**: for each image, the input is copied into a zero-padded per-thread buffer
//!   (cheap next to the convolution: it stays in cache), then the output pixels are computed in
//!   register blocks of R pixels (along each row, or across short rows: `blocks`) × 16·CB output
//!   channels: for every tap and input channel, CB weight vectors are loaded and each pixel's
//!   input value is broadcast into R·CB fused multiply-adds (`kernels::gather`).
//! * **Input gradient**: for stride 1, the same kernel on the padded output gradient with the
//!   flipped, transposed weight; for larger strides, a scatter form (per output pixel and tap,
//!   Σ_co dy·w added into a padded input-gradient buffer).
//! * **Winograd** (`winograd/`): 3×3 kernels at stride 1 (F(4×4), F(7×7) or F(2×2)) and at
//!   stride 2 (F(4×4) in phases forward, F(2×2) in phases for the gradients), where [`algo`]
//!   (forward) and [`backward_algo`] pick it (at stride 2 on AVX-512 the forward pass only).
//! * **Weight gradient**: per tap and block of input channels, Σ of x·dy in registers over the
//!   output pixels (in bands of rows that keep their lines in L1) whose tap falls inside the image (x is read in place, no padded copy, except
//!   for stems), added into a per-slice partial; slices of the batch are fixed by the shape and
//!   summed in order, so the result does not depend on the number of threads.
//!
//! Images are independent in the forward pass and the input gradient, so the batch is split
//! between threads freely; small problems run on the calling thread.

/// Calls `$call!(R, PX)` with the register block `$r` (16, 8, 6, 5, 4, 3, 2 or 1 pixels) and,
/// for blocks of 3 or more, `$px` as a compile-time constant if it is one of `[$PX, ...]` (0,
/// the run-time value, otherwise): the kernels' const-generic instances for a run-time shape.
macro_rules! by_block {
    ($r:expr, $px:expr, [$($PX:literal),*], $call:ident) => {
        match $r {
            16 => by_block!(@px 16, $px, [$($PX),*], $call),
            8 => by_block!(@px 8, $px, [$($PX),*], $call),
            6 => by_block!(@px 6, $px, [$($PX),*], $call),
            5 => by_block!(@px 5, $px, [$($PX),*], $call),
            4 => by_block!(@px 4, $px, [$($PX),*], $call),
            3 => by_block!(@px 3, $px, [$($PX),*], $call),
            2 => $call!(2, 0),
            _ => $call!(1, 0),
        }
    };
    (@px $R:literal, $px:expr, [$($PX:literal),*], $call:ident) => {
        match $px {
            $($PX => $call!($R, $PX),)*
            _ => $call!($R, 0),
        }
    };
}

mod backward;
mod blocks;
mod forward;
mod grad;
mod in_place;
mod kernels;
mod pack;
#[cfg(test)]
pub(super) mod tests;
pub(in crate::ops::conv) mod winograd;

use rayon::prelude::*;

use self::backward::Conv;
pub(crate) use self::forward::Epilogue;
use self::forward::{Gather, gather_image};
pub(crate) use self::grad::backward;
#[cfg(test)]
use self::grad::backward_with;
pub(super) use self::grad::{bias_grad, weight_from_khwc};
use self::in_place::{InPlace, gather_in_place, in_place_offsets, reads_in_place};
use self::pack::{pack_forward, pad_nhwc};
use self::winograd::{F2, F4, F7, Kind, Packing, S2, S4, Wino, image_forward, pack_u};
use super::geometry::Geom;
use super::workspace::with_workspace;
use crate::simd::{Isa, LANES, dispatch};

/// Below this many multiply-adds a call runs on the calling thread.
const PARALLEL_MACS: usize = 1 << 21;

/// The algorithm of the channels-last kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algo {
    /// Register-blocked direct convolution (any kernel, stride, padding, dilation).
    Direct,
    /// Winograd F(4×4, 3×3), or F(2×2, 3×3) on maps of at most 4 pixels a side (3×3, stride 1,
    /// channels a multiple of 16), or F(2×2, 3×3) in phases at stride 2 (see `winograd/`).
    Winograd,
}

/// The algorithm of a convolution's forward pass: Winograd where it applies and both channel
/// counts are at least [`WINOGRAD_MIN_CHANNELS`] (at stride 2:
/// [`STRIDED_WINOGRAD_MIN_CHANNELS`], or [`WINOGRAD_MIN_CHANNELS`] where F(4×4) in phases
/// covers the output with whole tiles: sides a multiple of 4), else direct. The backward pass takes
/// [`backward_algo`]. A fixed rule of the shape and the instruction set (never of timings or
/// of the thread count), so that results are reproducible run to run: the two algorithms round
/// differently.
pub(crate) fn algo(g: &Geom) -> Algo {
    algo_for(Isa::detect(), g)
}

/// [`algo`] on a given instruction set.
pub(crate) fn algo_for(_isa: Isa, g: &Geom) -> Algo {
    let wide = |min: usize| g.cin >= min && g.cout >= min;
    let pays = if g.sh == 1 {
        wide(WINOGRAD_MIN_CHANNELS)
    } else {
        let m = winograd::Kind::S4.m();
        let exact_cover = g.oh.is_multiple_of(m) && g.ow.is_multiple_of(m);
        wide(STRIDED_WINOGRAD_MIN_CHANNELS) || (exact_cover && wide(WINOGRAD_MIN_CHANNELS))
    };
    if winograd::applies(g) && pays {
        Algo::Winograd
    } else {
        Algo::Direct
    }
}

/// The algorithm of a convolution's backward pass (both gradients): [`algo`]'s, except that
/// the 3×3 stride-2 convolutions keep the direct kernels on AVX-512, whose weight gradient beat
/// Winograd in phases there, and below [`STRIDED_WINOGRAD_MIN_CHANNELS`] channels. Each pass computes the
/// exact convolution's values up to rounding, so the gradients need not round as the forward
/// pass did.
pub(crate) fn backward_algo(g: &Geom) -> Algo {
    backward_algo_for(Isa::detect(), g)
}

/// [`backward_algo`] on a given instruction set.
pub(crate) fn backward_algo_for(isa: Isa, g: &Geom) -> Algo {
    let narrow = g.cin < STRIDED_WINOGRAD_MIN_CHANNELS || g.cout < STRIDED_WINOGRAD_MIN_CHANNELS;
    if g.sh != 1 && (isa == Isa::Avx512 || narrow) {
        Algo::Direct
    } else {
        algo_for(isa, g)
    }
}

/// Fewest input and output channels for which the rule picks Winograd at stride 1, on every
/// instruction set (a fixed rule of the shape, never of timings).
///
/// AVX2 (and the scalar fallback): with half the FLOPs per cycle the saved multiplications
/// weigh more: at 16→16 Winograd was 1.13x (@32²) and 1.12x (@28²) faster fwd+bwd, 1.20x and
/// 1.24x forward (AMD EPYC family 25 model 17 with AVX2 only, batch 128, 2 threads, A/B 5
/// rounds).
///
/// AVX-512: 32 until 2026-12-07, from F(2×2, 3×3) on an Intel Xeon family 6 model 167 (batch 128,
/// fwd+bwd, 2 threads, blocks of [`winograd::TILES`] = 8 tiles): 5.6 ms against the direct
/// kernels' 6.9 at 32→32 @16², 5.5 against 6.0 at 64→64 @8², and at 16→16 @32² 8.2-8.7 ms
/// against 8.6 (no faster, no slower). With F(4×4, 3×3) on an AMD EPYC family 26 model 2 (Zen 5,
/// AVX-512; batch 128, 2 threads, alternating A/B, 5-7 rounds) Winograd at 16→16 was faster:
/// @32² forward 1.25x, backward 1.12x, fwd+bwd 1.04-1.09x; @28² (Fashion-MNIST) backward 1.33x,
/// fwd+bwd 1.29x; the ResNet-20 training step 1.066x, ResNet-8 1.016x. Not re-measured on Intel.
const WINOGRAD_MIN_CHANNELS: usize = 16;

/// Fewest input and output channels for which the rule picks Winograd in phases for a 3×3
/// stride-2 convolution: the forward pass on every instruction set, the backward pass on AVX2
/// and the scalar fallback only ([`backward_algo`]).
///
/// * AVX2 (AMD EPYC family 25 model 17 with AVX2 only, F(2×2) in phases against the direct
///   kernels, batch 128, 2 threads, alternating rounds): 32→64 @16² forward 1.13x faster,
///   backward 1.12x, fwd+bwd 1.09-1.15x (7-9 rounds); 16→32 @32² forward 0.97x, backward 1.01x,
///   fwd+bwd 0.96x (7 rounds: with 16 input channels the products are too short for the
///   transforms).
/// * AVX-512 on Zen 5 (AMD EPYC family 26 model 2, F(2×2) in phases, 5 rounds, 2026-12-07):
///   forward 1.04x faster at 32→64, but fwd+bwd 0.78x at 32→64 @16² and 0.84x at 16→32 @32².
/// * AVX-512 on Zen 4 (AMD EPYC family 25 model 17, 2026-12-08, batch 128, 2 threads): 32→64
///   @16² forward 1.17-1.24x faster with F(2×2) in phases (4 rounds), 1.43x with F(4×4) in
///   phases (8 rounds, best block 1.01 against 1.45 ms); the weight gradient alone slower
///   (F(2×2): 1.95-2.6 against 1.6-1.9 ms; F(4×4): no faster), the input gradient about as fast
///   (1.25 against 1.2 ms); 16→32 @32² forward 0.7-0.9x with F(2×2) in phases (3 rounds on a
///   noisy host).
///
/// * Forward with F(4×4) in phases at 16 channels (16→32 @32², batch 128, 2 threads, Zen 4,
///   4-6 alternating rounds, best block / median): AVX-512 1.27 / 1.44 ms against the direct
///   kernels' 1.54 / 1.63, AVX2 1.40 / 1.49 against 1.65 / 1.80; but @28² (a 14×14 output in
///   4×4 tiles: 1.31x the pixels) as fast as direct (1.18 / 1.31 against 1.17 / 1.30).
///
/// Hence the forward pass by Winograd in phases from 32 channels, or from 16 where its tiles
/// cover the output exactly, on every instruction set, and the gradients by Winograd in phases
/// only on AVX2 from 32 channels.
const STRIDED_WINOGRAD_MIN_CHANNELS: usize = 32;

/// Whether the direct kernels handle this convolution (ungrouped).
pub(crate) fn applies(g: &Geom) -> bool {
    g.groups == 1 && g.n > 0 && g.oh > 0 && g.ow > 0
}

/// Channel blocks of 16 per register block for `channels` channels: as many as divide the
/// channel blocks evenly, up to 4 for Winograd's products on AVX-512, 2 for the other AVX-512
/// kernels, and 1 on AVX2, whose kernels run 6 pixels (or Winograd tiles) × 1 block (12
/// accumulators; 2 × 2 had 8: measured on an AMD EPYC family 25 model 17 with AVX2 only, batch
/// 128, 2 threads, fwd+bwd: 3→16 stem @32² 1.27x, 16→16 @32² 1.05x, 16→16 @28² 1.13x, 32→64
/// stride 2 @16² 1.08x faster, ResNet-8/20 training steps 1.07x; Winograd forward 32→32 @16²
/// 1.06x, 64→64 @8² 1.07x, ResNet-20 training step another 1.06x). On AVX-512 the direct
/// kernels run 16 / cb pixels per block: 8 pixels × 2 blocks beat 4 × 4 (measured, Intel Xeon
/// family 6 model 167, batch 128, 2 threads: 32→64 3×3 stride 2 @16² forward 1.38 → 1.14 ms,
/// 64→128 stride 2 5.0 → 4.2 ms, 48→64 5×5 19.3 → 15.9 ms; 1×1 64→64 and the 3→64 stem
/// unchanged), while Winograd's 64→64 products were no faster with 2. A fixed rule of the shape.
fn channel_blocks(isa: Isa, algo: Algo, channels: usize) -> usize {
    let nb = channels.div_ceil(LANES);
    let most = match (isa, algo) {
        (Isa::Avx512, Algo::Winograd) => 4,
        (Isa::Avx512, _) => 2,
        _ => 1,
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
        h: g.h,
        w: g.w,
        ph: g.ph,
        pw: g.pw,
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
/// (to gather statistics of the output, or to finish it in place, without another pass over
/// memory). Images run on any thread in any order; each is passed exactly once.
pub(crate) type ImageHook<'a> = Option<&'a (dyn Fn(usize, &mut [f32]) + Sync)>;

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
    hook: &(dyn Fn(usize, &mut [f32]) + Sync),
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

/// relu(conv(x) · scale + bias + residual) (`residual` shaped as the output, channels-last):
/// [`forward`] then the residual added and ReLU applied to each output image in place while it
/// is in cache, instead of another pass over memory (the same bits: the sum of the stored
/// convolution output and the residual, then ReLU).
pub(crate) fn forward_add_relu(
    g: &Geom,
    x: &[f32],
    w: &[f32],
    (scale, bias): (Option<&[f32]>, Option<&[f32]>),
    residual: &[f32],
) -> Vec<f32> {
    let ys = g.p() * g.cout;
    assert!(
        residual.len() == g.n * ys,
        "conv2d add_relu: residual of {} values for an output of {}",
        residual.len(),
        g.n * ys
    );
    let finish = |n: usize, y_n: &mut [f32]| {
        for (y, r) in y_n.iter_mut().zip(&residual[n * ys..(n + 1) * ys]) {
            *y = crate::ops::relu::relu(*y + r);
        }
    };
    forward_hooked(
        Isa::detect(),
        algo(g),
        g,
        x,
        w,
        (scale, bias, false),
        Some(&finish),
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
    // Padded, from 16 input channels (the 3×3 stride-2 convolutions): read in place tap by tap,
    // the padding's taps reading zeros (`in_place.rs`).
    let taps_in_place = !in_place && reads_in_place(isa, g.cin, g.kh * g.kw, cb);
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
    let zeros = vec![0.0f32; if taps_in_place { g.cin } else { 0 }];
    let offs = if taps_in_place {
        in_place_offsets(isa, &gat, (g.h, g.w, g.ph, g.pw))
    } else {
        Vec::new()
    };
    let src = InPlace {
        len: g.hw() * g.cin,
        zeros: &zeros,
        offs: &offs,
    };
    let epi = Epilogue {
        bias: bias_padded.as_deref(),
        relu,
    };
    let (xs, ys) = (g.hw() * g.cin, g.p() * g.cout);
    let mut y = crate::buffer_pool::take(g.n * ys); // every element is written
    for_images(g, &mut y, ys, |n0, yc| {
        let ws = if in_place || taps_in_place {
            0
        } else {
            hp * wp * g.cin
        };
        with_workspace(ws, |xp| {
            for (k, y_n) in yc.chunks_mut(ys).enumerate() {
                let x_n = &x[(n0 + k) * xs..(n0 + k + 1) * xs];
                if in_place {
                    forward_image(isa, &gat, x_n, &wpk, epi, y_n);
                } else if taps_in_place {
                    forward_in_place(isa, &gat, x_n, src, &wpk, epi, y_n);
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

/// The Winograd forward (see `winograd/`): the tiles read each image in place, without a
/// padded copy.
fn forward_winograd(
    isa: Isa,
    g: &Geom,
    x: &[f32],
    w: &[f32],
    (scale, bias, relu): (Option<&[f32]>, Option<&[f32]>, bool),
    hook: ImageHook<'_>,
) -> Vec<f32> {
    let cb = channel_blocks(isa, Algo::Winograd, g.cout);
    let wg = wino_of(isa, g, cb, winograd::tile_kind);
    // Without a graph (inference, chunk after chunk) U comes from the cache of unchanged
    // kernels; a training step's forward packs its own (the kernels change every step).
    let u = if crate::autograd::is_grad_enabled() {
        std::sync::Arc::new(pack_u(
            wg.kind,
            w,
            (g.cout, g.cin),
            cb,
            Packing::Forward,
            scale,
        ))
    } else {
        winograd::forward_u(wg.kind, w, (g.cout, g.cin), cb, scale)
    };
    let epi = Epilogue { bias, relu };
    let (xs, ys) = (g.hw() * g.cin, g.p() * g.cout);
    let mut y = crate::buffer_pool::take(g.n * ys); // every element is written
    // Images go `group` at a time (several when one image has fewer tiles than a block).
    let group = wg.group();
    for_images(g, &mut y, ys, |n0, yc| {
        with_workspace(wg.scratch(), |scratch| {
            for (k, y_g) in yc.chunks_mut(group * ys).enumerate() {
                let (n, images) = (n0 + k * group, y_g.len() / ys);
                let x_g = &x[n * xs..(n + images) * xs];
                wino_forward(isa, &wg.with_images(images), x_g, &u, epi, y_g, scratch);
                if let Some(h) = hook {
                    for (i, y_n) in y_g.chunks_mut(ys).enumerate() {
                        h(n + i, y_n);
                    }
                }
            }
        });
    });
    y
}

/// The Winograd geometry of the forward pass (`kind`: [`winograd::tile_kind`]) or of the weight
/// gradient ([`winograd::weight_kind`]): the input at (ph, pw).
fn wino_of(isa: Isa, g: &Geom, cb: usize, kind: fn(usize, (usize, usize)) -> Kind) -> Wino {
    Wino::new(
        kind(g.sh, (g.oh, g.ow)),
        (g.oh, g.ow),
        (g.cin, g.cout),
        cb,
        (g.h, g.w),
        (g.ph, g.pw),
    )
    .with_block_tiles(isa)
}

dispatch!(fn wino_forward_f2(w: &Wino, x: &[f32], u: &[f32], epi: Epilogue<'_>, y: &mut [f32], scratch: &mut [f32]) = image_forward::<F2>);
dispatch!(fn wino_forward_f4(w: &Wino, x: &[f32], u: &[f32], epi: Epilogue<'_>, y: &mut [f32], scratch: &mut [f32]) = image_forward::<F4>);
dispatch!(fn wino_forward_f7(w: &Wino, x: &[f32], u: &[f32], epi: Epilogue<'_>, y: &mut [f32], scratch: &mut [f32]) = image_forward::<F7>);
dispatch!(fn wino_forward_s2(w: &Wino, x: &[f32], u: &[f32], epi: Epilogue<'_>, y: &mut [f32], scratch: &mut [f32]) = image_forward::<S2>);
dispatch!(fn wino_forward_s4(w: &Wino, x: &[f32], u: &[f32], epi: Epilogue<'_>, y: &mut [f32], scratch: &mut [f32]) = image_forward::<S4>);

/// The Winograd forward pass of `w.images` images with the tile algorithm `w.kind` (one
/// dispatched function per algorithm).
fn wino_forward(
    isa: Isa,
    w: &Wino,
    x: &[f32],
    u: &[f32],
    epi: Epilogue<'_>,
    y: &mut [f32],
    scratch: &mut [f32],
) {
    match w.kind {
        Kind::F2 => wino_forward_f2(isa, w, x, u, epi, y, scratch),
        Kind::F4 => wino_forward_f4(isa, w, x, u, epi, y, scratch),
        Kind::F7 => wino_forward_f7(isa, w, x, u, epi, y, scratch),
        Kind::S2 => wino_forward_s2(isa, w, x, u, epi, y, scratch),
        Kind::S4 => wino_forward_s4(isa, w, x, u, epi, y, scratch),
    }
}

dispatch!(fn forward_image(g: &Gather, xp: &[f32], wpk: &[f32], epi: Epilogue<'_>, y: &mut [f32]) = gather_image);
dispatch!(fn forward_in_place(g: &Gather, x: &[f32], src: InPlace<'_>, wpk: &[f32], epi: Epilogue<'_>, y: &mut [f32]) = gather_in_place);
