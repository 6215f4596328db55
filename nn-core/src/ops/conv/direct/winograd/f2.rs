//! The transforms of Winograd F(2×2, 3×3) (Lavin & Gray 2016): 16 multiplications per 2×2
//! output tile and channel pair instead of 36. Its matrices hold only 0, ±1 and ±½, so on small
//! integers it is exact.
//!
//! ```text
//! y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,   d: 4×4 input tile, g: 3×3 kernel, y: 2×2 output tile
//! Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
//! Aᵀ = [1 1 1 0; 0 1 −1 −1]
//! ```

// The transforms read one column of several rows: index loops are clearer.
#![allow(clippy::needless_range_loop)]

use super::separable;
use super::tile::{Tile, each};
use crate::simd::Simd;

/// A v of a 2-vector (the adjoint of Aᵀ): (y0, y0 + y1, y0 − y1, −y1).
#[inline(always)]
unsafe fn a<S: Simd>(y: [S::V; 2]) -> [S::V; 4] {
    unsafe {
        let m1 = S::splat(-1.0);
        [
            y[0],
            S::add(y[0], y[1]),
            S::fma(y[1], m1, y[0]),
            S::mul(y[1], m1),
        ]
    }
}

/// G v of a kernel's row or column v.
fn g(v: [f32; 3]) -> [f32; 4] {
    [
        v[0],
        0.5 * (v[0] + v[1] + v[2]),
        0.5 * (v[0] - v[1] + v[2]),
        v[2],
    ]
}

/// Gᵀ v of a 4-vector (the adjoint of [`g`]).
fn gt(v: [f32; 4]) -> [f32; 3] {
    [
        v[0] + 0.5 * (v[1] + v[2]),
        0.5 * (v[1] - v[2]),
        0.5 * (v[1] + v[2]) + v[3],
    ]
}

/// Bᵀ d B of one 4×4 tile of 16 channels whose pixel (i, j) is `ld(i, j)`: position e to
/// `out + e·stride`.
///
/// # Safety
/// `out + e·stride .. + 16` must be writable for e < 16.
#[inline(always)]
unsafe fn input_tile<S: Simd>(ld: impl Fn(usize, usize) -> S::V, out: *mut f32, stride: usize) {
    unsafe {
        let m1 = S::splat(-1.0);
        // Rows: r_i = (d0 − d2, d1 + d2, d2 − d1, d1 − d3) of row i.
        let r = each!(i in [0, 1, 2, 3] => {
            let (d0, d1, d2, d3) = (ld(i, 0), ld(i, 1), ld(i, 2), ld(i, 3));
            [
                S::fma(d2, m1, d0),
                S::add(d1, d2),
                S::fma(d1, m1, d2),
                S::fma(d3, m1, d1),
            ]
        });
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

/// Aᵀ M A of one F(2×2, 3×3) tile whose position e is `ld(e)`: output (i, j) to `put`.
#[inline(always)]
unsafe fn output_tile<S: Simd>(ld: impl Fn(usize) -> S::V, put: impl Fn(usize, usize, S::V)) {
    unsafe {
        let m1 = S::splat(-1.0);
        // s[i] = (m_i0 + m_i1 + m_i2, m_i1 − m_i2 − m_i3) per row i.
        let s = each!(i in [0, 1, 2, 3] => {
            let (a0, a1, a2, a3) = (ld(4 * i), ld(4 * i + 1), ld(4 * i + 2), ld(4 * i + 3));
            [
                S::add(S::add(a0, a1), a2),
                S::fma(a3, m1, S::fma(a2, m1, a1)),
            ]
        });
        for j in 0..2 {
            let (a0, a1, a2, a3) = (s[0][j], s[1][j], s[2][j], s[3][j]);
            put(0, j, S::add(S::add(a0, a1), a2));
            put(1, j, S::fma(a3, m1, S::fma(a2, m1, a1)));
        }
    }
}

/// Winograd F(2×2, 3×3), stride 1.
pub(crate) struct F2;

impl Tile for F2 {
    const M: usize = 2;
    const STRIDE: usize = 1;
    const Q: usize = 4;

    #[inline(always)]
    unsafe fn input_tile<S: Simd>(ld: impl Fn(usize, usize) -> S::V, out: *mut f32, stride: usize) {
        unsafe { input_tile::<S>(ld, out, stride) }
    }

    #[inline(always)]
    unsafe fn output_tile<S: Simd>(ld: impl Fn(usize) -> S::V, put: impl Fn(usize, usize, S::V)) {
        unsafe { output_tile::<S>(ld, put) }
    }

    #[inline(always)]
    unsafe fn grad_tile<S: Simd>(ld: impl Fn(usize, usize) -> S::V, out: *mut f32, stride: usize) {
        unsafe {
            // A per row of 2 outputs, then per column of the 2 × 4 results.
            let r = [0, 1].map(|i| a::<S>([ld(i, 0), ld(i, 1)]));
            for j in 0..4 {
                let col = a::<S>([r[0][j], r[1][j]]);
                for (i, val) in col.into_iter().enumerate() {
                    S::store(out.add((i * 4 + j) * stride), val);
                }
            }
        }
    }

    #[inline(always)]
    fn kernel(k: &[f32; 9], u: &mut [f32]) {
        u[..16].copy_from_slice(separable(k, g).as_flattened());
    }

    #[inline(always)]
    fn kernel_grad(du: &[f32]) -> [[f32; 3]; 3] {
        separable(du, gt)
    }
}
