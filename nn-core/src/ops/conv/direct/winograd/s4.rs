//! Winograd F(4×4, 3×3) at stride 2: 81 multiplications per 4×4 output tile and channel pair
//! instead of 144 (1.78x fewer, against [`S2`](super::S2)'s 1.44x), from a 9×9 input tile.
//! The polyphase split of `s2` with longer tiles: along each axis the even input samples
//! (d0, d2, d4, d6, d8) meet the 2-tap kernel (g0, g2) through Winograd F(4, 2) (5
//! multiplications for 4 outputs, Toom-Cook on the points 0, 1, −1, 2, ∞), and the odd ones
//! (d1, d3, d5, d7) meet g1 alone (4 more):
//!
//! ```text
//! yi = g0·d(2i) + g1·d(2i+1) + g2·d(2i+2),   i = 0..3
//! Bᵀ d = (F(4,2)'s Bᵀ (d0, d2, d4, d6, d8), d1, d3, d5, d7)
//!        F(4,2)'s Bᵀ = [2 −1 −2 1 0; 0 2 1 −1 0; 0 −2 3 −1 0; 0 −1 0 1 0; 0 2 −1 −2 1]
//! G g  = (½g0, ½(g0 + g2), ⅙(g0 − g2), ⅙g0 + ⅓g2, g2, g1, g1, g1, g1)
//! Aᵀ m = F(4,2)'s Aᵀ (m0 .. m4) + (m5, m6, m7, m8)
//!        F(4,2)'s Aᵀ = [1 1 1 1 0; 0 1 −1 2 0; 0 1 1 4 0; 0 1 −1 8 1]
//! ```
//!
//! The 2-D tile is the product of two such axes (9 × 9 positions). The matrices were derived
//! with sympy (A and G Vandermonde on the points, Bᵀ solved for, its rows scaled to integers
//! and the scale moved into G). G's sixths round: on the conv tests within 10⁻⁵ of the largest
//! output, like F(4×4, 3×3) at stride 1.

// The transforms read one column of several rows: index loops are clearer.
#![allow(clippy::needless_range_loop)]

use super::separable;
use super::tile::{Tile, each};
use crate::simd::Simd;

/// Winograd F(4×4, 3×3) at stride 2.
pub(crate) struct S4;

/// Bᵀ v of a 9-vector (a row or column of the input tile).
#[inline(always)]
unsafe fn bt<S: Simd>(d: [S::V; 9]) -> [S::V; 9] {
    unsafe {
        // The even samples e = (d0, d2, d4, d6, d8) through F(4, 2)'s Bᵀ, with t = e3 − e1:
        // (2(e0 − e2) + t, (e1 + e2) − t, 3(e2 − e1) − t, t, (e4 − e2) − 2t).
        let (e0, e1, e2, e3, e4) = (d[0], d[2], d[4], d[6], d[8]);
        let (c2, c3, m2) = (S::splat(2.0), S::splat(3.0), S::splat(-2.0));
        let t = S::sub(e3, e1);
        [
            S::fma(S::sub(e0, e2), c2, t),
            S::sub(S::add(e1, e2), t),
            S::sub(S::mul(S::sub(e2, e1), c3), t),
            t,
            S::fma(t, m2, S::sub(e4, e2)),
            d[1],
            d[3],
            d[5],
            d[7],
        ]
    }
}

/// Aᵀ v of a 9-vector: the 4 outputs.
#[inline(always)]
unsafe fn at<S: Simd>(m: [S::V; 9]) -> [S::V; 4] {
    unsafe {
        let (c2, c4, c8) = (S::splat(2.0), S::splat(4.0), S::splat(8.0));
        let a = S::add(m[1], m[2]);
        let b = S::sub(m[1], m[2]);
        [
            S::add(S::add(S::add(m[0], a), m[3]), m[5]),
            S::add(S::fma(m[3], c2, b), m[6]),
            S::add(S::fma(m[3], c4, a), m[7]),
            S::add(S::add(S::fma(m[3], c8, b), m[4]), m[8]),
        ]
    }
}

/// A v of a 4-vector (the adjoint of [`at`]): the 9 values.
#[inline(always)]
unsafe fn a<S: Simd>(y: [S::V; 4]) -> [S::V; 9] {
    unsafe {
        let (c2, c4, c8) = (S::splat(2.0), S::splat(4.0), S::splat(8.0));
        let (e, f) = (S::add(y[0], y[2]), S::add(y[1], y[3]));
        [
            y[0],
            S::add(e, f),
            S::sub(e, f),
            S::fma(y[3], c8, S::fma(y[2], c4, S::fma(y[1], c2, y[0]))),
            y[3],
            y[0],
            y[1],
            y[2],
            y[3],
        ]
    }
}

const SIXTH: f32 = 1.0 / 6.0;
const THIRD: f32 = 1.0 / 3.0;

/// G v of a kernel's row or column v.
fn g(v: [f32; 3]) -> [f32; 9] {
    let (g0, g1, g2) = (v[0], v[1], v[2]);
    [
        0.5 * g0,
        0.5 * (g0 + g2),
        SIXTH * (g0 - g2),
        SIXTH * g0 + THIRD * g2,
        g2,
        g1,
        g1,
        g1,
        g1,
    ]
}

/// Gᵀ v of a 9-vector (the adjoint of [`g`]).
fn gt(v: [f32; 9]) -> [f32; 3] {
    [
        0.5 * (v[0] + v[1]) + SIXTH * (v[2] + v[3]),
        (v[5] + v[6]) + (v[7] + v[8]),
        0.5 * v[1] - SIXTH * v[2] + THIRD * v[3] + v[4],
    ]
}

impl Tile for S4 {
    const M: usize = 4;
    const STRIDE: usize = 2;
    const Q: usize = 9;

    #[inline(always)]
    unsafe fn input_tile<S: Simd>(ld: impl Fn(usize, usize) -> S::V, out: *mut f32, stride: usize) {
        unsafe {
            // Rows first (each row's transform only needs that row), then the columns.
            let r = each!(i in [0, 1, 2, 3, 4, 5, 6, 7, 8] => bt::<S>(each!(j in [0, 1, 2, 3, 4, 5, 6, 7, 8] => ld(i, j))));
            for j in 0..9 {
                let col = bt::<S>(each!(i in [0, 1, 2, 3, 4, 5, 6, 7, 8] => r[i][j]));
                for (i, v) in col.into_iter().enumerate() {
                    S::store(out.add((9 * i + j) * stride), v);
                }
            }
        }
    }

    #[inline(always)]
    unsafe fn output_tile<S: Simd>(ld: impl Fn(usize) -> S::V, put: impl Fn(usize, usize, S::V)) {
        unsafe {
            // Aᵀ per row of 9 positions, then per column of the 9 × 4 results.
            let s = each!(i in [0, 1, 2, 3, 4, 5, 6, 7, 8] => at::<S>(each!(j in [0, 1, 2, 3, 4, 5, 6, 7, 8] => ld(9 * i + j))));
            for j in 0..4 {
                let col = at::<S>(each!(i in [0, 1, 2, 3, 4, 5, 6, 7, 8] => s[i][j]));
                for (i, val) in col.into_iter().enumerate() {
                    put(i, j, val);
                }
            }
        }
    }

    #[inline(always)]
    unsafe fn grad_tile<S: Simd>(ld: impl Fn(usize, usize) -> S::V, out: *mut f32, stride: usize) {
        unsafe {
            // A per row of 4 outputs, then per column of the 4 × 9 results.
            let r = each!(i in [0, 1, 2, 3] => a::<S>([ld(i, 0), ld(i, 1), ld(i, 2), ld(i, 3)]));
            for j in 0..9 {
                let col = a::<S>([r[0][j], r[1][j], r[2][j], r[3][j]]);
                for (i, val) in col.into_iter().enumerate() {
                    S::store(out.add((9 * i + j) * stride), val);
                }
            }
        }
    }

    #[inline(always)]
    fn kernel(k: &[f32; 9], u: &mut [f32]) {
        u[..81].copy_from_slice(separable(k, g).as_flattened());
    }

    #[inline(always)]
    fn kernel_grad(du: &[f32]) -> [[f32; 3]; 3] {
        separable(du, gt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::Scalar;

    /// A 1-D transform of the SIMD code on scalars (every lane the same; lane 0 returned).
    fn lanes<const A: usize, const B: usize>(
        t: unsafe fn([<Scalar as Simd>::V; A]) -> [<Scalar as Simd>::V; B],
        v: [f32; A],
    ) -> [f32; B] {
        // SAFETY: the scalar kernels run on every CPU.
        let out = unsafe { t(v.map(|x| Scalar::splat(x))) };
        out.map(|o| o[0])
    }

    /// The 1-D algorithm (the SIMD transforms themselves) against the stride-2 sums it
    /// replaces, on small integers (G's sixths round: within a few ulps); Gᵀ and A as the
    /// adjoints of G and Aᵀ.
    #[test]
    fn one_axis_matches_the_strided_sums() {
        let d = [3.0f32, -1.0, 4.0, 1.0, -5.0, 9.0, 2.0, -6.0, 5.0];
        let k = [2.0f32, 7.0, -1.0];
        let v = lanes(bt::<Scalar>, d);
        let m: [f32; 9] = std::array::from_fn(|e| v[e] * g(k)[e]);
        let y = lanes(at::<Scalar>, m);
        for i in 0..4 {
            let want = k[0] * d[2 * i] + k[1] * d[2 * i + 1] + k[2] * d[2 * i + 2];
            assert!(
                (y[i] - want).abs() <= 1e-5 * want.abs().max(1.0),
                "y{i}: {} vs {want}",
                y[i]
            );
        }
        // <G k, w> = <k, Gᵀ w>.
        let w = [1.0f32, -2.0, 3.0, 5.0, -7.0, 0.5, 4.0, -3.0, 2.0];
        let lhs: f32 = g(k).iter().zip(w).map(|(a, b)| a * b).sum();
        let rhs: f32 = k.iter().zip(gt(w)).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-5, "{lhs} vs {rhs}");
        // <Aᵀ m, y> = <m, A y> (integers: exact).
        let y4 = [1.0f32, -3.0, 2.0, 5.0];
        let lhs: f32 = lanes(at::<Scalar>, w)
            .iter()
            .zip(y4)
            .map(|(a, b)| a * b)
            .sum();
        let rhs: f32 = w
            .iter()
            .zip(lanes(a::<Scalar>, y4))
            .map(|(a, b)| a * b)
            .sum();
        assert_eq!(lhs, rhs);
    }
}
