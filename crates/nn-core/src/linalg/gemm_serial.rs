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
    mut c: ArrayViewMut2<'_, f32>,
) {
    let (m, k) = a.dim();
    let (k2, n) = b.dim();
    assert!(
        k == k2 && c.dim() == (m, n),
        "gemm_serial: cannot compute C{:?} = A{:?}·B{:?}",
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
    let [a_rs, a_cs] = [a.strides()[0], a.strides()[1]];
    let [b_rs, b_cs] = [b.strides()[0], b.strides()[1]];
    let [c_rs, c_cs] = [c.strides()[0], c.strides()[1]];
    // SAFETY: as in `super::gemm`: the views are valid for their shapes and strides, `c` is a
    // unique mutable view (no aliasing with `a`, `b`), dimensions were checked above. The `gemm`
    // crate computes dst := alpha·dst + beta·lhs·rhs, reading dst only if `read_dst`.
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
            gemm::Parallelism::None,
        );
    }
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
