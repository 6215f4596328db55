//! The shapes of a job, checked before any data is loaded: the images the source gives (after
//! `data.channels`), what the `augment` pipeline makes of them, and what the model is built
//! for.
//!
//! * The **model's input** is the shape of the training pipeline's output (then the
//!   preprocessing's: `[k, 1, 1]` for a PCA on k components), not the stored images' shape.
//! * Validation and test images are not augmented, so they keep the stored shape. A pipeline
//!   that changes the **channels** is rejected (no model takes both). One that changes the
//!   **height or width** is rejected when the model or the preprocessing needs one fixed size —
//!   an MLP (its first layer has C·H·W inputs), `mean_image`, `pca`, `zca` (fitted per pixel)
//!   — naming `augment` and the shapes, and suggesting to end the pipeline with a crop or resize
//!   back to the stored size. Convolutional networks with global average pooling (`cnn`,
//!   `resnet`) accept it: they train on the pipeline's crops and are evaluated on the whole
//!   images, as fully convolutional networks are.
//! * `[pca_lighting]` needs RGB images.
//!
//! [`source_shape`] knows the stored shape of every source without reading it, except an image
//! folder without `size` (its files decide); [`check`] runs again on the loaded data, so that
//! case is caught right after the files are listed, before training starts.

use crate::config::{DataConfig, DataSource, TrainConfig};
use crate::error::{Result, invalid};
use crate::image_source::ImageColor;
use crate::zoo::ModelConfig;

/// The CHW shape of the source's images after `data.channels`, without loading them; `None` for
/// an image folder whose images keep their files' size.
pub fn source_shape(data: &DataConfig) -> Option<[usize; 3]> {
    let [c, h, w] = match &data.source {
        DataSource::Digits => [1, 8, 8],
        DataSource::Mnist(_) | DataSource::FashionMnist(_) => [1, 28, 28],
        DataSource::Cifar10(_) | DataSource::Cifar100(_) => [3, 32, 32],
        DataSource::ImageFolder(spec) => {
            let [h, w] = spec.size?;
            let c = match spec.color {
                ImageColor::Rgb => 3,
                ImageColor::Gray => 1,
            };
            [c, h as usize, w as usize]
        }
    };
    Some([data.channels.unwrap_or(c), h, w])
}

/// Whether the model takes one input size only (an MLP's first layer has C·H·W inputs).
fn fixed_size_model(model: &ModelConfig) -> bool {
    matches!(model, ModelConfig::Mlp { .. })
}

/// Checks the shapes of `config` for stored images of shape `image` and returns the shape of
/// the training pipeline's output (the model's input before the preprocessing). Errors name the
/// field (`augment.transforms[i]...`, `augment`, `pca_lighting`).
pub fn check(config: &TrainConfig, image: [usize; 3]) -> Result<[usize; 3]> {
    if config.pca_lighting.is_some() && image[0] != 3 {
        return Err(invalid(
            "pca_lighting",
            format!("images with {} channel(s)", image[0]),
            "RGB images (3 channels): PCA colour augmentation works on the RGB covariance; \
             set data.channels = 3 to replicate a grayscale source into RGB",
        ));
    }
    let out = match &config.augment {
        Some(p) => p.output_shape(image).map_err(|e| {
            invalid(
                "augment",
                format!("a pipeline for {} images", fmt(image)),
                &e.to_string(),
            )
        })?,
        None => image,
    };
    if out == image {
        return Ok(out);
    }
    let fix = format!(
        "a pipeline whose output has the shape of the validation and test images, {} (they \
         are not augmented): end it with a crop or resize to {}×{}",
        fmt(image),
        image[1],
        image[2]
    );
    let what = format!("a pipeline turning {} images into {}", fmt(image), fmt(out));
    if out[0] != image[0] {
        return Err(invalid("augment", what, &fix));
    }
    if fixed_size_model(&config.model) {
        return Err(invalid(
            "augment",
            what,
            &format!("{fix} (model.kind = \"mlp\" takes one input size)"),
        ));
    }
    if !config.data.preprocess.per_channel() {
        return Err(invalid(
            "augment",
            what,
            &format!("{fix} (data.preprocess is fitted per pixel, on the stored size)"),
        ));
    }
    Ok(out)
}

fn fmt(s: [usize; 3]) -> String {
    format!("{}×{}×{}", s[0], s[1], s[2])
}

/// Checks `config`'s shapes before any data is loaded, when the source's shape is known
/// without reading it ([`source_shape`]): the augmentation pipeline ([`check`]), then the model
/// on the pipeline's output ([`ModelConfig::estimate`]: more CNN stages than the input allows,
/// VGG's floor-mode pools, ...; errors name `model.<field>`). With PCA the model's input size is
/// known only after fitting, so the model is checked when it is built.
pub fn check_before_loading(config: &TrainConfig) -> Result<()> {
    let Some(image) = source_shape(&config.data) else {
        return Ok(());
    };
    let input = check(config, image)?;
    if config.data.preprocess.keeps_image_shape() {
        // The class count sizes the classifier only; it does not decide whether a shape fits.
        config.model.estimate(input, 2)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(text: &str) -> TrainConfig {
        TrainConfig::from_toml(text, std::path::Path::new("job.toml")).unwrap()
    }

    #[test]
    fn source_shapes_without_loading() {
        let d = |t: &str| job(t).data;
        assert_eq!(source_shape(&d("")), Some([1, 8, 8]));
        assert_eq!(
            source_shape(&d("[data]\nsource = { cifar10 = \"x\" }\nchannels = 1")),
            Some([1, 32, 32])
        );
        assert_eq!(
            source_shape(&d(
                "[data]\nsource = { image_folder = { path = \"x\", size = [20, 30], color = \"gray\" } }"
            )),
            Some([1, 20, 30])
        );
        assert_eq!(
            source_shape(&d("[data]\nsource = { image_folder = \"x\" }")),
            None
        );
    }

    #[test]
    fn the_pipeline_decides_and_bad_shapes_name_the_field() {
        let cnn = "[model]\nkind = \"cnn\"\nchannels = [8]\n";
        // Padding then cropping back keeps the shape.
        let c = job(&format!(
            "{cnn}[augment]\ntransforms = [{{ type = \"random_crop\", size = 8, padding = 2 }}]"
        ));
        assert_eq!(check(&c, [1, 8, 8]).unwrap(), [1, 8, 8]);
        // A smaller crop: a CNN trains on 6×6 crops (global pooling takes the 8×8 test images).
        let crop6 = "[augment]\ntransforms = [{ type = \"random_crop\", size = 6 }]";
        let c = job(&format!("{cnn}{crop6}"));
        assert_eq!(check(&c, [1, 8, 8]).unwrap(), [1, 6, 6]);
        // An MLP cannot, nor can a per-pixel preprocessing.
        for text in [
            format!("[model]\nkind = \"mlp\"\n{crop6}"),
            format!("[data]\npreprocess = \"mean_image\"\n{cnn}{crop6}"),
        ] {
            let e = check(&job(&text), [1, 8, 8]).unwrap_err().to_string();
            assert!(e.contains("augment") && e.contains("1×6×6"), "{e}");
            assert!(e.contains("8×8"), "{e}");
        }
        // A crop larger than the image: nn-augment's error, under `augment`.
        let c = job(&format!(
            "{cnn}[augment]\ntransforms = [{{ type = \"random_crop\", size = 12 }}]"
        ));
        let e = check(&c, [1, 8, 8]).unwrap_err().to_string();
        assert!(e.contains("augment") && e.contains("random_crop"), "{e}");
        // PCA colour augmentation on grayscale images.
        let e = check(&job("[pca_lighting]\n"), [1, 8, 8])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("pca_lighting") && e.contains("data.channels"),
            "{e}"
        );
    }
}
