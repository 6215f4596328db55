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

/// [`read_file`] of a file of at most `max_bytes` (checked from its metadata before reading,
/// and again while reading, in case it grows): [`DataError::TooLarge`] otherwise.
pub(crate) fn read_file_limited(path: &Path, max_bytes: u64) -> Result<Vec<u8>, DataError> {
    use std::io::Read;
    let too_large = |bytes| DataError::TooLarge {
        path: path.into(),
        what: "file".into(),
        bytes,
        max_bytes,
    };
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let len = file.metadata().map_err(|e| DataError::io(path, e))?.len();
    if len > max_bytes {
        return Err(too_large(len));
    }
    let mut out = Vec::with_capacity(len as usize);
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| DataError::io(path, e))?;
    if out.len() as u64 > max_bytes {
        return Err(too_large(out.len() as u64));
    }
    Ok(out)
}
