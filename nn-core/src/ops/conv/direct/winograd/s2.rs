//! Winograd F(2×2, 3×3) at stride 2: 25 multiplications per 2×2 output tile and channel pair
//! instead of 36 (1.44x fewer), from a 5×5 input tile. Along each axis the stride-2 kernel
//! (g0, g1, g2) splits by the parity of the input (the polyphase split): the even samples
//! (d0, d2, d4) meet the 2-tap kernel (g0, g2), which Winograd F(2, 2) computes with 3
//! multiplications for 2 outputs, and the odd samples (d1, d3) meet g1 alone (2 more):
//!
//! ```text
//! y0 = g0·d0 + g1·d1 + g2·d2 = (d0 − d2)·g0 + d2·(g0 + g2) + d1·g1
//! y1 = g0·d2 + g1·d3 + g2·d4 = d2·(g0 + g2) + (d4 − d2)·g2 + d3·g1
//! Bᵀ d = (d0 − d2, d2, d4 − d2, d1, d3),  G g = (g0, g0 + g2, g2, g1, g1),
//! Aᵀ m = (m0 + m1 + m3, m1 + m2 + m4)
//! ```
//!
//! The 2-D tile is the product of two such axes (5 × 5 positions). Every matrix holds only 0 and
//! ±1, so on small integers it is exact, and its rounding is that of a sum of a few products.
//! Lavin & Gray (2016) give the stride-1 algorithms; the split of a strided convolution into
//! stride-1 phases is the polyphase decomposition of multirate filter banks.

// The transforms read one column of several rows: index loops are clearer.
#![allow(clippy::needless_range_loop)]

use super::tile::{Tile, each};
use crate::simd::Simd;

/// Winograd F(2×2, 3×3) at stride 2.
pub(crate) struct S2;

// The transforms take and return arrays built element by element, not with closures (a closure
// that is not inlined runs without the caller's `#[target_feature]`s, one call per intrinsic).

/// Bᵀ v of a 5-vector (a row or column of the input tile).
#[inline(always)]
pub(super) unsafe fn bt<S: Simd>(d: [S::V; 5]) -> [S::V; 5] {
    unsafe { [S::sub(d[0], d[2]), d[2], S::sub(d[4], d[2]), d[1], d[3]] }
}

/// Aᵀ v of a 5-vector: the 2 outputs.
#[inline(always)]
unsafe fn at<S: Simd>(m: [S::V; 5]) -> [S::V; 2] {
    unsafe {
        [
            S::add(S::add(m[0], m[1]), m[3]),
            S::add(S::add(m[1], m[2]), m[4]),
        ]
    }
}

/// A v of a 2-vector (the adjoint of [`at`]).
#[inline(always)]
unsafe fn a<S: Simd>(y: [S::V; 2]) -> [S::V; 5] {
    unsafe { [y[0], S::add(y[0], y[1]), y[1], y[0], y[1]] }
}

/// G v of a kernel's row or column v.
fn g(v: [f32; 3]) -> [f32; 5] {
    [v[0], v[0] + v[2], v[2], v[1], v[1]]
}

/// Gᵀ v of a 5-vector (the adjoint of [`g`]).
fn gt(v: [f32; 5]) -> [f32; 3] {
    [v[0] + v[1], v[3] + v[4], v[1] + v[2]]
}

impl Tile for S2 {
    const M: usize = 2;
    const STRIDE: usize = 2;
    const Q: usize = 5;

    #[inline(always)]
    unsafe fn input_tile<S: Simd>(ld: impl Fn(usize, usize) -> S::V, out: *mut f32, stride: usize) {
        unsafe {
            let r = each!(i in [0, 1, 2, 3, 4] => bt::<S>([ld(i, 0), ld(i, 1), ld(i, 2), ld(i, 3), ld(i, 4)]));
            for j in 0..5 {
                let col = bt::<S>([r[0][j], r[1][j], r[2][j], r[3][j], r[4][j]]);
                for (i, v) in col.into_iter().enumerate() {
                    S::store(out.add((5 * i + j) * stride), v);
                }
            }
        }
    }

    #[inline(always)]
    unsafe fn output_tile<S: Simd>(ld: impl Fn(usize) -> S::V, put: impl Fn(usize, usize, S::V)) {
        unsafe {
            let s = each!(i in [0, 1, 2, 3, 4] => {
                let e = 5 * i;
                at::<S>([ld(e), ld(e + 1), ld(e + 2), ld(e + 3), ld(e + 4)])
            });
            for j in 0..2 {
                let col = at::<S>([s[0][j], s[1][j], s[2][j], s[3][j], s[4][j]]);
                for (i, v) in col.into_iter().enumerate() {
                    put(i, j, v);
                }
            }
        }
    }

    #[inline(always)]
    unsafe fn grad_tile<S: Simd>(ld: impl Fn(usize, usize) -> S::V, out: *mut f32, stride: usize) {
        unsafe {
            let r = [a::<S>([ld(0, 0), ld(0, 1)]), a::<S>([ld(1, 0), ld(1, 1)])];
            for j in 0..5 {
                let col = a::<S>([r[0][j], r[1][j]]);
                for (i, v) in col.into_iter().enumerate() {
                    S::store(out.add((5 * i + j) * stride), v);
                }
            }
        }
    }

    #[inline(always)]
    fn kernel(k: &[f32; 9], u: &mut [f32]) {
        let t = super::separable(k, g);
        u[..25].copy_from_slice(t.as_flattened());
    }

    #[inline(always)]
    fn kernel_grad(du: &[f32]) -> [[f32; 3]; 3] {
        super::separable(du, gt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 1-D algorithm against the stride-2 sums it replaces, on integers (exact).
    #[test]
    fn one_axis_matches_the_strided_sums() {
        let d = [3.0f32, -1.0, 4.0, 1.0, -5.0];
        let k = [2.0f32, 7.0, -1.0];
        let (v, u) = ([d[0] - d[2], d[2], d[4] - d[2], d[1], d[3]], g(k));
        let m: Vec<f32> = v.iter().zip(u).map(|(a, b)| a * b).collect();
        let y = [m[0] + m[1] + m[3], m[1] + m[2] + m[4]];
        let want = [
            k[0] * d[0] + k[1] * d[1] + k[2] * d[2],
            k[0] * d[2] + k[1] * d[3] + k[2] * d[4],
        ];
        assert_eq!(y, want);
        // Gᵀ is G's adjoint: <G k, w> = <k, Gᵀ w>.
        let w = [1.0f32, -2.0, 3.0, 5.0, -7.0];
        let lhs: f32 = g(k).iter().zip(w).map(|(a, b)| a * b).sum();
        let rhs: f32 = k.iter().zip(gt(w)).map(|(a, b)| a * b).sum();
        assert_eq!(lhs, rhs);
    }
}
