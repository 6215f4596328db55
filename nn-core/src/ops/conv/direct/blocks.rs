//! The register blocks of the direct kernels: how many output pixels (or Winograd tiles) one
//! block holds on each instruction set, and how a row or an image is cut into blocks.

use crate::simd::Simd;

/// Output pixels per register block (the largest block; see [`next_block`] for the rest of a
/// row). AVX-512 (32 registers): 16 accumulators. AVX2 (16 registers of 8 lanes, 2 per vector):
/// 6 pixels × 1 vector, 12 accumulators (+ 2 weights + 1 broadcast), as the 6×16 micro-kernels
/// of BLIS/OpenBLAS for Haswell: 8 would only just cover the FMA latency (4 cycles × 2 pipes).
pub(crate) const fn block_pixels<S: Simd>(cb: usize) -> usize {
    if S::REGS >= 32 {
        MAX_BLOCK_PIXELS / cb
    } else if cb == 1 {
        6
    } else {
        2
    }
}

/// The most pixels a register block holds on any instruction set ([`block_pixels`]: AVX-512
/// with one channel block); a bound for per-block arrays.
pub(crate) const MAX_BLOCK_PIXELS: usize = 16;

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

/// The register blocks of an `oh × ow` image of output pixels: [`next_block`] along each row,
/// or, where that saves at least a quarter of the blocks, along the whole image in row-major
/// order, blocks running on from the end of one row into the next. Short rows waste
/// accumulators: with AVX2's 6-pixel blocks an 8-pixel row (32→64 stride 2 @16²) runs as 4 + 4,
/// 16 blocks per image against 11 across rows. A block across rows reads through one pointer
/// per pixel (`kernels::gather_at`), a little slower per block than a row's constant pixel
/// stride: measured on an AMD EPYC family 25 model 17 with AVX2 only, batch 128, 2 threads,
/// forward, 11 alternating rounds, whole-image blocks were 1.03x faster at 32→64 3×3 stride 2
/// @16² and 1.07x at its 1×1 projection, but 1.07x slower on the 3→16 stem @32² (171 blocks
/// instead of 192), hence the quarter. AVX-512's power-of-two blocks keep rows of 8 or 16
/// whole. A fixed function of the shape; each pixel's sum is the same in either kind of block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Blocks {
    oh: usize,
    ow: usize,
    rmax: usize,
    /// Whether blocks run across rows (else each row is cut on its own).
    across: bool,
}

/// One register block: `r` output pixels from pixel `p` (row-major), which is (oy, ox).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Block {
    pub p: usize,
    pub oy: usize,
    pub ox: usize,
    pub r: usize,
}

impl Blocks {
    pub(crate) fn of(oh: usize, ow: usize, rmax: usize) -> Blocks {
        let count = |n: usize| {
            let (mut left, mut k) = (n, 0);
            while left > 0 {
                left -= next_block(left, rmax);
                k += 1;
            }
            k
        };
        let across = 4 * count(oh * ow) <= 3 * oh * count(ow);
        Blocks {
            oh,
            ow,
            rmax,
            across,
        }
    }

    /// The blocks in row-major order. (An iterator, not a closure: the drivers' loop bodies
    /// must stay inside their `#[target_feature]` functions, which a closure's body is not.)
    #[inline(always)]
    pub(crate) fn iter(self) -> BlockIter {
        BlockIter {
            b: self,
            p: 0,
            oy: 0,
            ox: 0,
        }
    }
}

impl Block {
    /// The offsets `oy·row + ox·px` of the block's first `n` pixels (`n ≤ N`; the rest 0),
    /// `ow` pixels per output row: where each pixel's data starts when the block runs across
    /// rows.
    #[inline(always)]
    pub(crate) fn offsets<const N: usize>(
        self,
        n: usize,
        ow: usize,
        (row, px): (usize, usize),
    ) -> [usize; N] {
        let mut offs = [0; N];
        for (k, o) in offs.iter_mut().take(n).enumerate() {
            let (oy, ox) = ((self.p + k) / ow, (self.p + k) % ow);
            *o = oy * row + ox * px;
        }
        offs
    }
}

/// See [`Blocks::iter`].
pub(crate) struct BlockIter {
    b: Blocks,
    p: usize,
    oy: usize,
    ox: usize,
}

impl Iterator for BlockIter {
    type Item = Block;

    #[inline(always)]
    fn next(&mut self) -> Option<Block> {
        let b = self.b;
        if self.oy >= b.oh || b.ow == 0 {
            return None;
        }
        let left = if b.across {
            (b.oh - self.oy) * b.ow - self.ox
        } else {
            b.ow - self.ox
        };
        let r = next_block(left, b.rmax);
        let block = Block {
            p: self.p,
            oy: self.oy,
            ox: self.ox,
            r,
        };
        self.p += r;
        self.ox += r;
        while self.ox >= b.ow {
            self.ox -= b.ow;
            self.oy += 1;
        }
        Some(block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Register blocks along a row: they cover it exactly, none is larger than the largest block,
    /// and with AVX2's 6 no block of a row of at least 3 pixels is left with fewer than 3 (4 + 4,
    /// not 6 + 2).
    #[test]
    fn row_blocks_cover_rows_without_small_tails() {
        for rmax in [16, 8, 6, 4, 2, 1] {
            for ow in 1..100 {
                let (mut ox, mut sizes) = (0, Vec::new());
                while ox < ow {
                    let r = next_block(ow - ox, rmax);
                    assert!((1..=rmax).contains(&r), "rmax {rmax}, row {ow}: block {r}");
                    sizes.push(r);
                    ox += r;
                }
                assert_eq!(
                    ox, ow,
                    "rmax {rmax}: blocks {sizes:?} overrun a row of {ow}"
                );
                if rmax == 6 && ow >= 3 {
                    assert!(sizes.iter().all(|&r| r >= 3), "row {ow}: {sizes:?}");
                }
            }
        }
        let blocks = |ow: usize| {
            let mut ox = 0;
            std::iter::from_fn(move || {
                (ox < ow).then(|| {
                    let r = next_block(ow - ox, 6);
                    ox += r;
                    r
                })
            })
            .collect::<Vec<_>>()
        };
        assert_eq!(blocks(8), [4, 4]);
        assert_eq!(blocks(16), [6, 5, 5]);
        assert_eq!(blocks(28), [6, 6, 6, 5, 5]);
        assert_eq!(blocks(32), [6, 6, 6, 6, 4, 4]);
    }

    /// Image blocks: in row-major order they cover the image exactly, none is larger than the
    /// largest block, there are never more than row blocks would make, and an image of short
    /// rows (8 or 7 pixels, AVX2's 6-pixel blocks) runs across its rows, one of 16 or 32 does
    /// not.
    #[test]
    fn image_blocks_cover_the_image_in_order() {
        for rmax in [16, 8, 6, 4, 2, 1] {
            for oh in 1..12 {
                for ow in 1..40 {
                    let mut at = 0;
                    let mut count = 0;
                    for b in Blocks::of(oh, ow, rmax).iter() {
                        assert_eq!(b.p, at, "rmax {rmax}, {oh}×{ow}");
                        assert_eq!((b.oy, b.ox), (at / ow, at % ow));
                        assert!((1..=rmax).contains(&b.r));
                        at += b.r;
                        count += 1;
                    }
                    assert_eq!(at, oh * ow, "rmax {rmax}, {oh}×{ow}");
                    let rows = Blocks {
                        across: false,
                        ..Blocks::of(oh, ow, rmax)
                    };
                    let row = rows.iter().count();
                    assert!(count <= row, "rmax {rmax}, {oh}×{ow}: {count} > {row}");
                }
            }
        }
        let sizes = |oh, ow, rmax| {
            Blocks::of(oh, ow, rmax)
                .iter()
                .map(|b| b.r)
                .collect::<Vec<_>>()
        };
        assert_eq!(sizes(8, 8, 6), [6, 6, 6, 6, 6, 6, 6, 6, 6, 5, 5]);
        assert_eq!(sizes(2, 12, 6), [6, 6, 6, 6]);
        assert_eq!(sizes(7, 7, 6).len(), 9);
        assert_eq!(sizes(2, 16, 6), [6, 5, 5, 6, 5, 5]);
        assert_eq!(sizes(32, 32, 6).len(), 32 * 6);
        // A block across a row's end: pixels 6..12 of 8-pixel rows are (0, 6), (0, 7), (1, 0)...
        let blk = Block {
            p: 6,
            oy: 0,
            ox: 6,
            r: 6,
        };
        assert_eq!(blk.offsets::<6>(6, 8, (100, 1)), [6, 7, 100, 101, 102, 103]);
        assert_eq!(
            blk.offsets::<8>(3, 8, (100, 2)),
            [12, 14, 100, 0, 0, 0, 0, 0]
        );
        // Powers of two stay per row with blocks of 8 or 16 (AVX-512).
        assert_eq!(sizes(8, 8, 8).len(), 8);
        assert_eq!(sizes(16, 16, 8).len(), 32);
    }
}
