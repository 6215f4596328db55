//! Where fits read their data from: an in-memory `N×C×H×W` array or any [`Dataset`], visited in
//! fixed chunks in index order (samples of a chunk are read in parallel), plus the `f64` mean and
//! covariance accumulators shared by PCA, ZCA and the normalisers.

use crate::{DataError, Dataset};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, Array4, ArrayView4, Axis};
use rayon::prelude::*;

/// Samples per chunk when visiting a data set.
pub(crate) const CHUNK: usize = 256;

/// The data a preprocessing step is fitted on.
#[derive(Clone, Copy)]
pub(crate) enum Source<'a> {
    Array(ArrayView4<'a, f32>),
    Dataset(&'a dyn Dataset),
}

impl Source<'_> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Source::Array(a) => a.len_of(Axis(0)),
            Source::Dataset(d) => d.len(),
        }
    }

    /// `[C, H, W]` of the samples; errors if there is none.
    pub(crate) fn image_shape(&self) -> Result<[usize; 3], DataError> {
        if self.len() == 0 {
            return Err(DataError::invalid(
                "data",
                "0 samples",
                "at least one sample to fit on",
            ));
        }
        Ok(match self {
            Source::Array(a) => [a.shape()[1], a.shape()[2], a.shape()[3]],
            Source::Dataset(d) => {
                let s = d.get(0)?.image;
                [s.shape()[0], s.shape()[1], s.shape()[2]]
            }
        })
    }

    /// Calls `f` on consecutive chunks covering all samples in index order.
    pub(crate) fn for_each_chunk(
        &self,
        f: &mut dyn FnMut(ArrayView4<'_, f32>) -> Result<(), DataError>,
    ) -> Result<(), DataError> {
        match self {
            Source::Array(a) => a.axis_chunks_iter(Axis(0), CHUNK).try_for_each(f),
            Source::Dataset(d) => {
                let shape = self.image_shape()?;
                let n = d.len();
                for start in (0..n).step_by(CHUNK) {
                    let end = (start + CHUNK).min(n);
                    let samples: Vec<_> = (start..end)
                        .into_par_iter()
                        .map(|i| d.get(i).map(|s| s.image))
                        .collect::<Result<_, _>>()?;
                    let mut chunk = Array4::zeros((end - start, shape[0], shape[1], shape[2]));
                    for (k, (img, mut dst)) in
                        samples.iter().zip(chunk.axis_iter_mut(Axis(0))).enumerate()
                    {
                        if img.shape() != shape {
                            return Err(DataError::ShapeMismatch {
                                index: start + k,
                                expected: shape.to_vec(),
                                found: img.shape().to_vec(),
                            });
                        }
                        dst.assign(img);
                    }
                    f(chunk.view())?;
                }
                Ok(())
            }
        }
    }
}

/// A chunk as an `N×D` `f64` matrix (row = flattened CHW image).
pub(crate) fn rows_f64(chunk: ArrayView4<'_, f32>) -> Array2<f64> {
    let n = chunk.len_of(Axis(0));
    let d = chunk.len() / n.max(1);
    let mut m = Array2::zeros((n, d));
    for (img, mut row) in chunk.axis_iter(Axis(0)).zip(m.axis_iter_mut(Axis(0))) {
        row.iter_mut()
            .zip(img.iter())
            .for_each(|(r, &v)| *r = f64::from(v));
    }
    m
}

/// Mean of the flattened images (`D` values).
pub(crate) fn mean_vector(src: Source<'_>) -> Result<Array1<f64>, DataError> {
    let [c, h, w] = src.image_shape()?;
    let mut sum = Array1::<f64>::zeros(c * h * w);
    src.for_each_chunk(&mut |chunk| {
        sum += &rows_f64(chunk).sum_axis(Axis(0));
        Ok(())
    })?;
    Ok(sum / src.len() as f64)
}

/// Covariance `(1/N) Σ (x − μ)(x − μ)ᵀ` of the flattened images (`D×D`, population
/// normalisation as in the CS231n notes: `X.T @ X / N` of centred data).
pub(crate) fn covariance(src: Source<'_>, mean: &Array1<f64>) -> Result<Array2<f64>, DataError> {
    let d = mean.len();
    let mut acc = Array2::<f64>::zeros((d, d));
    src.for_each_chunk(&mut |chunk| {
        let xc = rows_f64(chunk) - mean;
        general_mat_mul(1.0, &xc.t(), &xc, 1.0, &mut acc);
        Ok(())
    })?;
    Ok(acc / src.len() as f64)
}
