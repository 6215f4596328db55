//! The transforms of Winograd F(7×7, 3×3), stride 1 (Lavin & Gray 2016; Toom-Cook on the
//! points ±1, ±2, ±⅔, ±¼, ∞): 81 multiplications per 7×7 output tile and channel pair instead of
//! 441 (5.4x fewer, against F(4×4, 3×3)'s 4x). Its tiles cover the 28×28, 14×14 and 7×7 maps of
//! a ResNet on 28×28 inputs exactly, where F(4×4)'s reach past the 14×14 and 7×7 maps (16×16 and
//! 8×8 outputs for 14² and 7²): per image 0.56x F(4×4)'s products there.
//!
//! ```text
//! y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,   d: 9×9 input tile, g: 3×3 kernel, y: 7×7 output tile
//! Aᵀ[i][2k] = p_k^i, Aᵀ[i][2k+1] = (−p_k)^i, Aᵀ[i][8] = [i = 6]   (p = 1, 2, ⅔, ¼)
//! ```
//!
//! Bᵀ and G are the Toom-Cook matrices of those points (derived with sympy:
//! `nn-core/bench-compare/winograd_points.py`, which also picked the points). Bᵀ's rows come in
//! pairs (+p, −p) that share the sums of the odd and even input positions, so a 1-D transform is
//! 4 pairs of such sums plus the ∞ row: about 40 operations for 9 values.
//!
//! The rounding error grows with the points' spread: on Gaussian data about 1.5·10⁻⁵ of the
//! largest output of a 64-channel tile in f32 (median; F(4×4): 2·10⁻⁶, F(6×6) on 0, ±1, ±2, ±½:
//! 4.5·10⁻⁶), which is why only the maps it fits well use it ([`super::tile_kind`]); about 30x
//! below the unit roundoff of TF32 (2⁻¹¹), which PyTorch's GPU convolutions use by default. The
//! weight gradient keeps F(4×4) ([`super::weight_kind`]). `direct/tests.rs` checks F(7×7)
//! against the naive convolution within 10⁻⁴ of the largest output.

// The transforms read one column of several rows: index loops are clearer.
#![allow(clippy::needless_range_loop)]
// The matrices' entries, as sympy printed them (f32 rounds them).
#![allow(clippy::excessive_precision)]

use super::separable;
use super::tile::{Tile, each};
use crate::simd::Simd;

/// The finite points' magnitudes: rows 2k and 2k + 1 of Bᵀ and G (columns of Aᵀ) are +p_k, −p_k.
const P: [f32; 4] = [1.0, 2.0, 0.6666666666666666, 0.25];
/// Bᵀ's row for +p_k on d1, d3, d5 (d7's entry is 1): the part the row for −p_k shares.
const BE: [[f32; 3]; 4] = [
    [-0.1111111111111111, 2.0555555555555554, -4.506944444444445],
    [
        -0.027777777777777776,
        0.5347222222222222,
        -1.5069444444444444,
    ],
    [-0.25, 4.3125, -5.0625],
    [-1.7777777777777777, 6.222222222222222, -5.444444444444445],
];
/// Bᵀ's row for +p_k on d0, d2, d4 (d6's entry is p_k): the part the row for −p_k negates.
const BO: [[f32; 3]; 4] = [
    [-0.1111111111111111, 2.0555555555555554, -4.506944444444445],
    [-0.05555555555555555, 1.0694444444444444, -3.013888888888889],
    [-0.16666666666666666, 2.875, -3.375],
    [-0.4444444444444444, 1.5555555555555556, -1.3611111111111112],
];
/// Bᵀ's ∞ row on d0, d2, d4, d6 (d8's entry is 1).
const BINF: [f32; 4] = [
    0.1111111111111111,
    -2.1666666666666665,
    6.5625,
    -5.506944444444445,
];
/// G (9×3).
pub(super) const G: [[f32; 3]; 9] = [
    [-0.32, -0.32, -0.32],
    [0.32, -0.32, 0.32],
    [
        0.005952380952380952,
        0.011904761904761904,
        0.023809523809523808,
    ],
    [
        -0.005952380952380952,
        0.011904761904761904,
        -0.023809523809523808,
    ],
    [0.9940909090909091, 0.6627272727272727, 0.44181818181818183],
    [
        -0.9940909090909091,
        0.6627272727272727,
        -0.44181818181818183,
    ],
    [
        -1.4185281385281385,
        -0.35463203463203463,
        -0.08865800865800866,
    ],
    [
        1.4185281385281385,
        -0.35463203463203463,
        0.08865800865800866,
    ],
    [0.0, 0.0, 1.0],
];

/// p_k^i for i = 0 .. 6: the columns of Aᵀ.
const POW: [[f32; 7]; 4] = [
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
    [
        1.0,
        0.6666666666666666,
        0.4444444444444444,
        0.2962962962962963,
        0.19753086419753085,
        0.13168724279835392,
        0.0877914951989026,
    ],
    [
        1.0,
        0.25,
        0.0625,
        0.015625,
        0.00390625,
        0.0009765625,
        0.000244140625,
    ],
];

// The transforms are written with nested functions, not closures (see `each!`).

/// c[0]·v[0] + c[1]·v[1] + c[2]·v[2] + last.
#[inline(always)]
unsafe fn dot3<S: Simd>(c: &[f32; 3], v: [S::V; 3], last: S::V) -> S::V {
    unsafe {
        S::fma(
            v[0],
            S::splat(c[0]),
            S::fma(v[1], S::splat(c[1]), S::fma(v[2], S::splat(c[2]), last)),
        )
    }
}

/// Rows +p_k and −p_k of Bᵀ d: the shared sum of the odd positions ± that of the even ones.
#[inline(always)]
unsafe fn bt_pair<S: Simd>(k: usize, d: &[S::V; 9]) -> (S::V, S::V) {
    unsafe {
        let e = dot3::<S>(&BE[k], [d[1], d[3], d[5]], d[7]);
        let o = dot3::<S>(&BO[k], [d[0], d[2], d[4]], S::mul(d[6], S::splat(P[k])));
        (S::add(e, o), S::sub(e, o))
    }
}

/// Bᵀ v of a 9-vector (one row or column of the input tile).
#[inline(always)]
unsafe fn bt<S: Simd>(d: [S::V; 9]) -> [S::V; 9] {
    unsafe {
        let [(a0, a1), (a2, a3), (a4, a5), (a6, a7)] =
            each!(k in [0, 1, 2, 3] => bt_pair::<S>(k, &d));
        let inf = dot3::<S>(
            &[BINF[0], BINF[1], BINF[2]],
            [d[0], d[2], d[4]],
            S::fma(d[6], S::splat(BINF[3]), d[8]),
        );
        [a0, a1, a2, a3, a4, a5, a6, a7, inf]
    }
}

/// Σ_k p_k^i v_k (p_0 = 1).
#[inline(always)]
unsafe fn at_row<S: Simd>(i: usize, v: &[S::V; 4]) -> S::V {
    unsafe { dot3::<S>(&[POW[1][i], POW[2][i], POW[3][i]], [v[1], v[2], v[3]], v[0]) }
}

/// Aᵀ v of a 9-vector: the 7 outputs, Σ_k p_k^i (m_{2k} ± m_{2k+1}) (+ m_8 for i = 6).
#[inline(always)]
unsafe fn at<S: Simd>(m: [S::V; 9]) -> [S::V; 7] {
    unsafe {
        let s = each!(k in [0, 1, 2, 3] => S::add(m[2 * k], m[2 * k + 1]));
        let d = each!(k in [0, 1, 2, 3] => S::sub(m[2 * k], m[2 * k + 1]));
        [
            S::add(S::add(s[0], s[1]), S::add(s[2], s[3])),
            at_row::<S>(1, &d),
            at_row::<S>(2, &s),
            at_row::<S>(3, &d),
            at_row::<S>(4, &s),
            at_row::<S>(5, &d),
            S::add(at_row::<S>(6, &s), m[8]),
        ]
    }
}

/// Values +p_k and −p_k of A y: the even powers' sum ± the odd powers'.
#[inline(always)]
unsafe fn a_pair<S: Simd>(k: usize, y: &[S::V; 7]) -> (S::V, S::V) {
    unsafe {
        let p = &POW[k];
        let e = dot3::<S>(&[p[6], p[4], p[2]], [y[6], y[4], y[2]], y[0]);
        let o = S::fma(
            y[5],
            S::splat(p[5]),
            S::fma(y[3], S::splat(p[3]), S::mul(y[1], S::splat(p[1]))),
        );
        (S::add(e, o), S::sub(e, o))
    }
}

/// A v of a 7-vector (the adjoint of [`at`]): the 9 values Σ_i (±p_k)^i y_i, and y_6 at ∞.
#[inline(always)]
unsafe fn a<S: Simd>(y: [S::V; 7]) -> [S::V; 9] {
    unsafe {
        let [(a0, a1), (a2, a3), (a4, a5), (a6, a7)] =
            each!(k in [0, 1, 2, 3] => a_pair::<S>(k, &y));
        [a0, a1, a2, a3, a4, a5, a6, a7, y[6]]
    }
}

/// G v of a kernel's row or column v.
pub(super) fn g(v: [f32; 3]) -> [f32; 9] {
    std::array::from_fn(|j| G[j][0] * v[0] + G[j][1] * v[1] + G[j][2] * v[2])
}

/// Gᵀ v of a 9-vector (the adjoint of [`g`]).
fn gt(v: [f32; 9]) -> [f32; 3] {
    std::array::from_fn(|c| (0..9).map(|j| G[j][c] * v[j]).sum())
}

/// Winograd F(7×7, 3×3), stride 1.
pub(crate) struct F7;

impl Tile for F7 {
    const M: usize = 7;
    const STRIDE: usize = 1;
    const Q: usize = 9;

    #[inline(always)]
    unsafe fn input_tile<S: Simd>(ld: impl Fn(usize, usize) -> S::V, out: *mut f32, stride: usize) {
        unsafe {
            // Rows first (each row's transform only needs that row), then the columns.
            let r = each!(i in [0, 1, 2, 3, 4, 5, 6, 7, 8] =>
                bt::<S>(each!(j in [0, 1, 2, 3, 4, 5, 6, 7, 8] => ld(i, j))));
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
            // Aᵀ per row of 9 positions, then per column of the 9 × 7 results.
            let s = each!(i in [0, 1, 2, 3, 4, 5, 6, 7, 8] =>
                at::<S>(each!(j in [0, 1, 2, 3, 4, 5, 6, 7, 8] => ld(9 * i + j))));
            for j in 0..7 {
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
            // A per row of 7 outputs, then per column of the 7 × 9 results.
            let r = each!(i in [0, 1, 2, 3, 4, 5, 6] =>
                a::<S>(each!(j in [0, 1, 2, 3, 4, 5, 6] => ld(i, j))));
            for j in 0..9 {
                let col = a::<S>(each!(i in [0, 1, 2, 3, 4, 5, 6] => r[i][j]));
                for (i, val) in col.into_iter().enumerate() {
                    S::store(out.add((i * 9 + j) * stride), val);
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

    /// The 1-D algorithm: Aᵀ [(G g) ⊙ (Bᵀ d)] is the correlation of d (9 values) with g (3),
    /// to f32 rounding, on the scalar vectors; and [`a`] is the adjoint of [`at`].
    #[test]
    fn one_dimensional_f7_is_the_correlation() {
        use crate::simd::Scalar;
        let d: [f32; 9] = std::array::from_fn(|i| (i as f32 * 0.7).sin());
        let k = [0.3f32, -1.1, 0.6];
        let lanes = |v: f32| [v; crate::simd::LANES];
        unsafe {
            let v = bt::<Scalar>(d.map(lanes));
            let u = g(k);
            let m: [_; 9] = std::array::from_fn(|e| v[e].map(|x| x * u[e]));
            let y = at::<Scalar>(m);
            for i in 0..7 {
                let want = d[i] * k[0] + d[i + 1] * k[1] + d[i + 2] * k[2];
                assert!(
                    (y[i][0] - want).abs() < 1e-5,
                    "output {i}: {} against {want}",
                    y[i][0]
                );
            }
            // <at(m), y> = <m, a(y)>
            let yv: [f32; 7] = std::array::from_fn(|i| (i as f32 * 1.3).cos());
            let am = a::<Scalar>(yv.map(lanes));
            let lhs: f32 = (0..7).map(|i| y[i][0] * yv[i]).sum();
            let rhs: f32 = (0..9).map(|e| m[e][0] * am[e][0]).sum();
            assert!(
                (lhs - rhs).abs() < 1e-4 * (1.0 + lhs.abs()),
                "{lhs} against {rhs}"
            );
        }
    }
}
