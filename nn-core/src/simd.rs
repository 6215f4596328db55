//! Runtime-dispatched SIMD for the hand-written kernels (convolution, normalisation, pointwise).
//!
//! Kernels are written once, generic over `Simd`: a 16-lane `f32` vector with the few
//! operations they need. [`Isa::detect`] picks, at run time, the best implementation the CPU
//! has: AVX-512F (one 512-bit register per vector), AVX2 + FMA (two 256-bit registers) or
//! portable scalar code. So one binary runs fast on Intel and AMD Zen 4 (AVX-512) and on older
//! x86-64 (AVX2) without `-C target-cpu=native`.
//!
//! A generic kernel becomes machine code for one ISA inside a function carrying that ISA's
//! `#[target_feature]` (see `dispatch!`): the vector operations are `#[inline(always)]`, so
//! they are inlined there and compiled with the features enabled.
//!
//! The vector operations are lane-wise IEEE add, mul and fused multiply-add on every ISA (the
//! scalar fallback uses `f32::mul_add`, which is fused too), so a kernel that adds in the same
//! order on every ISA gives the same bits. Not every kernel does: register blocks are sized by
//! `Simd::REGS`, and where a block's width sets the order of additions (the strided input
//! gradient's scatter, the order of contributions to one input pixel) the last bits can differ
//! between ISAs. The same ISA gives the same bits whatever the number of threads.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;
use std::sync::OnceLock;

/// Lanes of a [`Simd`] vector: kernels block channels by this many.
pub(crate) const LANES: usize = 16;

/// A 16-lane `f32` vector and its operations. Every function is `unsafe`: loads and stores
/// take raw pointers to 16 valid floats, and the x86 implementations may only run on a CPU with
/// their features (guaranteed by [`dispatch!`]).
pub(crate) trait Simd: Copy + Send + Sync + 'static {
    /// The vector type.
    type V: Copy;
    /// How many vectors fit in the register file (kernels size their register blocks by it).
    const REGS: usize;
    /// All lanes 0.
    unsafe fn zero() -> Self::V;
    /// All lanes `v`.
    unsafe fn splat(v: f32) -> Self::V;
    /// 16 floats from `p` (unaligned).
    unsafe fn load(p: *const f32) -> Self::V;
    /// 16 floats to `p` (unaligned).
    unsafe fn store(p: *mut f32, v: Self::V);
    /// a·b + c, fused.
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// a + b.
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// a − b.
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    /// a · b.
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// max(a, 0) lane-wise with PyTorch's ReLU semantics (NaN stays NaN).
    unsafe fn relu(a: Self::V) -> Self::V;
    /// 0 where `y <= 0`, else `g` (a NaN `y` passes `g`, as PyTorch's `threshold_backward`).
    unsafe fn mask_pos(g: Self::V, y: Self::V) -> Self::V;
    /// Every bit of every lane set if `on`, else all lanes +0.0: a mask for [`Simd::and`].
    unsafe fn keep(on: bool) -> Self::V;
    /// The bitwise and of `a` and `b` (with a [`Simd::keep`] mask: `a` or +0.0).
    unsafe fn and(a: Self::V, b: Self::V) -> Self::V;

    /// `*p` broadcast, times `b`, plus `c`.
    #[inline(always)]
    unsafe fn bcast_fma(p: *const f32, b: Self::V, c: Self::V) -> Self::V {
        unsafe { Self::fma(Self::splat(*p), b, c) }
    }
    /// The first `n` (≤ 16) floats from `p`, zeros after.
    #[inline(always)]
    unsafe fn load_n(p: *const f32, n: usize) -> Self::V {
        let mut t = [0.0f32; LANES];
        unsafe {
            std::ptr::copy_nonoverlapping(p, t.as_mut_ptr(), n.min(LANES));
            Self::load(t.as_ptr())
        }
    }
    /// The first `n` (≤ 16) lanes of `v` to `p`.
    #[inline(always)]
    unsafe fn store_n(p: *mut f32, v: Self::V, n: usize) {
        let mut t = [0.0f32; LANES];
        unsafe {
            Self::store(t.as_mut_ptr(), v);
            std::ptr::copy_nonoverlapping(t.as_ptr(), p, n.min(LANES));
        }
    }
}

/// Portable 16-lane vectors (the compiler vectorises what it can).
#[derive(Clone, Copy)]
pub(crate) struct Scalar;

impl Simd for Scalar {
    type V = [f32; LANES];
    const REGS: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> Self::V {
        [0.0; LANES]
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self::V {
        [v; LANES]
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self::V {
        unsafe { std::ptr::read_unaligned(p.cast::<[f32; LANES]>()) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self::V) {
        unsafe { std::ptr::write_unaligned(p.cast::<[f32; LANES]>(), v) }
    }
    #[inline(always)]
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        std::array::from_fn(|i| a[i].mul_add(b[i], c[i]))
    }
    #[inline(always)]
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V {
        std::array::from_fn(|i| a[i] + b[i])
    }
    #[inline(always)]
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V {
        std::array::from_fn(|i| a[i] - b[i])
    }
    #[inline(always)]
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V {
        std::array::from_fn(|i| a[i] * b[i])
    }
    #[inline(always)]
    unsafe fn relu(a: Self::V) -> Self::V {
        a.map(|v| if v <= 0.0 { 0.0 } else { v })
    }
    #[inline(always)]
    unsafe fn mask_pos(g: Self::V, y: Self::V) -> Self::V {
        std::array::from_fn(|i| if y[i] <= 0.0 { 0.0 } else { g[i] })
    }
    #[inline(always)]
    unsafe fn keep(on: bool) -> Self::V {
        [f32::from_bits(if on { u32::MAX } else { 0 }); LANES]
    }
    #[inline(always)]
    unsafe fn and(a: Self::V, b: Self::V) -> Self::V {
        std::array::from_fn(|i| f32::from_bits(a[i].to_bits() & b[i].to_bits()))
    }
}

/// AVX-512F: one `__m512` per vector.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Avx512;

#[cfg(target_arch = "x86_64")]
impl Simd for Avx512 {
    type V = __m512;
    const REGS: usize = 32;
    #[inline(always)]
    unsafe fn zero() -> __m512 {
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> __m512 {
        unsafe { _mm512_set1_ps(v) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_sub_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn relu(a: __m512) -> __m512 {
        // Lanes with a <= 0 become 0; NaN lanes (unordered) keep a.
        unsafe {
            let le = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(a, _mm512_setzero_ps());
            _mm512_mask_mov_ps(a, le, _mm512_setzero_ps())
        }
    }
    #[inline(always)]
    unsafe fn mask_pos(g: __m512, y: __m512) -> __m512 {
        unsafe {
            // Not (y <= 0): true for y > 0 and for NaN (unordered).
            let keep = _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(y, _mm512_setzero_ps());
            _mm512_maskz_mov_ps(keep, g)
        }
    }
    #[inline(always)]
    unsafe fn keep(on: bool) -> __m512 {
        unsafe { _mm512_castsi512_ps(_mm512_set1_epi32(-(on as i32))) }
    }
    #[inline(always)]
    unsafe fn and(a: __m512, b: __m512) -> __m512 {
        unsafe {
            _mm512_castsi512_ps(_mm512_and_si512(
                _mm512_castps_si512(a),
                _mm512_castps_si512(b),
            ))
        }
    }
    #[inline(always)]
    unsafe fn load_n(p: *const f32, n: usize) -> __m512 {
        unsafe { _mm512_maskz_loadu_ps(((1u32 << n.min(16)) - 1) as u16, p) }
    }
    #[inline(always)]
    unsafe fn store_n(p: *mut f32, v: __m512, n: usize) {
        unsafe { _mm512_mask_storeu_ps(p, ((1u32 << n.min(16)) - 1) as u16, v) }
    }
}

/// AVX2 + FMA: two `__m256` per vector.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Simd for Avx2 {
    type V = (__m256, __m256);
    const REGS: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> Self::V {
        unsafe { (_mm256_setzero_ps(), _mm256_setzero_ps()) }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self::V {
        unsafe { (_mm256_set1_ps(v), _mm256_set1_ps(v)) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self::V {
        unsafe { (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8))) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self::V) {
        unsafe {
            _mm256_storeu_ps(p, v.0);
            _mm256_storeu_ps(p.add(8), v.1);
        }
    }
    #[inline(always)]
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        unsafe {
            (
                _mm256_fmadd_ps(a.0, b.0, c.0),
                _mm256_fmadd_ps(a.1, b.1, c.1),
            )
        }
    }
    #[inline(always)]
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V {
        unsafe { (_mm256_add_ps(a.0, b.0), _mm256_add_ps(a.1, b.1)) }
    }
    #[inline(always)]
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V {
        unsafe { (_mm256_sub_ps(a.0, b.0), _mm256_sub_ps(a.1, b.1)) }
    }
    #[inline(always)]
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V {
        unsafe { (_mm256_mul_ps(a.0, b.0), _mm256_mul_ps(a.1, b.1)) }
    }
    #[inline(always)]
    unsafe fn relu(a: Self::V) -> Self::V {
        unsafe {
            let z = _mm256_setzero_ps();
            let f = |v: __m256| {
                let le = _mm256_cmp_ps::<_CMP_LE_OQ>(v, z);
                _mm256_andnot_ps(le, v)
            };
            (f(a.0), f(a.1))
        }
    }
    #[inline(always)]
    unsafe fn mask_pos(g: Self::V, y: Self::V) -> Self::V {
        unsafe {
            let z = _mm256_setzero_ps();
            (
                _mm256_and_ps(_mm256_cmp_ps::<_CMP_NLE_UQ>(y.0, z), g.0),
                _mm256_and_ps(_mm256_cmp_ps::<_CMP_NLE_UQ>(y.1, z), g.1),
            )
        }
    }
    #[inline(always)]
    unsafe fn keep(on: bool) -> Self::V {
        unsafe {
            let m = _mm256_castsi256_ps(_mm256_set1_epi32(-(on as i32)));
            (m, m)
        }
    }
    #[inline(always)]
    unsafe fn and(a: Self::V, b: Self::V) -> Self::V {
        unsafe { (_mm256_and_ps(a.0, b.0), _mm256_and_ps(a.1, b.1)) }
    }
    #[inline(always)]
    unsafe fn bcast_fma(p: *const f32, b: Self::V, c: Self::V) -> Self::V {
        unsafe {
            let s = _mm256_broadcast_ss(&*p);
            (_mm256_fmadd_ps(s, b.0, c.0), _mm256_fmadd_ps(s, b.1, c.1))
        }
    }
}

/// The instruction sets the kernels are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F.
    Avx512,
    /// AVX2 with FMA.
    Avx2,
    /// Portable code.
    Scalar,
}

impl Isa {
    /// The best instruction set of this CPU (detected once). `NN_SIMD=avx2|scalar` in the
    /// environment caps it (for testing and comparisons).
    pub fn detect() -> Isa {
        static ISA: OnceLock<Isa> = OnceLock::new();
        *ISA.get_or_init(|| {
            let cap = std::env::var("NN_SIMD").unwrap_or_default();
            let best = Isa::best_supported();
            match (cap.as_str(), best) {
                ("scalar", _) => Isa::Scalar,
                ("avx2", Isa::Avx512) => Isa::Avx2, // AVX-512 support includes AVX2 + FMA
                _ => best,
            }
        })
    }

    fn best_supported() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            // The AVX-512 kernels are compiled with AVX2 and FMA enabled too (`dispatch!`):
            // every AVX-512 CPU has them, but a virtual machine may hide some.
            for isa in [Isa::Avx512, Isa::Avx2] {
                if isa.is_supported() {
                    return isa;
                }
            }
        }
        Isa::Scalar
    }

    /// Whether this CPU can run code for `self`.
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

/// Defines `fn $name(isa: Isa, args...) -> R` that runs the generic body `$body::<S>(args...)`
/// compiled for `isa` (AVX-512F, AVX2 + FMA or scalar). The caller must pass an `isa` the CPU
/// supports ([`Isa::detect`] or a supported one).
macro_rules! dispatch {
    ($vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? = $body:ident $(::<$($gen:tt),*>)?) => {
        #[allow(clippy::too_many_arguments)]
        $vis fn $name(isa: $crate::simd::Isa, $($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                $body::<$crate::simd::Avx512 $($(, $gen)*)?>($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                $body::<$crate::simd::Avx2 $($(, $gen)*)?>($($arg),*)
            }
            match isa {
                // SAFETY: `isa` is supported by this CPU (the caller's contract, checked in
                // debug builds).
                #[cfg(target_arch = "x86_64")]
                $crate::simd::Isa::Avx512 => {
                    debug_assert!(isa.is_supported());
                    unsafe { avx512($($arg),*) }
                }
                #[cfg(target_arch = "x86_64")]
                $crate::simd::Isa::Avx2 => {
                    debug_assert!(isa.is_supported());
                    unsafe { avx2($($arg),*) }
                }
                _ => $body::<$crate::simd::Scalar $($(, $gen)*)?>($($arg),*),
            }
        }
    };
}
pub(crate) use dispatch;

#[cfg(test)]
mod tests {
    use super::*;

    /// `relu(y)` and `mask_pos(g, y)` of one vector.
    #[inline(always)]
    fn relu_and_mask<S: Simd>(y: &[f32; LANES], g: &[f32; LANES], out: &mut [[f32; LANES]; 2]) {
        // SAFETY: every pointer covers 16 floats.
        unsafe {
            let (yv, gv) = (S::load(y.as_ptr()), S::load(g.as_ptr()));
            S::store(out[0].as_mut_ptr(), S::relu(yv));
            S::store(out[1].as_mut_ptr(), S::mask_pos(gv, yv));
        }
    }
    dispatch!(fn run(y: &[f32; LANES], g: &[f32; LANES], out: &mut [[f32; LANES]; 2]) = relu_and_mask);

    /// ReLU and its gradient mask follow `ops::relu` on every instruction set of this CPU:
    /// 0 where y ≤ 0 (also −0), NaN kept by ReLU and passing the gradient (PyTorch's `relu` and
    /// `threshold_backward`).
    #[test]
    fn relu_and_its_mask_agree_with_the_scalar_rule_on_every_isa() {
        let mut y = [0.0f32; LANES];
        let special = [
            f32::NAN,
            -0.0,
            0.0,
            -1.5,
            2.5,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e-38,
        ];
        for (i, v) in y.iter_mut().enumerate() {
            *v = special[i % special.len()] * if i >= 8 { -1.0 } else { 1.0 };
        }
        let g: [f32; LANES] = std::array::from_fn(|i| i as f32 + 1.0);
        for isa in [Isa::Scalar, Isa::Avx2, Isa::Avx512] {
            if !isa.is_supported() {
                continue;
            }
            let mut out = [[0.0f32; LANES]; 2];
            run(isa, &y, &g, &mut out);
            for i in 0..LANES {
                let (r, m) = (
                    crate::ops::relu::relu(y[i]),
                    crate::ops::relu::relu_grad(g[i], y[i]),
                );
                assert_eq!(out[0][i].to_bits(), r.to_bits(), "{isa:?} relu({})", y[i]);
                assert_eq!(
                    out[1][i].to_bits(),
                    m.to_bits(),
                    "{isa:?} mask at y = {}",
                    y[i]
                );
            }
        }
    }

    /// `and(v, keep(on))` of one vector, for `on` false and true.
    #[inline(always)]
    fn masked<S: Simd>(v: &[f32; LANES], out: &mut [[f32; LANES]; 2]) {
        // SAFETY: every pointer covers 16 floats.
        unsafe {
            let x = S::load(v.as_ptr());
            S::store(out[0].as_mut_ptr(), S::and(x, S::keep(false)));
            S::store(out[1].as_mut_ptr(), S::and(x, S::keep(true)));
        }
    }
    dispatch!(fn run_masked(v: &[f32; LANES], out: &mut [[f32; LANES]; 2]) = masked);

    /// A `keep` mask passes every bit of every lane (NaN payloads, −0, infinities) or gives
    /// +0.0, on every instruction set of this CPU: what a zero-padded copy would hold.
    #[test]
    fn keep_masks_pass_every_bit_or_give_positive_zero() {
        let v: [f32; LANES] = std::array::from_fn(|i| match i % 5 {
            0 => f32::from_bits(0x7fc0_1234),
            1 => -0.0,
            2 => f32::NEG_INFINITY,
            3 => -1.25e-40,
            _ => i as f32 * -3.5,
        });
        for isa in [Isa::Scalar, Isa::Avx2, Isa::Avx512] {
            if !isa.is_supported() {
                continue;
            }
            let mut out = [[1.0f32; LANES]; 2];
            run_masked(isa, &v, &mut out);
            for i in 0..LANES {
                assert_eq!(out[0][i].to_bits(), 0, "{isa:?} masked lane {i}");
                assert_eq!(out[1][i].to_bits(), v[i].to_bits(), "{isa:?} kept lane {i}");
            }
        }
    }

    /// AVX-512 is only reported where its kernels (compiled with AVX2 and FMA too) can run.
    #[test]
    fn avx512_support_includes_avx2_and_fma() {
        if Isa::Avx512.is_supported() {
            assert!(Isa::Avx2.is_supported());
        }
        assert!(Isa::detect().is_supported());
    }
}
