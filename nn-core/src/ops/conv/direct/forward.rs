//! The gather driver: one image of a convolution computed from a zero-padded channels-last
//! input, output pixels in register blocks along each row (or, for short rows, across rows: see
//! `blocks`). Used for the forward pass and for the
//! input gradient of stride-1 convolutions (a convolution of the padded output gradient with the
//! flipped, transposed weight).

use super::blocks::{Block, Blocks, block_pixels};
use super::kernels::{gather, gather_at, gather_tap};
use crate::simd::{Isa, LANES, Simd};

/// The shape of one gather: output `oh × ow` pixels of `cout` channels, from a padded input of
/// `hp × wp` pixels of `cin` channels, kernel `kh × kw`, stride and dilation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gather {
    pub oh: usize,
    pub ow: usize,
    pub cout: usize,
    pub cin: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub dh: usize,
    pub dw: usize,
    pub wp: usize,
    /// Channel blocks of 16 per register block (1, 2 or 4).
    pub cb: usize,
}

/// What happens to the accumulators before they are stored: `+ bias[o]`, then ReLU.
#[derive(Clone, Copy)]
pub(crate) struct Epilogue<'a> {
    /// Per output channel, padded to whole groups (`groups·cb·16` values), or none.
    pub bias: Option<&'a [f32]>,
    pub relu: bool,
}

/// Computes one output image `y` (`[oh][ow][cout]`) from the padded input `xp` and the packed
/// weights `wpk` (`[group][kh][kw][cin][cb·16]`).
#[inline(always)]
pub(crate) fn gather_image<S: Simd>(
    g: &Gather,
    xp: &[f32],
    wpk: &[f32],
    epi: Epilogue<'_>,
    y: &mut [f32],
) {
    match g.cb {
        1 => gather_cb::<S, 1>(g, xp, wpk, epi, y),
        2 => gather_cb::<S, 2>(g, xp, wpk, epi, y),
        _ => gather_cb::<S, 4>(g, xp, wpk, epi, y),
    }
}

#[inline(always)]
fn gather_cb<S: Simd, const CB: usize>(
    g: &Gather,
    xp: &[f32],
    wpk: &[f32],
    epi: Epilogue<'_>,
    y: &mut [f32],
) {
    let gw = CB * LANES;
    let groups = g.cout.div_ceil(gw);
    let wlen = g.kh * g.kw * g.cin * gw;
    assert!(wpk.len() >= groups * wlen && y.len() >= g.oh * g.ow * g.cout);
    let hp_needed = (g.oh - 1) * g.sh + (g.kh - 1) * g.dh + 1;
    let wp_needed = (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 1;
    // The last row read ends at pixel wp_needed of row hp_needed − 1.
    assert!(g.wp >= wp_needed && xp.len() >= ((hp_needed - 1) * g.wp + wp_needed) * g.cin);
    let rmax = block_pixels::<S>(CB);
    let px = g.sw * g.cin;
    let blocks = Blocks::of(g.oh, g.ow, rmax);
    for grp in 0..groups {
        let w = wpk[grp * wlen..].as_ptr();
        let co0 = grp * gw;
        for blk in blocks.iter() {
            let Block { oy, ox, r, .. } = blk;
            if ox + r > g.ow {
                // A block that runs on into the next row (short rows: see [`Blocks`]).
                macro_rules! call {
                    ($R:literal, $PX:literal) => {
                        block_at::<S, $R, CB>(g, xp, w, epi, y, (blk, co0))
                    };
                }
                // SAFETY: the block reads taps of output pixels p..p+r, all inside the padded
                // image (checked above), and `wlen` weights of this group.
                unsafe { by_block!(r, 0, [], call) }
            } else {
                let at = (oy, ox, co0);
                macro_rules! call {
                    ($R:literal, $PX:literal) => {
                        block::<S, $R, CB, $PX>(g, xp, w, epi, y, at)
                    };
                }
                // SAFETY: the block reads taps of pixels ox..ox+r of row oy, all inside the
                // padded image (checked above), and `wlen` weights of this group.
                unsafe { by_block!(r, px, [1, 3, 16, 32, 64], call) }
            }
        }
    }
}

/// Where [`gather_in_place`] finds an image of `len` values, unpadded: `zeros` holds at least
/// `cin` zeros, read for the taps that fall into the padding.
#[derive(Clone, Copy)]
pub(crate) struct InPlace<'a> {
    pub len: usize,
    pub zeros: &'a [f32],
    /// [`in_place_offsets`]: per register block, tap and pixel, where the pixel reads the tap
    /// (an offset into the image, or −1 for the zeros). The same for every image.
    pub offs: &'a [isize],
}

/// The register blocks' pixel count on `isa` with `cb` channel blocks.
fn block_pixels_on(isa: Isa, cb: usize) -> usize {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => block_pixels::<crate::simd::Avx512>(cb),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => block_pixels::<crate::simd::Avx2>(cb),
        _ => block_pixels::<crate::simd::Scalar>(cb),
    }
}

/// The table of [`InPlace::offs`] for `g` on `isa` (its blocks), an image of `h × w` pixels read
/// as if padded by `top` rows and `left` columns: `IN_PLACE_TAPS · rmax` entries per block.
pub(crate) fn in_place_offsets(
    isa: Isa,
    g: &Gather,
    (h, w, top, left): (usize, usize, usize, usize),
) -> Vec<isize> {
    let rmax = block_pixels_on(isa, g.cb);
    let mut offs = Vec::new();
    for blk in Blocks::of(g.oh, g.ow, rmax).iter() {
        let mut t = vec![-1isize; IN_PLACE_TAPS * rmax];
        for r in 0..blk.r {
            let p = blk.p + r;
            let (y0, x0) = ((p / g.ow) * g.sh, (p % g.ow) * g.sw);
            for i in 0..g.kh {
                for j in 0..g.kw {
                    let iy = (y0 + i * g.dh).checked_sub(top).filter(|&v| v < h);
                    let ix = (x0 + j * g.dw).checked_sub(left).filter(|&v| v < w);
                    if let (Some(iy), Some(ix)) = (iy, ix) {
                        t[(i * g.kw + j) * rmax + r] = ((iy * w + ix) * g.cin) as isize;
                    }
                }
            }
        }
        offs.extend_from_slice(&t);
    }
    offs
}

/// Most taps of a kernel [`gather_in_place`] takes (3×3).
const IN_PLACE_TAPS: usize = 9;

/// Whether [`gather_in_place`] takes a padded convolution of `cin` input channels, `taps`
/// kernel taps and `cb` channel blocks per register block: from 16 input channels (a tap's run
/// of channels is then long enough; the stems keep their padded copy, whose kernel rows are
/// one contiguous run of kw·cin values), at most 3×3 taps, and register blocks of at most 8
/// pixels (a pointer per pixel).
pub(crate) fn reads_in_place(isa: Isa, cin: usize, taps: usize, cb: usize) -> bool {
    cin >= 16 && taps <= IN_PLACE_TAPS && block_pixels_on(isa, cb) <= 8
}

/// [`gather_image`] for a padded convolution read in place, without a padded copy of the
/// image: each block runs tap by tap, each pixel reading the tap's input pixel, or `zeros` where
/// the tap falls into the padding. The same sums in the same order, so the same bits. The copy
/// it replaces was 6 % of a 32→64 stride-2 forward @16² on one thread (`perf`). Measured on an
/// AMD EPYC family 26 model 2 (Zen 5), batch 128, 2 threads, forward, 8 alternating rounds
/// (median ratio): 3×3 stride 2 at the Fashion-MNIST sizes 1.10x faster at 32→64 @14² and 1.07x
/// at 16→32 @28²; at the CIFAR sizes 1.007x at 32→64 @16² and 1.004x at 16→32 @32² (no
/// change). Working out each pixel's pointer tap by tap inside the block (instead of from the
/// table of [`in_place_offsets`], built once per call) ran 1.1-1.2x slower than the copy.
#[inline(always)]
pub(crate) fn gather_in_place<S: Simd>(
    g: &Gather,
    x: &[f32],
    src: InPlace<'_>,
    wpk: &[f32],
    epi: Epilogue<'_>,
    y: &mut [f32],
) {
    match g.cb {
        1 => in_place_cb::<S, 1>(g, x, src, wpk, epi, y),
        2 => in_place_cb::<S, 2>(g, x, src, wpk, epi, y),
        _ => in_place_cb::<S, 4>(g, x, src, wpk, epi, y),
    }
}

#[inline(always)]
fn in_place_cb<S: Simd, const CB: usize>(
    g: &Gather,
    x: &[f32],
    src: InPlace<'_>,
    wpk: &[f32],
    epi: Epilogue<'_>,
    y: &mut [f32],
) {
    let gw = CB * LANES;
    let groups = g.cout.div_ceil(gw);
    let wlen = g.kh * g.kw * g.cin * gw;
    assert!(wpk.len() >= groups * wlen && y.len() >= g.oh * g.ow * g.cout);
    assert!(x.len() >= src.len && src.zeros.len() >= g.cin);
    // Every tap read lies in the image (the table is built for this shape).
    assert!(
        src.offs
            .iter()
            .all(|&o| o < 0 || o as usize + g.cin <= src.len)
    );
    assert!(
        g.kh * g.kw <= IN_PLACE_TAPS,
        "conv2d in place: {}×{} taps",
        g.kh,
        g.kw
    );
    let rmax = block_pixels::<S>(CB);
    assert!(
        rmax <= 8,
        "conv2d in place: register blocks of {rmax} pixels"
    );
    let blocks = Blocks::of(g.oh, g.ow, rmax);
    let per_block = IN_PLACE_TAPS * rmax;
    assert!(src.offs.len() >= blocks.iter().count() * per_block);
    for grp in 0..groups {
        let co0 = grp * gw;
        for (b, blk) in blocks.iter().enumerate() {
            let offs = &src.offs[b * per_block..(b + 1) * per_block];
            macro_rules! call {
                ($R:literal, $PX:literal) => {
                    in_place_block::<S, $R, CB>(
                        g,
                        x,
                        src.zeros,
                        offs,
                        &wpk[grp * wlen..],
                        epi,
                        y,
                        (blk, co0),
                    )
                };
            }
            // SAFETY: every pointer the block reads is an input pixel inside the image or the
            // zeros (`tap_pointers`), and `wlen` weights of this group (asserted above).
            unsafe { by_block!(blk.r, 0, [], call) }
        }
    }
}

/// One register block of [`gather_in_place`]: `R` output pixels from `blk.p` (row-major),
/// pixel r reading tap t at `x + offs[t·rmax + r]`, or `zeros` where that is −1.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn in_place_block<S: Simd, const R: usize, const CB: usize>(
    g: &Gather,
    x: &[f32],
    zeros: &[f32],
    offs: &[isize],
    wpk: &[f32],
    epi: Epilogue<'_>,
    y: &mut [f32],
    (blk, co0): (Block, usize),
) {
    let tap_len = g.cin * CB * LANES;
    let rmax = offs.len() / IN_PLACE_TAPS;
    let (x0, z) = (x.as_ptr(), zeros.as_ptr());
    unsafe {
        let mut acc = [[S::zero(); CB]; R];
        for t in 0..g.kh * g.kw {
            let o = &offs[t * rmax..t * rmax + R];
            // An offset ≥ 0 is an input pixel inside the image (`in_place_offsets`).
            let xs: [*const f32; R] = std::array::from_fn(|r| {
                if o[r] < 0 {
                    z
                } else {
                    x0.wrapping_offset(o[r])
                }
            });
            // Each of the R pointers has `cin` values (an input pixel or the zeros), and the
            // tap's `cin·CB·16` packed weights follow.
            gather_tap::<S, R, CB>(&xs, g.cin, wpk.as_ptr().add(t * tap_len), &mut acc);
        }
        // The block's R pixels and CB channel blocks from co0 lie in y (asserted by the
        // caller); `store` writes only the valid channels.
        store::<S, R, CB>(g, epi, y, acc, (blk.p, co0));
    }
}

/// (tap column, channel) loop bounds of a gather: undilated, the taps of a kernel row are
/// adjacent pixels, so (tap column, channel) is one contiguous run of kw·cin values (and the
/// packed weights follow the same order).
fn row_runs(g: &Gather) -> (usize, usize, usize) {
    if g.dw == 1 {
        (g.kh, 1, g.kw * g.cin)
    } else {
        (g.kh, g.kw, g.cin)
    }
}

#[inline(always)]
unsafe fn block<S: Simd, const R: usize, const CB: usize, const PX: usize>(
    g: &Gather,
    xp: &[f32],
    w: *const f32,
    epi: Epilogue<'_>,
    y: &mut [f32],
    (oy, ox, co0): (usize, usize, usize),
) {
    let c = g.cin;
    unsafe {
        let x = xp.as_ptr().add((oy * g.sh * g.wp + ox * g.sw) * c);
        let acc = gather::<S, R, CB, PX>(x, g.sw * c, g.dh * g.wp * c, g.dw * c, row_runs(g), w);
        store::<S, R, CB>(g, epi, y, acc, (oy * g.ow + ox, co0));
    }
}

/// [`block`] for the `R` output pixels of `blk`, across a row's end.
#[inline(always)]
unsafe fn block_at<S: Simd, const R: usize, const CB: usize>(
    g: &Gather,
    xp: &[f32],
    w: *const f32,
    epi: Epilogue<'_>,
    y: &mut [f32],
    (blk, co0): (Block, usize),
) {
    let c = g.cin;
    let offs = blk.offsets::<R>(R, g.ow, (g.sh * g.wp * c, g.sw * c));
    unsafe {
        let acc = gather_at::<S, R, CB>(
            xp.as_ptr(),
            &offs,
            g.dh * g.wp * c,
            g.dw * c,
            row_runs(g),
            w,
        );
        store::<S, R, CB>(g, epi, y, acc, (blk.p, co0));
    }
}

/// Stores a block's accumulators (+ bias, ReLU) at output pixels `p..p + R` (row-major),
/// channels from `co0`.
#[inline(always)]
unsafe fn store<S: Simd, const R: usize, const CB: usize>(
    g: &Gather,
    epi: Epilogue<'_>,
    y: &mut [f32],
    acc: [[S::V; CB]; R],
    (p, co0): (usize, usize),
) {
    unsafe {
        let valid = g.cout - co0;
        let yp = y.as_mut_ptr().add(p * g.cout + co0);
        for b in 0..CB {
            if b * LANES >= valid {
                break;
            }
            let n = (valid - b * LANES).min(LANES);
            let bias = epi.bias.map(|bv| S::load(bv.as_ptr().add(co0 + b * LANES)));
            for (r, a) in acc.iter().enumerate() {
                let mut v = a[b];
                if let Some(bv) = bias {
                    v = S::add(v, bv);
                }
                if epi.relu {
                    v = S::relu(v);
                }
                let p = yp.add(r * g.cout + b * LANES);
                if n == LANES {
                    S::store(p, v);
                } else {
                    S::store_n(p, v, n);
                }
            }
        }
    }
}
