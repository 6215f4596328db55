//! Writing a file atomically, the workspace's one implementation: the content goes to a
//! temporary file in the destination's directory (`.NAME.tmp-XXXXXX`, created exclusively by
//! `tempfile`), which is flushed to disk, renamed over the destination and the directory
//! flushed. A crash or an error never leaves a partly written file under the destination's name,
//! and an existing file is replaced only by a complete one; on error the temporary file is
//! removed. (A crash can leave a temporary file; names containing [`TEMP_MARK`] are safe to
//! delete.)
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("notes.txt");
//! nn_core::atomic_write::write_atomic(&path, b"complete or absent").unwrap();
//! assert_eq!(std::fs::read(&path).unwrap(), b"complete or absent");
//! ```

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The marker in every temporary file name (`.NAME.tmp-XXXXXX`).
pub const TEMP_MARK: &str = ".tmp-";

/// An I/O failure of an atomic write, naming the file and the stage.
#[derive(Debug, thiserror::Error)]
#[error("{}: {what}: {source}", path.display())]
pub struct AtomicWriteError {
    /// The destination (or its directory).
    pub path: PathBuf,
    /// What failed (`"cannot create a temporary file"`, `"cannot write"`, ...).
    pub what: &'static str,
    /// The underlying error.
    #[source]
    pub source: std::io::Error,
}

fn err(path: &Path, what: &'static str) -> impl FnOnce(std::io::Error) -> AtomicWriteError {
    let path = path.to_path_buf();
    move |source| AtomicWriteError { path, what, source }
}

/// The directory of `path` (`.` for a bare file name).
fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Writes `bytes` to `path` atomically (see the module docs). The directory must exist.
///
/// # Errors
/// [`AtomicWriteError`] naming `path` and the failed stage.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AtomicWriteError> {
    write_atomic_with(path, |tmp: &Path| {
        File::create(tmp)
            .and_then(|mut f| f.write_all(bytes))
            .map_err(err(path, "cannot write"))
    })
}

/// Lets `write` fill a temporary file (given by its path, so that writers that open a path
/// themselves fit), then flushes it and renames it over `path` (see the module docs). If
/// `write` or any later stage fails, the temporary file is removed and `path` is unchanged.
/// The directory must exist.
///
/// # Errors
/// `write`'s error, or an [`AtomicWriteError`] converted into `E`.
pub fn write_atomic_with<E: From<AtomicWriteError>>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    let dir = parent(path);
    let name = path.file_name().ok_or_else(|| AtomicWriteError {
        path: path.to_path_buf(),
        what: "not a file path",
        source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
    })?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}{TEMP_MARK}", name.to_string_lossy()))
        .tempfile_in(dir)
        .map_err(err(path, "cannot create a temporary file"))?;
    // On any error below, dropping `tmp` removes the temporary file.
    write(tmp.path())?;
    // `write` may have reopened the path: flush what is on disk under that name.
    File::open(tmp.path())
        .and_then(|f| f.sync_all())
        .map_err(err(path, "cannot flush"))?;
    tmp.persist(path)
        .map_err(|e| err(path, "cannot rename into place")(e.error))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(err(dir, "cannot flush the folder"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(TEMP_MARK))
            .collect()
    }

    #[test]
    fn replaces_only_with_complete_files_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.bin");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        // A failing writer leaves the old file and no temporary file.
        let r: Result<(), AtomicWriteError> = write_atomic_with(&path, |tmp| {
            std::fs::write(tmp, b"partial").unwrap();
            Err(err(tmp, "cannot write")(std::io::Error::other("disk full")))
        });
        assert!(r.unwrap_err().to_string().contains("disk full"));
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/x.bin");
        let e = write_atomic(&missing, b"x").unwrap_err();
        assert_eq!(e.what, "cannot create a temporary file");
        assert!(e.to_string().contains("x.bin"), "{e}");
        // The destination is a directory: the rename fails, nothing is left behind.
        let e = write_atomic(dir.path(), b"x").unwrap_err();
        assert!(
            e.what == "not a file path" || e.what == "cannot rename into place",
            "{e}"
        );
        assert!(leftovers(dir.path()).is_empty());
    }
}
