//! The backward pass of the direct and Winograd convolutions: the input gradient of each image
//! (a gather for stride 1, a scatter for larger strides, Winograd where the forward used it) and
//! the weight gradient summed over fixed slices of the batch, so that the result does not depend
//! on the number of threads.

use super::backward::{Conv, Target, scatter_image, weight_image};
use super::forward::{Epilogue, Gather};
use super::pack::{pack_input_grad, pad_nhwc};
use super::winograd::{
    F2, F4, Kind, Packing, S2, Wino, image_input_grad, image_weight, pack_u, tile_kind,
    weight_from_du, weight_kind, weight_tiles,
};
use super::{
    Algo, PARALLEL_MACS, backward_algo, channel_blocks, conv_of, forward_image, macs, padded_input,
    wino_forward, wino_of,
};
use crate::ops::conv::backward::ConvGrads;
use crate::ops::conv::geometry::Geom;
use crate::ops::conv::slices::{BatchSlices, Fill, SliceJob};
use crate::ops::conv::workspace::with_workspace;
use crate::simd::{Isa, LANES, dispatch};

dispatch!(fn wino_input_grad(w: &Wino, dy: &[f32], u: &[f32], dx: &mut [f32], scratch: &mut [f32]) = image_input_grad);
dispatch!(fn wino_weight_f2(w: &Wino, x: &[f32], dy: &[f32], part: &mut [f32], scratch: &mut [f32]) = image_weight::<F2>);
dispatch!(fn wino_weight_f4(w: &Wino, x: &[f32], dy: &[f32], part: &mut [f32], scratch: &mut [f32]) = image_weight::<F4>);
dispatch!(fn wino_weight_s2(w: &Wino, x: &[f32], dy: &[f32], part: &mut [f32], scratch: &mut [f32]) = image_weight::<S2>);

/// The Winograd weight gradient of `w.images` images with the tile algorithm `w.kind` (one
/// dispatched function per algorithm).
fn wino_weight(isa: Isa, w: &Wino, x: &[f32], dy: &[f32], part: &mut [f32], scratch: &mut [f32]) {
    match w.kind {
        Kind::F2 => wino_weight_f2(isa, w, x, dy, part, scratch),
        Kind::F4 => wino_weight_f4(isa, w, x, dy, part, scratch),
        Kind::F7 | Kind::S4 => unreachable!(
            "the weight gradient takes F(4×4) for F(7×7)'s maps and F(2×2) in phases for F(4×4) \
             in phases (weight_kind)"
        ),
        Kind::S2 => wino_weight_s2(isa, w, x, dy, part, scratch),
    }
}
dispatch!(fn scatter(c: &Conv, cb: usize, dy: &[f32], wpk: &[f32], dxp: &mut [f32], t: Target) = scatter_image);
dispatch!(fn weight_grad(c: &Conv, cb: usize, images: usize, x: &[f32], dy: &[f32], part: &mut [f32]) = weight_image);

/// How the input gradient of one image is computed.
enum InputGrad {
    /// Stride 1: a gather over the padded output gradient (`hp × wp`, shifted by `top, left`).
    Gather {
        gat: Gather,
        hp: usize,
        top: isize,
        left: isize,
    },
    /// Strided: a scatter into the zeroed input gradient itself when its pixels need no channel
    /// padding (`in_place`: `cs` = the input's channels, a whole number of register blocks; the
    /// taps that fall into the padding are dropped), else into a padded buffer of `hp × wp`
    /// pixels of `cs` channels, copied out after. In place, no 17×17 buffer is zeroed and
    /// copied per image: the 32→64 3×3 stride-2 backward @16² ran 1.00-1.05x as fast (median
    /// 1.034x), 16→32 @32² 0.92-1.04x (median 0.99x; batch 128, 2 threads, AMD EPYC family 26
    /// model 2, 7 alternating rounds of `conv_driver` MODE bwd).
    Scatter {
        hp: usize,
        wp: usize,
        cs: usize,
        in_place: bool,
    },
    /// Winograd on the output gradient read in place as if padded by (2 − ph, 2 − pw), flipped
    /// transposed kernel.
    Winograd { wg: Wino, u: Vec<f32> },
    /// Stride 2: Winograd in phases, transposed (`winograd::strided_dx`).
    Phases { wg: Wino, u: Vec<f32> },
}

fn input_grad_plan(isa: Isa, g: &Geom, cb: usize, algo: Algo, w: &[f32]) -> InputGrad {
    if algo == Algo::Winograd && g.sh == 2 {
        let wg = Wino::new(
            Kind::S2,
            (g.oh, g.ow),
            (g.cout, g.cin),
            cb,
            (g.h, g.w),
            (g.ph, g.pw),
        )
        .with_block_tiles(isa);
        let u = pack_u(wg.kind, w, (g.cout, g.cin), cb, Packing::Transposed, None);
        return InputGrad::Phases { wg, u };
    }
    if algo == Algo::Winograd {
        let wg = Wino::new(
            tile_kind(1, (g.h, g.w)),
            (g.h, g.w),
            (g.cout, g.cin),
            cb,
            (g.oh, g.ow),
            (2 - g.ph, 2 - g.pw),
        )
        .with_block_tiles(isa);
        let u = pack_u(wg.kind, w, (g.cout, g.cin), cb, Packing::Flipped, None);
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
        let (hp, wp) = (hp.max(g.h + g.ph), wp.max(g.w + g.pw));
        let cs = g.cin.div_ceil(cb * LANES) * cb * LANES;
        InputGrad::Scatter {
            hp,
            wp,
            cs,
            in_place: cs == g.cin,
        }
    }
}

/// Images per call of the direct weight gradient (read in place, not a padded stem): each
/// register block sums its tap over this many images before it is added to the slice's partial
/// once, instead of once per image. 4 on AVX-512, measured on an AMD EPYC family 26 model 2
/// (Zen 5), batch 128, 2 threads, the weight gradient alone (`conv_driver` MODE bwd, XGRAD 0),
/// 3-5 alternating rounds, ms with 1 / 2 / 4 / 8 images: 16→32 3×3 stride 2 @32² 0.79 / 0.72 /
/// 0.65-0.68 / 0.68 (1.17x faster with 4); its 1×1 projection 0.108-0.118 / 0.101-0.107 /
/// 0.101-0.107 / 0.101-0.137; 32→64 3×3 stride 2 @16² and its projection within the noise
/// (0.65-0.71 either way). AVX2 and the scalar kernels keep 1 (not measured). The images of a
/// call are consecutive in a slice of [`BatchSlices`], whose bounds depend on the batch only, so
/// the sums' order is a fixed function of the shape and the instruction set, never of the
/// thread count.
const WEIGHT_IMAGES_AVX512: usize = 4;

fn weight_images(isa: Isa) -> usize {
    if isa == Isa::Avx512 {
        WEIGHT_IMAGES_AVX512
    } else {
        1
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
    backward_with(Isa::detect(), backward_algo(g), g, x, w, dy, need)
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
    let ig = input_grad_plan(isa, g, cb_x, algo, w);
    let wpk_x = need_x.then(|| match &ig {
        InputGrad::Winograd { .. } | InputGrad::Phases { .. } => Vec::new(),
        InputGrad::Gather { .. } => pack_input_grad(w, (g.cout, g.cin, g.kh, g.kw), cb_x, true),
        InputGrad::Scatter { .. } => pack_input_grad(w, (g.cout, g.cin, g.kh, g.kw), cb_x, false),
    });
    let conv = conv_of(g);
    let wino = (algo == Algo::Winograd).then(|| {
        let wg = wino_of(isa, g, cb_w, weight_kind);
        wg.with_tiles(weight_tiles(isa, &wg).min(wg.th * wg.tw))
    });
    let cs_w = g.cout.div_ceil(cb_w * LANES) * cb_w * LANES;
    let part_len = match &wino {
        Some(wg) => wg.positions() * g.cin * g.cout,
        None => g.kh * g.kw * g.cin * cs_w,
    };
    // One image per chunk.
    let mut slices = BatchSlices::new(g.n, 1, need_w.then_some((part_len, Fill::Zeroed)));
    let mut dx = need_x.then(|| crate::buffer_pool::take(g.n * xs)); // every element is written
    // The weight gradient reads each image in place (Winograd's tiles and the direct taps skip
    // what lies outside it), except for the stems, which are copied into a padded buffer.
    let pad_x = wino.is_none() && pads_x(g);
    let (hp, wp) = padded_input(g);
    // The padded buffer as the geometry of an unpadded convolution.
    let conv_p = Conv {
        h: hp,
        w: wp,
        ph: 0,
        pw: 0,
        ..conv
    };
    let ig_len = match &ig {
        InputGrad::Gather { gat, hp, .. } => hp * gat.wp * g.cout,
        InputGrad::Scatter { in_place: true, .. } => 0,
        InputGrad::Scatter { hp, wp, cs, .. } => hp * wp * cs,
        InputGrad::Winograd { wg, .. } | InputGrad::Phases { wg, .. } => wg.scratch(),
    };
    let work = |((part, dxs), &(lo, hi)): SliceJob<'_>| {
        let xlen = match &wino {
            _ if !need_w => 0,
            Some(wg) => wg.scratch(),
            None if pad_x => hp * wp * g.cin,
            None => 0,
        };
        let glen = if need_x { ig_len } else { 0 };
        with_workspace(xlen + glen, |ws| {
            let (xbuf, gp) = ws.split_at_mut(xlen);
            // Images go a step at a time, the weight gradient's and the input gradient's in
            // groups within it: one image, or Winograd's `Wino::group` (several when an image has
            // fewer tiles than a block). In the slice's order (the sums do not depend on the
            // threads), and both read a step's output gradient while it is in cache.
            let gw = match &wino {
                Some(wg) if need_w => wg.group(),
                None if need_w && !pad_x => weight_images(isa),
                _ => 1,
            };
            let gx = match &ig {
                InputGrad::Winograd { wg, .. } if need_x => wg.group(),
                _ => 1,
            };
            let step = gw.max(gx);
            for n0 in (lo..hi).step_by(step) {
                let end = (n0 + step).min(hi);
                for n in (n0..end).step_by(gw) {
                    let k = gw.min(end - n);
                    let dy_g = &dy[n * ys..(n + k) * ys];
                    // x is only read (and only needs to exist) for the weight gradient.
                    let x_g = || &x[n * xs..(n + k) * xs];
                    match &wino {
                        _ if !need_w => {}
                        Some(wg) => wino_weight(isa, &wg.with_images(k), x_g(), dy_g, part, xbuf),
                        None if pad_x => {
                            pad_nhwc(
                                x_g(),
                                (g.h, g.w, g.cin),
                                xbuf,
                                (hp, wp),
                                (g.ph as isize, g.pw as isize),
                            );
                            weight_grad(isa, &conv_p, cb_w, 1, xbuf, dy_g, part);
                        }
                        None => weight_grad(isa, &conv, cb_w, k, x_g(), dy_g, part),
                    }
                }
                if let Some(wpk) = &wpk_x {
                    for n in (n0..end).step_by(gx) {
                        let k = gx.min(end - n);
                        let dy_g = &dy[n * ys..(n + k) * ys];
                        let dx_g = &mut dxs[(n - lo) * xs..(n - lo + k) * xs];
                        input_grad_images(isa, g, &conv, &ig, cb_x, wpk, dy_g, gp, dx_g);
                    }
                }
            }
        });
    };
    let parallel = macs(g) >= PARALLEL_MACS && slices.parallel();
    slices.run(parallel, dx.as_deref_mut(), xs, work);
    // The partials are summed (in parallel over fixed chunks when the slices ran in parallel;
    // the same bits either way).
    let dw = need_w.then(|| {
        slices.reduce(parallel, |sum| match &wino {
            Some(wg) => weight_from_du(wg.kind, sum, (g.cout, g.cin)),
            None => weight_from_khwc(g, sum, cs_w),
        })
    });
    ConvGrads { dx, dw, db }
}

/// The input gradient `dx_n` of the output gradient `dy_n`: one image, or for Winograd (whose
/// tiles may span images) the whole images they hold.
#[allow(clippy::too_many_arguments)]
fn input_grad_images(
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
            let epi = Epilogue {
                bias: None,
                relu: false,
            };
            let images = dy_n.len() / (g.oh * g.ow * g.cout);
            wino_forward(isa, &wg.with_images(images), dy_n, u, epi, dx_n, buf);
        }
        InputGrad::Phases { ref wg, ref u } => wino_input_grad(isa, wg, dy_n, u, dx_n, buf),
        InputGrad::Scatter { in_place: true, .. } => {
            dx_n.fill(0.0);
            let t = Target {
                h: g.h,
                w: g.w,
                top: g.ph,
                left: g.pw,
            };
            scatter(isa, conv, cb, dy_n, wpk, dx_n, t);
        }
        InputGrad::Scatter { hp, wp, cs, .. } => {
            let buf = &mut buf[..hp * wp * cs];
            buf.fill(0.0);
            let t = Target {
                h: hp,
                w: wp,
                top: 0,
                left: 0,
            };
            scatter(isa, conv, cb, dy_n, wpk, buf, t);
            let row = g.w * g.cin;
            for (iy, dx_row) in dx_n.chunks_exact_mut(row).enumerate() {
                let src = ((iy + g.ph) * wp + g.pw) * cs;
                if cs == g.cin {
                    // No channel padding: the image's row is one contiguous run of the buffer.
                    dx_row.copy_from_slice(&buf[src..src + row]);
                } else {
                    for (px, dst) in dx_row.chunks_exact_mut(g.cin).enumerate() {
                        dst.copy_from_slice(&buf[src + px * cs..src + px * cs + g.cin]);
                    }
                }
            }
        }
    }
}

/// Whether the direct weight gradient copies x into a zero-padded buffer instead of reading it in
/// place: for padded convolutions whose kernel rows are short runs (`kw·cin ≤ 12` values,
/// undilated: the stems), where the whole-kernel-row blocks (`backward::rows_image`) may apply;
/// they need every tap of every output pixel inside the buffer. A rule of the shape alone, the
/// same on every instruction set (`rows_image` cuts the runs to fit AVX2's registers); the copy is
/// small for so few channels.
fn pads_x(g: &Geom) -> bool {
    (g.ph > 0 || g.pw > 0) && g.cin * g.kw <= 12 && g.dw == 1
}

/// The Winograd input gradient through a zero-padded copy of dy read at offset (0, 0), the route
/// the kernels took before they read dy in place: the reference of the bitwise test.
#[cfg(test)]
pub(super) fn winograd_input_grad_padded(isa: Isa, g: &Geom, w: &[f32], dy: &[f32]) -> Vec<f32> {
    let cb = channel_blocks(isa, Algo::Winograd, g.cin);
    let InputGrad::Winograd { wg, u } = input_grad_plan(isa, g, cb, Algo::Winograd, w) else {
        unreachable!("the Winograd plan")
    };
    let frame = wg.padded();
    let wg = Wino {
        src: frame,
        off: (0, 0),
        ..wg
    };
    let (xs, ys) = (g.hw() * g.cin, g.p() * g.cout);
    let mut dx = vec![0.0f32; g.n * xs];
    let mut dyp = vec![0.0f32; frame.0 * frame.1 * g.cout];
    let mut scratch = vec![0.0f32; wg.scratch()];
    for (n, dx_n) in dx.chunks_mut(xs).enumerate() {
        let at = ((2 - g.ph) as isize, (2 - g.pw) as isize);
        pad_nhwc(&dy[n * ys..], (g.oh, g.ow, g.cout), &mut dyp, frame, at);
        let epi = Epilogue {
            bias: None,
            relu: false,
        };
        wino_forward(isa, &wg, &dyp, &u, epi, dx_n, &mut scratch);
    }
    dx
}

/// The weight gradient `[kh][kw][cin][cs]` (output channels padded to `cs`) as
/// `[cout][cin][kh][kw]`.
pub(in crate::ops::conv) fn weight_from_khwc(g: &Geom, sum: &[f32], cs: usize) -> Vec<f32> {
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
pub(in crate::ops::conv) fn bias_grad(dy: &[f32], c: usize) -> Vec<f32> {
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
