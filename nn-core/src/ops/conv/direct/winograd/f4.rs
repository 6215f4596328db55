//! The transforms of Winograd F(4×4, 3×3) (Lavin & Gray 2016, interpolation points 0, ±1, ±2,
//! ∞): 36 multiplications per 4×4 output tile and channel pair instead of 144 (4x fewer, against
//! F(2×2, 3×3)'s 2.25x), and fewer transform loads and stores per output pixel.
//!
//! ```text
//! y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,   d: 6×6 input tile, g: 3×3 kernel, y: 4×4 output tile
//! Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
//! G  = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1⁄24 1⁄12 ⅙; 1⁄24 −1⁄12 ⅙; 0 0 1]
//! Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
//! ```
//!
//! The rounding error grows with the points' magnitudes (products of up to 8·5 in the
//! transforms): about 10⁻⁶ relative in f32 against F(2×2, 3×3)'s 10⁻⁷, well inside the
//! conformance tolerances (`tests.rs` checks both tile sizes against the naive convolution).

// The transforms read one column of several rows: index loops are clearer.
#![allow(clippy::needless_range_loop)]

use super::separable;
use super::tile::{Tile, each};
use crate::simd::Simd;

/// Bᵀ v of a 6-vector (one row or column of the input tile).
#[inline(always)]
unsafe fn bt<S: Simd>(d: [S::V; 6]) -> [S::V; 6] {
    unsafe {
        let (c4, m4, m5, c2, m2) = (
            S::splat(4.0),
            S::splat(-4.0),
            S::splat(-5.0),
            S::splat(2.0),
            S::splat(-2.0),
        );
        let t12 = S::add(d[1], d[2]);
        let t34 = S::add(d[3], d[4]);
        let s12 = S::sub(d[1], d[2]);
        let s43 = S::sub(d[4], d[3]);
        let s42 = S::sub(d[4], d[2]);
        let s31 = S::sub(d[3], d[1]);
        [
            S::fma(d[0], c4, S::fma(d[2], m5, d[4])),
            S::fma(t12, m4, t34),
            S::fma(s12, c4, s43),
            S::fma(s31, c2, s42),
            S::fma(s31, m2, s42),
            S::fma(d[1], c4, S::fma(d[3], m5, d[5])),
        ]
    }
}

/// Bᵀ d B of one 6×6 tile of 16 channels whose pixel (i, j) is `ld(i, j)`: position e = 6·i + j
/// to `out + e·stride`.
///
/// # Safety
/// `out + e·stride .. + 16` must be writable for e < 36.
#[inline(always)]
unsafe fn input_tile<S: Simd>(ld: impl Fn(usize, usize) -> S::V, out: *mut f32, stride: usize) {
    unsafe {
        // Rows first (each row's transform only needs that row), then the columns.
        let r =
            each!(i in [0, 1, 2, 3, 4, 5] => bt::<S>(each!(j in [0, 1, 2, 3, 4, 5] => ld(i, j))));
        for j in 0..6 {
            let col = bt::<S>(each!(i in [0, 1, 2, 3, 4, 5] => r[i][j]));
            for (i, v) in col.into_iter().enumerate() {
                S::store(out.add((6 * i + j) * stride), v);
            }
        }
    }
}

/// Aᵀ v of a 6-vector: the 4 outputs.
#[inline(always)]
unsafe fn at<S: Simd>(m: [S::V; 6]) -> [S::V; 4] {
    unsafe {
        let (c2, c4, c8) = (S::splat(2.0), S::splat(4.0), S::splat(8.0));
        let a = S::add(m[1], m[2]);
        let b = S::sub(m[1], m[2]);
        let c = S::add(m[3], m[4]);
        let d = S::sub(m[3], m[4]);
        [
            S::add(S::add(m[0], a), c),
            S::fma(d, c2, b),
            S::fma(c, c4, a),
            S::add(S::fma(d, c8, b), m[5]),
        ]
    }
}

/// A v of a 4-vector (the adjoint of [`at`]): the 6 values.
#[inline(always)]
unsafe fn a<S: Simd>(y: [S::V; 4]) -> [S::V; 6] {
    unsafe {
        let (c2, c4, c8) = (S::splat(2.0), S::splat(4.0), S::splat(8.0));
        let e = S::add(y[0], y[2]);
        let f = S::add(y[1], y[3]);
        let g = S::fma(y[2], c4, y[0]);
        let h = S::fma(y[3], c8, S::mul(y[1], c2));
        [
            y[0],
            S::add(e, f),
            S::sub(e, f),
            S::add(g, h),
            S::sub(g, h),
            y[3],
        ]
    }
}

// Products by the rounded reciprocals, not divisions (these run per channel pair, per call).
const SIXTH: f32 = 1.0 / 6.0;
const TWELFTH: f32 = 1.0 / 12.0;
const TWENTY_FOURTH: f32 = 1.0 / 24.0;

/// G v of a kernel's row or column v.
pub(super) fn g(v: [f32; 3]) -> [f32; 6] {
    let (s, d) = (v[0] + v[2], 4.0 * v[2] + v[0]);
    [
        0.25 * v[0],
        -SIXTH * (s + v[1]),
        -SIXTH * (s - v[1]),
        TWENTY_FOURTH * (d + 2.0 * v[1]),
        TWENTY_FOURTH * (d - 2.0 * v[1]),
        v[2],
    ]
}

/// Gᵀ v of a 6-vector (the adjoint of [`g`]).
fn gt(v: [f32; 6]) -> [f32; 3] {
    let (a, b) = (v[1] + v[2], v[3] + v[4]);
    [
        0.25 * v[0] - SIXTH * a + TWENTY_FOURTH * b,
        SIXTH * (v[2] - v[1]) + TWELFTH * (v[3] - v[4]),
        SIXTH * (b - a) + v[5],
    ]
}

/// Winograd F(4×4, 3×3), stride 1.
pub(crate) struct F4;

impl Tile for F4 {
    const M: usize = 4;
    const STRIDE: usize = 1;
    const Q: usize = 6;

    #[inline(always)]
    unsafe fn input_tile<S: Simd>(ld: impl Fn(usize, usize) -> S::V, out: *mut f32, stride: usize) {
        unsafe { input_tile::<S>(ld, out, stride) }
    }

    #[inline(always)]
    unsafe fn output_tile<S: Simd>(ld: impl Fn(usize) -> S::V, put: impl Fn(usize, usize, S::V)) {
        unsafe {
            // Aᵀ per row of 6 positions, then per column of the 6 × 4 results.
            let s = each!(i in [0, 1, 2, 3, 4, 5] => at::<S>(each!(j in [0, 1, 2, 3, 4, 5] => ld(6 * i + j))));
            for j in 0..4 {
                let col = at::<S>([s[0][j], s[1][j], s[2][j], s[3][j], s[4][j], s[5][j]]);
                for (i, val) in col.into_iter().enumerate() {
                    put(i, j, val);
                }
            }
        }
    }

    #[inline(always)]
    unsafe fn grad_tile<S: Simd>(ld: impl Fn(usize, usize) -> S::V, out: *mut f32, stride: usize) {
        unsafe {
            // A per row of 4 outputs, then per column of the 4 × 6 results.
            let r = each!(i in [0, 1, 2, 3] => a::<S>([ld(i, 0), ld(i, 1), ld(i, 2), ld(i, 3)]));
            for j in 0..6 {
                let col = a::<S>([r[0][j], r[1][j], r[2][j], r[3][j]]);
                for (i, val) in col.into_iter().enumerate() {
                    S::store(out.add((i * 6 + j) * stride), val);
                }
            }
        }
    }

    #[inline(always)]
    fn kernel(k: &[f32; 9], u: &mut [f32]) {
        u[..36].copy_from_slice(separable(k, g).as_flattened());
    }

    #[inline(always)]
    fn kernel_grad(du: &[f32]) -> [[f32; 3]; 3] {
        separable(du, gt)
    }
}
