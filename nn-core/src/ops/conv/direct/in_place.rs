//! The forward pass of a padded convolution read in place: each register block runs tap by
//! tap, each of its pixels reading the tap's input pixel, or a run of zeros where the tap falls
//! into the padding, instead of a zero-padded copy of every image (`forward::gather_image`'s
//! input). The same sums in the same order as the gather on a padded copy, so the same bits.

use super::blocks::{Block, Blocks, block_pixels};
use super::forward::{Epilogue, Gather, store};
use super::kernels::gather_tap;
use crate::simd::{Isa, LANES, Simd};

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
