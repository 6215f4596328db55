//! The crate's error type: every bad input (file, configuration, index) becomes a [`DataError`]
//! that names the file, field or value and says what was expected. Nothing in this crate panics on
//! bad input.

use std::path::PathBuf;

/// Everything that can go wrong when reading, adapting, preprocessing or loading data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file (or directory) could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with the magic number of its format.
    #[error("{path}: bad magic number: expected {expected}, found {found}")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// What the format requires (human readable, e.g. `00 00 08 03`).
        expected: String,
        /// What the file has.
        found: String,
    },
    /// The file ends before the data its header (or record size) promises.
    #[error("{path}: truncated: {what}: expected {expected} bytes, found {found}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Which part is cut short (e.g. `record 9999`, `header`, `image data`).
        what: String,
        /// Bytes needed.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// The file is structurally invalid in a way other than truncation.
    #[error("{path}: malformed: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file or the data its header declares is larger than the configured limit (a guard
    /// against decompression bombs and files that would not fit in memory).
    #[error(
        "{path}: {what} of {bytes} bytes exceeds the limit of {max_bytes} bytes (raise the limit if the file is genuine)"
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What is too large (`file`, `IDX data of shape [...]`).
        what: String,
        /// Its size in bytes (declared or on disk).
        bytes: u64,
        /// The configured limit.
        max_bytes: u64,
    },
    /// A label is not smaller than the number of classes.
    #[error("{path}: label {label} of record {record} is out of range (expected < {num_classes})")]
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// Record (sample) number within the file.
        record: usize,
        /// The offending label.
        label: usize,
        /// Number of classes of the data set.
        num_classes: usize,
    },
    /// The image file could not be decoded.
    #[error("{path}: unreadable image: {source}")]
    UnreadableImage {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        #[source]
        source: image::ImageError,
    },
    /// An image announces more pixels than the configured limit (decompression-bomb guard).
    #[error("{path}: image of {width}x{height} pixels exceeds the limit of {max_pixels} pixels")]
    ImageTooLarge {
        /// The file.
        path: PathBuf,
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// The configured limit.
        max_pixels: u64,
    },
    /// A class folder of an image-folder data set contains no image with an accepted extension.
    #[error("{path}: empty class folder (no file with extension {extensions})")]
    EmptyClassFolder {
        /// The class folder.
        path: PathBuf,
        /// The accepted extensions, comma separated.
        extensions: String,
    },
    /// An image has another size than the one required (image folders without a resize).
    #[error(
        "{path}: image of {height}x{width} (height x width), expected {expected_height}x{expected_width} like the first image; resize on load (e.g. `size = [{expected_height}, {expected_width}]`) to mix sizes"
    )]
    ImageSize {
        /// The file.
        path: PathBuf,
        /// Its height.
        height: u32,
        /// Its width.
        width: u32,
        /// The required height.
        expected_height: u32,
        /// The required width.
        expected_width: u32,
    },
    /// A validation or test folder of an image-folder data set has a class folder that the
    /// training folder does not have.
    #[error("{path}: class folder not in the training classes ({known})")]
    UnknownClassFolder {
        /// The class folder.
        path: PathBuf,
        /// The training classes, comma separated.
        known: String,
    },
    /// A system-wide data set (installed by a Debian package) is not there.
    #[error(
        "{dataset} not found (looked in {paths}): install the Debian package {package} (`apt-get install {package}`) or give the folder of its files"
    )]
    NotInstalled {
        /// The data set.
        dataset: &'static str,
        /// The folders searched, comma separated.
        paths: String,
        /// The Debian package that installs it.
        package: &'static str,
    },
    /// The root of an image-folder data set has no class sub-folder.
    #[error("{path}: no class folders found (expected one sub-folder per class)")]
    NoClassFolders {
        /// The root folder.
        path: PathBuf,
    },
    /// A sample index is outside the data set.
    #[error("index {index} out of range for a data set of {len} samples")]
    IndexOutOfRange {
        /// The requested index.
        index: usize,
        /// The data set's length.
        len: usize,
    },
    /// Samples that must be stacked into one batch (or one statistic) have different shapes.
    #[error("sample {index} has shape {found:?}, expected {expected:?} (like the first sample)")]
    ShapeMismatch {
        /// Data-set index of the odd sample.
        index: usize,
        /// Shape of the first sample, `[C, H, W]`.
        expected: Vec<usize>,
        /// Shape of this sample.
        found: Vec<usize>,
    },
    /// A configuration value or argument is invalid.
    #[error("invalid {field} = {value}: expected {expected}")]
    InvalidConfig {
        /// The field or argument name.
        field: &'static str,
        /// The offending value.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// A JSON file (e.g. a saved preprocessor) could not be parsed or written.
    #[error("{path}: JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The serde_json error.
        #[source]
        source: serde_json::Error,
    },
    /// A background loader thread panicked (a bug in a user transform or hook).
    #[error("loader worker panicked: {0}")]
    WorkerPanicked(String),
}

impl DataError {
    /// An [`DataError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    /// An [`DataError::InvalidConfig`].
    pub fn invalid(field: &'static str, value: impl ToString, expected: impl Into<String>) -> Self {
        DataError::InvalidConfig {
            field,
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    /// A [`DataError::Malformed`] for `path`.
    pub fn malformed(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        DataError::Malformed {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
