//! Input preprocessing: the job's `data.preprocess` ([`Preprocess`]), its fit on the training
//! split ([`Fitted`]), and the file that keeps the fit with a run ([`FittedPreprocessing`],
//! `preprocess.json`), so that `eval`, `predict` and `finetune` apply the run's statistics
//! instead of fitting new ones.
//!
//! ```toml
//! [data]
//! preprocess = "standardize"                          # none | mean_image | channel_mean | standardize
//! # preprocess = "zca"                                # ZCA whitening, eps = 1e-5
//! # preprocess = { zca = { eps = 0.1 } }
//! # preprocess = { pca = { components = 32 } }        # project on the top 32 components
//! # preprocess = { pca = { variance = 0.95, whiten = true, eps = 1e-2 } }
//! ```
//!
//! PCA turns a C×H×W image into k features (shape `[k, 1, 1]`): it feeds an MLP, not a
//! convolutional network. ZCA whitening keeps the image shape (it rotates the PCA-whitened data
//! back to pixel space). PCA and ZCA are applied to whole batches (one matrix product per batch,
//! the first batch hook); the others per image.

use std::path::Path;

use ndarray::{Array3, Array4, Axis};
use nn_data::preprocess::{ColorPca, ImagePreprocessor};
use nn_data::{ChannelMean, Dataset, MeanImage, Normalize, Pca, PcaConfig, Zca, ZcaConfig};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError, invalid};

/// PCA settings: `{ pca = { components = k } }` or `{ pca = { variance = 0.95 } }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PcaSettings {
    /// Keep the top k components. Default (with no `variance`): all C·H·W.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<usize>,
    /// Keep the fewest components whose explained variance exceeds this fraction of the
    /// total, in (0, 1) (scikit-learn's `PCA(n_components=0.95)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variance: Option<f64>,
    /// Divide each projection by √(λ + eps) (PCA whitening). Default false.
    pub whiten: bool,
    /// The whitening ε (squared pixel units). Default 1e-5 (the CS231n notes).
    pub eps: f64,
}

impl Default for PcaSettings {
    fn default() -> Self {
        PcaSettings {
            components: None,
            variance: None,
            whiten: false,
            eps: 1e-5,
        }
    }
}

/// ZCA settings: `"zca"` or `{ zca = { eps = 0.1 } }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZcaSettings {
    /// ε added to every eigenvalue before the inverse square root (squared pixel units;
    /// 1e-2 … 1e-1 is common on CIFAR). Default 1e-5 (the CS231n notes).
    pub eps: f64,
}

impl Default for ZcaSettings {
    fn default() -> Self {
        ZcaSettings { eps: 1e-5 }
    }
}

/// Input preprocessing fitted on the training split (the lecture's recipes).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Preprocess {
    /// Raw pixels in [0, 1].
    None,
    /// Subtract the mean image (AlexNet).
    MeanImage,
    /// Subtract the per-channel mean (VGG).
    ChannelMean,
    /// Subtract the per-channel mean and divide by the per-channel std (ResNet).
    #[default]
    Standardize,
    /// Project on principal components (optionally whitened): k features per image.
    Pca(PcaSettings),
    /// ZCA whitening: images with (nearly) identity pixel covariance.
    Zca(ZcaSettings),
}

/// The table form of [`Preprocess`] (`{ pca = { ... } }`), for the deserializer.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Table {
    None {},
    MeanImage {},
    ChannelMean {},
    Standardize {},
    Pca(PcaSettings),
    Zca(ZcaSettings),
}

const NAMES: &[&str] = &[
    "none",
    "mean_image",
    "channel_mean",
    "standardize",
    "pca",
    "zca",
];

impl<'de> Deserialize<'de> for Preprocess {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Preprocess;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a preprocessing name (none, mean_image, channel_mean, standardize, pca, zca) or a table such as { zca = { eps = 0.1 } }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Preprocess, E> {
                Ok(match v {
                    "none" => Preprocess::None,
                    "mean_image" => Preprocess::MeanImage,
                    "channel_mean" => Preprocess::ChannelMean,
                    "standardize" => Preprocess::Standardize,
                    "pca" => Preprocess::Pca(PcaSettings::default()),
                    "zca" => Preprocess::Zca(ZcaSettings::default()),
                    other => return Err(E::unknown_variant(other, NAMES)),
                })
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Preprocess, A::Error> {
                let t = Table::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(match t {
                    Table::None {} => Preprocess::None,
                    Table::MeanImage {} => Preprocess::MeanImage,
                    Table::ChannelMean {} => Preprocess::ChannelMean,
                    Table::Standardize {} => Preprocess::Standardize,
                    Table::Pca(s) => Preprocess::Pca(s),
                    Table::Zca(s) => Preprocess::Zca(s),
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl Preprocess {
    /// Checks the settings, naming the field (`data.preprocess.pca.variance`, ...).
    pub fn validate(&self) -> Result<()> {
        let eps = |field: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(invalid(field, v, "a finite ε >= 0"))
            }
        };
        match self {
            Preprocess::Pca(p) => {
                eps("data.preprocess.pca.eps", p.eps)?;
                if p.components == Some(0) {
                    return Err(invalid("data.preprocess.pca.components", 0, "at least 1"));
                }
                if let Some(v) = p.variance {
                    if p.components.is_some() {
                        return Err(invalid(
                            "data.preprocess.pca.variance",
                            v,
                            "not set together with `components` (one or the other)",
                        ));
                    }
                    if !(v > 0.0 && v < 1.0) {
                        return Err(invalid(
                            "data.preprocess.pca.variance",
                            v,
                            "a fraction in (0, 1) of the total variance",
                        ));
                    }
                }
                Ok(())
            }
            Preprocess::Zca(z) => eps("data.preprocess.zca.eps", z.eps),
            _ => Ok(()),
        }
    }

    /// Whether the fit is per channel (`none`, `channel_mean`, `standardize`), so that it
    /// applies to images of any height and width; `mean_image`, `pca` and `zca` are fitted per
    /// pixel, on one image size.
    pub fn per_channel(&self) -> bool {
        matches!(
            self,
            Preprocess::None | Preprocess::ChannelMean | Preprocess::Standardize
        )
    }

    /// Whether the model's input depends on the image layout (all but PCA keep C×H×W).
    pub fn keeps_image_shape(&self) -> bool {
        !matches!(self, Preprocess::Pca(_))
    }

    /// Fits on `train` (images of shape `image_shape`).
    pub fn fit(&self, train: &dyn Dataset) -> Result<Fitted> {
        self.validate()?;
        let named = |field: &'static str| {
            move |e: nn_data::DataError| match e {
                nn_data::DataError::InvalidConfig {
                    field: f,
                    value,
                    expected,
                } => invalid(&format!("{field}.{f}"), value, &expected),
                e => TrainError::from(e),
            }
        };
        Ok(match self {
            Preprocess::None => Fitted::None,
            Preprocess::MeanImage => Fitted::MeanImage(MeanImage::fit(train)?),
            Preprocess::ChannelMean => Fitted::ChannelMean(ChannelMean::fit(train)?),
            Preprocess::Standardize => Fitted::Standardize(Normalize::fit(train)?),
            Preprocess::Pca(p) => {
                let config = PcaConfig {
                    components: p.components,
                    whiten: p.whiten,
                    eps: p.eps,
                };
                let pca = Pca::fit(train, config).map_err(named("data.preprocess.pca"))?;
                match p.variance {
                    Some(v) => {
                        let k = pca.components_for_variance(v)?;
                        Fitted::Pca(pca.truncated(k)?)
                    }
                    None => Fitted::Pca(pca),
                }
            }
            Preprocess::Zca(z) => Fitted::Zca(
                Zca::fit(train, ZcaConfig { eps: z.eps }).map_err(named("data.preprocess.zca"))?,
            ),
        })
    }
}

/// A fitted preprocessing step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fitted {
    /// The identity.
    None,
    /// Mean image subtraction.
    MeanImage(MeanImage),
    /// Per-channel mean subtraction.
    ChannelMean(ChannelMean),
    /// Per-channel standardisation.
    Standardize(Normalize),
    /// PCA projection (k features, shape `[k, 1, 1]`).
    Pca(Pca),
    /// ZCA whitening.
    Zca(Zca),
}

impl Fitted {
    /// Whether it is applied to whole batches (a matrix product per batch) rather than per
    /// image in the loader's workers.
    pub fn is_batched(&self) -> bool {
        matches!(self, Fitted::Pca(_) | Fitted::Zca(_))
    }

    /// Applies it to one CHW image (the [`ImagePreprocessor`] method, callable without
    /// importing the trait).
    pub fn apply(&self, image: Array3<f32>) -> Array3<f32> {
        ImagePreprocessor::apply(self, image)
    }

    /// The shape of its output for images of shape `input`.
    pub fn output_shape(&self, input: [usize; 3]) -> [usize; 3] {
        match self {
            Fitted::Pca(p) => [p.components().nrows(), 1, 1],
            _ => input,
        }
    }
}

impl ImagePreprocessor for Fitted {
    fn apply(&self, image: Array3<f32>) -> Array3<f32> {
        match self {
            Fitted::None => image,
            Fitted::MeanImage(s) => s.apply(image),
            Fitted::ChannelMean(s) => s.apply(image),
            Fitted::Standardize(s) => s.apply(image),
            Fitted::Zca(s) => s.apply(image),
            Fitted::Pca(p) => {
                let z = p.transform_image(&image);
                let k = z.len();
                z.into_shape_with_order((k, 1, 1))
                    .expect("k values are a k×1×1 image")
            }
        }
    }

    fn apply_batch(&self, batch: &mut Array4<f32>) {
        match self {
            Fitted::None => {}
            Fitted::MeanImage(s) => s.apply_batch(batch),
            Fitted::ChannelMean(s) => s.apply_batch(batch),
            Fitted::Standardize(s) => s.apply_batch(batch),
            Fitted::Zca(s) => s.apply_batch(batch),
            Fitted::Pca(p) => {
                let n = batch.len_of(Axis(0));
                let z = p.transform_images(batch.view());
                let k = z.ncols();
                *batch = z
                    .into_shape_with_order((n, k, 1, 1))
                    .expect("N×k values are N k×1×1 images");
            }
        }
    }
}

/// What a run keeps of its data preparation, in `preprocess.json`: the setting, the shape it
/// was fitted on, the fit, and the colour statistics of `[pca_lighting]` if the job used it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FittedPreprocessing {
    /// The job's `data.preprocess`.
    pub setting: Preprocess,
    /// CHW shape of the images it was fitted on (after `data.channels`).
    pub image_shape: [usize; 3],
    /// The fitted step.
    pub fitted: Fitted,
    /// AlexNet's colour statistics fitted on the training split (`[pca_lighting]` jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color_pca: Option<ColorPca>,
}

/// The file name of [`FittedPreprocessing`] in a run folder.
pub const PREPROCESS_FILE: &str = "preprocess.json";

impl FittedPreprocessing {
    /// Writes it to `path` as JSON, atomically. f32 and f64 values are written with the
    /// shortest representation that reads back to the same bits, so a reload is exact.
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).expect("fitted preprocessing serialises");
        crate::write_atomic(path, &json)
    }

    /// Reads a file written by [`FittedPreprocessing::save`].
    pub fn load(path: &Path) -> Result<FittedPreprocessing> {
        Ok(nn_data::load_json(path)?)
    }

    /// Checks that it fits a job whose `data.preprocess` is `setting` on images of
    /// `image_shape`, naming the field that differs.
    pub fn check(&self, setting: &Preprocess, image_shape: [usize; 3], path: &Path) -> Result<()> {
        if &self.setting != setting {
            return Err(invalid(
                "data.preprocess",
                format!("{setting:?}"),
                &format!(
                    "{:?}, the preprocessing fitted in {} (a model is trained on inputs \
                     preprocessed one way; set data.preprocess to match or leave it out)",
                    self.setting,
                    path.display()
                ),
            ));
        }
        if self.image_shape != image_shape {
            return Err(invalid(
                "data.source",
                format!("images of shape {image_shape:?}"),
                &format!(
                    "images of shape {:?}, the shape the preprocessing in {} was fitted on",
                    self.image_shape,
                    path.display()
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct D {
        preprocess: Preprocess,
    }

    fn parse(text: &str) -> std::result::Result<Preprocess, String> {
        toml::from_str::<D>(text)
            .map(|d| d.preprocess)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn names_and_tables() {
        assert_eq!(
            parse("preprocess = \"zca\""),
            Ok(Preprocess::Zca(ZcaSettings::default()))
        );
        assert_eq!(parse("preprocess = \"none\""), Ok(Preprocess::None));
        assert_eq!(
            parse("preprocess = { pca = { variance = 0.9, whiten = true } }"),
            Ok(Preprocess::Pca(PcaSettings {
                variance: Some(0.9),
                whiten: true,
                ..PcaSettings::default()
            }))
        );
        assert_eq!(
            parse("preprocess = { zca = { eps = 0.1 } }"),
            Ok(Preprocess::Zca(ZcaSettings { eps: 0.1 }))
        );
        let e = parse("preprocess = \"whiten\"").unwrap_err();
        assert!(e.contains("whiten") && e.contains("zca"), "{e}");
        let e = parse("preprocess = { pca = { component = 3 } }").unwrap_err();
        assert!(e.contains("component"), "{e}");
        for p in [
            Preprocess::MeanImage,
            Preprocess::Pca(PcaSettings {
                components: Some(5),
                ..PcaSettings::default()
            }),
        ] {
            #[derive(Serialize)]
            struct S<'a> {
                preprocess: &'a Preprocess,
            }
            let text = toml::to_string(&S { preprocess: &p }).unwrap();
            assert_eq!(parse(&text), Ok(p), "{text}");
        }
    }

    #[test]
    fn settings_are_validated_naming_the_field() {
        for (text, field) in [
            (
                "preprocess = { pca = { components = 0 } }",
                "pca.components",
            ),
            ("preprocess = { pca = { variance = 1.0 } }", "pca.variance"),
            (
                "preprocess = { pca = { variance = 0.5, components = 3 } }",
                "pca.variance",
            ),
            ("preprocess = { zca = { eps = -1.0 } }", "zca.eps"),
        ] {
            let e = parse(text).unwrap().validate().unwrap_err().to_string();
            assert!(
                e.contains(&format!("data.preprocess.{field}")),
                "{text}: {e}"
            );
        }
    }
}
