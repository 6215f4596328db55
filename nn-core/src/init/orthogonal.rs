//! Orthogonal initialisation (Saxe, McClelland & Ganguli, "Exact solutions to the nonlinear
//! dynamics of learning in deep linear neural networks", ICLR 2014), as PyTorch's
//! `torch.nn.init.orthogonal_`.
//!
//! The weight is viewed as a matrix of `rows = shape[0]` and `cols = Π shape[1..]`. A matrix A of
//! that size with N(0, 1) entries is drawn (row-major) and factored A = QR (of Aᵀ when
//! rows < cols); Q, with the signs fixed so that diag(R) > 0, is uniformly (Haar) distributed
//! with orthonormal columns (rows when rows < cols), and the weight is `gain · Q`. All singular
//! values of the weight equal `gain`, so a deep linear network neither shrinks nor amplifies
//! any direction.
//!
//! The QR factorisation is a block Gram–Schmidt with re-orthogonalisation ("twice is enough";
//! the projections are GEMMs through the workspace's seam, the small in-block steps accumulate
//! in f64): Q is orthonormal to f32 precision (~1e-6), in O(rows·cols·min(rows, cols)) time
//! mostly spent in GEMM.

use ndarray::{Array2, Axis, IxDyn};
use ndarray_rand::RandomExt;
use rand::Rng;
use rand_distr::StandardNormal;

use super::InitError;
use crate::linalg::gemm;
use crate::tensor::Array;

/// `gain · Q` for a Haar-random Q with orthonormal rows or columns, of `shape` (≥ 2 axes).
pub(crate) fn orthogonal<R: Rng + ?Sized>(
    shape: &[usize],
    gain: f32,
    rng: &mut R,
) -> Result<Array, InitError> {
    if shape.len() < 2 {
        return Err(InitError::FansUndefined {
            shape: shape.to_vec(),
        });
    }
    let rows = shape[0];
    let cols: usize = shape[1..].iter().product();
    let a = Array2::<f32>::random_using((rows, cols), StandardNormal, rng);
    // QR of the tall matrix (Aᵀ when rows < cols) ⇔ Gram–Schmidt on the rows of the wide one,
    // which are contiguous: orthonormalise the k = min(rows, cols) rows of `m`.
    let mut m = if rows <= cols {
        a
    } else {
        a.reversed_axes().as_standard_layout().into_owned()
    };
    orthonormalise_rows(&mut m);
    m.mapv_inplace(|v| v * gain);
    let q = if rows <= cols { m } else { m.reversed_axes() };
    let values: Vec<f32> = q.iter().copied().collect();
    Ok(Array::from_shape_vec(IxDyn(shape), values).expect("rows · cols elements"))
}

/// Rows per block of the block Gram–Schmidt.
const BLOCK: usize = 32;

/// Orthonormalises the rows of `m` (k ≤ n) in place, in order: block classical Gram–Schmidt with
/// re-orthogonalisation (BCGS2). Each block of rows is projected out of the finished rows twice
/// with two GEMMs (B ← B − (B·Qᵀ)·Q), then orthonormalised within itself by Gram–Schmidt with
/// f64 dot products, again twice.
fn orthonormalise_rows(m: &mut Array2<f32>) {
    let k = m.nrows();
    let mut start = 0;
    while start < k {
        let end = (start + BLOCK).min(k);
        let (done, mut rest) = m.view_mut().split_at(Axis(0), start);
        let mut block = rest.slice_mut(ndarray::s![..end - start, ..]);
        for _pass in 0..2 {
            if start > 0 {
                let mut c = Array2::<f32>::zeros((end - start, start));
                gemm(1.0, block.view(), done.t(), 0.0, c.view_mut());
                gemm(-1.0, c.view(), done.view(), 1.0, block.view_mut());
            }
        }
        for j in 0..end - start {
            let (prev, mut cur) = block.view_mut().split_at(Axis(0), j);
            let mut v = cur.row_mut(0);
            for _pass in 0..2 {
                for q in prev.outer_iter() {
                    let dot: f64 = q
                        .iter()
                        .zip(v.iter())
                        .map(|(&a, &b)| a as f64 * b as f64)
                        .sum();
                    v.scaled_add(-(dot as f32), &q);
                }
            }
            let norm = v.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
            v.mapv_inplace(|x| (x as f64 / norm) as f32);
        }
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::seeded;
    use ndarray::Ix2;

    /// max |M·Mᵀ − g²·I| for the rows (wide) or columns (tall) of `w` viewed as a matrix.
    fn orthogonality_error(w: &Array, gain: f32) -> f32 {
        let rows = w.shape()[0];
        let m = w
            .view()
            .into_shape_with_order((rows, w.len() / rows))
            .unwrap()
            .into_dimensionality::<Ix2>()
            .unwrap()
            .to_owned();
        let g = if m.nrows() <= m.ncols() {
            m.dot(&m.t())
        } else {
            m.t().dot(&m)
        };
        let mut err = 0.0f32;
        for ((i, j), &v) in g.indexed_iter() {
            let target = if i == j { gain * gain } else { 0.0 };
            err = err.max((v - target).abs());
        }
        err
    }

    #[test]
    fn rows_or_columns_are_orthonormal_times_gain() {
        for (shape, gain) in [
            (vec![64, 64], 1.0),
            (vec![30, 100], 2.0),
            (vec![100, 30], 0.5),
            (vec![16, 8, 3, 3], 1.0),
            (vec![1, 5], 1.0),
            (vec![200, 150], 1.0),
        ] {
            let w = orthogonal(&shape, gain, &mut seeded(1)).unwrap();
            assert_eq!(w.shape(), shape.as_slice());
            let e = orthogonality_error(&w, gain);
            assert!(e < 2e-5 * gain * gain, "{shape:?}: {e}");
        }
    }

    #[test]
    fn seeded_and_rejects_vectors() {
        let a = orthogonal(&[8, 8], 1.0, &mut seeded(3)).unwrap();
        let b = orthogonal(&[8, 8], 1.0, &mut seeded(3)).unwrap();
        let c = orthogonal(&[8, 8], 1.0, &mut seeded(4)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(orthogonal(&[8], 1.0, &mut seeded(0)).is_err());
    }
}
