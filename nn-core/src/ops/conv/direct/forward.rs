//! The gather driver: one image of a convolution computed from a zero-padded channels-last
//! input, output pixels in register blocks along each row (or, for short rows, across rows: see
//! `blocks`). Used for the forward pass and for the
//! input gradient of stride-1 convolutions (a convolution of the padded output gradient with the
//! flipped, transposed weight).

use super::blocks::{Block, Blocks, block_pixels};
use super::kernels::{gather, gather_at};
use crate::simd::{LANES, Simd};

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
pub(super) unsafe fn store<S: Simd, const R: usize, const CB: usize>(
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
