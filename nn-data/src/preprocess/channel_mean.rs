//! [`ChannelMean`]: subtract the per-channel mean (VGG; CS231n: "subtract per-channel mean,
//! e.g. VGGNet (mean along each channel = 3 numbers)").

use super::normalize::channel_moments;
use super::source::Source;
use super::{ImagePreprocessor, check_shape};
use crate::{DataError, Dataset};
use ndarray::{Array3, ArrayView4, Axis};
use serde::{Deserialize, Serialize};

/// `x[c] ↦ x[c] − mean[c]`, `mean[c] = (1/NHW) Σ_{n,h,w} x[n,c,h,w]` over the training images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelMean {
    mean: Vec<f32>,
}

impl ChannelMean {
    /// Given per-channel means.
    pub fn new(mean: Vec<f32>) -> Self {
        Self { mean }
    }

    /// Fits the per-channel mean of a data set.
    pub fn fit(dataset: &dyn Dataset) -> Result<Self, DataError> {
        Self::fit_source(Source::Dataset(dataset))
    }

    /// Fits the per-channel mean of an `N×C×H×W` array.
    pub fn fit_array(images: ArrayView4<'_, f32>) -> Result<Self, DataError> {
        Self::fit_source(Source::Array(images))
    }

    fn fit_source(src: Source<'_>) -> Result<Self, DataError> {
        let (mean, _) = channel_moments(src)?;
        Ok(Self {
            mean: mean.iter().map(|&m| m as f32).collect(),
        })
    }

    /// The per-channel means.
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }
}

impl ImagePreprocessor for ChannelMean {
    fn apply(&self, mut image: Array3<f32>) -> Array3<f32> {
        check_shape(
            "ChannelMean (channels)",
            &[self.mean.len()],
            &image.shape()[..1],
        );
        for (mut ch, &m) in image.axis_iter_mut(Axis(0)).zip(&self.mean) {
            ch -= m;
        }
        image
    }
}
