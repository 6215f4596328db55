//! [`TuneError`]: what can go wrong in a hyperparameter search, naming the file, dimension,
//! config path or value at fault.

use std::path::PathBuf;

use crate::error::TrainError;

/// An error of a hyperparameter search (as opposed to a failed trial, which is recorded in
/// its [`crate::tune::TrialRecord`] and does not stop the search).
#[derive(Debug, thiserror::Error)]
pub enum TuneError {
    /// A search-space file could not be read.
    #[error("cannot read search-space file {path}: {source}")]
    SpaceRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A search-space file is not valid TOML for a [`crate::tune::SearchSpace`].
    #[error("invalid search-space file {path}: {message}")]
    SpaceParse {
        /// The file.
        path: PathBuf,
        /// The parser's message (names the line and the field).
        message: String,
    },
    /// A dimension's range or choices are invalid (e.g. `low >= high`, `low <= 0` on a log
    /// scale, no choices).
    #[error("invalid search dimension `{name}` = {dimension}: expected {expected}")]
    InvalidDimension {
        /// The dimension's config path.
        name: String,
        /// The dimension as given.
        dimension: String,
        /// What is allowed.
        expected: String,
    },
    /// A config path does not name a field of the job.
    #[error("unknown config path `{path}` (tried to set it to {value}): {message}")]
    UnknownPath {
        /// The dotted path.
        path: String,
        /// The value that was to be set.
        value: String,
        /// Why the path is unknown.
        message: String,
    },
    /// A value does not fit the type of the field at a config path.
    #[error("cannot set config path `{path}` to {value}: {message}")]
    WrongType {
        /// The dotted path.
        path: String,
        /// The value.
        value: String,
        /// The deserialiser's message (the expected type).
        message: String,
    },
    /// A setting of the search itself is out of range.
    #[error("invalid search setting `{name}` = {value}: expected {expected}")]
    InvalidSetting {
        /// The setting.
        name: String,
        /// The value given.
        value: String,
        /// What is allowed.
        expected: String,
    },
    /// A sampled config failed validation, or a file could not be written.
    #[error(transparent)]
    Train(#[from] TrainError),
}

/// Builds a [`TuneError::InvalidSetting`].
pub(crate) fn invalid_setting(
    name: &str,
    value: impl std::fmt::Display,
    expected: &str,
) -> TuneError {
    TuneError::InvalidSetting {
        name: name.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}
