//! The one GEMM seam of the workspace: every matrix product (matmul, linear layers, convolution
//! via im2col) goes through [`gemm`], so the kernel can be swapped in one place.
//!
//! The kernel is the [`gemm`](https://crates.io/crates/gemm) crate (runtime-dispatched AVX2 /
//! AVX-512 micro-kernels) on the rayon pool. It takes row and column strides for every operand, so
//! transposed operands (`Aᵀ·B` in backward passes) need no copy.

use ndarray::{ArrayView2, ArrayViewMut2};

/// Below this many multiply-adds (m·n·k) a product runs on the calling thread: spawning rayon
/// tasks costs more than it saves.
const PARALLEL_THRESHOLD: usize = 48 * 48 * 48;

/// C ← α·A·B + β·C for A (m×k), B (k×n), C (m×n), with any strides (transposed views included).
/// With `beta == 0` the previous contents of C are ignored (may be uninitialised garbage, even
/// NaN).
///
/// # Panics
/// If the shapes do not agree; the message names the shapes.
pub fn gemm(
    alpha: f32,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    beta: f32,
    mut c: ArrayViewMut2<'_, f32>,
) {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    assert!(
        k == k2 && c.dim() == (m, n),
        "gemm: cannot compute C{:?} = A{:?}·B{:?}",
        c.dim(),
        a.dim(),
        b.dim()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if beta == 0.0 {
            c.fill(0.0);
        } else {
            c *= beta;
        }
        return;
    }
    let parallelism = if m * n * k >= PARALLEL_THRESHOLD && rayon::current_num_threads() > 1 {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    } else {
        gemm::Parallelism::None
    };
    let [a_rs, a_cs] = [a.strides()[0], a.strides()[1]];
    let [b_rs, b_cs] = [b.strides()[0], b.strides()[1]];
    let [c_rs, c_cs] = [c.strides()[0], c.strides()[1]];
    // SAFETY: the views are valid for their shapes and strides (ndarray guarantees it); `c` is a
    // unique mutable view, so it does not alias `a` or `b`; dimensions were checked above. The
    // `gemm` crate computes dst := alpha·dst + beta·lhs·rhs, reading dst only if `read_dst`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            c_cs,
            c_rs,
            beta != 0.0,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            beta,
            alpha,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn naive(a: &Array2<f32>, b: &Array2<f32>) -> Array2<f32> {
        let (m, k) = a.dim();
        let n = b.ncols();
        Array2::from_shape_fn((m, n), |(i, j)| (0..k).map(|p| a[[i, p]] * b[[p, j]]).sum())
    }

    #[test]
    fn matches_naive_with_transposes_alpha_and_beta() {
        let a = Array2::from_shape_fn((70, 50), |(i, j)| ((i * 7 + j * 3) % 11) as f32 - 5.0);
        let b = Array2::from_shape_fn((50, 60), |(i, j)| ((i * 5 + j) % 13) as f32 - 6.0);
        let expect = naive(&a, &b);
        let mut c = Array2::from_elem((70, 60), f32::NAN);
        gemm(1.0, a.view(), b.view(), 0.0, c.view_mut());
        assert_eq!(c, expect);
        // Transposed operands: (Bᵀ·Aᵀ)ᵀ = A·B.
        let at = a.t().to_owned();
        let bt = b.t().to_owned();
        let mut ct = Array2::zeros((60, 70));
        gemm(1.0, bt.view(), at.view(), 0.0, ct.view_mut());
        assert_eq!(ct.t(), expect);
        let mut d = Array2::ones((70, 60));
        gemm(2.0, at.t(), bt.t(), 3.0, d.view_mut());
        assert_eq!(d, expect.mapv(|v| 2.0 * v + 3.0));
    }
}
