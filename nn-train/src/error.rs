//! [`TrainError`]: everything that can go wrong in a training job, naming the file, field or
//! value at fault.

use std::path::PathBuf;

/// An error of the training pipeline.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A config file is not valid TOML for a [`crate::TrainConfig`].
    #[error("invalid config file {path}: {message}")]
    ConfigParse {
        /// The file.
        path: PathBuf,
        /// The parser's message (names the line and the field).
        message: String,
    },
    /// A config value is out of range.
    #[error("invalid config: `{field}` = {value}: expected {expected}")]
    Invalid {
        /// Dotted path of the field.
        field: String,
        /// The value given.
        value: String,
        /// What is allowed.
        expected: String,
    },
    /// A data set could not be loaded or a batch could not be built. (`From<DataError>` turns
    /// an image above the pixel limit into [`TrainError::OverLimit`] naming
    /// [`IMAGE_FOLDER_MAX_PIXELS`], the job field that sets it.)
    #[error(transparent)]
    Data(nn_data::DataError),
    /// A data file or image is above a configured size limit (`DataError::TooLarge` or
    /// `DataError::ImageTooLarge`, naming the file and the limit); `setting` is the job-file
    /// field or command-line flag that sets the limit ([`limit_named`]).
    #[error("{source}; the limit is `{setting}`")]
    OverLimit {
        /// The error naming the file, its size and the limit.
        source: nn_data::DataError,
        /// The field or flag that raises the limit, e.g. `data.max_bytes` or `--max-pixels`.
        setting: String,
    },
    /// An optimizer or schedule was misconfigured.
    #[error(transparent)]
    Optim(#[from] nn_optim::OptimError),
    /// A layer was misconfigured.
    #[error(transparent)]
    Layer(#[from] nn_core::layers::LayerError),
    /// A loss was misconfigured.
    #[error(transparent)]
    Loss(#[from] nn_core::loss::LossConfigError),
    /// A checkpoint could not be written or read.
    #[error(transparent)]
    Checkpoint(#[from] nn_core::checkpoint::CheckpointError),
    /// An augmentation pipeline was misconfigured.
    #[error(transparent)]
    Augment(#[from] nn_augment::AugmentError),
    /// A regulariser was misconfigured.
    #[error(transparent)]
    Regularize(#[from] nn_regularize::RegularizeError),
    /// Transfer settings do not fit the model or the checkpoint.
    #[error(transparent)]
    Transfer(#[from] crate::transfer::TransferError),
    /// The loss became NaN or infinite.
    #[error(
        "training diverged at epoch {epoch}, step {step}: loss is {loss} (try a lower learning rate)"
    )]
    Diverged {
        /// Epoch (0-based).
        epoch: usize,
        /// Global step.
        step: u64,
        /// The loss value.
        loss: f32,
    },
    /// A plot could not be drawn or encoded.
    #[error("cannot draw the plot {path}: {message}")]
    Plot {
        /// The PNG file.
        path: PathBuf,
        /// What the plotting backend or the encoder said.
        message: String,
    },
    /// Another rank of a data-parallel job failed; every rank stops with its message.
    #[error("rank {rank} failed: {message}")]
    Rank {
        /// The failing rank.
        rank: usize,
        /// Its error.
        message: String,
    },
    /// A subcommand's own input besides the job (a search-space file, the search to resume)
    /// is not valid; the message names the file and what was expected. Used where every rank
    /// of a data-parallel run must learn of the error.
    #[error("{0}")]
    Input(String),
    /// Communication between the ranks of a data-parallel job failed.
    #[error("communication between ranks failed: {0}")]
    Collective(String),
    /// A run folder cannot be opened, written or read ([`crate::run_dir`]).
    #[error(transparent)]
    RunDir(#[from] crate::run_dir::RunDirError),
    /// A training checkpoint is not valid or does not fit the job ([`crate::checkpoint`]).
    #[error("checkpoint {}: {message}", path.display())]
    BadCheckpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// SIGINT or SIGTERM stopped the job after a step; a checkpoint was written if the job has
    /// a checkpoint path ([`crate::checkpoint`]).
    #[error(
        "interrupted by signal {signal} ({}){}",
        if *signal == 2 { "SIGINT" } else { "SIGTERM" },
        match checkpoint {
            Some(p) => format!(" after step {step}; checkpoint written to {}", p.display()),
            None => format!(" after step {step}; no checkpoint (no run folder)"),
        }
    )]
    Interrupted {
        /// The signal number (2 or 15).
        signal: i32,
        /// Steps done.
        step: u64,
        /// The checkpoint written, if any.
        checkpoint: Option<PathBuf>,
    },
    /// The job's estimated training memory exceeds the machine's available memory
    /// ([`crate::memory_check`]).
    #[error(
        "not enough memory: model {model} with batch_size {batch_size} needs an estimated {} to \
         train ({breakdown}), but {} is available ({from}); make the model or the batch \
         smaller, or set {}=SIZE (or off) to override",
        crate::memory_check::human(*needed),
        crate::memory_check::human(*available),
        crate::memory_check::LIMIT_VAR
    )]
    Memory {
        /// The model's kind and size fields, e.g. `mlp (model.hidden = [100000000])`.
        model: String,
        /// The training batch size.
        batch_size: usize,
        /// Estimated bytes of a training step.
        needed: u64,
        /// Bytes available.
        available: u64,
        /// Where `available` comes from (`MemAvailable in /proc/meminfo` or the override).
        from: String,
        /// Where the estimate's bytes go.
        breakdown: String,
    },
    /// A report or file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;

/// Names the setting behind a size limit: turns a data error that is a limit
/// (`DataError::TooLarge`, `DataError::ImageTooLarge`) into [`TrainError::OverLimit`] naming
/// `setting`, and any other data error into [`TrainError::Data`]. Use as
/// `.map_err(limit_named("data.max_bytes"))`.
pub fn limit_named(setting: &str) -> impl Fn(nn_data::DataError) -> TrainError + '_ {
    move |e| match e {
        nn_data::DataError::TooLarge { .. } | nn_data::DataError::ImageTooLarge { .. } => {
            TrainError::OverLimit {
                source: e,
                setting: setting.to_string(),
            }
        }
        e => TrainError::Data(e),
    }
}

/// The job-file field that limits the pixels of an image-folder data set's images.
pub const IMAGE_FOLDER_MAX_PIXELS: &str = "data.source.image_folder.max_pixels";

/// A data error met while reading a job's data: an image above the pixel limit (only an
/// image-folder source has one) becomes [`TrainError::OverLimit`] naming
/// [`IMAGE_FOLDER_MAX_PIXELS`]; every other error is [`TrainError::Data`]. Code with a limit of
/// its own (a command-line flag, a function argument) maps its errors with [`limit_named`] or
/// `TrainError::Data` before `?`.
impl From<nn_data::DataError> for TrainError {
    fn from(e: nn_data::DataError) -> Self {
        match e {
            nn_data::DataError::ImageTooLarge { .. } => limit_named(IMAGE_FOLDER_MAX_PIXELS)(e),
            e => TrainError::Data(e),
        }
    }
}

/// Builds a [`TrainError::Invalid`].
pub(crate) fn invalid(field: &str, value: impl std::fmt::Display, expected: &str) -> TrainError {
    TrainError::Invalid {
        field: field.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}
