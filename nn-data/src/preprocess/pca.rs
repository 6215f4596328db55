//! [`Pca`]: project onto the top-k principal components, optionally whitened (CS231n "PCA and
//! Whitening"; Pearson 1901, Hotelling 1933).

use super::eigen::symmetric_eigen;
use super::source::{Source, covariance, mean_vector};
use crate::{DataError, Dataset};
use ndarray::{Array1, Array2, Array3, ArrayView2, ArrayView4, Axis};
use serde::{Deserialize, Serialize};

/// Configuration of a [`Pca`] fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PcaConfig {
    /// Number of components `k` kept (`None`: all `D`, like scikit-learn's default).
    pub components: Option<usize>,
    /// Divide every projection by `sqrt(λ_k + eps)` (PCA whitening).
    pub whiten: bool,
    /// The whitening epsilon, in the data's squared units (the CS231n notes use `1e-5`).
    pub eps: f64,
}

impl Default for PcaConfig {
    fn default() -> Self {
        Self {
            components: None,
            whiten: false,
            eps: 1e-5,
        }
    }
}

impl PcaConfig {
    /// Keep `k` components, no whitening.
    pub fn components(k: usize) -> Self {
        Self {
            components: Some(k),
            ..Self::default()
        }
    }

    /// The same configuration with whitening by `sqrt(λ + eps)`.
    pub fn whitened(self, eps: f64) -> Self {
        Self {
            whiten: true,
            eps,
            ..self
        }
    }

    fn validate(&self, d: usize) -> Result<usize, DataError> {
        if !(self.eps.is_finite() && self.eps >= 0.0) {
            return Err(DataError::invalid("eps", self.eps, "a finite number ≥ 0"));
        }
        match self.components {
            None => Ok(d),
            Some(k) if (1..=d).contains(&k) => Ok(k),
            Some(k) => Err(DataError::invalid(
                "components",
                k,
                format!("1..={d} (the data dimension)"),
            )),
        }
    }
}

/// Principal component analysis of flattened images (or feature rows).
///
/// Fit: `μ = mean(x)`, `Σ = (1/N) Σᵢ (xᵢ − μ)(xᵢ − μ)ᵀ = Uᵀ Λ U` (eigenvalues descending, each
/// component's largest-magnitude entry positive, see [`symmetric_eigen`]).
/// Transform: `z_k = u_k · (x − μ)`, or `z_k = u_k · (x − μ) / sqrt(λ_k + eps)` when whitening.
/// On the training data (eps = 0) the whitened outputs have identity covariance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pca {
    config: PcaConfig,
    image_shape: [usize; 3],
    mean: Array1<f32>,
    /// `k×D`, rows are components.
    components: Array2<f32>,
    /// `λ_1 ≥ … ≥ λ_k`.
    eigenvalues: Array1<f64>,
    total_variance: f64,
}

impl Pca {
    /// Fits on a data set.
    pub fn fit(dataset: &dyn Dataset, config: PcaConfig) -> Result<Self, DataError> {
        Self::fit_source(Source::Dataset(dataset), config)
    }

    /// Fits on an `N×C×H×W` array.
    pub fn fit_array(images: ArrayView4<'_, f32>, config: PcaConfig) -> Result<Self, DataError> {
        Self::fit_source(Source::Array(images), config)
    }

    /// Fits on `N×D` feature rows (the image shape is then `[D, 1, 1]`).
    pub fn fit_rows(rows: ArrayView2<'_, f32>, config: PcaConfig) -> Result<Self, DataError> {
        let (n, d) = rows.dim();
        let rows = rows.as_standard_layout();
        let as_images = rows
            .view()
            .into_shape_with_order((n, d, 1, 1))
            .expect("standard layout");
        Self::fit_source(Source::Array(as_images), config)
    }

    fn fit_source(src: Source<'_>, config: PcaConfig) -> Result<Self, DataError> {
        let image_shape = src.image_shape()?;
        let d: usize = image_shape.iter().product();
        let k = config.validate(d)?;
        let mean = mean_vector(src)?;
        let cov = covariance(src, &mean)?;
        let eig = symmetric_eigen(cov.view())?;
        let total_variance = eig.values.iter().map(|v| v.max(0.0)).sum();
        let eigenvalues = eig.values.slice(ndarray::s![..k]).mapv(|v| v.max(0.0));
        if config.whiten {
            if let Some(j) = eigenvalues.iter().position(|&l| l + config.eps <= 0.0) {
                return Err(DataError::invalid(
                    "eps",
                    config.eps,
                    format!("> 0: eigenvalue {j} is 0, whitening would divide by zero"),
                ));
            }
        }
        Ok(Self {
            config: PcaConfig {
                components: Some(k),
                ..config
            },
            image_shape,
            mean: mean.mapv(|v| v as f32),
            components: eig.vectors.slice(ndarray::s![..k, ..]).mapv(|v| v as f32),
            eigenvalues,
            total_variance,
        })
    }

    /// The configuration, with `components` resolved to `k`.
    pub fn config(&self) -> &PcaConfig {
        &self.config
    }

    /// The mean (`D` values) subtracted before projecting.
    pub fn mean(&self) -> &Array1<f32> {
        &self.mean
    }

    /// The components, `k×D` (row `k` is the `k`-th eigenvector of the covariance).
    pub fn components(&self) -> &Array2<f32> {
        &self.components
    }

    /// The variances along the components (`λ_1 ≥ … ≥ λ_k`; scikit-learn's
    /// `explained_variance_` up to its `N/(N−1)` factor).
    pub fn eigenvalues(&self) -> &Array1<f64> {
        &self.eigenvalues
    }

    /// `λ_k / Σ_j λ_j` over all `D` eigenvalues.
    pub fn explained_variance_ratio(&self) -> Array1<f64> {
        let t = self.total_variance;
        self.eigenvalues.mapv(|l| if t > 0.0 { l / t } else { 0.0 })
    }

    /// The fewest components whose explained variance ratios sum to more than `fraction`
    /// ∈ (0, 1) (scikit-learn's `PCA(n_components=0.95)`: `searchsorted(cumsum(ratio),
    /// fraction, side="right") + 1`), at most the number of components fitted. Fit with all
    /// components first to choose among all of them, then [`Pca::truncated`].
    pub fn components_for_variance(&self, fraction: f64) -> Result<usize, DataError> {
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(DataError::invalid(
                "variance",
                fraction,
                "a fraction in (0, 1) of the total variance",
            ));
        }
        let mut cumulative = 0.0;
        for (i, r) in self.explained_variance_ratio().iter().enumerate() {
            cumulative += r;
            if cumulative > fraction {
                return Ok(i + 1);
            }
        }
        Ok(self.eigenvalues.len())
    }

    /// The first `k` components of this fit: the same as a fit with `components = Some(k)`
    /// (the eigendecomposition does not depend on `k`). Errors if `k` is 0 or more than the
    /// components fitted.
    pub fn truncated(&self, k: usize) -> Result<Self, DataError> {
        let fitted = self.eigenvalues.len();
        if !(1..=fitted).contains(&k) {
            return Err(DataError::invalid(
                "components",
                k,
                format!("1..={fitted} (the components fitted)"),
            ));
        }
        Ok(Self {
            config: PcaConfig {
                components: Some(k),
                ..self.config
            },
            image_shape: self.image_shape,
            mean: self.mean.clone(),
            components: self.components.slice(ndarray::s![..k, ..]).to_owned(),
            eigenvalues: self.eigenvalues.slice(ndarray::s![..k]).to_owned(),
            total_variance: self.total_variance,
        })
    }

    fn scale(&self) -> Option<Array1<f32>> {
        self.config.whiten.then(|| {
            self.eigenvalues
                .mapv(|l| (1.0 / (l + self.config.eps).sqrt()) as f32)
        })
    }

    /// Projects `N×D` rows to `N×k`. Panics if `D` differs from the fit's.
    pub fn transform_rows(&self, rows: ArrayView2<'_, f32>) -> Array2<f32> {
        assert_eq!(
            rows.ncols(),
            self.mean.len(),
            "Pca::transform: rows of {} values, fitted on {}",
            rows.ncols(),
            self.mean.len()
        );
        let mut z = (&rows - &self.mean).dot(&self.components.t());
        if let Some(s) = self.scale() {
            z *= &s;
        }
        z
    }

    /// Projects `N×C×H×W` images to `N×k` (any image shape with `C·H·W = D`).
    pub fn transform_images(&self, images: ArrayView4<'_, f32>) -> Array2<f32> {
        let n = images.len_of(Axis(0));
        let d: usize = images.shape()[1..].iter().product();
        assert_eq!(
            d,
            self.mean.len(),
            "Pca: images {:?} have {d} values, fitted on {} ({:?})",
            &images.shape()[1..],
            self.mean.len(),
            self.image_shape
        );
        let rows = images.as_standard_layout();
        let rows = rows
            .view()
            .into_shape_with_order((n, self.mean.len()))
            .expect("standard layout");
        self.transform_rows(rows)
    }

    /// Projects one CHW image to `k` values.
    pub fn transform_image(&self, image: &Array3<f32>) -> Array1<f32> {
        let batch = image.view().insert_axis(Axis(0));
        self.transform_images(batch).index_axis_move(Axis(0), 0)
    }

    /// Maps `N×k` projections back to `N×D` (`x ≈ μ + Σ_k z_k u_k`, undoing the whitening).
    pub fn inverse_transform_rows(&self, z: ArrayView2<'_, f32>) -> Array2<f32> {
        assert_eq!(
            z.ncols(),
            self.components.nrows(),
            "Pca::inverse_transform: {} values per row, k = {}",
            z.ncols(),
            self.components.nrows()
        );
        let z = match self.scale() {
            Some(s) => &z / &s,
            None => z.to_owned(),
        };
        z.dot(&self.components) + &self.mean
    }
}
