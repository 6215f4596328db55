//! Predictions on image files: [`load_image`] decodes a PNG/JPEG into the model's input shape
//! (gray or RGB by the channel count, resized bilinearly with antialiasing to H×W as
//! torchvision's `Resize`), [`predict_image`] runs the job's preprocessing, the optional TTA
//! views and the model(s), and returns the top-k classes with their probabilities.

use std::path::{Path, PathBuf};

use ndarray::{Array3, Axis};
use nn_augment::tta::stack_views;
use nn_core::Module;
use nn_data::{ColorMode, ImageFolderConfig, ImagePreprocessor, decode_image};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError, invalid};
use crate::trainer::predict_proba;
use crate::tta_eval::Tta;

/// One class of a prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassProbability {
    /// The label.
    pub label: usize,
    /// Its name.
    pub class: String,
    /// The predicted probability (averaged over TTA views and models).
    pub probability: f32,
}

/// The top classes of one image, most probable first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImagePrediction {
    /// The image file.
    pub image: PathBuf,
    /// The k most probable classes.
    pub top: Vec<ClassProbability>,
}

/// Reads the image file `path` as a CHW image in `[0, 1]` of `shape` = `[C, H, W]`: 1 channel
/// is luma, 3 channels RGB; other sizes are resized to H×W. Errors name the file. Images of
/// more than [`nn_data::DEFAULT_MAX_PIXELS`] are refused ([`load_image_bounded`]).
pub fn load_image(path: &Path, shape: [usize; 3]) -> Result<Array3<f32>> {
    load_image_bounded(path, shape, nn_data::DEFAULT_MAX_PIXELS)
}

/// [`load_image`] of an image of at most `max_pixels` (width × height, read from the header
/// before decoding, with the decoder's allocation limit set from it; see
/// [`nn_data::image_decoder`]): a larger image is `DataError::ImageTooLarge` naming the file,
/// its size and the limit, and nothing is decoded. `max_pixels` must be at least 1.
pub fn load_image_bounded(path: &Path, shape: [usize; 3], max_pixels: u64) -> Result<Array3<f32>> {
    let [c, h, w] = shape;
    let color = match c {
        1 => ColorMode::Gray,
        3 => ColorMode::Rgb,
        _ => {
            return Err(invalid(
                "input channels",
                c,
                "1 (gray) or 3 (RGB) to read image files",
            ));
        }
    };
    if max_pixels == 0 {
        return Err(invalid("max_pixels", 0, "at least 1 pixel"));
    }
    let bytes = std::fs::read(path).map_err(|e| nn_data::DataError::io(path, e))?;
    let config = ImageFolderConfig {
        resize: Some((h as u32, w as u32)),
        color,
        max_pixels,
        ..ImageFolderConfig::default()
    };
    let pixels = decode_image(&bytes, path, &config).map_err(TrainError::Data)?;
    Ok(pixels.mapv(|v| f32::from(v) / 255.0))
}

/// The `k` most probable classes of `image` (a raw CHW image in `[0, 1]`) under `models`
/// (their probabilities averaged), each view of `tta` preprocessed with `preprocess`.
///
/// # Panics
/// If `models` is empty or `class_names` has fewer names than the models have outputs.
pub fn predict_image(
    models: &[&dyn Module],
    image: &Array3<f32>,
    preprocess: &dyn ImagePreprocessor,
    tta: &Tta,
    class_names: &[String],
    k: usize,
) -> Vec<ClassProbability> {
    assert!(!models.is_empty(), "predict_image: no models");
    let views: Vec<Array3<f32>> = tta
        .views(image)
        .outer_iter()
        .map(|v| preprocess.apply(v.to_owned()))
        .collect();
    let batch = stack_views(&views);
    let mut mean = None;
    for m in models {
        let p = predict_proba(*m, batch.clone())
            .mean_axis(Axis(0))
            .expect("at least one view");
        mean = Some(match mean {
            Some(acc) => acc + p,
            None => p,
        });
    }
    let mean = mean.expect("at least one model") / models.len() as f32;
    let mut order: Vec<usize> = (0..mean.len()).collect();
    // Most probable first; ties by label.
    order.sort_by(|&a, &b| mean[b].total_cmp(&mean[a]).then(a.cmp(&b)));
    order
        .into_iter()
        .take(k.max(1))
        .map(|label| ClassProbability {
            label,
            class: class_names[label].clone(),
            probability: mean[label],
        })
        .collect()
}

/// Reads `path` into `shape` and predicts its top `k` classes (see [`predict_image`]).
pub fn predict_file(
    models: &[&dyn Module],
    path: &Path,
    shape: [usize; 3],
    preprocess: &dyn ImagePreprocessor,
    tta: &Tta,
    class_names: &[String],
    k: usize,
) -> Result<ImagePrediction> {
    let image = load_image(path, shape)?;
    Ok(ImagePrediction {
        image: path.to_path_buf(),
        top: predict_image(models, &image, preprocess, tta, class_names, k),
    })
}
