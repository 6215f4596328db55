//! [`Zca`]: zero-phase component analysis whitening (Bell & Sejnowski 1997; used on CIFAR by
//! Krizhevsky 2009 and Coates & Ng 2011).

use super::eigen::symmetric_eigen;
use super::source::{Source, covariance, mean_vector};
use super::{ImagePreprocessor, check_shape};
use crate::{DataError, Dataset};
use ndarray::{Array1, Array2, Array3, Array4, ArrayView2, ArrayView4, Axis};
use serde::{Deserialize, Serialize};

/// Configuration of a [`Zca`] fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ZcaConfig {
    /// Added to every eigenvalue before the inverse square root; regularises directions of
    /// tiny variance. In squared pixel units (`[0, 1]` pixels: 1e-2 … 1e-1 is common for CIFAR;
    /// the default `1e-5` is the CS231n notes' value).
    pub eps: f64,
}

impl Default for ZcaConfig {
    fn default() -> Self {
        Self { eps: 1e-5 }
    }
}

/// `x ↦ W (x − μ)` with `W = Uᵀ diag(1/sqrt(λ + eps)) U = (Σ + eps·I)^(−1/2)`: whitened like PCA
/// whitening, then rotated back to pixel space, so the output is an image again (the whitened
/// image closest to the input). With eps = 0 the outputs on the training data have identity
/// covariance. `W` is `D×D` (for CIFAR `D = 3072`: 36 MiB in memory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Zca {
    eps: f64,
    image_shape: [usize; 3],
    mean: Array1<f32>,
    /// `W`, symmetric `D×D`.
    matrix: Array2<f32>,
}

impl Zca {
    /// Fits on a data set.
    pub fn fit(dataset: &dyn Dataset, config: ZcaConfig) -> Result<Self, DataError> {
        Self::fit_source(Source::Dataset(dataset), config)
    }

    /// Fits on an `N×C×H×W` array.
    pub fn fit_array(images: ArrayView4<'_, f32>, config: ZcaConfig) -> Result<Self, DataError> {
        Self::fit_source(Source::Array(images), config)
    }

    fn fit_source(src: Source<'_>, config: ZcaConfig) -> Result<Self, DataError> {
        if !(config.eps.is_finite() && config.eps >= 0.0) {
            return Err(DataError::invalid("eps", config.eps, "a finite number ≥ 0"));
        }
        let image_shape = src.image_shape()?;
        let mean = mean_vector(src)?;
        let eig = symmetric_eigen(covariance(src, &mean)?.view())?;
        let mut scale = Array1::zeros(eig.values.len());
        for (s, &l) in scale.iter_mut().zip(&eig.values) {
            let l: f64 = l.max(0.0) + config.eps;
            if l <= 0.0 {
                return Err(DataError::invalid(
                    "eps",
                    config.eps,
                    "> 0: the covariance is singular, whitening would divide by zero",
                ));
            }
            *s = 1.0 / l.sqrt();
        }
        // W = Uᵀ diag(s) U.
        let scaled = &eig.vectors * &scale.insert_axis(Axis(1));
        let matrix = eig.vectors.t().dot(&scaled).mapv(|v| v as f32);
        Ok(Self {
            eps: config.eps,
            image_shape,
            mean: mean.mapv(|v| v as f32),
            matrix,
        })
    }

    /// The epsilon used.
    pub fn eps(&self) -> f64 {
        self.eps
    }

    /// The mean (`D` values).
    pub fn mean(&self) -> &Array1<f32> {
        &self.mean
    }

    /// The whitening matrix `W` (`D×D`, symmetric).
    pub fn matrix(&self) -> &Array2<f32> {
        &self.matrix
    }

    /// Whitens `N×D` rows.
    pub fn transform_rows(&self, rows: ArrayView2<'_, f32>) -> Array2<f32> {
        assert_eq!(
            rows.ncols(),
            self.mean.len(),
            "Zca: rows of {} values, fitted on {}",
            rows.ncols(),
            self.mean.len()
        );
        // W is symmetric: (x − μ) W = (W (x − μ)ᵀ)ᵀ.
        (&rows - &self.mean).dot(&self.matrix)
    }
}

impl ImagePreprocessor for Zca {
    fn apply(&self, image: Array3<f32>) -> Array3<f32> {
        let mut batch = image.insert_axis(Axis(0));
        self.apply_batch(&mut batch);
        batch.index_axis_move(Axis(0), 0)
    }

    fn apply_batch(&self, batch: &mut Array4<f32>) {
        check_shape("Zca", &self.image_shape, &batch.shape()[1..]);
        let n = batch.len_of(Axis(0));
        let d = self.mean.len();
        let rows = batch
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order((n, d))
            .expect("standard");
        let out = self.transform_rows(rows.view());
        let [c, h, w] = self.image_shape;
        *batch = out
            .into_shape_with_order((n, c, h, w))
            .expect("N×D = N×C×H×W");
    }
}
