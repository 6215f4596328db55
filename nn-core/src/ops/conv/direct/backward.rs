//! Per-image backward drivers of the channels-last direct convolution: the input gradient of
//! strided convolutions (scatter form) and the weight gradient.

use super::blocks::{Blocks, MAX_BLOCK_PIXELS, block_pixels, next_block};
use super::kernels::{scatter_tap, weight_rows, weight_tap};
use crate::simd::{LANES, Simd};

/// The geometry of one image of a convolution (channels-last, dilation and stride per axis):
/// an `h × w` input with padding (ph, pw) (the weight gradient reads it unpadded; the scatter's
/// buffer is padded).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Conv {
    pub h: usize,
    pub w: usize,
    pub ph: usize,
    pub pw: usize,
    pub cin: usize,
    pub cout: usize,
    pub oh: usize,
    pub ow: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub dh: usize,
    pub dw: usize,
}

/// Where the scatter's taps land: a buffer of `h × w` pixels (`cs` channels each, see
/// [`scatter_image`]) into which padded-input pixel (py, px) falls at (py − top, px − left).
/// Taps that fall outside it are dropped: they are the padding's gradients, which nothing
/// reads. A zero-padded buffer that holds every tap has `top = left = 0`; the input gradient
/// itself has the convolution's padding, so the scatter needs no buffer and no copy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    pub h: usize,
    pub w: usize,
    pub top: usize,
    pub left: usize,
}

/// Scatter-adds the input gradient of one image into the zeroed buffer `dxp`
/// (`[t.h][t.w][cs]`, `cs = groups·cb·16` channels per pixel): output pixel (oy, ox) sends
/// Σ_co dy[oy, ox, co]·w[co, ·, i, j] through tap (i, j) to padded pixel
/// (oy·sh + i·dh, ox·sw + j·dw), found in `dxp` as [`Target`] says. `wpk` is
/// [`super::pack::pack_input_grad`] without flip.
#[inline(always)]
pub(crate) fn scatter_image<S: Simd>(
    c: &Conv,
    cb: usize,
    dy: &[f32],
    wpk: &[f32],
    dxp: &mut [f32],
    t: Target,
) {
    match cb {
        1 => scatter_cb::<S, 1>(c, dy, wpk, dxp, t),
        2 => scatter_cb::<S, 2>(c, dy, wpk, dxp, t),
        _ => scatter_cb::<S, 4>(c, dy, wpk, dxp, t),
    }
}

#[inline(always)]
fn scatter_cb<S: Simd, const CB: usize>(
    c: &Conv,
    dy: &[f32],
    wpk: &[f32],
    dxp: &mut [f32],
    t: Target,
) {
    let gw = CB * LANES;
    let groups = c.cin.div_ceil(gw);
    let cs = groups * gw;
    let tap_len = c.cout * gw;
    assert!(wpk.len() >= groups * c.kh * c.kw * tap_len && dy.len() >= c.oh * c.ow * c.cout);
    assert!(dxp.len() >= t.h * t.w * cs);
    // The forward's register blocks (output pixels row-major; a block may run on from the end
    // of one row into the next, where its pixels' gradients are still adjacent in dy).
    let blocks = Blocks::of(c.oh, c.ow, block_pixels::<S>(CB));
    for grp in 0..groups {
        for blk in blocks.iter() {
            let r = blk.r;
            let d = dy[blk.p * c.cout..].as_ptr();
            // Pixel k's tap (0, 0) in padded coordinates.
            let mut origin = [(0usize, 0usize); MAX_BLOCK_PIXELS];
            for (k, o) in origin.iter_mut().enumerate().take(r) {
                let (oy, ox) = ((blk.p + k) / c.ow, (blk.p + k) % c.ow);
                *o = (oy * c.sh, ox * c.sw);
            }
            for i in 0..c.kh {
                for j in 0..c.kw {
                    // Where pixel k of the block lands through tap (i, j), if inside dxp.
                    let mut at = [0usize; MAX_BLOCK_PIXELS];
                    let mut inside = 0u32;
                    for (k, (a, &(y0, x0))) in at.iter_mut().zip(&origin).enumerate().take(r) {
                        let py = (y0 + i * c.dh).checked_sub(t.top);
                        let px = (x0 + j * c.dw).checked_sub(t.left);
                        if let (Some(py), Some(px)) = (py, px)
                            && py < t.h
                            && px < t.w
                        {
                            *a = (py * t.w + px) * cs + grp * gw;
                            inside |= 1 << k;
                        }
                    }
                    if inside == 0 {
                        continue;
                    }
                    let w = wpk[((grp * c.kh + i) * c.kw + j) * tap_len..].as_ptr();
                    macro_rules! call {
                        ($R:literal, $C:literal) => {
                            add_block::<S, $R, CB, $C>(d, c, w, dxp, (&at, inside))
                        };
                    }
                    // SAFETY: r pixels of dy from p (cout channels each), one tap of the
                    // group's weights, and the pixels of dxp marked inside (checked above).
                    unsafe { by_block!(r, c.cout, [16, 32, 64], call) }
                }
            }
        }
    }
}

/// Adds a block's tap sums to `dxp` at `at[k]` for the pixels k whose bit is set in `inside`.
#[inline(always)]
unsafe fn add_block<S: Simd, const R: usize, const CB: usize, const PX: usize>(
    dy: *const f32,
    c: &Conv,
    w: *const f32,
    dxp: &mut [f32],
    (at, inside): (&[usize; MAX_BLOCK_PIXELS], u32),
) {
    unsafe {
        let acc = scatter_tap::<S, R, CB, PX>(dy, c.cout, c.cout, w);
        let p0 = dxp.as_mut_ptr();
        for (r, a) in acc.iter().enumerate() {
            if inside & (1 << r) == 0 {
                continue;
            }
            for (b, v) in a.iter().enumerate() {
                let p = p0.add(at[r] + b * LANES);
                S::store(p, S::add(S::load(p), *v));
            }
        }
    }
}

/// Input channels per weight-gradient register block.
const fn weight_channels<S: Simd>(cb: usize) -> usize {
    if S::REGS >= 32 {
        match cb {
            1 => 16,
            2 => 8,
            _ => 4,
        }
    } else {
        block_pixels::<S>(cb)
    }
}

/// Adds the weight gradient of `images` consecutive images to `part` (`[kh][kw][cin][cs]`,
/// `cs = groups·cb·16` output channels): Σ over the images and their output pixels of
/// x[tap of p][ci] · dy[p][co]. `x` holds the unpadded inputs (`[images][h][w][cin]`; each tap
/// sums only over the output pixels whose tap falls inside it, which leaves out exactly the zero
/// terms a padded copy adds), `dy` the output gradients `[images][oh][ow][cout]`. Each register
/// block sums its tap over all the images before it is added to `part` once (see
/// `grad::WEIGHT_IMAGES_AVX512`); the stems' kernel-row blocks ([`rows_image`]) go image by image.
#[inline(always)]
pub(crate) fn weight_image<S: Simd>(
    c: &Conv,
    cb: usize,
    images: usize,
    x: &[f32],
    dy: &[f32],
    part: &mut [f32],
) {
    match cb {
        1 => weight_cb::<S, 1>(c, images, x, dy, part),
        2 => weight_cb::<S, 2>(c, images, x, dy, part),
        _ => weight_cb::<S, 4>(c, images, x, dy, part),
    }
}

/// The output positions o in `0..n` whose input position o·s + k − p (k: the tap's offset)
/// lies in `0..len`: a range `lo..hi`, empty when no tap falls inside.
fn tap_range(n: usize, s: usize, k: usize, p: usize, len: usize) -> (usize, usize) {
    // o·s + k ≥ p  and  o·s + k − p ≤ len − 1.
    let lo = p.saturating_sub(k).div_ceil(s);
    let hi = if len + p > k {
        ((len - 1 + p - k) / s + 1).min(n)
    } else {
        0
    };
    (lo.min(hi), hi)
}

#[inline(always)]
fn weight_cb<S: Simd, const CB: usize>(
    c: &Conv,
    images: usize,
    x: &[f32],
    dy: &[f32],
    part: &mut [f32],
) {
    let gw = CB * LANES;
    let groups = c.cout.div_ceil(gw);
    let cs = groups * gw;
    let (xs, ys) = (c.h * c.w * c.cin, c.oh * c.ow * c.cout);
    assert!(images >= 1 && part.len() >= c.kh * c.kw * c.cin * cs);
    assert!(dy.len() >= images * ys && x.len() >= images * xs);
    if c.ph == 0 && c.pw == 0 && rows_image::<S, CB>(c, x, dy, part, cs) {
        // Whether the kernel-row blocks apply depends on the shape alone.
        for m in 1..images {
            rows_image::<S, CB>(c, &x[m * xs..], &dy[m * ys..], part, cs);
        }
        return;
    }
    let strides = (xs, ys, images);
    let cmax = weight_channels::<S>(CB);
    // The first block's pass reads the image from memory: for a 1×1 kernel (the stride-2
    // projections, where it is most of the work) it prefetches row by row (1×1 16→32 and 32→64
    // stride 2, fwd+bwd: 1.07x each; the 3×3 stride-2 ones: 0.98-1.00x, so they do not).
    let mut first = c.kh == 1 && c.kw == 1;
    let band = band_rows(c);
    for r0 in (0..c.oh).step_by(band) {
        let r1 = (r0 + band).min(c.oh);
        for grp in 0..groups {
            let co0 = grp * gw;
            let dy_n = c.cout - co0;
            for i in 0..c.kh {
                let (oy0, oy1) = tap_range(c.oh, c.sh, i * c.dh, c.ph, c.h);
                // This band's rows (oy0 == oy1: none).
                let oy0 = oy0.max(r0);
                let oy1 = oy1.min(r1).max(oy0);
                for j in 0..c.kw {
                    let (ox0, ox1) = tap_range(c.ow, c.sw, j * c.dw, c.pw, c.w);
                    if oy0 == oy1 || ox0 == ox1 {
                        continue;
                    }
                    // The input pixel of output pixel (oy0, ox0) through tap (i, j).
                    let (iy, ix) = (oy0 * c.sh + i * c.dh - c.ph, ox0 * c.sw + j * c.dw - c.pw);
                    let rect = (oy1 - oy0, ox1 - ox0);
                    let mut ci = 0;
                    while ci < c.cin {
                        let n = next_block(c.cin - ci, cmax);
                        let at = ((i * c.kw + j) * c.cin + ci) * cs + co0;
                        // SAFETY: output pixels oy0..oy1 × ox0..ox1 have their tap inside the image
                        // (tap_range) and their gradient in dy (asserted above); `n` channels from
                        // ci exist.
                        unsafe {
                            let x = x.as_ptr().add((iy * c.w + ix) * c.cin + ci);
                            let d = dy.as_ptr().add((oy0 * c.ow + ox0) * c.cout + co0);
                            macro_rules! call {
                                ($CI:literal) => {
                                    tap::<S, $CI, CB>(
                                        c, x, d, dy_n, rect, part, at, cs, first, strides,
                                    )
                                };
                            }
                            match n {
                                16 => call!(16),
                                8 => call!(8),
                                6 => call!(6),
                                5 => call!(5),
                                4 => call!(4),
                                3 => call!(3),
                                2 => call!(2),
                                _ => call!(1),
                            }
                        }
                        first = false;
                        ci += n;
                    }
                }
            }
        }
    }
}

/// Output rows per band of the weight gradient: every (tap, channel block) pass runs over a
/// band of output rows before the next band, so that the band's dy and x lines (one 64-byte
/// line of each per pixel) stay in L1 across the passes of its taps and channel blocks: about
/// 8 KiB of them. Measured on an AMD EPYC family 25 model 17 (AVX2, 32 KiB L1), batch 128, 2
/// threads, weight gradient alone (`conv_driver` MODE bwd, 9 alternating rounds): 16→32 3×3
/// stride 2 @32² (16×16 outputs, 32 KiB of lines per pass) 1.11x faster with bands of 2 or 4
/// rows; 32→64 3×3 stride 2 @16² (8 KiB per pass) is one band, as before. 1×1 kernels (one tap:
/// each pass reads its lines once) are one band. A fixed rule of the shape.
fn band_rows(c: &Conv) -> usize {
    if c.kh * c.kw == 1 {
        return c.oh;
    }
    (8192 / (c.ow * 128)).clamp(1, c.oh)
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tap<S: Simd, const CI: usize, const CB: usize>(
    c: &Conv,
    x: *const f32,
    dy: *const f32,
    dy_n: usize,
    rect: (usize, usize),
    part: &mut [f32],
    at: usize,
    cs: usize,
    first: bool,
    (xs, ys, images): (usize, usize, usize),
) {
    unsafe {
        let mut acc = [[S::zero(); CB]; CI];
        for m in 0..images {
            weight_tap::<S, CI, CB>(
                x.add(m * xs),
                (c.sh * c.w * c.cin, c.sw * c.cin),
                dy.add(m * ys),
                (c.ow * c.cout, c.cout),
                dy_n,
                rect,
                &mut acc,
                first,
            );
        }
        let p0 = part.as_mut_ptr().add(at);
        for (ci, a) in acc.iter().enumerate() {
            for (b, v) in a.iter().enumerate() {
                let p = p0.add(ci * cs + b * LANES);
                S::store(p, S::add(S::load(p), *v));
            }
        }
    }
}

/// The weight gradient of one image by whole kernel rows ([`weight_rows`]) where the kernel
/// rows' runs of `kw·cin` values are short enough for all their accumulators to stay in
/// registers (few input channels: a network's stem; with AVX2's 16 registers a run is cut into
/// pieces of at most 6 values); returns false (nothing done) otherwise. Each weight's sum over
/// the output pixels runs in the same order as the per-tap blocks', so the path changes no bits.
/// The register blocks are a fixed function of the shape. Every output pixel's taps must lie in
/// `x` (no padding: the caller pads stems, see `grad::pads_x`).
#[inline(always)]
fn rows_image<S: Simd, const CB: usize>(
    c: &Conv,
    xp: &[f32],
    dy: &[f32],
    part: &mut [f32],
    cs: usize,
) -> bool {
    if c.dw != 1 {
        return false;
    }
    let wp = c.w;
    assert!(c.ph == 0 && c.pw == 0 && wp > (c.ow - 1) * c.sw + c.kw - 1);
    assert!(c.h > (c.oh - 1) * c.sh + (c.kh - 1) * c.dh);
    let k3 = c.kh.is_multiple_of(3);
    // SAFETY: `weight_cb` asserted the bounds of xp, dy and part, and every tap of every output
    // pixel lies in the image (asserted above).
    unsafe {
        if S::REGS < 32 {
            // AVX2: one kernel row per pass, its run cut into pieces of at most 6 values (12
            // accumulators of 16 registers; 9 = 5 + 4).
            match (CB, c.kw * c.cin) {
                (1, 9) => {
                    rows::<S, 1, 5, 1>(c, xp, dy, part, (cs, 0));
                    rows::<S, 1, 4, 1>(c, xp, dy, part, (cs, 5));
                }
                (1, 3) => rows::<S, 1, 3, 1>(c, xp, dy, part, (cs, 0)),
                (1, 6) => rows::<S, 1, 6, 1>(c, xp, dy, part, (cs, 0)),
                (1, 12) => {
                    rows::<S, 1, 6, 1>(c, xp, dy, part, (cs, 0));
                    rows::<S, 1, 6, 1>(c, xp, dy, part, (cs, 6));
                }
                _ => return false,
            }
            return true;
        }
        match (CB, c.kw * c.cin, k3) {
            (1, 9, true) => rows::<S, 3, 9, 1>(c, xp, dy, part, (cs, 0)),
            (1, 9, false) => rows::<S, 1, 9, 1>(c, xp, dy, part, (cs, 0)),
            (1, 6, true) => rows::<S, 3, 6, 1>(c, xp, dy, part, (cs, 0)),
            (1, 6, false) => rows::<S, 1, 6, 1>(c, xp, dy, part, (cs, 0)),
            (1, 3, true) => rows::<S, 3, 3, 1>(c, xp, dy, part, (cs, 0)),
            (1, 12, _) => rows::<S, 1, 12, 1>(c, xp, dy, part, (cs, 0)),
            (2, 3, true) => rows::<S, 3, 3, 2>(c, xp, dy, part, (cs, 0)),
            (2, 6, _) => rows::<S, 1, 6, 2>(c, xp, dy, part, (cs, 0)),
            (2, 9, _) => rows::<S, 1, 9, 2>(c, xp, dy, part, (cs, 0)),
            _ => return false,
        }
    }
    true
}

/// [`rows_image`] with `KH` kernel rows per pass, values `off .. off + KWC` of each kernel row's
/// run of kw·cin values, and `CB` channel blocks (`kh` a multiple of `KH`, undilated width).
#[inline(always)]
unsafe fn rows<S: Simd, const KH: usize, const KWC: usize, const CB: usize>(
    c: &Conv,
    xp: &[f32],
    dy: &[f32],
    part: &mut [f32],
    (cs, off): (usize, usize),
) {
    let run = c.kw * c.cin;
    debug_assert!(c.kh.is_multiple_of(KH) && off + KWC <= run && c.dw == 1);
    let wp = c.w;
    let gw = CB * LANES;
    let krow = c.dh * wp * c.cin;
    for grp in 0..c.cout.div_ceil(gw) {
        let co0 = grp * gw;
        for i0 in (0..c.kh).step_by(KH) {
            unsafe {
                let acc = weight_rows::<S, KH, KWC, CB>(
                    xp.as_ptr().add(i0 * krow + off),
                    krow,
                    (c.sh * wp * c.cin, c.sw * c.cin),
                    dy.as_ptr().add(co0),
                    (c.ow * c.cout, c.cout),
                    c.cout - co0,
                    (c.oh, c.ow),
                );
                // part is [kh][kw][cin][cs]: kernel row i's run of kw·cin values starts at
                // i·run.
                for (k, ak) in acc.iter().enumerate() {
                    for (v, a) in ak.iter().enumerate() {
                        let p0 = part.as_mut_ptr().add(((i0 + k) * run + off + v) * cs + co0);
                        for (b, r) in a.iter().enumerate() {
                            let p = p0.add(b * LANES);
                            S::store(p, S::add(S::load(p), *r));
                        }
                    }
                }
            }
        }
    }
}
