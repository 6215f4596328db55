//! The one GEMM seam of the workspace: every matrix product (matmul, linear layers, convolution
//! via im2col) goes through [`gemm`], so the kernel can be swapped in one place.
//!
//! The kernel is the [`gemm`](https://crates.io/crates/gemm) crate (runtime-dispatched AVX2 /
//! AVX-512 micro-kernels) on the rayon pool. It takes row and column strides for every operand, so
//! transposed operands (`Aᵀ·B` in backward passes) need no copy. Measured against
//! `matrixmultiply` (with its `threading` feature) and OpenBLAS on the same 2 cores it was the
//! fastest at n = 256…2048 (see the crate README).
//!
//! **Layout.** The kernel works on a column-major destination (it transposes the whole problem
//! when C is row-major) and wants the left operand contiguous along M; any other left operand is
//! repacked, transposing, by every thread. For `C = A·Bᵀ` with a row-major C and a large B stored
//! row-major (a linear layer's `X·Wᵀ` with W of shape out × in) that repacking of B dominates and
//! halves the speed. The seam then computes the product into a column-major temporary from the
//! buffer pool (so the kernel repacks only the small A) and transposes it into C: measured 1.8-2x
//! faster for the forward products of a 3072→1024→1024 MLP at batch 128.
//!
//! **Determinism.** The `gemm` crate splits the output into tiles between threads and never
//! splits the k reduction: every output element is accumulated in the same order whatever the
//! number of threads, and the layout choice above depends only on shapes and strides. The result
//! is therefore bitwise identical on 1, 2 or more threads (tested below).

use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};
use rayon::prelude::*;

use crate::buffer_pool;

/// Below this many multiply-adds (m·n·k) a product runs on the calling thread: spawning rayon
/// tasks costs more than it saves. Measured on 2 cores (square products, serial time / parallel
/// time): n = 64 and 80: 1.00 (the kernel does not split them anyway); n = 96: 1.08-1.15;
/// n = 128: 1.43-1.47; n = 160: 1.39-1.70.
const PARALLEL_THRESHOLD: usize = 96 * 96 * 96;

/// Products with an output of fewer elements than this, or with a side (m, n or k) below
/// [`PARALLEL_MIN_SIDE`], also run on one thread: measured 1.5-1.6x faster serial for 64×64×256,
/// 128×10×1024, 10×1024×128 and 128×1024×10 (the output tiles are too few to share, or the
/// reduction too short to pay for the hand-over).
const PARALLEL_MIN_OUTPUT: usize = 96 * 96;
const PARALLEL_MIN_SIDE: usize = 32;

/// Whether a product of these dimensions is worth splitting between threads.
pub(crate) fn worth_parallel(m: usize, n: usize, k: usize) -> bool {
    m * n * k >= PARALLEL_THRESHOLD
        && m * n >= PARALLEL_MIN_OUTPUT
        && m.min(n).min(k) >= PARALLEL_MIN_SIDE
}

/// Rows of C per parallel task of the transposing copy (a fixed size: the split never depends
/// on the number of threads).
const COPY_ROWS: usize = 32;

/// C ← α·A·B + β·C for A (m×k), B (k×n), C (m×n), with any strides (transposed views included).
/// With `beta == 0` the previous contents of C are ignored (may be uninitialised garbage, even
/// NaN). Large products run on the rayon pool; the result does not depend on its size.
///
/// # Panics
/// If the shapes do not agree; the message names the shapes.
pub fn gemm(
    alpha: f32,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    beta: f32,
    c: ArrayViewMut2<'_, f32>,
) {
    gemm_with(alpha, a, b, beta, c, true);
}

/// [`gemm`], on the calling thread only when `parallel` is false (for kernels that are already
/// parallel outside the product).
pub(crate) fn gemm_with(
    alpha: f32,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    beta: f32,
    mut c: ArrayViewMut2<'_, f32>,
    parallel: bool,
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
    let parallel = parallel && worth_parallel(m, n, k) && rayon::current_num_threads() > 1;
    if prefers_column_major_temp(&a, &b, &c) {
        via_column_major_temp(alpha, a, b, beta, c, parallel);
    } else {
        kernel(alpha, a, b, beta, c, parallel);
    }
}

/// Whether `C = A·B` is faster computed into a column-major temporary and transposed into C:
/// C row-major, B not row-major (so the kernel would repack all of B, transposing), and the
/// repacking it saves (k·n) well above what it costs (repacking A, m·k, and the copy, m·n).
fn prefers_column_major_temp(
    a: &ArrayView2<'_, f32>,
    b: &ArrayView2<'_, f32>,
    c: &ArrayViewMut2<'_, f32>,
) -> bool {
    let (m, k) = a.dim();
    let n = b.ncols();
    let c_row_major = c.strides()[1] == 1 && n > 1 && m > 1;
    let b_row_major = b.strides()[1] == 1 || n == 1;
    let a_cost = if a.strides()[0] == 1 { 0 } else { m * k };
    c_row_major && !b_row_major && k * n >= 2 * (a_cost + m * n)
}

fn via_column_major_temp(
    alpha: f32,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    beta: f32,
    mut c: ArrayViewMut2<'_, f32>,
    parallel: bool,
) {
    let (m, n) = c.dim();
    let mut buf = buffer_pool::take(m * n);
    {
        let t = ArrayViewMut2::from_shape((m, n).f(), &mut buf).expect("m·n elements");
        kernel(alpha, a, b, 0.0, t, parallel);
    }
    // `buf` holds T column-major: T[i, j] = buf[i + j·m]. C's rows are contiguous (checked by
    // `prefers_column_major_temp`).
    let t = &buf[..];
    let copy_rows = |i0: usize, mut rows: ArrayViewMut2<'_, f32>| {
        // Blocks of 32 columns keep the strided reads of the temporary within a few pages.
        for j0 in (0..n).step_by(32) {
            let j1 = (j0 + 32).min(n);
            for (di, mut row) in rows.outer_iter_mut().enumerate() {
                let row = row.as_slice_mut().expect("contiguous rows");
                let i = i0 + di;
                if beta == 0.0 {
                    for j in j0..j1 {
                        row[j] = t[i + j * m];
                    }
                } else {
                    for j in j0..j1 {
                        row[j] = beta * row[j] + t[i + j * m];
                    }
                }
            }
        }
    };
    if parallel {
        c.axis_chunks_iter_mut(ndarray::Axis(0), COPY_ROWS)
            .into_par_iter()
            .enumerate()
            .for_each(|(chunk, rows)| copy_rows(chunk * COPY_ROWS, rows));
    } else {
        copy_rows(0, c);
    }
    buffer_pool::recycle_vec(buf);
}

/// The `gemm` crate, called with the operands' own strides.
fn kernel(
    alpha: f32,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    beta: f32,
    mut c: ArrayViewMut2<'_, f32>,
    parallel: bool,
) {
    let (m, k) = a.dim();
    let n = b.ncols();
    let parallelism = if parallel {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    } else {
        gemm::Parallelism::None
    };
    let [a_rs, a_cs] = [a.strides()[0], a.strides()[1]];
    let [b_rs, b_cs] = [b.strides()[0], b.strides()[1]];
    let [c_rs, c_cs] = [c.strides()[0], c.strides()[1]];
    // SAFETY: the views are valid for their shapes and strides (ndarray guarantees it); `c` is a
    // unique mutable view, so it does not alias `a` or `b`; the caller checked the dimensions.
    // The `gemm` crate computes dst := alpha·dst + beta·lhs·rhs, reading dst only if `read_dst`.
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
    use ndarray::{Array2, s};
    use rand::Rng;

    use crate::rng::seeded;

    fn naive(a: &Array2<f32>, b: &Array2<f32>) -> Array2<f32> {
        let (m, k) = a.dim();
        let n = b.ncols();
        Array2::from_shape_fn((m, n), |(i, j)| (0..k).map(|p| a[[i, p]] * b[[p, j]]).sum())
    }

    fn random(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
        let mut rng = seeded(seed);
        Array2::from_shape_simple_fn((rows, cols), || rng.random_range(-1.0..1.0))
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

    #[test]
    fn the_column_major_temporary_path_is_exact() {
        // X·Wᵀ with a wide W: the path through the column-major temporary (integers: exact).
        let x = Array2::from_shape_fn((9, 40), |(i, j)| ((i * 7 + j * 3) % 11) as f32 - 5.0);
        let w = Array2::from_shape_fn((70, 40), |(i, j)| ((i * 5 + j) % 13) as f32 - 6.0);
        assert!(prefers_column_major_temp(
            &x.view(),
            &w.t(),
            &Array2::<f32>::zeros((9, 70)).view_mut()
        ));
        let expect = naive(&x, &w.t().to_owned());
        let mut c = Array2::from_elem((9, 70), f32::NAN);
        gemm(1.0, x.view(), w.t(), 0.0, c.view_mut());
        assert_eq!(c, expect);
        let mut d = Array2::ones((9, 70));
        gemm(2.0, x.view(), w.t(), -1.0, d.view_mut());
        assert_eq!(d, expect.mapv(|v| 2.0 * v - 1.0));
        // Into a strided destination (every other column of a wider array).
        let mut wide = Array2::from_elem((9, 140), 5.0);
        gemm(1.0, x.view(), w.t(), 0.0, wide.slice_mut(s![.., ..;2]));
        assert_eq!(wide.slice(s![.., ..;2]), expect);
        assert!(wide.slice(s![.., 1..;2]).iter().all(|&v| v == 5.0));
    }

    #[test]
    fn large_products_match_naive() {
        // Large enough for the parallel path and the kernel's blocking (k > 512).
        for &(m, n, k, bt) in &[
            (130, 97, 600, false),
            (64, 300, 700, true),
            (200, 3, 520, false),
        ] {
            let a = random(m, k, 1);
            let b = random(k, n, 2);
            let bs = if bt { b.t().to_owned() } else { b.clone() };
            let bv = if bt { bs.t() } else { bs.view() };
            let mut c = Array2::zeros((m, n));
            gemm(1.0, a.view(), bv, 0.0, c.view_mut());
            let expect = naive(&a, &b);
            let err = (&c - &expect).iter().fold(0f32, |e, v| e.max(v.abs()));
            assert!(err < 1e-3, "{m}×{n}×{k}: max error {err}");
        }
    }

    /// The determinism requirement: the same product, bit for bit, on 1 and on 2 threads, for
    /// every layout and for shapes on both sides of the kernel's blocking and threading limits.
    #[test]
    fn results_do_not_depend_on_the_number_of_threads() {
        let pool1 = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let pool2 = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let pool3 = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let shapes = [
            (128, 256, 1100),
            (96, 97, 600),
            (300, 128, 64),
            (5, 1000, 700),
            (700, 2, 300),
        ];
        for (idx, &(m, n, k)) in shapes.iter().enumerate() {
            let seed = 10 * idx as u64;
            let a = random(m, k, seed);
            let b = random(k, n, seed + 1);
            let at = a.t().to_owned();
            let bt = b.t().to_owned();
            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                let av = if ta { at.t() } else { a.view() };
                let bv = if tb { bt.t() } else { b.view() };
                let run = |p: &rayon::ThreadPool| {
                    p.install(|| {
                        let mut c = Array2::from_elem((m, n), 0.5);
                        gemm(1.5, av, bv, 0.25, c.view_mut());
                        c
                    })
                };
                let c1 = run(&pool1);
                let c2 = run(&pool2);
                let c3 = run(&pool3);
                let bits = |c: &Array2<f32>| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert!(
                    bits(&c1) == bits(&c2) && bits(&c1) == bits(&c3),
                    "{m}×{n}×{k} (transposed A: {ta}, B: {tb}) differs between thread counts"
                );
            }
        }
    }
}
