//! [`TrainConfig`]: one TOML file describes a whole training job (data, model, optimizer,
//! schedule, augmentation, regularisation, early stopping). Every field has a default, so the
//! empty file is the default job: an MLP on the embedded UCI digits.
//!
//! ```toml
//! seed = 0
//! epochs = 30
//! batch_size = 64
//!
//! [data]
//! source = "digits"           # or "fashion_mnist", { cifar10 = "DIR" }, { image_folder = "DIR" }, ... (see data_source)
//! preprocess = "standardize"  # none | mean_image | channel_mean | standardize
//!
//! [model]
//! kind = "mlp"
//! hidden = [256, 256]
//! activation = { kind = "relu" }
//!
//! [optimizer]
//! kind = "sgd"
//! lr = 0.1
//! momentum = 0.9
//! nesterov = true
//! weight_decay = 5e-4
//! ```

use std::path::{Path, PathBuf};

use nn_optim::{Interval, OptimizerConfig, Schedule, SgdConfig};
use serde::{Deserialize, Serialize};

pub use crate::data_source::DataSource;
use crate::error::{Result, TrainError, invalid};
pub use crate::pca_lighting::PcaLightingSettings;
pub use crate::preprocess::Preprocess;
pub use crate::regularize::{CutoutSettings, MixupSettings, PenaltySettings};
use crate::zoo::ModelConfig;

/// The largest `data.threads` accepted (more threads than this only cost memory and start-up).
pub const MAX_THREADS: usize = 256;

/// The data part of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// The data set.
    pub source: DataSource,
    /// Fraction of the training files held out for validation (file-based sources; the digits
    /// split is fixed at 15 %). Default 0.1.
    pub val_fraction: f64,
    /// Input preprocessing fitted on the training split: `none`, `mean_image`,
    /// `channel_mean`, `standardize`, `pca`, `zca`, or a table with settings such as
    /// `{ pca = { variance = 0.95, whiten = true } }` ([`crate::preprocess`]). Default
    /// `standardize`.
    pub preprocess: Preprocess,
    /// Reuse the preprocessing a run fitted and saved (its `preprocess.json`) instead of
    /// fitting on this job's training split — what `finetune` does, so that the network sees
    /// inputs prepared as in its training. Must match `preprocess`. Default none (fit).
    pub preprocess_from: Option<PathBuf>,
    /// Convert every image to this many channels: 3 replicates grayscale into RGB (R = G = B),
    /// 1 converts RGB to luma (0.2989·R + 0.587·G + 0.114·B). Default none (as stored).
    pub channels: Option<usize>,
    /// Train on at most this many training images (the lecture's "overfit a small sample"
    /// check). Default: all.
    pub limit_train: Option<usize>,
    /// Keep only these classes in every split, relabelled `classes[k]` → `k` (e.g. digits 5–9
    /// as a 5-class task for transfer learning). Applied before `limit_train`. Default: all.
    pub classes: Option<Vec<usize>>,
    /// Data-loading threads (default: rayon's global pool). Results do not depend on it.
    pub threads: Option<usize>,
    /// Seed of the train/validation split (default: the job's `seed`). Ensemble members set it
    /// to the base seed so that they differ in initialisation and shuffling only, not in data.
    pub split_seed: Option<u64>,
    /// The largest data file in bytes: a decoded IDX file (MNIST-style sources), checked from
    /// the file's header before a gzipped file is inflated (a guard against decompression
    /// bombs), and a CIFAR-10/100 binary file, checked from its size on disk before it is read.
    /// Default 1 GiB ([`nn_data::DEFAULT_MAX_IDX_BYTES`]).
    pub max_bytes: u64,
    /// Train without a validation split: there is no model selection, the last epoch's
    /// weights are kept and tested, and validation figures are NaN (`null` in report.json).
    /// Needs `val_fraction = 0`; a fixed validation split (the digits', an image folder's
    /// `val/`) joins the training split. Early stopping, EMA and reduce-on-plateau (which follow
    /// the validation figures) are errors with it. Default false: an empty validation split is an error.
    pub no_validation: bool,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            source: DataSource::Digits,
            val_fraction: 0.1,
            preprocess: Preprocess::Standardize,
            preprocess_from: None,
            channels: None,
            limit_train: None,
            classes: None,
            threads: None,
            split_seed: None,
            max_bytes: nn_data::DEFAULT_MAX_IDX_BYTES,
            no_validation: false,
        }
    }
}

/// Early stopping on validation accuracy: stop when it has not improved for `patience` epochs
/// and restore the best snapshot ("always keep track of the model snapshot that worked best on
/// val").
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStopping {
    /// Epochs without improvement before stopping.
    pub patience: usize,
}

/// A complete training job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Seed of every random choice (initialisation, shuffling, augmentation, dropout, mixup).
    pub seed: u64,
    /// Number of epochs. Default 30.
    pub epochs: usize,
    /// Mini-batch size: the images of one forward/backward pass (a micro-batch with
    /// `grad_accumulation` > 1). Default 64.
    pub batch_size: usize,
    /// Gradient accumulation: micro-batches of `batch_size` images per optimizer step, so one
    /// step sees `batch_size × grad_accumulation` images (see [`crate::accumulate`]). Default 1.
    pub grad_accumulation: usize,
    /// Data.
    pub data: DataConfig,
    /// Model.
    pub model: ModelConfig,
    /// Optimizer (default SGD, lr 0.1, Nesterov momentum 0.9, weight decay 5e-4);
    /// `kind = "lbfgs"` trains full-batch with L-BFGS ([`crate::lbfgs`]).
    pub optimizer: OptimizerConfig,
    /// The batch-size rule for the learning rate: `optimizer.lr` is the rate tuned at
    /// `lr_scaling.base_batch` images per step, scaled to this job's step size
    /// ([`crate::lr_scaling`]). Default none (`optimizer.lr` as written).
    pub lr_scaling: Option<crate::lr_scaling::LrScaling>,
    /// No weight decay on biases and normalisation parameters (1-d parameters). Default true.
    pub no_decay_on_1d: bool,
    /// Learning-rate schedule. Default: linear warm-up over the first epoch, then cosine to 0
    /// over the remaining steps ([`crate::default_schedule`]); constant for L-BFGS.
    pub schedule: Option<Schedule>,
    /// Whether the schedule counts steps or epochs. Default steps.
    pub schedule_interval: Interval,
    /// Reduce the rate when the validation loss (or accuracy) stops improving (PyTorch's
    /// `ReduceLROnPlateau`), checked at the end of every epoch ([`crate::plateau`]). Without a
    /// `schedule` the rate is constant between reductions. Default none.
    pub reduce_on_plateau: Option<crate::plateau::PlateauSettings>,
    /// Label smoothing ε of the cross-entropy loss. Default 0.
    pub label_smoothing: f32,
    /// Per-class weights w of the training cross-entropy (PyTorch's `CrossEntropyLoss(weight=w)`):
    /// with labels the batch loss is Σᵢ w_{yᵢ}·ℓᵢ / Σᵢ w_{yᵢ}; with mixup's soft targets it is
    /// Σᵢ Σ_c w_c·t_ic·(−ln p_ic) / N. One finite weight ≥ 0 per class, in label order (after a
    /// `data.classes` filter, of the kept classes); the count is checked against the data when
    /// the session is built. Validation loss and accuracy stay unweighted. Default none.
    pub class_weights: Option<Vec<f32>>,
    /// Per-sample augmentation pipeline for training images (nn-augment config), applied
    /// before preprocessing. Default none.
    pub augment: Option<nn_augment::PipelineConfig>,
    /// AlexNet's PCA colour augmentation with its statistics fitted on the training split,
    /// after `augment` ([`crate::pca_lighting`]). Default none.
    pub pca_lighting: Option<PcaLightingSettings>,
    /// Cutout on training batches, after preprocessing and before mixup (nn-regularize's
    /// `Cutout`; see [`crate::regularize`] for the order of the batch hooks). Default none.
    pub cutout: Option<CutoutSettings>,
    /// Mixup / CutMix on training batches (nn-regularize config; `num_classes` is filled in
    /// from the data), the last batch hook. Default none.
    pub mixup: Option<MixupSettings>,
    /// A weight penalty (L1 / L2 / elastic net) added to the training loss, separate from the
    /// optimizer's weight decay ([`crate::regularize`] explains the difference). Default none.
    pub penalty: Option<PenaltySettings>,
    /// Early stopping. Default none (train all epochs, still restore the best snapshot).
    pub early_stopping: Option<EarlyStopping>,
    /// Transfer learning: start from a checkpoint, re-initialise the head, freeze or slow down
    /// the backbone ([`crate::transfer`]). Default none (train from scratch).
    pub transfer: Option<crate::transfer::TransferSettings>,
    /// Exponential moving average of the weights (Polyak averaging), validated every epoch
    /// next to the raw weights; the better one is kept. Default none. See [`crate::ema`].
    pub ema: Option<crate::ema::EmaSettings>,
    /// When a job with a run folder writes its checkpoint ([`crate::checkpoint`]).
    pub checkpoint: CheckpointSettings,
    /// Data-parallel settings (synchronised batch norm, gradient bucket size), used when the
    /// job runs on several ranks (`mpirun -np N nn-train train`). See [`crate::dist`].
    pub distributed: crate::dist::DistributedSettings,
}

/// `[checkpoint]`: when a job with a run folder (`nn-train train --out DIR`) writes
/// `DIR/checkpoint.safetensors`, from which `nn-train train --resume DIR` continues exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CheckpointSettings {
    /// Also every this many optimisation steps (0: only at the end of every epoch, and when
    /// SIGINT/SIGTERM stop the job). Default 0.
    pub every_steps: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seed: 0,
            epochs: 30,
            batch_size: 64,
            grad_accumulation: 1,
            data: DataConfig::default(),
            model: ModelConfig::default(),
            optimizer: OptimizerConfig::Sgd(SgdConfig {
                lr: 0.1,
                momentum: 0.9,
                nesterov: true,
                weight_decay: 5e-4,
                ..SgdConfig::default()
            }),
            lr_scaling: None,
            no_decay_on_1d: true,
            schedule: None,
            schedule_interval: Interval::Step,
            reduce_on_plateau: None,
            label_smoothing: 0.0,
            class_weights: None,
            augment: None,
            pca_lighting: None,
            cutout: None,
            mixup: None,
            penalty: None,
            early_stopping: None,
            transfer: None,
            ema: None,
            checkpoint: CheckpointSettings::default(),
            distributed: crate::dist::DistributedSettings::default(),
        }
    }
}

impl TrainConfig {
    /// Parses a TOML config (unknown fields are errors, so typos do not pass silently: also
    /// options beside a variant that takes none, e.g. `{ kind = "relu", negative_slope = 0.1 }`,
    /// which serde alone would ignore).
    pub fn from_toml(text: &str, path: &Path) -> Result<TrainConfig> {
        let parse_error = |message: String| TrainError::ConfigParse {
            path: path.to_path_buf(),
            message,
        };
        let config: TrainConfig = toml::from_str(text).map_err(|e| parse_error(e.to_string()))?;
        let file: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| parse_error(e.to_string()))?;
        let kept = toml::Table::try_from(&config).expect("configs serialise to TOML");
        if let Some(key) = crate::config_keys::first_ignored_key(&file, &kept) {
            return Err(parse_error(format!(
                "unknown field `{key}`: the variant chosen beside it takes no such option"
            )));
        }
        config.validate()?;
        Ok(config)
    }

    /// Reads and parses a TOML config file.
    pub fn load(path: &Path) -> Result<TrainConfig> {
        let text = std::fs::read_to_string(path).map_err(|source| TrainError::ConfigRead {
            path: path.to_path_buf(),
            source,
        })?;
        TrainConfig::from_toml(&text, path)
    }

    /// The config as TOML (what `nn-train config` prints).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("configs serialise to TOML")
    }

    /// Checks the values that the components do not check themselves.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(invalid("epochs", self.epochs, "at least 1"));
        }
        if self.batch_size == 0 {
            return Err(invalid("batch_size", self.batch_size, "at least 1"));
        }
        if self.grad_accumulation == 0 {
            return Err(invalid(
                "grad_accumulation",
                0,
                "at least 1 micro-batch per optimizer step",
            ));
        }
        if let Some(s) = &self.lr_scaling {
            s.validate()?;
        }
        if !(0.0..1.0).contains(&self.data.val_fraction) {
            return Err(invalid(
                "data.val_fraction",
                self.data.val_fraction,
                "a fraction in [0, 1)",
            ));
        }
        if let Some(t) = self.data.threads
            && !(1..=MAX_THREADS).contains(&t)
        {
            return Err(invalid(
                "data.threads",
                t,
                &format!("1 to {MAX_THREADS} data-loading threads"),
            ));
        }
        self.data.preprocess.validate()?;
        if let Some(c) = self.data.channels
            && c != 1
            && c != 3
        {
            return Err(invalid("data.channels", c, "1 (grayscale) or 3 (RGB)"));
        }
        if let Some(p) = &self.pca_lighting {
            p.validate()?;
        }
        if let Some(p) = &self.reduce_on_plateau {
            p.validate()?;
        }
        if !self.data.preprocess.keeps_image_shape() {
            let features = "data.preprocess = pca turns each image into k features (no \
                            pixels, no neighbourhoods)";
            if !matches!(self.model, ModelConfig::Mlp { .. }) {
                return Err(invalid(
                    "model.kind",
                    "a convolutional network",
                    &format!("mlp: {features}; use zca to whiten and keep the image"),
                ));
            }
            if self.cutout.is_some() {
                return Err(invalid(
                    "cutout",
                    "set",
                    &format!("none: it masks image regions, and {features}"),
                ));
            }
            if self.mixup.is_some_and(|m| m.cutmix_alpha > 0.0) {
                return Err(invalid(
                    "mixup.cutmix_alpha",
                    self.mixup.map_or(0.0, |m| m.cutmix_alpha),
                    &format!("0: CutMix pastes image regions, and {features}"),
                ));
            }
        }
        if self.data.no_validation {
            let needs = |field: &str| {
                invalid(
                    field,
                    "set",
                    "no such section with data.no_validation = true (it chooses by validation accuracy)",
                )
            };
            if self.data.val_fraction != 0.0 {
                return Err(invalid(
                    "data.val_fraction",
                    self.data.val_fraction,
                    "0 with data.no_validation = true (every training image is trained on)",
                ));
            }
            if self.early_stopping.is_some() {
                return Err(needs("early_stopping"));
            }
            if self.ema.is_some() {
                return Err(needs("ema"));
            }
            if self.reduce_on_plateau.is_some() {
                return Err(needs("reduce_on_plateau"));
            }
        }
        if self.data.max_bytes == 0 {
            return Err(invalid("data.max_bytes", 0, "at least 1 byte"));
        }
        if self.data.limit_train == Some(0) {
            return Err(invalid("data.limit_train", 0, "at least 1 image"));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(invalid(
                "label_smoothing",
                self.label_smoothing,
                "a value in [0, 1)",
            ));
        }
        if let Some(w) = &self.class_weights {
            if w.is_empty() {
                return Err(invalid("class_weights", "[]", "one weight per class"));
            }
            if let Some((i, v)) = w
                .iter()
                .enumerate()
                .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
            {
                return Err(invalid(
                    &format!("class_weights[{i}]"),
                    v,
                    "a finite weight >= 0",
                ));
            }
            if w.iter().all(|v| *v == 0.0) {
                return Err(invalid(
                    "class_weights",
                    format!("{w:?}"),
                    "at least one weight > 0 (with every weight 0 the weighted loss is 0/0)",
                ));
            }
        }
        if let Some(p) = &self.penalty {
            p.validate()?;
        }
        if let Some(c) = &self.cutout {
            c.build()?;
        }
        if let Some(m) = &self.mixup {
            m.build(1)?;
        }
        if let Some(es) = self.early_stopping
            && es.patience == 0
        {
            return Err(invalid("early_stopping.patience", 0, "at least 1 epoch"));
        }
        if let Some(classes) = &self.data.classes {
            let mut sorted = classes.clone();
            sorted.sort_unstable();
            sorted.dedup();
            if classes.is_empty() || sorted.len() != classes.len() {
                return Err(invalid(
                    "data.classes",
                    format!("{classes:?}"),
                    "a non-empty list of distinct class indices",
                ));
            }
        }
        if let DataSource::ImageFolder(spec) = &self.data.source {
            spec.validate(self.data.val_fraction)?;
        }
        if let Some(t) = &self.transfer {
            t.validate(self.epochs)?;
        }
        if let Some(ema) = &self.ema {
            ema.validate("ema")?;
        }
        self.distributed.validate()?;
        self.model.validate()?;
        crate::lbfgs::validate(self)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_default_job() {
        let c = TrainConfig::from_toml("", Path::new("x.toml")).unwrap();
        assert_eq!(c, TrainConfig::default());
        assert_eq!(c.data.source, DataSource::Digits);
    }

    #[test]
    fn round_trips_through_toml() {
        let mut c = TrainConfig::default();
        c.data.source = DataSource::Cifar10("data/cifar".into());
        c.mixup = Some(MixupSettings::default());
        c.early_stopping = Some(EarlyStopping { patience: 3 });
        let text = c.to_toml();
        assert_eq!(
            TrainConfig::from_toml(&text, Path::new("x.toml")).unwrap(),
            c
        );
    }

    #[test]
    fn class_weights_are_validated() {
        let c = TrainConfig::from_toml("class_weights = [1.0, 0.5, 2.0]", Path::new("x.toml"));
        assert_eq!(c.unwrap().class_weights, Some(vec![1.0, 0.5, 2.0]));
        let e =
            TrainConfig::from_toml("class_weights = [1.0, -0.5]", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("class_weights[1]"), "{e}");
        let e = TrainConfig::from_toml("class_weights = []", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("class_weights"), "{e}");
    }

    #[test]
    fn errors_name_the_file_and_field() {
        let e = TrainConfig::from_toml("epochs = 0", Path::new("job.toml")).unwrap_err();
        assert!(e.to_string().contains("`epochs` = 0"), "{e}");
        let e = TrainConfig::from_toml("epohcs = 3", Path::new("job.toml")).unwrap_err();
        assert!(
            e.to_string().contains("job.toml") && e.to_string().contains("epohcs"),
            "{e}"
        );
        let e = TrainConfig::load(Path::new("/nonexistent/job.toml")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/job.toml"), "{e}");
    }

    #[test]
    fn options_beside_a_variant_without_options_are_errors() {
        for (job, key) in [
            (
                "[model]\nkind = \"mlp\"\nactivation = { kind = \"relu\", negative_slope = 0.1 }",
                "model.activation.negative_slope",
            ),
            (
                "schedule = { kind = \"warmup\", steps = 5, inner = { kind = \"constant\", \
                 factor = 0.5 } }",
                "schedule.inner.factor",
            ),
        ] {
            let e = TrainConfig::from_toml(job, Path::new("job.toml")).unwrap_err();
            assert!(e.to_string().contains(key), "{job}: {e}");
        }
        // Without the extra key both parse, and the defaults' own TOML parses back.
        TrainConfig::from_toml(
            "[model]\nkind = \"mlp\"\nactivation = { kind = \"relu\" }",
            Path::new("job.toml"),
        )
        .unwrap();
        let defaults = TrainConfig::default().to_toml();
        TrainConfig::from_toml(&defaults, Path::new("defaults.toml")).unwrap();
    }
}
