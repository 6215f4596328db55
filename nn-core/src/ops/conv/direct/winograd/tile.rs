//! The Winograd tile algorithms as one interface: a [`Tile`] has an output side m, a stride and
//! a transformed side Q (Q² positions, the multiplications per tile and channel pair), and its
//! transforms; [`Kind`] names one at run time.
//!
//! ```text
//! y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A   (forward; the input tile d is Q × Q)
//! dM = A dY Aᵀ,  dU_e = Σ_tiles V_eᵀ dM_e,  dW = Gᵀ dU G   (weight gradient)
//! ```

use super::{f2::F2, f4::F4, f7::F7, s2::S2, s4::S4};
use crate::simd::Simd;

/// The largest input (and transformed) tile side of any [`Tile`] (F(7×7)'s 9): the fixed-size
/// scratch arrays of the transforms and of the kernel packing hold `MAX_Q` rows or `MAX_Q²`
/// positions.
pub(crate) const MAX_Q: usize = 9;

// Every tile algorithm fits the fixed-size arrays.
const _: () =
    assert!(F2::Q <= MAX_Q && F4::Q <= MAX_Q && F7::Q <= MAX_Q && S2::Q <= MAX_Q && S4::Q <= MAX_Q);

/// One Winograd F(m×m, 3×3) algorithm for a 3×3 kernel at one stride.
pub(crate) trait Tile {
    /// The output tile's side m.
    const M: usize;
    /// The convolution's stride (1 or 2).
    const STRIDE: usize;
    /// The input tile's side, which is also the transformed tile's: Q² positions.
    const Q: usize;
    /// Input pixels from one tile to the next: m · stride.
    const STEP: usize = Self::M * Self::STRIDE;

    /// Bᵀ d B of one Q×Q tile of 16 channels whose pixel (i, j) is `ld(i, j)`: position
    /// e = Q·i + j to `out + e·stride`.
    ///
    /// # Safety
    /// `out + e·stride .. + 16` must be writable for e < Q².
    unsafe fn input_tile<S: Simd>(ld: impl Fn(usize, usize) -> S::V, out: *mut f32, stride: usize);

    /// Aᵀ M A of one tile whose position e is `ld(e)`: output (i, j) to `put`.
    ///
    /// # Safety
    /// The CPU must support `S`.
    unsafe fn output_tile<S: Simd>(ld: impl Fn(usize) -> S::V, put: impl Fn(usize, usize, S::V));

    /// A dY Aᵀ of one m×m output-gradient tile whose pixel (i, j) is `ld(i, j)`: position e to
    /// `out + e·stride`.
    ///
    /// # Safety
    /// `out + e·stride .. + 16` must be writable for e < Q².
    unsafe fn grad_tile<S: Simd>(ld: impl Fn(usize, usize) -> S::V, out: *mut f32, stride: usize);

    /// G g Gᵀ of a 3×3 kernel `k` (row-major) into `u` (Q² values, row-major).
    fn kernel(k: &[f32; 9], u: &mut [f32]);

    /// Gᵀ dU G of Q² values `du` (row-major): the 3×3 kernel gradient.
    fn kernel_grad(du: &[f32]) -> [[f32; 3]; 3];
}

/// A [`Tile`] named at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// F(2×2, 3×3), stride 1 (`f2`).
    F2,
    /// F(4×4, 3×3), stride 1 (`f4`).
    F4,
    /// F(7×7, 3×3), stride 1 (`f7`).
    F7,
    /// F(2×2, 3×3) at stride 2, in phases (`s2`).
    S2,
    /// F(4×4, 3×3) at stride 2, in phases (`s4`).
    S4,
}

impl Kind {
    /// The output tile's side m.
    pub(crate) const fn m(self) -> usize {
        match self {
            Kind::F2 => F2::M,
            Kind::F4 => F4::M,
            Kind::F7 => F7::M,
            Kind::S2 => S2::M,
            Kind::S4 => S4::M,
        }
    }
    /// The convolution's stride.
    pub(crate) const fn stride(self) -> usize {
        match self {
            Kind::F2 => F2::STRIDE,
            Kind::F4 => F4::STRIDE,
            Kind::F7 => F7::STRIDE,
            Kind::S2 => S2::STRIDE,
            Kind::S4 => S4::STRIDE,
        }
    }
    /// The input (and transformed) tile's side Q.
    pub(crate) const fn q(self) -> usize {
        match self {
            Kind::F2 => F2::Q,
            Kind::F4 => F4::Q,
            Kind::F7 => F7::Q,
            Kind::S2 => S2::Q,
            Kind::S4 => S4::Q,
        }
    }
}

/// Evaluates `$body` with the type alias `$T` set to the [`Tile`] of the [`Kind`] `$kind`.
macro_rules! by_kind {
    ($kind:expr, $T:ident => $body:expr) => {
        match $kind {
            $crate::ops::conv::direct::winograd::Kind::F2 => {
                type $T = $crate::ops::conv::direct::winograd::f2::F2;
                $body
            }
            $crate::ops::conv::direct::winograd::Kind::F4 => {
                type $T = $crate::ops::conv::direct::winograd::f4::F4;
                $body
            }
            $crate::ops::conv::direct::winograd::Kind::F7 => {
                type $T = $crate::ops::conv::direct::winograd::f7::F7;
                $body
            }
            $crate::ops::conv::direct::winograd::Kind::S2 => {
                type $T = $crate::ops::conv::direct::winograd::s2::S2;
                $body
            }
            $crate::ops::conv::direct::winograd::Kind::S4 => {
                type $T = $crate::ops::conv::direct::winograd::s4::S4;
                $body
            }
        }
    };
}
pub(crate) use by_kind;

/// `[e(i₀), e(i₁), ..]` for the listed indices, written out: `each!(i in [0, 1, 2] => f(i))`.
/// The transforms build their arrays of vectors with it instead of a closure (which can stay out
/// of line and then runs without the caller's `#[target_feature]`s, one call per intrinsic) or
/// a zero-filled array overwritten in a loop (which lives on the stack and is cleared by a
/// `memset` first: F(4×4)'s 6×6 rows were 2.3 KB cleared per tile and 16 channels, about 4 % of
/// a 16→16 weight gradient).
macro_rules! each {
    ($i:ident in [$($n:literal),* $(,)?] => $e:expr) => {
        [$({
            let $i: usize = $n;
            $e
        }),*]
    };
}
pub(crate) use each;
