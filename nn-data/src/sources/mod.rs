//! Readers for data sets on disk (CIFAR-10/100 binary, MNIST/Fashion-MNIST IDX, image folders)
//! and the embedded UCI digits. A user points at files they downloaded; nothing is fetched.

pub mod cifar;
pub mod digits;
pub mod idx;
pub mod image_folder;
pub mod mnist;

use crate::DataError;
use std::path::Path;

/// Which official split of a data set to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The training files.
    Train,
    /// The test files.
    Test,
}

/// `std::fs::read` with the path in the error.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|e| DataError::io(path, e))
}
