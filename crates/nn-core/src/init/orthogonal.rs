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
//! The QR factorisation is a modified Gram–Schmidt with one re-orthogonalisation pass, in f64
//! (Q is orthonormal to ~1e-15; cost O(rows·cols·min(rows, cols)), well under a second for the
//! layer sizes of this workspace).

use ndarray::{Array2, IxDyn};
use rand::Rng;
use rand_distr::{Distribution as _, StandardNormal};

use super::InitError;
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
    let a = Array2::<f64>::from_shape_simple_fn((rows, cols), || {
        let v: f32 = StandardNormal.sample(rng);
        v as f64
    });
    // Orthonormalise the columns of the tall matrix.
    let mut m = if rows < cols { a.reversed_axes() } else { a };
    let k = m.ncols();
    for j in 0..k {
        for _pass in 0..2 {
            for i in 0..j {
                let dot = m.column(i).dot(&m.column(j));
                let qi = m.column(i).to_owned();
                m.column_mut(j).scaled_add(-dot, &qi);
            }
        }
        let norm = m.column(j).dot(&m.column(j)).sqrt();
        m.column_mut(j).mapv_inplace(|v| v / norm);
    }
    let q = if rows < cols { m.reversed_axes() } else { m };
    let values: Vec<f32> = q.iter().map(|&v| (v * gain as f64) as f32).collect();
    Ok(Array::from_shape_vec(IxDyn(shape), values).expect("rows · cols elements"))
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
        ] {
            let w = orthogonal(&shape, gain, &mut seeded(1)).unwrap();
            assert_eq!(w.shape(), shape.as_slice());
            let e = orthogonality_error(&w, gain);
            assert!(e < 1e-5, "{shape:?}: {e}");
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
