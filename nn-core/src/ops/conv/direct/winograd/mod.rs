//! Winograd F(2×2, 3×3) on channels-last activations (Lavin & Gray 2016): 16 multiplications per
//! 2×2 output tile and channel pair instead of 36, i.e. 2.25x fewer in the products, for 3×3
//! stride-1 undilated convolutions with channel counts that are multiples of 16.
//!
//! ```text
//! y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,   d: 4×4 input tile, g: 3×3 kernel, y: 2×2 output tile
//! Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
//! Aᵀ = [1 1 1 0; 0 1 −1 −1]
//! ```
//!
//! Per image, tiles go in blocks of [`block_tiles`]: the block's inputs are transformed into
//! `V[e][tile][c_in]` (16 vectors per tile and 16 channels), each of the 16 positions e is a
//! small product `M_e = V_e · U_e` computed by the direct kernel's register blocks (tiles as
//! pixels, a 1×1 "convolution"), and the output transform writes the 2×2 tiles, all while the
//! block is in cache. The tiles read the unpadded image and load zeros outside it (no padded
//! copy). The input gradient is the same computation on the output gradient (zero-padded by
//! 2 − padding, again without a copy) with the flipped, transposed kernel; the weight gradient
//! accumulates dU_e = Σ_tiles V_eᵀ dM_e (dM = A dY Aᵀ) per batch slice, and dW = Gᵀ dU G.

// The transforms read one column of several rows (r[0][j], r[1][j], ...): index loops are clearer.
#![allow(clippy::needless_range_loop)]

mod weight;

use super::forward::{Epilogue, block_pixels, next_block};
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
/// 1 channel block (12 accumulators, see `forward::block_pixels`), where 8 tiles ran as
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

/// One image's Winograd geometry: output `oh × ow` in `th × tw` tiles, read from a zero-padded
/// frame of `(2·th + 2) × (2·tw + 2)` pixels, `cin` → `cout` channels, `cb` vectors per register
/// block. The input is never copied into that frame: the tiles read the unpadded image of
/// `src = (h, w)` pixels, which sits at `off = (top, left)` in the frame, and load zeros outside
/// it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wino {
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
        (oh, ow): (usize, usize),
        (cin, cout): (usize, usize),
        cb: usize,
        src: (usize, usize),
        off: (usize, usize),
    ) -> Wino {
        Wino {
            oh,
            ow,
            th: oh.div_ceil(2),
            tw: ow.div_ceil(2),
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
        (2 * self.th + 2, 2 * self.tw + 2)
    }
    /// Scratch floats per thread: V and M of one block, and a row of `cin` zeros (what the
    /// border tiles load outside the image).
    pub(crate) fn scratch(&self) -> usize {
        16 * self.tiles * (self.cin + self.cb * LANES) + self.cin
    }
    /// Splits [`Wino::scratch`] into V, M (or dM) and the zero row, which it fills.
    pub(crate) fn split_scratch<'a>(
        &self,
        scratch: &'a mut [f32],
    ) -> (&'a mut [f32], &'a mut [f32], &'a [f32]) {
        let (v, rest) = scratch.split_at_mut(16 * self.tiles * self.cin);
        let (m, zeros) = rest.split_at_mut(16 * self.tiles * self.cb * LANES);
        let zeros = &mut zeros[..self.cin];
        zeros.fill(0.0);
        (v, m, zeros)
    }
}

/// G g Gᵀ of a 3×3 kernel (row-major), as 16 values.
fn transform_kernel(k: &[f32]) -> [f32; 16] {
    let gcol = |v: [f32; 3]| {
        [
            v[0],
            0.5 * (v[0] + v[1] + v[2]),
            0.5 * (v[0] - v[1] + v[2]),
            v[2],
        ]
    };
    // G·g: 4×3, column by column.
    let mut gg = [[0.0f32; 3]; 4];
    for c in 0..3 {
        let col = gcol([k[c], k[3 + c], k[6 + c]]);
        for r in 0..4 {
            gg[r][c] = col[r];
        }
    }
    let mut out = [0.0f32; 16];
    for r in 0..4 {
        let row = gcol(gg[r]);
        out[r * 4..r * 4 + 4].copy_from_slice(&row);
    }
    out
}

/// U = G g Gᵀ packed `[group][e][c_in][cb·16]` for the products; with `flip` the kernel is the
/// input gradient's: channels swapped and taps reversed. `scale` multiplies output channel o's
/// kernels (a folded BatchNorm).
pub(crate) fn pack_u(
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
    let mut u = vec![0.0f32; groups * 16 * pi * gw];
    for o in 0..po {
        for i in 0..pi {
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
            let tk = transform_kernel(&k);
            let (g, lane) = (o / gw, o % gw);
            for (e, v) in tk.iter().enumerate() {
                u[((g * 16 + e) * pi + i) * gw + lane] = *v;
            }
        }
    }
    u
}

/// Input transform of tiles `t0 .. t0 + nt`: V[e][t][c] = (Bᵀ d B)[e] of each 4×4 tile d of the
/// zero-padded frame, read from the unpadded image `x` (`[src.0][src.1][cin]`, at `off` in the
/// frame). Tiles inside the image load with fixed strides from one base pointer; border tiles
/// (most of them on small maps: 12 of 16 at 7², 24 of 49 at 14²) compute each of their 16 pixel
/// addresses once, pointing pixels outside the image at `zeros` (`cin` zeros). Either way the
/// transform sees the values a zero-padded copy would hold (+0.0 outside), so the results are
/// the same bits, and no address outside the image is ever formed.
#[inline(always)]
fn input_tiles<S: Simd>(
    w: &Wino,
    x: &[f32],
    zeros: &[f32],
    (t0, nt): (usize, usize),
    v: &mut [f32],
) {
    let c = w.cin;
    let (h, wd) = w.src;
    let (top, left) = w.off;
    assert!(v.len() >= 16 * w.tiles * c && nt <= w.tiles && c.is_multiple_of(LANES));
    assert!(x.len() >= h * wd * c && zeros.len() >= c && (t0 + nt) <= w.th * w.tw);
    // Whether frame rows (columns) f .. f + 4 all lie in the image, which starts at frame row
    // (column) `off` and is `len` long.
    let inside = |f: usize, off: usize, len: usize| f >= off && f + 4 <= off + len;
    for k in 0..nt {
        let t = t0 + k;
        let (fy, fx) = (2 * (t / w.tw), 2 * (t % w.tw));
        // SAFETY (both arms): v holds w.tiles tiles of 16 positions × c values; c0 + 16 ≤ c.
        let out = unsafe { v.as_mut_ptr().add(k * c) };
        if inside(fy, top, h) && inside(fx, left, wd) {
            let base = ((fy - top) * wd + fx - left) * c;
            for c0 in (0..c).step_by(LANES) {
                // SAFETY: the tile's 4×4 pixels lie in the image (checked above).
                unsafe {
                    let p = x.as_ptr().add(base + c0);
                    let ld = |i: usize, j: usize| S::load(p.add((i * wd + j) * c));
                    transform_tile::<S>(ld, out.add(c0), w.tiles * c);
                }
            }
        } else {
            // Image row / column of frame row fy + i / column fx + j, if it is in the image.
            let at =
                |f: usize, off: usize, len: usize| (f >= off && f - off < len).then(|| f - off);
            let rows: [Option<usize>; 4] = std::array::from_fn(|i| at(fy + i, top, h));
            let cols: [Option<usize>; 4] = std::array::from_fn(|j| at(fx + j, left, wd));
            let px: [[*const f32; 4]; 4] = std::array::from_fn(|i| {
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
                    transform_tile::<S>(ld, out.add(c0), w.tiles * c);
                }
            }
        }
    }
}

/// Bᵀ d B of one 4×4 tile of 16 channels whose pixel (i, j) is `ld(i, j)`: position e to
/// `out + e·stride`.
///
/// # Safety
/// `out + e·stride .. + 16` must be writable for e < 16.
#[inline(always)]
unsafe fn transform_tile<S: Simd>(ld: impl Fn(usize, usize) -> S::V, out: *mut f32, stride: usize) {
    unsafe {
        let m1 = S::splat(-1.0);
        // Rows: r_i = (d0 − d2, d1 + d2, d2 − d1, d1 − d3) of row i.
        let mut r = [[S::zero(); 4]; 4];
        for (i, ri) in r.iter_mut().enumerate() {
            let (d0, d1, d2, d3) = (ld(i, 0), ld(i, 1), ld(i, 2), ld(i, 3));
            *ri = [
                S::fma(d2, m1, d0),
                S::add(d1, d2),
                S::fma(d1, m1, d2),
                S::fma(d3, m1, d1),
            ];
        }
        let st = |e: usize, val: S::V| S::store(out.add(e * stride), val);
        for j in 0..4 {
            let (a0, a1, a2, a3) = (r[0][j], r[1][j], r[2][j], r[3][j]);
            st(j, S::fma(a2, m1, a0));
            st(4 + j, S::add(a1, a2));
            st(8 + j, S::fma(a1, m1, a2));
            st(12 + j, S::fma(a3, m1, a1));
        }
    }
}

/// M_e = V_e · U_e for the 16 positions e, output channels of group `grp`: `m` is
/// `[e][tile][cb·16]`.
#[inline(always)]
fn products<S: Simd, const CB: usize>(w: &Wino, v: &[f32], u: &[f32], nt: usize, m: &mut [f32]) {
    let (c, gw) = (w.cin, CB * LANES);
    assert!(v.len() >= 16 * w.tiles * c && m.len() >= 16 * w.tiles * gw && u.len() >= 16 * c * gw);
    let rmax = block_pixels::<S>(CB);
    for e in 0..16 {
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

/// Output transform of tiles `t0 .. t0 + nt` for output channels `co0 .. co0 + gw`: the 2×2
/// tiles Aᵀ M A (+ bias, ReLU) into the image `y` (`[oh][ow][cout]`).
#[inline(always)]
fn output_tiles<S: Simd>(
    w: &Wino,
    m: &[f32],
    (t0, nt): (usize, usize),
    (co0, gw): (usize, usize),
    epi: Epilogue<'_>,
    y: &mut [f32],
) {
    assert!(m.len() >= 16 * w.tiles * gw && y.len() >= w.oh * w.ow * w.cout);
    assert!(co0 + gw <= w.cout);
    for k in 0..nt {
        let t = t0 + k;
        let (ty, tx) = (t / w.tw, t % w.tw);
        for b in (0..gw).step_by(LANES) {
            // SAFETY: M holds 16 positions × w.tiles tiles × gw values; the stores are to the
            // output pixels of this tile that exist, channels co0 + b .. + 16 ≤ cout.
            unsafe {
                let p = m.as_ptr().add(k * gw + b);
                let ld = |e: usize| S::load(p.add(e * w.tiles * gw));
                let m1 = S::splat(-1.0);
                // s[i] = (m_i0 + m_i1 + m_i2, m_i1 − m_i2 − m_i3) per row i.
                let mut s = [[S::zero(); 2]; 4];
                for (i, si) in s.iter_mut().enumerate() {
                    let (a0, a1, a2, a3) = (ld(4 * i), ld(4 * i + 1), ld(4 * i + 2), ld(4 * i + 3));
                    *si = [
                        S::add(S::add(a0, a1), a2),
                        S::fma(a3, m1, S::fma(a2, m1, a1)),
                    ];
                }
                let bias = epi.bias.map(|bv| S::load(bv.as_ptr().add(co0 + b)));
                for j in 0..2 {
                    let (a0, a1, a2, a3) = (s[0][j], s[1][j], s[2][j], s[3][j]);
                    let outs = [
                        S::add(S::add(a0, a1), a2),
                        S::fma(a3, m1, S::fma(a2, m1, a1)),
                    ];
                    let ox = 2 * tx + j;
                    if ox >= w.ow {
                        continue;
                    }
                    for (i, mut val) in outs.into_iter().enumerate() {
                        let oy = 2 * ty + i;
                        if oy >= w.oh {
                            continue;
                        }
                        if let Some(bv) = bias {
                            val = S::add(val, bv);
                        }
                        if epi.relu {
                            val = S::relu(val);
                        }
                        S::store(y.as_mut_ptr().add((oy * w.ow + ox) * w.cout + co0 + b), val);
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
    let gw = w.cb * LANES;
    let (v, m, zeros) = w.split_scratch(scratch);
    let tiles = w.th * w.tw;
    let ulen = 16 * w.cin * gw;
    for t0 in (0..tiles).step_by(w.tiles) {
        let nt = w.tiles.min(tiles - t0);
        input_tiles::<S>(w, x, zeros, (t0, nt), v);
        for grp in 0..w.cout / gw {
            let ug = &u[grp * ulen..(grp + 1) * ulen];
            match w.cb {
                1 => products::<S, 1>(w, v, ug, nt, m),
                2 => products::<S, 2>(w, v, ug, nt, m),
                _ => products::<S, 4>(w, v, ug, nt, m),
            }
            output_tiles::<S>(w, m, (t0, nt), (grp * gw, gw), epi, y);
        }
    }
}
