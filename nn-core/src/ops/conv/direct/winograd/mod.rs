//! Winograd F(m×m, 3×3) on channels-last activations (Lavin & Gray 2016), m = 2 (`f2`) or 4
//! (`f4`): (m + 2)² multiplications per m×m output tile and channel pair instead of 9m², i.e.
//! 2.25x (m = 2) or 4x (m = 4) fewer in the products, for 3×3 stride-1 undilated convolutions
//! with channel counts that are multiples of 16; [`output_tile`] picks m per shape.
//!
//! ```text
//! y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,   d: (m + 2)² input tile, g: 3×3 kernel, y: m×m output tile
//! ```
//!
//! Per image, tiles go in blocks of [`block_tiles`]: the block's inputs are transformed into
//! `V[e][tile][c_in]` ((m + 2)² vectors per tile and 16 channels), each position e is a
//! small product `M_e = V_e · U_e` computed by the direct kernel's register blocks (tiles as
//! pixels, a 1×1 "convolution"), and the output transform writes the m×m tiles, all while the
//! block is in cache. The tiles read the unpadded image and load zeros outside it (no padded
//! copy). The input gradient is the same computation on the output gradient (zero-padded by
//! 2 − padding, again without a copy) with the flipped, transposed kernel; the weight gradient
//! accumulates dU_e = Σ_tiles V_eᵀ dM_e (dM = A dY Aᵀ) per batch slice, and dW = Gᵀ dU G.
//! Every image's result depends only on its own tiles and the tile size (never on the threads or
//! the tiles per block), so runs are bit-for-bit reproducible.

// The transforms read one column of several rows (r[0][j], r[1][j], ...): index loops are clearer.
#![allow(clippy::needless_range_loop)]

mod f2;
mod f4;
mod weight;

use super::blocks::{block_pixels, next_block};
use super::forward::Epilogue;
use super::kernels::gather;
use crate::ops::conv::geometry::Geom;
use crate::simd::{Isa, LANES, Simd};

pub(crate) use self::weight::{image_weight, weight_from_du};

/// Tiles per block: a block's transformed inputs V (16 · TILES · c_in values) and products M
/// (16 · TILES · cb·16) stay in a 48 KiB L1 cache up to 32 channels (32 KiB) and mostly at 64
/// (64 KiB). Measured against 16 and 32 (batch 128, fwd+bwd, Intel Xeon family 6 model 167):
/// 64→64 @8² 5.5 ms with 8, 6.0 with 16 or 32; 32→32 @16² 5.5-5.6 with 8 or 16, 6.3-6.7
/// with 32.
pub(crate) const TILES: usize = 8;

/// Tiles per block on `isa`: [`TILES`] on AVX-512; 6 on AVX2, one register block of 6 tiles ×
/// 1 channel block (12 accumulators, see `blocks::block_pixels`), where 8 tiles ran as
/// 4 + 4 (8 accumulators).
pub(crate) const fn block_tiles(isa: Isa) -> usize {
    match isa {
        Isa::Avx2 => 6,
        _ => TILES,
    }
}

/// Whether the Winograd path can compute this convolution.
pub(crate) fn applies(g: &Geom) -> bool {
    (g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.groups) == (3, 3, 1, 1, 1, 1, 1)
        && g.ph <= 2
        && g.pw <= 2
        && g.cin.is_multiple_of(LANES)
        && g.cout.is_multiple_of(LANES)
}

/// F(4×4, 3×3) (`m = 4`) unless the output is so small that 4×4 tiles would mostly cover
/// padding: maps of at most 4 pixels a side (one 4×4 tile against F(2×2)'s four 2×2 tiles, or
/// two against F(2×2)'s tighter cover of an odd side). A rule of the shape alone, the same on every
/// instruction set, so results never depend on the CPU's speed.
pub(crate) fn output_tile((oh, ow): (usize, usize)) -> usize {
    if oh.min(ow) <= 4 { 2 } else { 4 }
}

/// One image's Winograd geometry: output `oh × ow` in `th × tw` tiles of `m × m`, read from a
/// zero-padded frame of `(m·th + 2) × (m·tw + 2)` pixels, `cin` → `cout` channels, `cb` vectors per register
/// block. The input is never copied into that frame: the tiles read the unpadded image of
/// `src = (h, w)` pixels, which sits at `off = (top, left)` in the frame, and load zeros outside
/// it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wino {
    /// The output tile's side: 2 (F(2×2, 3×3)) or 4 (F(4×4, 3×3)).
    pub m: usize,
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
}

impl Wino {
    pub(crate) fn new(
        m: usize,
        (oh, ow): (usize, usize),
        (cin, cout): (usize, usize),
        cb: usize,
        src: (usize, usize),
        off: (usize, usize),
    ) -> Wino {
        assert!(
            m == 2 || m == 4,
            "Winograd: output tiles of {m}×{m} (2 or 4 expected)"
        );
        Wino {
            m,
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
        }
    }
    /// The same geometry with blocks of `tiles` tiles.
    pub(crate) fn with_tiles(self, tiles: usize) -> Wino {
        assert!(tiles > 0, "Winograd: blocks of 0 tiles");
        Wino { tiles, ..self }
    }
    /// The zero-padded frame the tiles cover: rows, columns.
    #[cfg(test)]
    pub(crate) fn padded(&self) -> (usize, usize) {
        (self.m * self.th + 2, self.m * self.tw + 2)
    }
    /// Transformed positions per tile: (m + 2)².
    pub(crate) fn positions(&self) -> usize {
        (self.m + 2) * (self.m + 2)
    }
    /// Scratch floats per thread: V and M of one block, and a row of `cin` zeros (what the
    /// border tiles load outside the image).
    pub(crate) fn scratch(&self) -> usize {
        self.positions() * self.tiles * (self.cin + self.cb * LANES) + self.cin
    }
    /// Splits [`Wino::scratch`] into V, M (or dM) and the zero row, which it fills.
    pub(crate) fn split_scratch<'a>(
        &self,
        scratch: &'a mut [f32],
    ) -> (&'a mut [f32], &'a mut [f32], &'a [f32]) {
        let p = self.positions();
        let (v, rest) = scratch.split_at_mut(p * self.tiles * self.cin);
        let (m, zeros) = rest.split_at_mut(p * self.tiles * self.cb * LANES);
        let zeros = &mut zeros[..self.cin];
        zeros.fill(0.0);
        (v, m, zeros)
    }
}

/// T a Tᵀ of a square matrix `a` (`R × R`, row-major) for the 1-D map `t` (v ↦ T v, R → N):
/// down the columns, then along the rows. G g Gᵀ of a 3×3 kernel with the tile size's G; with
/// Gᵀ it is dW = Gᵀ dU G.
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

/// U = G g Gᵀ of F(`m`×`m`, 3×3) packed `[group][e][c_in][cb·16]` for the products; with `flip`
/// the kernel is the input gradient's: channels swapped and taps reversed. `scale` multiplies
/// output channel o's kernels (a folded BatchNorm).
pub(crate) fn pack_u(
    m: usize,
    w: &[f32],
    (cout, cin): (usize, usize),
    cb: usize,
    flip: bool,
    scale: Option<&[f32]>,
) -> Vec<f32> {
    // The product's (out, in) channels.
    let (po, pi) = if flip { (cin, cout) } else { (cout, cin) };
    let gw = cb * LANES;
    let groups = po.div_ceil(gw);
    let p = (m + 2) * (m + 2);
    let mut u = vec![0.0f32; groups * p * pi * gw];
    // One group's lanes for one input channel at a time, then each position's lanes in one
    // contiguous copy (the positions are pi·gw floats apart: written value by value, 36 of them
    // fall in one cache set).
    let mut block = vec![0.0f32; p * gw];
    for i in 0..pi {
        for g in 0..groups {
            for lane in 0..gw.min(po - g * gw) {
                let o = g * gw + lane;
                let mut k = [0.0f32; 9];
                if flip {
                    // Kernel of (out = ci, in = co): w[co = i][ci = o] with reversed taps.
                    let src = &w[(i * cin + o) * 9..(i * cin + o + 1) * 9];
                    for t in 0..9 {
                        k[t] = src[8 - t];
                    }
                } else {
                    let s = scale.map_or(1.0, |s| s[o]);
                    for (t, v) in k.iter_mut().enumerate() {
                        *v = s * w[(o * cin + i) * 9 + t];
                    }
                }
                let mut put = |e: usize, v: f32| block[e * gw + lane] = v;
                if m == 2 {
                    let t = separable(&k, f2::g);
                    t.iter().flatten().enumerate().for_each(|(e, &v)| put(e, v));
                } else {
                    let t = separable(&k, f4::g);
                    t.iter().flatten().enumerate().for_each(|(e, &v)| put(e, v));
                }
            }
            for (e, lanes) in block.chunks_exact(gw).enumerate() {
                let at = ((g * p + e) * pi + i) * gw;
                u[at..at + gw].copy_from_slice(lanes);
            }
        }
    }
    u
}

/// Input transform of tiles `t0 .. t0 + nt`: V[e][t][c] = (Bᵀ d B)[e] of each (M + 2)² tile d of
/// the zero-padded frame, read from the unpadded image `x` (`[src.0][src.1][cin]`, at `off` in the
/// frame). Tiles inside the image load with fixed strides from one base pointer; border tiles
/// (most of them on small maps: 12 of 16 at 7², 24 of 49 at 14²) compute each of their (M + 2)² pixel
/// addresses once, pointing pixels outside the image at `zeros` (`cin` zeros). Either way the
/// transform sees the values a zero-padded copy would hold (+0.0 outside), so the results are
/// the same bits, and no address outside the image is ever formed.
#[inline(always)]
fn input_tiles<S: Simd, const M: usize>(
    w: &Wino,
    x: &[f32],
    zeros: &[f32],
    (t0, nt): (usize, usize),
    v: &mut [f32],
) {
    let c = w.cin;
    let (h, wd) = w.src;
    let (top, left) = w.off;
    let n = M + 2;
    assert!(w.m == M && v.len() >= n * n * w.tiles * c && nt <= w.tiles);
    assert!(c.is_multiple_of(LANES) && x.len() >= h * wd * c && zeros.len() >= c);
    assert!((t0 + nt) <= w.th * w.tw);
    // Whether frame rows (columns) f .. f + n all lie in the image, which starts at frame row
    // (column) `off` and is `len` long.
    let inside = |f: usize, off: usize, len: usize| f >= off && f + n <= off + len;
    for k in 0..nt {
        let t = t0 + k;
        let (fy, fx) = (M * (t / w.tw), M * (t % w.tw));
        // SAFETY (both arms): v holds w.tiles tiles of 16 positions × c values; c0 + 16 ≤ c.
        let out = unsafe { v.as_mut_ptr().add(k * c) };
        if inside(fy, top, h) && inside(fx, left, wd) {
            let base = ((fy - top) * wd + fx - left) * c;
            for c0 in (0..c).step_by(LANES) {
                // SAFETY: the tile's 4×4 pixels lie in the image (checked above).
                unsafe {
                    let p = x.as_ptr().add(base + c0);
                    let ld = |i: usize, j: usize| S::load(p.add((i * wd + j) * c));
                    input_tile::<S, M>(ld, out.add(c0), w.tiles * c);
                }
            }
        } else {
            // Image row / column of frame row fy + i / column fx + j, if it is in the image.
            let at =
                |f: usize, off: usize, len: usize| (f >= off && f - off < len).then(|| f - off);
            // Rows and columns past n (F(2×2)'s 4) are never read: they point at the zeros.
            let rows: [Option<usize>; 6] =
                std::array::from_fn(|i| (i < n).then(|| at(fy + i, top, h)).flatten());
            let cols: [Option<usize>; 6] =
                std::array::from_fn(|j| (j < n).then(|| at(fx + j, left, wd)).flatten());
            let px: [[*const f32; 6]; 6] = std::array::from_fn(|i| {
                std::array::from_fn(|j| match (rows[i], cols[j]) {
                    // SAFETY: (y, x) is a pixel of the image (x.len() ≥ h·wd·c, asserted).
                    (Some(y), Some(xi)) => unsafe { x.as_ptr().add((y * wd + xi) * c) },
                    _ => zeros.as_ptr(),
                })
            });
            for c0 in (0..c).step_by(LANES) {
                // SAFETY: each pointer is an image pixel or the zero row, both c values long.
                unsafe {
                    let ld = |i: usize, j: usize| S::load(px[i][j].add(c0));
                    input_tile::<S, M>(ld, out.add(c0), w.tiles * c);
                }
            }
        }
    }
}

/// Bᵀ d B of one (M + 2)² tile of 16 channels whose pixel (i, j) is `ld(i, j)`: position e to
/// `out + e·stride`.
///
/// # Safety
/// `out + e·stride .. + 16` must be writable for e < (M + 2)².
#[inline(always)]
unsafe fn input_tile<S: Simd, const M: usize>(
    ld: impl Fn(usize, usize) -> S::V,
    out: *mut f32,
    stride: usize,
) {
    unsafe {
        if M == 2 {
            f2::input_tile::<S>(ld, out, stride)
        } else {
            f4::input_tile::<S>(ld, out, stride)
        }
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

#[inline(always)]
unsafe fn store<S: Simd, const R: usize, const CB: usize>(acc: [[S::V; CB]; R], out: *mut f32) {
    for (r, a) in acc.iter().enumerate() {
        for (b, v) in a.iter().enumerate() {
            // SAFETY: the caller's bounds (R tiles of CB·16 values from `out`).
            unsafe { S::store(out.add((r * CB + b) * LANES), *v) };
        }
    }
}

/// Output transform of tiles `t0 .. t0 + nt` for output channels `co0 .. co0 + gw`: the M×M
/// tiles Aᵀ M A (+ bias, ReLU) into the image `y` (`[oh][ow][cout]`).
#[inline(always)]
fn output_tiles<S: Simd, const M: usize>(
    w: &Wino,
    m: &[f32],
    (t0, nt): (usize, usize),
    (co0, gw): (usize, usize),
    epi: Epilogue<'_>,
    y: &mut [f32],
) {
    assert!(w.m == M && m.len() >= w.positions() * w.tiles * gw);
    assert!(y.len() >= w.oh * w.ow * w.cout && co0 + gw <= w.cout);
    let yp = y.as_mut_ptr();
    for k in 0..nt {
        let t = t0 + k;
        let (ty, tx) = (t / w.tw, t % w.tw);
        for b in (0..gw).step_by(LANES) {
            // SAFETY: M holds the positions × w.tiles tiles × gw values; the stores are to the
            // output pixels of this tile that exist, channels co0 + b .. + 16 ≤ cout.
            unsafe {
                let p = m.as_ptr().add(k * gw + b);
                let ld = |e: usize| S::load(p.add(e * w.tiles * gw));
                let bias = epi.bias.map(|bv| S::load(bv.as_ptr().add(co0 + b)));
                let put = |i: usize, j: usize, mut val: S::V| {
                    let (oy, ox) = (M * ty + i, M * tx + j);
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
                if M == 2 {
                    f2::output_tile::<S>(ld, put);
                } else {
                    // Aᵀ per row of 6 positions, then per column of the 6 × 4 results.
                    let s: [[S::V; 4]; 6] = f4::arr(|i| f4::at::<S>(f4::arr(|j| ld(6 * i + j))));
                    for j in 0..4 {
                        let col = f4::at::<S>(f4::arr(|i| s[i][j]));
                        for (i, val) in col.into_iter().enumerate() {
                            put(i, j, val);
                        }
                    }
                }
            }
        }
    }
}

/// One image: `y` (`[oh][ow][cout]`) from the unpadded input `x` (`[src.0][src.1][cin]`) and
/// the packed U.
#[inline(always)]
pub(crate) fn image_forward<S: Simd>(
    w: &Wino,
    x: &[f32],
    u: &[f32],
    epi: Epilogue<'_>,
    y: &mut [f32],
    scratch: &mut [f32],
) {
    match w.m {
        2 => forward_tiles::<S, 2>(w, x, u, epi, y, scratch),
        _ => forward_tiles::<S, 4>(w, x, u, epi, y, scratch),
    }
}

#[inline(always)]
fn forward_tiles<S: Simd, const M: usize>(
    w: &Wino,
    x: &[f32],
    u: &[f32],
    epi: Epilogue<'_>,
    y: &mut [f32],
    scratch: &mut [f32],
) {
    let gw = w.cb * LANES;
    let (v, m, zeros) = w.split_scratch(scratch);
    let tiles = w.th * w.tw;
    let ulen = w.positions() * w.cin * gw;
    for t0 in (0..tiles).step_by(w.tiles) {
        let nt = w.tiles.min(tiles - t0);
        input_tiles::<S, M>(w, x, zeros, (t0, nt), v);
        for grp in 0..w.cout / gw {
            let ug = &u[grp * ulen..(grp + 1) * ulen];
            match w.cb {
                1 => products::<S, 1>(w, v, ug, nt, m),
                2 => products::<S, 2>(w, v, ug, nt, m),
                _ => products::<S, 4>(w, v, ug, nt, m),
            }
            output_tiles::<S, M>(w, m, (t0, nt), (grp * gw, gw), epi, y);
        }
    }
}
