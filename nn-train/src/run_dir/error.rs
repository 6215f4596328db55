//! [`RunDirError`]: why a run folder cannot be opened, written or read.

use std::path::PathBuf;

use super::{CHECKPOINT, LOCK, MANIFEST};

/// Why a run folder cannot be opened, written or read.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    /// The path exists and is not a directory.
    #[error("{}: not a directory (expected a run folder)", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// A new run was asked for in a non-empty folder.
    #[error(
        "{} is not empty; pass --overwrite to replace the run in it, or --resume to continue it",
        path.display()
    )]
    NotEmpty {
        /// The folder.
        path: PathBuf,
    },
    /// `--overwrite` on a folder that does not look like a run folder.
    #[error(
        "refusing to overwrite {}: it is not empty and is not an nn-train run folder (no {MANIFEST}, \
         config.toml or {CHECKPOINT})",
        path.display()
    )]
    NotARunFolder {
        /// The folder.
        path: PathBuf,
    },
    /// Another process holds the lock.
    #[error("{} is in use by another nn-train process (lock {LOCK} is held)", path.display())]
    Locked {
        /// The folder.
        path: PathBuf,
    },
    /// An I/O operation failed.
    #[error("{}: {what}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file name that would leave the folder or is reserved.
    #[error("invalid run-folder file name `{name}`: expected a relative path inside the folder")]
    BadName {
        /// The name.
        name: String,
    },
    /// No manifest: the run is still going on, was interrupted, or the folder is no run.
    #[error(
        "{} is not a complete run: no {MANIFEST} (training is still running or was interrupted; \
         continue it with `nn-train train --resume {}`)",
        path.display(),
        path.display()
    )]
    Incomplete {
        /// The folder.
        path: PathBuf,
    },
    /// The manifest cannot be parsed.
    #[error("{}: invalid manifest: {message}", path.display())]
    BadManifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file listed in the manifest is missing or differs from it.
    #[error("{}: {file} {problem} (the run folder is damaged or was changed after the run)", path.display())]
    Mismatch {
        /// The folder.
        path: PathBuf,
        /// The file, relative to the folder.
        file: String,
        /// What differs.
        problem: String,
    },
    /// `--resume` on a folder with neither a checkpoint nor a complete run.
    #[error(
        "{}: nothing to resume (no {CHECKPOINT}, config.toml or {MANIFEST}); start the run \
         without --resume",
        path.display()
    )]
    NothingToResume {
        /// The folder.
        path: PathBuf,
    },
}

impl From<nn_core::atomic_write::AtomicWriteError> for RunDirError {
    fn from(e: nn_core::atomic_write::AtomicWriteError) -> Self {
        RunDirError::Io {
            path: e.path,
            what: e.what,
            source: e.source,
        }
    }
}
