//! [`CheckpointError`]: why a checkpoint could not be written, read or applied.

use std::path::PathBuf;

use super::LoadReport;

/// A failed checkpoint operation. Every message names the file and, where one is at fault, the
/// tensor.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be read.
    #[error("cannot read checkpoint {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file (or its temporary sibling) could not be written or renamed into place.
    #[error("cannot write checkpoint {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a valid safetensors file (truncated, garbage, bad header).
    #[error("{} is not a valid safetensors file: {source}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: safetensors::SafeTensorError,
    },
    /// A tensor has a dtype that cannot be converted to `f32` (complex, sub-byte floats).
    #[error(
        "{}: tensor `{name}` has dtype {dtype}, which cannot be loaded as f32 (expected F64, F32, \
         F16, BF16, an integer type or BOOL)",
        path.display()
    )]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// Its safetensors dtype.
        dtype: String,
    },
    /// A state dict to be saved names two tensors alike.
    #[error("cannot write checkpoint {}: two tensors are named `{name}`", path.display())]
    DuplicateName {
        /// The file.
        path: PathBuf,
        /// The repeated name.
        name: String,
    },
    /// A strict load found missing, unexpected or mis-shaped tensors; nothing was loaded.
    #[error("{}: strict load refused, nothing was loaded: {report}", path.display())]
    Strict {
        /// The file.
        path: PathBuf,
        /// What did not match.
        report: LoadReport,
    },
}

impl From<crate::atomic_write::AtomicWriteError> for CheckpointError {
    fn from(e: crate::atomic_write::AtomicWriteError) -> Self {
        CheckpointError::Write {
            path: e.path,
            source: std::io::Error::new(e.source.kind(), format!("{}: {}", e.what, e.source)),
        }
    }
}
