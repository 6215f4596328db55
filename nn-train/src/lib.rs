//! # nn-train
//!
//! The training pipeline of the `nn` workspace: one [`TrainConfig`] (a TOML file) describes a
//! job — data, model, optimizer, schedule, augmentation, mixup, early stopping — and [`train`]
//! runs it: it checks the initial loss against log C, trains with per-epoch validation, keeps
//! the snapshot that worked best on validation, and evaluates it once on the test split. The
//! `nn-train` command wraps it (`nn-train train`, `nn-train config`, `nn-train augment-grid`).
//!
//! ```
//! use nn_train::{TrainConfig, train};
//!
//! // The default job (an MLP on the embedded UCI digits), shortened for the example.
//! let config = TrainConfig { epochs: 2, ..TrainConfig::default() };
//! let trained = train(&config, &mut |e| println!("epoch {} val acc {:.3}", e.epoch, e.val_acc)).unwrap();
//! assert!(trained.report.test_acc > 0.8);
//! assert!((trained.report.initial_val_loss - trained.report.expected_initial_loss).abs() < 1.0);
//! ```
//!
//! ## Contents
//! | module | what |
//! |---|---|
//! | [`config`] | [`TrainConfig`]: the job as a validated TOML file |
//! | [`zoo`] | [`ModelConfig`]: MLP, small CNN, CIFAR ResNet-(6n+2), torchvision ResNet-18/34 and VGG, their options; [`ModelEstimate`]: size and memory without building |
//! | [`data_source`] | [`DataSource`]: digits, Fashion-MNIST (Debian package), MNIST, CIFAR, image folders |
//! | [`image_source`] | [`image_source::ImageFolderSource`]: your own images, one folder per class |
//! | [`data`] | splits, channel conversion, loaders with augmentation and batch hooks |
//! | [`preprocess`] | `data.preprocess` (mean/std, PCA, PCA/ZCA whitening) fitted on the training split, kept in `preprocess.json` |
//! | [`pca_lighting`] | AlexNet's PCA colour augmentation with statistics fitted on the training split |
//! | [`regularize`] | the `[penalty]` block (L1 / L2 / elastic net) and the batch hooks (cutout → mixup / CutMix) |
//! | [`accumulate`] | gradient accumulation: one optimizer step over several micro-batches |
//! | [`lr_scaling`] | the batch-size rule for the learning rate (linear, square root) |
//! | [`memory_check`] | the job's estimated training memory against the machine's, before allocating |
//! | [`shapes`] | the model's input from the augmentation pipeline's output; shapes that cannot work rejected before loading |
//! | [`plateau`] | `[reduce_on_plateau]`: the rate drops when the validation metric stalls (PyTorch's ReduceLROnPlateau) |
//! | [`lbfgs`] | full-batch L-BFGS jobs (`optimizer.kind = "lbfgs"`), checked for mini-batches and noise |
//! | [`optimizer`] | [`JobOptimizer`]: an element-wise optimizer or L-BFGS, with serialisable state |
//! | [`adapter`] | [`optimizer_step`]: nn-optim optimizers on nn-core parameters |
//! | [`session`] | [`Session`]: the built pieces of a job, and one training step |
//! | [`dist`] | data-parallel training over MPI ranks: sharding, bucketed gradient sums, agreement |
//! | [`callback`] | [`Callback`]: hooks into the loop (monitors, averaging, stopping) |
//! | [`checkpoint`] | [`checkpoint::Checkpoint`]: the whole loop state, for exact resume |
//! | [`run_dir`] | [`run_dir::RunDir`]: run folders written as one unit (lock, manifest) |
//! | [`interrupt`] | [`interrupt::Interrupt`]: SIGINT/SIGTERM end a job after a step |
//! | [`transfer`] | transfer learning: start from a checkpoint, new head, frozen or slower backbone |
//! | [`trainer`] | [`train`], [`train_with`], [`train_session`], [`evaluate`], [`predict_proba`], [`TrainReport`] |
//! | [`metrics`] | [`ClassMetrics`]: confusion matrix, per-class accuracy and precision, `confusion.png` |
//! | [`lr_finder`] | [`LrFinderConfig`]: the learning-rate range test (Smith 2017), a suggested lr |
//! | [`monitor`] | [`Monitor`]: loss/lr per step, update/weight ratios (≈ 1e-3) and gradient norms |
//! | [`doctor`], [`doctor_plot`] | the lecture's steps for choosing hyperparameters in order, each with a verdict |
//! | [`overfit`] | [`overfit::OverfitConfig`]: can the model memorise a small sample (regularisation off)? |
//! | [`plot`] | PNG plots: loss scatter + moving average, accuracies, LR finder, ratios |
//! | [`augment_grid`] | a PNG grid of an image under each transform of an augmentation pipeline |
//! | [`ema`] | [`Ema`]: exponential moving average of the weights (Polyak averaging) |
//! | [`ensemble`] | [`train_ensemble`]: N seeds, averaged probabilities (model ensembles) |
//! | [`predict`] | top-k classes of image files through a run's preprocessing and TTA |
//! | [`report_html`] | `report.html`: one self-contained page per run (figures inline) |
//! | [`saved_run`] | [`SavedRun`]: a run folder loaded back (job, data, class names, weights) |
//! | [`fold_bn`] | [`fold_bn::compare_folded`]: BatchNorm folded for inference, checked and timed |
//! | [`snapshot`] | [`SnapshotCollector`]: snapshot ensembles of one run (SGDR cycles) |
//! | [`tta_eval`] | [`evaluate_tta`]: test-time augmentation (flip, 5/10 crops) of models/ensembles |
//! | [`lab`] | the lecture's experiments: activation statistics, optimizer paths, regularisers, random vs grid search; lr(t) of a job |
//! | [`tune`] | hyperparameter search: random/grid, coarse-to-fine, explode kill ([`tune::search()`]) |
//! | [`error`] | [`TrainError`] |

pub mod accumulate;
pub mod adapter;
pub mod augment_grid;
pub mod callback;
pub mod checkpoint;
pub mod config;
mod config_keys;
pub mod data;
pub mod data_source;
pub mod dist;
pub mod doctor;
pub mod doctor_plot;
pub mod ema;
pub mod ensemble;
pub mod error;
pub mod fold_bn;
pub mod image_source;
pub mod interrupt;
pub mod lab;
pub mod lbfgs;
pub mod lr_finder;
pub mod lr_scaling;
pub mod memory_check;
pub mod metrics;
pub mod monitor;
pub mod optimizer;
pub mod overfit;
pub mod pca_lighting;
pub mod plateau;
pub mod plot;
pub mod predict;
pub mod preprocess;
pub mod regularize;
pub mod report_html;
mod root_epoch;
pub mod run_dir;
pub mod saved_run;
pub mod session;
pub mod shapes;
pub mod snapshot;
pub mod trainer;
pub mod transfer;
pub mod tta_eval;
pub mod tune;
pub mod zoo;

pub use adapter::{optimizer_step, step_parameters};
pub use callback::{Callback, Control, OnEpoch, StepInfo};
pub use config::{
    CheckpointSettings, DataConfig, DataSource, EarlyStopping, Preprocess, TrainConfig,
};
pub use ema::{Ema, EmaSettings, EmaWarmup};
pub use ensemble::{
    Ensemble, EnsembleReport, EnsembleSettings, MemberStore, RunDirMembers, train_ensemble,
    train_ensemble_in,
};
pub use error::{IMAGE_FOLDER_MAX_PIXELS, Result, TrainError, limit_named};
pub use lr_finder::{LrFinderConfig, LrFinderPoint, LrFinderResult};
pub use lr_scaling::LrScaling;
pub use metrics::ClassMetrics;
pub use monitor::{Monitor, MonitorConfig, RatioFlag, RatioRecord, StepRecord};
pub use optimizer::{JobOptimizer, JobOptimizerState};
pub use pca_lighting::PcaLightingSettings;
pub use plateau::{Plateau, PlateauMetric, PlateauSettings};
pub use preprocess::{Fitted, FittedPreprocessing, PcaSettings, ZcaSettings};
pub use regularize::{CutoutSettings, MixupSettings, PenaltySettings};
pub use saved_run::SavedRun;
pub use session::{Session, StepStats};
pub use snapshot::{SnapshotCollector, SnapshotSchedule, train_snapshot_ensemble};
pub use trainer::KeptWeights;
pub use trainer::{
    Checkpointing, EpochRecord, Evaluation, TrainReport, Trained, default_schedule, evaluate,
    evaluate_predictions, predict_proba, train, train_checkpointed, train_session, train_with,
};
pub use transfer::{TransferReport, TransferSettings};
pub use tta_eval::{
    MAX_TTA_PAD, Predictions, Tta, TtaCheck, TtaMode, evaluate_tta, predict_dataset, tta_self_check,
};
pub use zoo::{LayerEstimate, ModelConfig, ModelEstimate};

/// Writes `bytes` to `path` atomically (a temporary file in the same directory, `fsync`, then a
/// rename), so that an interrupted write never leaves a truncated file; on error the temporary
/// file is removed. See [`run_dir::write_atomic`].
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    Ok(run_dir::write_atomic(path, bytes)?)
}
