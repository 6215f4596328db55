//! Winograd F(m×m, 3×3) on channels-last activations (Lavin & Gray 2016): the tile algorithms
//! ([`Tile`], named at run time by [`Kind`]) are
//!
//! * `f2`, F(2×2, 3×3), stride 1: 16 multiplications per 2×2 output tile and channel pair
//!   instead of 36 (2.25x fewer);
//! * `f4`, F(4×4, 3×3), stride 1: 36 instead of 144 (4x fewer);
//! * `f7`, F(7×7, 3×3), stride 1: 81 instead of 441 (5.4x fewer), for maps its 7×7 tiles
//!   cover much more tightly than 4×4 ones (14×14, 7×7);
//! * `s2`, F(2×2, 3×3) at stride 2, in phases: 25 instead of 36 (1.44x fewer);
//! * `s4`, F(4×4, 3×3) at stride 2, in phases: 81 instead of 144 (1.78x fewer), the forward
//!   pass's (the gradients at stride 2 keep `s2` or the direct kernels);
//!
//! for 3×3 undilated convolutions with channel counts that are multiples of 16; [`tile_kind`]
//! picks one per shape.
//!
//! ```text
//! y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,   d: Q × Q input tile, g: 3×3 kernel, y: m×m output tile
//! ```
//!
//! Tiles go in blocks of [`block_tiles`], numbered image by image over the images of a call
//! ([`Wino::images`]: several when an image has fewer tiles than a block, e.g. one 7×7 tile
//! per 7×7 map): the block's inputs are transformed into
//! `V[e][tile][c_in]` (Q² vectors per tile and 16 channels), each position e is a
//! small product `M_e = V_e · U_e` computed by the direct kernel's register blocks (tiles as
//! pixels, a 1×1 "convolution"), and the output transform writes the m×m tiles, all while the
//! block is in cache. The tiles read the unpadded image and load zeros outside it (no padded
//! copy). At stride 1 the input gradient is the same computation on the output gradient
//! (zero-padded by 2 − padding, again without a copy) with the flipped, transposed kernel; at
//! stride 2 it is the transpose of the forward pass (`strided_dx`). The weight gradient
//! accumulates dU_e = Σ_tiles V_eᵀ dM_e (dM = A dY Aᵀ) per batch slice, and dW = Gᵀ dU G.
//! Every image's result depends only on its own tiles and the tile algorithm (never on the
//! threads or the tiles per block), so runs are bit-for-bit reproducible. Without a graph the
//! forward pass takes U from a cache of unchanged kernels (`u_cache`, found by contents).

// The transforms read one column of several rows (r[0][j], r[1][j], ...): index loops are clearer.
#![allow(clippy::needless_range_loop)]

mod f2;
mod f4;
mod f7;
mod pack;
mod s2;
mod s4;
mod strided_dx;
mod tile;
mod u_cache;
mod weight;

use super::blocks::{block_pixels, next_block};
use super::forward::Epilogue;
use super::kernels::gather;
use crate::ops::conv::geometry::Geom;
use crate::simd::{Isa, LANES, Simd};

pub(crate) use self::pack::{Packing, pack_u};
pub(crate) use self::strided_dx::image_input_grad;
pub(crate) use self::tile::Kind;
pub(crate) use self::tile::Tile;
use self::tile::{MAX_Q, each};
pub(crate) use self::u_cache::forward_u;
pub(crate) use self::weight::{image_weight, weight_from_du};
pub(crate) use self::{f2::F2, f4::F4, f7::F7, s2::S2, s4::S4};

/// Tiles per block: a block's transformed inputs V (16 · TILES · c_in values) and products M
/// (16 · TILES · cb·16) stay in a 48 KiB L1 cache up to 32 channels (32 KiB) and mostly at 64
/// (64 KiB). Measured against 16 and 32 (batch 128, fwd+bwd, Intel Xeon family 6 model 167):
/// 64→64 @8² 5.5 ms with 8, 6.0 with 16 or 32; 32→32 @16² 5.5-5.6 with 8 or 16, 6.3-6.7
/// with 32.
pub(crate) const TILES: usize = 8;

/// Tiles per block of F(4×4, 3×3) in phases, on every instruction set: one 8×8 output (V and M
/// 41 and 83 KiB at 32 → 64 channels). Forward 32→64 @16², batch 128, 2 threads, AMD EPYC family
/// 25 model 17 (Zen 4), alternating rounds, best block / median: AVX-512 1.42 / 1.69 ms with 4,
/// 1.55 / 1.78 with 8, 1.81 / 2.04 with 2; AVX2 (`NN_SIMD=avx2`) 1.63 / 1.82 with 4, 1.75 / 1.89
/// with 6.
pub(crate) const S4_TILES: usize = 4;

/// Tiles per block on `isa` for the tile algorithm `kind`, `cin` channels in and `gw` out per
/// group of the products: [`S4_TILES`] for F(4×4) in phases; else [`TILES`] on AVX-512, twice
/// that for F(4×4) at 16 → 16 channels; 6 on AVX2, one register block of 6 tiles × 1 channel block (12 accumulators, see
/// `blocks::block_pixels`), where 8 tiles ran as 4 + 4 (8 accumulators).
///
/// At 16 → 16 channels a block of 16 tiles (V and M 36 KiB each) spills out of a 48 KiB L1, but
/// each U_e is reused over twice the tiles and the blocks are half as many: on an AMD EPYC family
/// 26 model 2 (Zen 5, AVX-512; batch 128, 2 threads, 5 alternating rounds) the forward pass ran
/// 1.089x faster @28² and 1.077x @32², the weight gradient 1.065-1.074x @28² and 1.05x @32²
/// (24 tiles: about as fast; 32: 0.70x; at 32 → 32 channels 16 tiles: 0.73x).
pub(crate) const fn block_tiles(isa: Isa, kind: Kind, (cin, gw): (usize, usize)) -> usize {
    match isa {
        _ if matches!(kind, Kind::S4) => S4_TILES,
        Isa::Avx2 => 6,
        Isa::Avx512 if matches!(kind, Kind::F4) && cin + gw <= 2 * LANES => 2 * TILES,
        _ => TILES,
    }
}

/// Tiles per block of the weight gradient on `isa` for the geometry `w` (its tile algorithm and
/// channels): as in the forward pass ([`block_tiles`]), except
/// at stride 2, where a block holds up to 16 tiles (a whole 8×8 output): its products sum
/// V_eᵀ dM_e over the block's tiles in registers, and 6 tiles per flush of the accumulators were
/// too few. Measured (weight gradient alone, 32→64 3×3 stride 2 @16², batch 128, 2 threads, AMD
/// EPYC family 25 model 17 with AVX2 only, 11 alternating rounds): 1.13x faster than the direct
/// kernels with 16 tiles per block (best 1.09x), 0.90x with 6.
pub(crate) const fn weight_tiles(isa: Isa, w: &Wino) -> usize {
    match w.kind {
        Kind::S2 => 16,
        kind => block_tiles(isa, kind, (w.cin, w.cb * LANES)),
    }
}

/// Whether the Winograd path can compute this convolution.
pub(crate) fn applies(g: &Geom) -> bool {
    (g.kh, g.kw, g.dh, g.dw, g.groups) == (3, 3, 1, 1, 1)
        && g.sw == g.sh
        && (g.sh == 1 || g.sh == 2)
        && g.ph <= 2
        && g.pw <= 2
        && g.cin.is_multiple_of(LANES)
        && g.cout.is_multiple_of(LANES)
}

/// The tile algorithm of the forward pass for a convolution of stride `stride` and output
/// `oh × ow`: at stride 2, F(4×4, 3×3) in phases ([`Kind::S4`]: 81 products per 16 outputs
/// against [`Kind::S2`]'s 100; forward 32→64 @16², batch 128, 2 threads, AMD EPYC family 25
/// model 17 (Zen 4), 8-10 alternating rounds, best block: 1.09-1.42 ms against S2's 1.33 and
/// the direct kernels' 1.58 on AVX-512, 1.63 against 1.92 ms with `NN_SIMD=avx2`; @14² 1.10
/// against 1.54 and 1.42); at stride 1, F(4×4, 3×3) unless the output is so small
/// that 4×4 tiles would mostly cover padding: maps of at most 4 pixels a side (one 4×4 tile
/// against F(2×2)'s four 2×2 tiles, or two against F(2×2)'s tighter cover of an odd side); and
/// F(7×7, 3×3) where its tiles need at most [`F7_SHARE`] of F(4×4)'s products per image (14×14
/// and 7×7 maps: 0.56x; 28×28: 0.73x; 32×32: 0.88x and 16×16 keep F(4×4)). A rule of the shape
/// alone, the same on every instruction set, so results never depend on the CPU's speed.
pub(crate) fn tile_kind(stride: usize, (oh, ow): (usize, usize)) -> Kind {
    let products = |m: usize, q: usize| oh.div_ceil(m) * ow.div_ceil(m) * q * q;
    match stride {
        2 => Kind::S4,
        _ if oh.min(ow) <= 4 => Kind::F2,
        _ if products(7, 9) as f64 <= F7_SHARE * products(4, 6) as f64 => Kind::F7,
        _ => Kind::F4,
    }
}

/// The tile algorithm of the weight gradient: [`tile_kind`]'s, except F(4×4) where that is
/// F(7×7), and F(2×2) in phases where that is F(4×4) in phases (at stride 2 the weight
/// gradient runs Winograd only on AVX2, where S4's took 2.7-3.1 ms against S2's 1.97 at 32→64
/// @16², batch 128, 2 threads, Zen 4; on AVX-512 it was no faster than the direct kernels). The weight gradient sums dU_e over the tiles into a partial of Q²·c_in·c_out floats
/// per batch slice, read and written once per block of tiles: 81 positions instead of 36 made
/// it 0.44x as fast at 64→64 @7² and 0.98x at 32→32 @14² (batch 128, 2 threads, AMD EPYC family
/// 26 model 2, 3 alternating rounds).
pub(crate) fn weight_kind(stride: usize, out: (usize, usize)) -> Kind {
    match tile_kind(stride, out) {
        Kind::F7 => Kind::F4,
        Kind::S4 => Kind::S2,
        kind => kind,
    }
}

/// The largest share of F(4×4)'s products per image at which [`tile_kind`] takes F(7×7): its
/// transforms cost about twice as much per output pixel, so it pays only where it saves many
/// products. Measured against F(4×4) (batch 128, 2 threads, AMD EPYC family 26 model 2, 3-5
/// alternating rounds, the weight gradient on F(4×4) either way): forward 1.28x @14² 32→32,
/// 1.21x @7² 64→64, 1.075x @28² 16→16; fwd+bwd 1.15x, 1.20x, 1.07x.
pub(crate) const F7_SHARE: f64 = 0.75;

/// One image's Winograd geometry: output `oh × ow` in `th × tw` tiles of `m × m`, read from a
/// zero-padded frame of `(step·th + q − step) × (step·tw + q − step)` pixels (tiles of `q × q`
/// input pixels, `step = m · stride` apart), `cin` → `cout` channels, `cb` vectors per register
/// block. The input is never copied into that frame: the tiles read the unpadded image of
/// `src = (h, w)` pixels, which sits at `off = (top, left)` in the frame, and load zeros outside
/// it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wino {
    /// The tile algorithm.
    pub kind: Kind,
    pub oh: usize,
    pub ow: usize,
    pub th: usize,
    pub tw: usize,
    pub cin: usize,
    pub cout: usize,
    pub cb: usize,
    pub src: (usize, usize),
    pub off: (usize, usize),
    /// Tiles per block ([`block_tiles`]; [`TILES`] unless set by [`Wino::with_tiles`]).
    pub tiles: usize,
    /// Images per call: the input and output hold this many images one after the other, and
    /// the tiles are numbered across them (1 unless set by [`Wino::with_images`]).
    pub images: usize,
}

impl Wino {
    pub(crate) fn new(
        kind: Kind,
        (oh, ow): (usize, usize),
        (cin, cout): (usize, usize),
        cb: usize,
        src: (usize, usize),
        off: (usize, usize),
    ) -> Wino {
        let m = kind.m();
        Wino {
            kind,
            oh,
            ow,
            th: oh.div_ceil(m),
            tw: ow.div_ceil(m),
            cin,
            cout,
            cb,
            src,
            off,
            tiles: TILES,
            images: 1,
        }
    }
    /// The same geometry with the blocks [`block_tiles`] gives its tile algorithm and channels
    /// on `isa` (its products take `cin` channels in, `cb·16` out per group).
    pub(crate) fn with_block_tiles(self, isa: Isa) -> Wino {
        self.with_tiles(block_tiles(isa, self.kind, (self.cin, self.cb * LANES)))
    }
    /// The same geometry with blocks of `tiles` tiles.
    pub(crate) fn with_tiles(self, tiles: usize) -> Wino {
        assert!(tiles > 0, "Winograd: blocks of 0 tiles");
        Wino { tiles, ..self }
    }
    /// The same geometry for calls on `images` images at a time.
    pub(crate) fn with_images(self, images: usize) -> Wino {
        assert!(images > 0, "Winograd: calls on 0 images");
        Wino { images, ..self }
    }
    /// Images per call that fill whole blocks where an image has fewer tiles than a block
    /// (F(7×7) on 7×7 maps: 1 tile per image, 8 images per block), else 1.
    pub(crate) fn group(&self) -> usize {
        (self.tiles / (self.th * self.tw)).max(1)
    }
    /// The zero-padded frame the tiles cover: rows, columns.
    #[cfg(test)]
    pub(crate) fn padded(&self) -> (usize, usize) {
        let (q, step) = (self.kind.q(), self.kind.m() * self.kind.stride());
        (step * self.th + q - step, step * self.tw + q - step)
    }
    /// Transformed positions per tile: q².
    pub(crate) fn positions(&self) -> usize {
        self.kind.q() * self.kind.q()
    }
    /// Scratch floats per thread: V and M of one block, and an image row of zeros (`src.1`
    /// pixels of `cin` channels: what the border tiles read above and below the image).
    pub(crate) fn scratch(&self) -> usize {
        self.positions() * self.tiles * (self.cin + self.cb * LANES) + self.zero_row()
    }
    /// Floats of the zero row in [`Wino::scratch`].
    fn zero_row(&self) -> usize {
        self.src.1.max(1) * self.cin
    }
    /// Splits [`Wino::scratch`] into V, M (or dM) and the zero row, which it fills.
    pub(crate) fn split_scratch<'a>(
        &self,
        scratch: &'a mut [f32],
    ) -> (&'a mut [f32], &'a mut [f32], &'a [f32]) {
        let p = self.positions();
        let (v, rest) = scratch.split_at_mut(p * self.tiles * self.cin);
        let (m, zeros) = rest.split_at_mut(p * self.tiles * self.cb * LANES);
        let zeros = &mut zeros[..self.zero_row()];
        zeros.fill(0.0);
        (v, m, zeros)
    }
}

/// T a Tᵀ of a square matrix `a` (`R × R`, row-major) for the 1-D map `t` (v ↦ T v, R → N):
/// down the columns, then along the rows. G g Gᵀ of a 3×3 kernel with the tile size's G; with
/// Gᵀ it is dW = Gᵀ dU G.
#[inline(always)]
pub(super) fn separable<const R: usize, const N: usize>(
    a: &[f32],
    t: impl Fn([f32; R]) -> [f32; N],
) -> [[f32; N]; N] {
    assert!(a.len() >= R * R);
    let mut ta = [[0.0f32; R]; N];
    for c in 0..R {
        let col = t(std::array::from_fn(|r| a[r * R + c]));
        for r in 0..N {
            ta[r][c] = col[r];
        }
    }
    std::array::from_fn(|r| t(ta[r]))
}

/// Input transform of tiles `t0 .. t0 + nt`: V[e][t][c] = (Bᵀ d B)[e] of each Q² tile d of
/// the zero-padded frame, read from the unpadded image `x` (`[src.0][src.1][cin]`, at `off` in the
/// frame). Tiles inside the image load with fixed strides from one base pointer; border tiles
/// (most of them on small maps: 12 of 16 at 14², all 4 at 7², 24 of 49 at 28²) take a pointer
/// per tile row, to the image row or to `zeros` (a row of zeros as long as an image row), and
/// mask the columns outside the image to +0.0 (only tiles on the left or right edge). Either way
/// the transform sees the values a zero-padded copy would hold (+0.0 outside), so the results
/// are the same bits, and no address outside the image is ever formed.
#[inline(always)]
fn input_tiles<S: Simd, T: Tile>(
    w: &Wino,
    x: &[f32],
    zeros: &[f32],
    (t0, nt): (usize, usize),
    v: &mut [f32],
) {
    let c = w.cin;
    let (h, wd) = w.src;
    let (top, left) = w.off;
    let n = T::Q;
    assert!(
        w.kind.q() == n
            && w.kind.stride() == T::STRIDE
            && n <= MAX_Q
            && v.len() >= n * n * w.tiles * c
            && nt <= w.tiles
    );
    let (tpi, xs) = (w.th * w.tw, h * wd * c);
    assert!(c.is_multiple_of(LANES) && x.len() >= w.images * xs && zeros.len() >= wd.max(1) * c);
    assert!((t0 + nt) <= w.images * tpi);
    // Whether frame rows (columns) f .. f + n all lie in the image, which starts at frame row
    // (column) `off` and is `len` long.
    let inside = |f: usize, off: usize, len: usize| f >= off && f + n <= off + len;
    for k in 0..nt {
        // Tile t of image t / tpi.
        let (img, t) = ((t0 + k) / tpi, (t0 + k) % tpi);
        let x = &x[img * xs..(img + 1) * xs];
        let (fy, fx) = (T::STEP * (t / w.tw), T::STEP * (t % w.tw));
        // SAFETY (both arms): v holds w.tiles tiles of Q² positions × c values; c0 + 16 ≤ c.
        let out = unsafe { v.as_mut_ptr().add(k * c) };
        if inside(fy, top, h) && inside(fx, left, wd) {
            let p = x.as_ptr().wrapping_add(((fy - top) * wd + fx - left) * c);
            // SAFETY: the tile's Q × Q pixels lie in the image (checked above).
            unsafe {
                each_block::<S, T>(c, out, w.tiles * c, |i, j, c0| {
                    S::load(p.add((i * wd + j) * c + c0))
                });
            }
        } else {
            // Tile rows i0 .. i1 (columns j0 .. j1) lie in the image: frame row fy + i is
            // image row fy + i − top. The other rows read the zero row (`zeros`, as long as an
            // image row), those past n (F(2×2)'s 4, stride 2's 5) are never read. Columns
            // outside the image read a column of the image (clamped) and are masked to +0.0:
            // six row pointers and six column offsets per tile, not one pointer per pixel (the
            // per-pixel pointers cost as much as the transform on 16 channels).
            let span = |f: usize, off: usize, len: usize| {
                let lo = off.saturating_sub(f).min(n);
                (lo, (off + len).saturating_sub(f).clamp(lo, n))
            };
            let ((i0, i1), (j0, j1)) = (span(fy, top, h), span(fx, left, wd));
            // A tile without image columns reads no image row at all.
            let i1 = if j0 == j1 { i0 } else { i1 };
            let mut rows = [zeros.as_ptr(); MAX_Q];
            for (i, row) in rows.iter_mut().enumerate().take(i1).skip(i0) {
                // SAFETY: image row fy + i − top < h exists (x.len() ≥ h·wd·c).
                *row = unsafe { x.as_ptr().add((fy + i - top) * wd * c) };
            }
            // Column j's offset in a row: (fx + j − left)·c, clamped into the row.
            let col = |j: usize| (fx + j).saturating_sub(left).min(wd.saturating_sub(1)) * c;
            // SAFETY (both arms): each row pointer is an image row or the zero row, both wd·c
            // values long; every column offset lies in the row (the masked ones too).
            if (j0, j1) == (0, n) {
                let base = col(0);
                unsafe {
                    each_block::<S, T>(c, out, w.tiles * c, |i, j, c0| {
                        S::load(rows[i].add(base + j * c + c0))
                    });
                }
            } else {
                let cols: [usize; MAX_Q] = each!(j in [0, 1, 2, 3, 4, 5, 6, 7, 8] => col(j));
                // SAFETY (keep): plain bit patterns.
                let keep: [S::V; MAX_Q] = unsafe {
                    each!(j in [0, 1, 2, 3, 4, 5, 6, 7, 8] => S::keep(j >= j0 && j < j1))
                };
                unsafe {
                    each_block::<S, T>(c, out, w.tiles * c, |i, j, c0| {
                        S::and(S::load(rows[i].add(cols[j] + c0)), keep[j])
                    });
                }
            }
        }
    }
}

/// The input transform of one tile for each block of 16 of its `c` channels: channels c0 ..
/// c0 + 16 of pixel (i, j) are `ld(i, j, c0)`, position e goes to `out + c0 + e·stride`.
///
/// # Safety
/// `ld` must be safe to call for i, j < Q and every c0; `out + c0 + e·stride .. + 16` writable
/// for e < Q².
#[inline(always)]
unsafe fn each_block<S: Simd, T: Tile>(
    c: usize,
    out: *mut f32,
    stride: usize,
    ld: impl Fn(usize, usize, usize) -> S::V,
) {
    for c0 in (0..c).step_by(LANES) {
        unsafe { T::input_tile::<S>(|i, j| ld(i, j, c0), out.add(c0), stride) };
    }
}

/// M_e = V_e · U_e for the positions e, output channels of group `grp`: `m` is
/// `[e][tile][cb·16]`.
#[inline(always)]
fn products<S: Simd, const CB: usize>(w: &Wino, v: &[f32], u: &[f32], nt: usize, m: &mut [f32]) {
    let (c, gw, p) = (w.cin, CB * LANES, w.positions());
    assert!(v.len() >= p * w.tiles * c && m.len() >= p * w.tiles * gw && u.len() >= p * c * gw);
    let rmax = block_pixels::<S>(CB);
    for e in 0..p {
        let ve = v[e * w.tiles * c..].as_ptr();
        let ue = u[e * c * gw..].as_ptr();
        let mut t = 0;
        while t < nt {
            let r = next_block(nt - t, rmax);
            // SAFETY: tiles t..t+r of V_e (c values each) and c·gw values of U_e exist; the
            // stores go to tiles t..t+r of M_e.
            unsafe {
                let x = ve.add(t * c);
                let out = m.as_mut_ptr().add((e * w.tiles + t) * gw);
                macro_rules! call {
                    ($R:literal, $C:literal) => {
                        store::<S, $R, CB>(gather::<S, $R, CB, $C>(x, c, 0, 0, (1, 1, c), ue), out)
                    };
                }
                by_block!(r, c, [16, 32, 64], call)
            }
            t += r;
        }
    }
}

/// [`products`] with register blocks of `w.cb` channel blocks.
#[inline(always)]
fn group_products<S: Simd>(w: &Wino, v: &[f32], u: &[f32], nt: usize, m: &mut [f32]) {
    match w.cb {
        1 => products::<S, 1>(w, v, u, nt, m),
        2 => products::<S, 2>(w, v, u, nt, m),
        _ => products::<S, 4>(w, v, u, nt, m),
    }
}

#[inline(always)]
unsafe fn store<S: Simd, const R: usize, const CB: usize>(acc: [[S::V; CB]; R], out: *mut f32) {
    for (r, a) in acc.iter().enumerate() {
        for (b, v) in a.iter().enumerate() {
            // SAFETY: the caller's bounds (R tiles of CB·16 values from `out`).
            unsafe { S::store(out.add((r * CB + b) * LANES), *v) };
        }
    }
}

/// Output transform of tiles `t0 .. t0 + nt` for output channels `co0 .. co0 + gw`: the m×m
/// tiles Aᵀ M A (+ bias, ReLU) into the image `y` (`[oh][ow][cout]`).
#[inline(always)]
fn output_tiles<S: Simd, T: Tile>(
    w: &Wino,
    m: &[f32],
    (t0, nt): (usize, usize),
    (co0, gw): (usize, usize),
    epi: Epilogue<'_>,
    y: &mut [f32],
) {
    let (tpi, ys) = (w.th * w.tw, w.oh * w.ow * w.cout);
    assert!(w.kind.q() == T::Q && m.len() >= w.positions() * w.tiles * gw);
    assert!(y.len() >= w.images * ys && co0 + gw <= w.cout && t0 + nt <= w.images * tpi);
    for k in 0..nt {
        // Tile t of image t / tpi.
        let (img, t) = ((t0 + k) / tpi, (t0 + k) % tpi);
        // SAFETY: image img < w.images lies in y.
        let yp = unsafe { y.as_mut_ptr().add(img * ys) };
        let (ty, tx) = (t / w.tw, t % w.tw);
        for b in (0..gw).step_by(LANES) {
            // SAFETY: M holds the positions × w.tiles tiles × gw values; the stores are to the
            // output pixels of this tile that exist, channels co0 + b .. + 16 ≤ cout.
            unsafe {
                let p = m.as_ptr().add(k * gw + b);
                let ld = |e: usize| S::load(p.add(e * w.tiles * gw));
                let bias = epi.bias.map(|bv| S::load(bv.as_ptr().add(co0 + b)));
                let put = |i: usize, j: usize, mut val: S::V| {
                    let (oy, ox) = (T::M * ty + i, T::M * tx + j);
                    if oy < w.oh && ox < w.ow {
                        if let Some(bv) = bias {
                            val = S::add(val, bv);
                        }
                        if epi.relu {
                            val = S::relu(val);
                        }
                        S::store(yp.add((oy * w.ow + ox) * w.cout + co0 + b), val);
                    }
                };
                T::output_tile::<S>(ld, put);
            }
        }
    }
}

/// `w.images` images: `y` (`[oh][ow][cout]` each) from the unpadded input `x` (`[src.0][src.1][cin]` each) and
/// the packed U, with the tile algorithm `T` (which must be `w.kind`'s). Each instance is
/// dispatched on its own (`direct::wino_forward`): one function per tile algorithm, as fast as
/// before there were three (with all three inlined into one function the stride-1 weight
/// gradient ran 0.93x).
#[inline(always)]
pub(crate) fn image_forward<S: Simd, T: Tile>(
    w: &Wino,
    x: &[f32],
    u: &[f32],
    epi: Epilogue<'_>,
    y: &mut [f32],
    scratch: &mut [f32],
) {
    let gw = w.cb * LANES;
    let (v, m, zeros) = w.split_scratch(scratch);
    let tiles = w.images * w.th * w.tw;
    let ulen = w.positions() * w.cin * gw;
    for t0 in (0..tiles).step_by(w.tiles) {
        let nt = w.tiles.min(tiles - t0);
        input_tiles::<S, T>(w, x, zeros, (t0, nt), v);
        for grp in 0..w.cout / gw {
            let ug = &u[grp * ulen..(grp + 1) * ulen];
            group_products::<S>(w, v, ug, nt, m);
            output_tiles::<S, T>(w, m, (t0, nt), (grp * gw, gw), epi, y);
        }
    }
}
