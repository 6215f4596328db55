//! The gather driver: one image of a convolution computed from a zero-padded channels-last
//! input, output pixels in register blocks along each row. Used for the forward pass and for the
//! input gradient of stride-1 convolutions (a convolution of the padded output gradient with the
//! flipped, transposed weight).

use super::kernels::gather;
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

/// Output pixels per register block (the largest block; see [`next_block`] for the rest of a
/// row). AVX-512 (32 registers): 16 accumulators. AVX2 (16 registers of 8 lanes, 2 per vector):
/// 6 pixels × 1 vector, 12 accumulators (+ 2 weights + 1 broadcast), as the 6×16 micro-kernels
/// of BLIS/OpenBLAS for Haswell: 8 would only just cover the FMA latency (4 cycles × 2 pipes).
pub(crate) const fn block_pixels<S: Simd>(cb: usize) -> usize {
    if S::REGS >= 32 {
        16 / cb
    } else if cb == 1 {
        6
    } else {
        2
    }
}

/// The size of the next register block with `left` pixels of a row to go, the largest being
/// `rmax`. A power-of-two `rmax` is followed by halving sizes (16, 8, 4, 2, 1); any other `rmax`
/// splits the last stretch under 2·rmax into two near-equal blocks (rmax 6: 8 = 4 + 4,
/// 16 = 6 + 5 + 5), so no block is left with too few accumulators. Each pixel sums its taps in
/// the same order whatever its block, so the split never changes a forward result.
#[inline(always)]
pub(crate) fn next_block(left: usize, rmax: usize) -> usize {
    if rmax.is_power_of_two() {
        if left >= rmax {
            rmax
        } else {
            1 << (usize::BITS - 1 - left.leading_zeros())
        }
    } else if left >= 2 * rmax || left == rmax {
        rmax
    } else if left > rmax {
        left.div_ceil(2)
    } else {
        left
    }
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
    assert!(g.wp >= wp_needed && xp.len() >= hp_needed * g.wp * g.cin);
    let rmax = block_pixels::<S>(CB);
    let px = g.sw * g.cin;
    for grp in 0..groups {
        let w = wpk[grp * wlen..].as_ptr();
        let co0 = grp * gw;
        for oy in 0..g.oh {
            let mut ox = 0;
            while ox < g.ow {
                let r = next_block(g.ow - ox, rmax);
                let at = (oy, ox, co0);
                macro_rules! call {
                    ($R:literal, $PX:literal) => {
                        block::<S, $R, CB, $PX>(g, xp, w, epi, y, at)
                    };
                }
                // SAFETY: the block reads taps of pixels ox..ox+r of row oy, all inside the
                // padded image (checked above), and `wlen` weights of this group.
                unsafe { by_block!(r, px, [1, 3, 16, 32, 64], call) }
                ox += r;
            }
        }
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
        // Undilated: the taps of a kernel row are adjacent pixels, so (tap column, channel) is
        // one contiguous run of kw·cin values (and the packed weights follow the same order).
        let (kw, cin) = if g.dw == 1 { (1, g.kw * c) } else { (g.kw, c) };
        let acc =
            gather::<S, R, CB, PX>(x, g.sw * c, g.dh * g.wp * c, g.dw * c, (g.kh, kw, cin), w);
        let valid = g.cout - co0;
        let yp = y.as_mut_ptr().add((oy * g.ow + ox) * g.cout + co0);
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
