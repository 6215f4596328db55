//! A single-threaded entry to the GEMM seam, for kernels that are already parallel outside the
//! product (e.g. convolution, which runs one GEMM per batch chunk on every rayon worker).
//!
//! Calling the parallel [`super::gemm`] from inside a rayon task would nest a second level of
//! parallelism into each worker (task splitting and per-thread packing for nothing, since all
//! workers are already busy). Same kernel, same blocking: the result is bitwise identical to
//! [`super::gemm`]'s, because the `gemm` crate only splits the output tiles between threads, never
//! the k reduction.

use ndarray::{ArrayView2, ArrayViewMut2};

/// C ← α·A·B + β·C on the calling thread, for A (m×k), B (k×n), C (m×n) with any strides. With
/// `beta == 0` the previous contents of C are ignored (may be garbage, even NaN).
///
/// # Panics
/// If the shapes do not agree; the message names the shapes.
pub fn gemm_serial(
    alpha: f32,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    beta: f32,
    c: ArrayViewMut2<'_, f32>,
) {
    super::gemm::gemm_with(alpha, a, b, beta, c, false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn equals_the_parallel_seam_bitwise() {
        let a = Array2::from_shape_fn((130, 300), |(i, j)| {
            ((i * 7 + j * 3) % 17) as f32 * 0.37 - 2.0
        });
        let b = Array2::from_shape_fn((300, 90), |(i, j)| ((i * 5 + j) % 13) as f32 * 0.21 - 1.0);
        let mut c1 = Array2::from_elem((130, 90), f32::NAN);
        let mut c2 = Array2::from_elem((130, 90), f32::NAN);
        super::super::gemm(1.0, a.view(), b.view(), 0.0, c1.view_mut());
        gemm_serial(1.0, a.view(), b.view(), 0.0, c2.view_mut());
        assert_eq!(c1, c2);
        let mut d = Array2::ones((90, 130));
        gemm_serial(2.0, b.t(), a.t(), 1.0, d.view_mut());
        assert_eq!(d, c1.t().mapv(|v| 2.0 * v + 1.0));
    }
}
