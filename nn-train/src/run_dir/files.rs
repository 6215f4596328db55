//! The file operations of a run folder: atomic writes, temporary files, the lock, checksums.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::{CHECKPOINT, FileEntry, LOCK, MANIFEST, RunDirError, io};

/// Writes `bytes` to `path` atomically ([`nn_core::atomic_write`]: a temporary file in the same
/// directory, `fsync`, rename over `path`, `fsync` of the directory), creating the directory if
/// needed. On error the temporary file is removed and `path` is unchanged.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunDirError> {
    let dir = parent(path);
    fs::create_dir_all(dir).map_err(io(dir, "cannot create the folder"))?;
    Ok(nn_core::atomic_write::write_atomic(path, bytes)?)
}

/// Lets `f` write a temporary path next to `path`, then `fsync`s it and renames it over `path`
/// (and `fsync`s the directory), creating the directory if needed ([`nn_core::atomic_write`]).
/// If `f` or the rename fails, the temporary file is removed and `path` is unchanged.
pub fn write_atomic_with<E: From<RunDirError>>(
    path: &Path,
    f: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    /// `f`'s error or the atomic write's, told apart after the call.
    enum Failure<E> {
        Write(E),
        Atomic(nn_core::atomic_write::AtomicWriteError),
    }
    impl<E> From<nn_core::atomic_write::AtomicWriteError> for Failure<E> {
        fn from(e: nn_core::atomic_write::AtomicWriteError) -> Self {
            Failure::Atomic(e)
        }
    }
    let dir = parent(path);
    fs::create_dir_all(dir).map_err(io(dir, "cannot create the folder"))?;
    nn_core::atomic_write::write_atomic_with(path, |tmp| f(tmp).map_err(Failure::Write)).map_err(
        |e| match e {
            Failure::Write(e) => e,
            Failure::Atomic(e) => E::from(RunDirError::from(e)),
        },
    )
}

pub(super) fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Takes an exclusive advisory lock on `file` ([`File::try_lock`]: `flock(LOCK_EX | LOCK_NB)`
/// on Unix, `LockFileEx` on Windows): `Ok(false)` if another open file description holds it.
/// The lock ends when the file is closed or the process ends.
pub(super) fn try_lock(file: &File) -> std::io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Flushes a directory's entries (the rename) to disk.
pub(super) fn sync_dir(dir: &Path) -> Result<(), RunDirError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io(dir, "cannot flush the folder"))
}

/// The marker in every temporary file name ([`nn_core::atomic_write::TEMP_MARK`]).
const TMP_MARK: &str = nn_core::atomic_write::TEMP_MARK;

/// Entries of `dir` other than the lock file.
pub(super) fn visible_entries(dir: &Path) -> Result<Vec<PathBuf>, RunDirError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(dir, "cannot list the run folder"))? {
        let entry = entry.map_err(io(dir, "cannot list the run folder"))?;
        if entry.file_name() != LOCK {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// Removes temporary files (`.*.tmp-*` of [`nn_core::atomic_write`], and `.*.tmp`) under
/// `dir`, recursively; symbolic links are not followed.
pub(super) fn remove_temporaries(dir: &Path) -> Result<(), RunDirError> {
    for entry in fs::read_dir(dir).map_err(io(dir, "cannot list"))? {
        let entry = entry.map_err(io(dir, "cannot list"))?;
        let p = entry.path();
        let kind = entry.file_type().map_err(io(&p, "cannot inspect"))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if kind.is_dir() {
            remove_temporaries(&p)?;
        } else if kind.is_file()
            && name.starts_with('.')
            && (name.contains(TMP_MARK) || name.ends_with(".tmp"))
        {
            fs::remove_file(&p).map_err(io(&p, "cannot remove a stale temporary file"))?;
        }
    }
    Ok(())
}

/// Regular files under `dir` (relative names with `/`), skipping hidden files, the manifest
/// and checkpoints; symbolic links are not followed.
pub(super) fn collect_files(
    dir: &Path,
    prefix: &str,
    out: &mut BTreeMap<String, FileEntry>,
) -> Result<(), RunDirError> {
    for entry in fs::read_dir(dir).map_err(io(dir, "cannot list"))? {
        let entry = entry.map_err(io(dir, "cannot list"))?;
        let p = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == CHECKPOINT || (prefix.is_empty() && name == MANIFEST) {
            continue;
        }
        let rel = format!("{prefix}{name}");
        let kind = entry.file_type().map_err(io(&p, "cannot inspect"))?;
        if kind.is_dir() {
            collect_files(&p, &format!("{rel}/"), out)?;
        } else if kind.is_file() {
            out.insert(rel, checksum(&p).map_err(io(&p, "cannot read"))?);
        }
    }
    Ok(())
}

/// Size and CRC-32 of a file, streamed.
pub(super) fn checksum(path: &Path) -> std::io::Result<FileEntry> {
    let mut f = File::open(path)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(FileEntry {
        bytes,
        crc32: hasher.finalize(),
    })
}

/// A relative path of normal components, not the manifest or the lock file.
pub(super) fn check_name(name: &str) -> Result<(), RunDirError> {
    let p = Path::new(name);
    let ok = !name.is_empty()
        && name != MANIFEST
        && name != LOCK
        && p.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(())
    } else {
        Err(RunDirError::BadName { name: name.into() })
    }
}
