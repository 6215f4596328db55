//! [`ColorPca`]: the statistics of AlexNet's PCA colour augmentation ("fancy PCA",
//! Krizhevsky, Sutskever & Hinton 2012, §4.1): eigenvalues and eigenvectors of the 3×3
//! covariance of the RGB values of all training pixels.

use super::eigen::symmetric_eigen;
use super::source::Source;
use crate::{DataError, Dataset};
use ndarray::{Array2, ArrayView4, Axis};
use serde::{Deserialize, Serialize};

/// Eigen-decomposition of the RGB pixel covariance `Σ = (1/M) Σ_p (x_p − μ)(x_p − μ)ᵀ` over all
/// `M = N·H·W` training pixels (population normalisation).
///
/// `eigenvalues[k]` (descending) belongs to the unit eigenvector in **column** `k` of
/// `eigenvectors` (`eigenvectors[c][k]` = channel `c` ∈ {R, G, B} of eigenvector `k`, as
/// `numpy.linalg.eigh` returns them and as nn-augment's `PcaLightingConfig` and fb.resnet.torch
/// store them; the largest-magnitude component of each eigenvector is positive). AlexNet adds to
/// every pixel of an image `P · [α_1 λ_1, α_2 λ_2, α_3 λ_3]ᵀ` with `α_k ~ N(0, 0.1²)` drawn per
/// image — see [`ColorPca::offset`]. The field names match nn-augment's config, so the JSON of a
/// fitted `ColorPca` plugs straight into it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ColorPca {
    /// `λ_1 ≥ λ_2 ≥ λ_3 ≥ 0`.
    pub eigenvalues: [f32; 3],
    /// Eigenvectors as columns: `eigenvectors[c][k]` = channel `c` of the `k`-th eigenvector.
    pub eigenvectors: [[f32; 3]; 3],
}

impl ColorPca {
    /// Fits on a data set of RGB images (3 channels, else an error).
    pub fn fit(dataset: &dyn Dataset) -> Result<Self, DataError> {
        Self::fit_source(Source::Dataset(dataset))
    }

    /// Fits on an `N×3×H×W` array.
    pub fn fit_array(images: ArrayView4<'_, f32>) -> Result<Self, DataError> {
        Self::fit_source(Source::Array(images))
    }

    fn fit_source(src: Source<'_>) -> Result<Self, DataError> {
        let [c, ..] = src.image_shape()?;
        if c != 3 {
            return Err(DataError::invalid("channels", c, "3 (RGB images)"));
        }
        // Per-chunk mean and co-moment, merged pairwise (Chan et al.) for accuracy.
        let mut count = 0f64;
        let mut mean = [0f64; 3];
        let mut comoment = [[0f64; 3]; 3];
        src.for_each_chunk(&mut |chunk| {
            let chans: Vec<Vec<f64>> = (0..3)
                .map(|ch| {
                    chunk
                        .index_axis(Axis(1), ch)
                        .iter()
                        .map(|&v| f64::from(v))
                        .collect()
                })
                .collect();
            let n_b = chans[0].len() as f64;
            let m_b: Vec<f64> = chans.iter().map(|v| v.iter().sum::<f64>() / n_b).collect();
            let total = count + n_b;
            for i in 0..3 {
                for j in 0..3 {
                    let c_b: f64 = chans[i]
                        .iter()
                        .zip(&chans[j])
                        .map(|(a, b)| (a - m_b[i]) * (b - m_b[j]))
                        .sum();
                    let cross = (m_b[i] - mean[i]) * (m_b[j] - mean[j]) * count * n_b / total;
                    comoment[i][j] += c_b + cross;
                }
            }
            for i in 0..3 {
                mean[i] += (m_b[i] - mean[i]) * n_b / total;
            }
            count = total;
            Ok(())
        })?;
        let cov = Array2::from_shape_fn((3, 3), |(i, j)| comoment[i][j] / count);
        let eig = symmetric_eigen(cov.view())?;
        Ok(Self {
            eigenvalues: std::array::from_fn(|k| eig.values[k].max(0.0) as f32),
            eigenvectors: std::array::from_fn(|c| {
                std::array::from_fn(|k| eig.vectors[[k, c]] as f32)
            }),
        })
    }

    /// The RGB offset AlexNet adds to every pixel for the draws `alpha`:
    /// `offset[c] = Σ_k eigenvectors[c][k] · alpha[k] · eigenvalues[k]`.
    pub fn offset(&self, alpha: [f32; 3]) -> [f32; 3] {
        std::array::from_fn(|c| {
            (0..3)
                .map(|k| self.eigenvectors[c][k] * alpha[k] * self.eigenvalues[k])
                .sum()
        })
    }
}
