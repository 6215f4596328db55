//! [`MeanImage`]: subtract the mean training image (AlexNet; CS231n: "subtract the mean image,
//! e.g. AlexNet (mean image = [32,32,3] array)").

use super::source::{Source, mean_vector};
use super::{ImagePreprocessor, check_shape};
use crate::{DataError, Dataset};
use ndarray::{Array3, Array4, ArrayView4};
use serde::{Deserialize, Serialize};

/// `x ↦ x − μ` with `μ = (1/N) Σᵢ xᵢ` the per-pixel mean of the training images (shape CHW).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeanImage {
    mean: Array3<f32>,
}

impl MeanImage {
    /// Fits the mean image of a data set (all samples must share one shape).
    pub fn fit(dataset: &dyn Dataset) -> Result<Self, DataError> {
        Self::fit_source(Source::Dataset(dataset))
    }

    /// Fits the mean image of an `N×C×H×W` array.
    pub fn fit_array(images: ArrayView4<'_, f32>) -> Result<Self, DataError> {
        Self::fit_source(Source::Array(images))
    }

    fn fit_source(src: Source<'_>) -> Result<Self, DataError> {
        let [c, h, w] = src.image_shape()?;
        let mean = mean_vector(src)?.mapv(|v| v as f32);
        let mean = mean.into_shape_with_order((c, h, w)).expect("D = C·H·W");
        Ok(Self { mean })
    }

    /// A mean image given directly.
    pub fn new(mean: Array3<f32>) -> Self {
        Self { mean }
    }

    /// The mean image, CHW.
    pub fn mean(&self) -> &Array3<f32> {
        &self.mean
    }
}

impl ImagePreprocessor for MeanImage {
    fn apply(&self, image: Array3<f32>) -> Array3<f32> {
        check_shape("MeanImage", self.mean.shape(), image.shape());
        image - &self.mean
    }

    fn apply_batch(&self, batch: &mut Array4<f32>) {
        check_shape("MeanImage", self.mean.shape(), &batch.shape()[1..]);
        *batch -= &self.mean;
    }
}
