//! [`Normalize`]: subtract the per-channel mean and divide by the per-channel standard
//! deviation (ResNet; torchvision's `transforms.Normalize(mean, std)`).

use super::source::Source;
use super::{ImagePreprocessor, check_shape};
use crate::{DataError, Dataset};
use ndarray::{Array3, ArrayView4, Axis};
use serde::{Deserialize, Serialize};

/// `x[c] ↦ (x[c] − mean[c]) / std[c]`, computed as torchvision does (`sub` then `div`, in
/// `f32`), so outputs match `transforms.Normalize` bit for bit given the same statistics.
///
/// [`Normalize::fit`] uses the population statistics over every pixel of every training image:
/// `mean[c] = (1/NHW) Σ x`, `std[c] = sqrt((1/NHW) Σ (x − mean[c])²)` (numpy's
/// `x.std(axis=(0, 2, 3))`), accumulated in `f64` with Chan et al.'s pairwise merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalize {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl Normalize {
    /// Given statistics; errors unless both have one finite value per channel and every std is
    /// `> 0`.
    pub fn new(mean: Vec<f32>, std: Vec<f32>) -> Result<Self, DataError> {
        if mean.is_empty() || mean.len() != std.len() {
            return Err(DataError::invalid(
                "mean/std",
                format!("{} / {} values", mean.len(), std.len()),
                "one mean and one std per channel",
            ));
        }
        if let Some(s) = std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(DataError::invalid("std", s, "finite values > 0"));
        }
        if let Some(m) = mean.iter().find(|m| !m.is_finite()) {
            return Err(DataError::invalid("mean", m, "finite values"));
        }
        Ok(Self { mean, std })
    }

    /// The ImageNet statistics used by torchvision's pretrained models.
    pub fn imagenet() -> Self {
        Self {
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
        }
    }

    /// Fits per-channel mean and std on a data set (errors if a channel is constant).
    pub fn fit(dataset: &dyn Dataset) -> Result<Self, DataError> {
        Self::fit_source(Source::Dataset(dataset))
    }

    /// Fits per-channel mean and std on an `N×C×H×W` array.
    pub fn fit_array(images: ArrayView4<'_, f32>) -> Result<Self, DataError> {
        Self::fit_source(Source::Array(images))
    }

    fn fit_source(src: Source<'_>) -> Result<Self, DataError> {
        let (mean, var) = channel_moments(src)?;
        Self::new(
            mean.iter().map(|&m| m as f32).collect(),
            var.iter().map(|&v| v.sqrt() as f32).collect(),
        )
    }

    /// Per-channel means.
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// Per-channel standard deviations.
    pub fn std(&self) -> &[f32] {
        &self.std
    }
}

impl ImagePreprocessor for Normalize {
    fn apply(&self, mut image: Array3<f32>) -> Array3<f32> {
        check_shape(
            "Normalize (channels)",
            &[self.mean.len()],
            &image.shape()[..1],
        );
        for ((mut ch, &m), &s) in image.axis_iter_mut(Axis(0)).zip(&self.mean).zip(&self.std) {
            ch.mapv_inplace(|v| (v - m) / s);
        }
        image
    }
}

/// Per-channel population mean and variance over all pixels, in `f64`.
pub(crate) fn channel_moments(src: Source<'_>) -> Result<(Vec<f64>, Vec<f64>), DataError> {
    let [c, ..] = src.image_shape()?;
    // Running (count, mean, M2) per channel, merged chunk by chunk (Chan, Golub & LeVeque 1979).
    let mut count = 0f64;
    let mut mean = vec![0f64; c];
    let mut m2 = vec![0f64; c];
    src.for_each_chunk(&mut |chunk| {
        let n_b = (chunk.len() / c) as f64;
        for (ch, (mu, m2)) in mean.iter_mut().zip(m2.iter_mut()).enumerate() {
            let view = chunk.index_axis(Axis(1), ch);
            let mean_b = view.iter().map(|&v| f64::from(v)).sum::<f64>() / n_b;
            let m2_b = view
                .iter()
                .map(|&v| (f64::from(v) - mean_b).powi(2))
                .sum::<f64>();
            let delta = mean_b - *mu;
            let total = count + n_b;
            *mu += delta * n_b / total;
            *m2 += m2_b + delta * delta * count * n_b / total;
        }
        count += n_b;
        Ok(())
    })?;
    let var = m2.iter().map(|&m| m / count).collect();
    Ok((mean, var))
}
