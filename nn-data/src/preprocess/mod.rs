//! Preprocessing fitted on training data and applied to any split (CS231n "Data
//! preprocessing"): [`MeanImage`] (AlexNet), [`ChannelMean`] (VGG), [`Normalize`] (ResNet:
//! per-channel mean and std), [`Pca`] (projection and whitening), [`Zca`] whitening, and the
//! [`ColorPca`] statistics of AlexNet's colour augmentation.
//!
//! Statistics are accumulated in `f64` over fixed chunks in index order (samples are read in
//! parallel), so a fit gives the same bits for any number of threads. Every fitted object
//! serialises with serde; [`save_json`] / [`load_json`] write and read it (atomically) so that
//! evaluation reuses the training statistics.

mod channel_mean;
mod color_pca;
mod eigen;
mod mean_image;
mod normalize;
mod pca;
mod source;
mod zca;

pub use channel_mean::ChannelMean;
pub use color_pca::ColorPca;
pub use eigen::{SymmetricEigen, symmetric_eigen};
pub use mean_image::MeanImage;
pub use normalize::Normalize;
pub use pca::{Pca, PcaConfig};
pub use zca::{Zca, ZcaConfig};

use crate::loader::SampleTransform;
use crate::{DataError, Dataset, InMemoryDataset};
use ndarray::{Array3, Array4, Axis};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// A fitted image → image preprocessing step (same CHW shape in and out).
pub trait ImagePreprocessor: Send + Sync {
    /// Applies the step to one CHW image.
    ///
    /// Panics if the image's shape differs from the one the step was fitted on (a programmer
    /// error), naming both shapes.
    fn apply(&self, image: Array3<f32>) -> Array3<f32>;

    /// Applies the step to every image of an `N×C×H×W` batch, in place.
    fn apply_batch(&self, batch: &mut Array4<f32>) {
        for mut img in batch.axis_iter_mut(Axis(0)) {
            let out = self.apply(img.to_owned());
            img.assign(&out);
        }
    }
}

/// Wraps a preprocessing step as a loader per-sample transform (it ignores the generator).
pub fn as_sample_transform<P: ImagePreprocessor + 'static>(step: P) -> SampleTransform {
    let step = Arc::new(step);
    Arc::new(move |image, _rng| step.apply(image))
}

/// Applies `step` once to every image of `dataset` (in chunks of 256 with
/// [`ImagePreprocessor::apply_batch`], i.e. one GEMM per chunk for [`Zca`]) and returns the
/// result as an in-memory `f32` data set with the same labels and class names.
///
/// This is the efficient way to use a whitening step, whose per-image cost (`D²`) is too high
/// for a per-sample loader transform; channel-wise steps are cheap either way.
pub fn apply_to_dataset(
    step: &dyn ImagePreprocessor,
    dataset: &dyn Dataset,
) -> Result<InMemoryDataset, DataError> {
    let src = source::Source::Dataset(dataset);
    let [c, h, w] = src.image_shape()?;
    let mut out = Array4::<f32>::zeros((dataset.len(), c, h, w));
    let mut start = 0;
    src.for_each_chunk(&mut |chunk| {
        let mut chunk = chunk.to_owned();
        step.apply_batch(&mut chunk);
        let n = chunk.len_of(Axis(0));
        out.slice_mut(ndarray::s![start..start + n, .., .., ..])
            .assign(&chunk);
        start += n;
        Ok(())
    })?;
    let labels = crate::dataset::labels(dataset)?;
    let ds = InMemoryDataset::from_f32(out, labels, dataset.num_classes())?;
    match dataset.class_names() {
        Some(names) => ds.with_class_names(names.iter().cloned()),
        None => Ok(ds),
    }
}

/// Writes `value` as pretty JSON to `path` atomically, as nn-core's `atomic_write` does
/// (nn-data cannot depend on nn-core): a temporary file in the same folder
/// (`.NAME.tmp-XXXXXX`, from `tempfile`), `fsync`, rename over `path`, `fsync` of the folder; a
/// crash never leaves a half-written file and an error removes the temporary file.
pub fn save_json<T: Serialize + ?Sized>(value: &T, path: &Path) -> Result<(), DataError> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| DataError::Json {
        path: path.into(),
        source: e,
    })?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let write = || -> std::io::Result<()> {
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}.tmp-"))
            .tempfile_in(dir)?;
        tmp.write_all(&text)?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| DataError::io(path, e))
}

/// Reads a value written by [`save_json`].
pub fn load_json<T: DeserializeOwned>(path: &Path) -> Result<T, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| DataError::Json {
        path: path.into(),
        source: e,
    })
}

/// Panics (programmer error) if `found` differs from the fitted `expected` shape.
pub(crate) fn check_shape(op: &str, expected: &[usize], found: &[usize]) {
    assert_eq!(
        expected, found,
        "{op}: fitted on images of shape {expected:?}, got {found:?}"
    );
}

#[cfg(test)]
mod tests;
