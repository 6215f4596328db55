//! [`RunDir`]: a run folder written as one unit, and [`verify`] for its readers.
//!
//! Every file of a run folder (`nn-train train --out DIR`, `finetune`, `ensemble`, …) is
//! written through a [`RunDir`], which guarantees:
//!
//! * **Checked first.** [`RunDir::open`] runs before any data is loaded: `DIR` must be a
//!   directory (or not exist yet) that we can write, and — unless the mode is
//!   [`OpenMode::Overwrite`] or [`OpenMode::Resume`] — empty.
//! * **One writer.** `open` takes an exclusive lock (`DIR/.nn-train.lock`, `File::try_lock`); a second
//!   process gets [`RunDirError::Locked`]. The operating system releases the lock when the
//!   process ends, however it ends (even `kill -9`).
//! * **Old or new, never a mix.** [`RunDir::clear`] removes the old manifest *first*, then every
//!   old file (no stale `monitor.*` survive a re-run); files are written atomically
//!   ([`RunDir::write`]: temporary file, `fsync`, rename, `fsync` of the directory), and
//!   [`RunDir::commit`] writes `manifest.json` — size and CRC-32 of every file — *last*. A
//!   reader calls [`verify`], which refuses a folder without a manifest (a run still going or
//!   interrupted) or whose files do not match it (a torn or mixed folder).
//! * **No temporary files left.** A failed write removes its temporary file; temporary files of
//!   a writer that was killed are removed by the next `open` (which holds the lock, so they
//!   cannot belong to a live writer).
//!
//! The training checkpoint (`checkpoint.safetensors`, [`crate::checkpoint`]) lives in the
//! folder while a run is going on and is removed by `commit`.
//!
//! ```
//! use nn_train::run_dir::{OpenMode, RunDir, verify};
//!
//! let tmp = tempfile::tempdir().unwrap();
//! let dir = tmp.path().join("run");
//! let run = RunDir::open(&dir, OpenMode::New).unwrap();
//! run.clear().unwrap();
//! run.write("report.json", b"{}").unwrap();
//! assert!(verify(&dir).is_err()); // not committed yet: readers refuse it
//! run.commit().unwrap();
//! let manifest = verify(&dir).unwrap();
//! assert!(manifest.files.contains_key("report.json"));
//! // A second writer is refused while `run` is alive.
//! assert!(RunDir::open(&dir, OpenMode::Overwrite).is_err());
//! ```

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// The lock file's name (empty; kept in the folder).
pub const LOCK: &str = ".nn-train.lock";
/// The training checkpoint's file name ([`crate::checkpoint`]).
pub const CHECKPOINT: &str = "checkpoint.safetensors";
/// `Manifest::format` of a run folder.
pub const FORMAT: &str = "nn-train run";
/// `Manifest::version` written by this version.
pub const MANIFEST_VERSION: u32 = 1;

/// How [`RunDir::open`] treats an existing folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// The folder must not exist or be empty.
    New,
    /// An existing run folder is replaced (by [`RunDir::clear`]); a non-empty folder that is
    /// not a run folder (no manifest, config, checkpoint or lock file) is refused, so that a
    /// mistyped `--out` never wipes an unrelated directory.
    Overwrite,
    /// The folder must hold a run (a checkpoint, a complete run, or the `config.toml` of a run
    /// killed before its first checkpoint); nothing is removed.
    Resume,
}

/// One file of a complete run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Size in bytes.
    pub bytes: u64,
    /// CRC-32 (IEEE) of the contents: an integrity check against torn or mixed folders, not a
    /// cryptographic signature.
    pub crc32: u32,
}

/// `manifest.json`: what a complete run folder holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`MANIFEST_VERSION`].
    pub version: u32,
    /// Every file by its path relative to the folder (`/`-separated), except the manifest, the
    /// lock file and hidden (dot) files.
    pub files: BTreeMap<String, FileEntry>,
}

/// An open, locked run folder. See the [module docs](self).
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    mode: OpenMode,
    _lock: File,
}

fn io(path: &Path, what: &'static str) -> impl FnOnce(std::io::Error) -> RunDirError {
    let path = path.to_path_buf();
    move |source| RunDirError::Io { path, what, source }
}

impl RunDir {
    /// Checks `path` for `mode`, creates it if needed, locks it against other writers and
    /// removes temporary files left by a killed writer. Nothing else is changed: call
    /// [`RunDir::clear`] (new runs) once the job is known to start.
    ///
    /// # Errors
    /// [`RunDirError::NotADirectory`], [`RunDirError::NotEmpty`] (`New`),
    /// [`RunDirError::NotARunFolder`] (`Overwrite`), [`RunDirError::NothingToResume`] (`Resume`),
    /// [`RunDirError::Locked`], [`RunDirError::Io`] (e.g. not writable).
    pub fn open(path: &Path, mode: OpenMode) -> Result<RunDir, RunDirError> {
        match fs::metadata(path) {
            Ok(m) if !m.is_dir() => {
                return Err(RunDirError::NotADirectory {
                    path: path.to_path_buf(),
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if mode == OpenMode::Resume {
                    return Err(RunDirError::NothingToResume {
                        path: path.to_path_buf(),
                    });
                }
                fs::create_dir_all(path).map_err(io(path, "cannot create the run folder"))?;
            }
            Err(e) => return Err(io(path, "cannot access the run folder")(e)),
        }
        let entries = visible_entries(path)?;
        let is_run = [MANIFEST, "config.toml", CHECKPOINT, LOCK]
            .iter()
            .any(|f| path.join(f).exists());
        match mode {
            OpenMode::New if !entries.is_empty() => {
                return Err(RunDirError::NotEmpty {
                    path: path.to_path_buf(),
                });
            }
            OpenMode::Overwrite if !entries.is_empty() && !is_run => {
                return Err(RunDirError::NotARunFolder {
                    path: path.to_path_buf(),
                });
            }
            OpenMode::Resume
                if ![CHECKPOINT, MANIFEST, "config.toml"]
                    .iter()
                    .any(|f| path.join(f).exists()) =>
            {
                return Err(RunDirError::NothingToResume {
                    path: path.to_path_buf(),
                });
            }
            _ => {}
        }
        let lock_path = path.join(LOCK);
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(
                &lock_path,
                "cannot create the lock file (is the folder writable?)",
            ))?;
        match try_lock(&lock) {
            Ok(true) => {}
            Ok(false) => {
                return Err(RunDirError::Locked {
                    path: path.to_path_buf(),
                });
            }
            Err(e) => return Err(io(&lock_path, "cannot lock the run folder")(e)),
        }
        remove_temporaries(path)?;
        Ok(RunDir {
            path: path.to_path_buf(),
            mode,
            _lock: lock,
        })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The mode it was opened with.
    pub fn mode(&self) -> OpenMode {
        self.mode
    }

    /// The path of `name` in the folder (`name` is checked: relative, no `..`).
    pub fn file(&self, name: &str) -> Result<PathBuf, RunDirError> {
        check_name(name)?;
        Ok(self.path.join(name))
    }

    /// The checkpoint's path ([`CHECKPOINT`]).
    pub fn checkpoint_path(&self) -> PathBuf {
        self.path.join(CHECKPOINT)
    }

    /// Whether a checkpoint is present.
    pub fn has_checkpoint(&self) -> bool {
        self.checkpoint_path().is_file()
    }

    /// Whether the folder holds a complete run (a manifest that [`verify`] accepts).
    pub fn is_complete(&self) -> bool {
        verify(&self.path).is_ok()
    }

    /// Removes the manifest (readers refuse the folder until the next [`RunDir::commit`]):
    /// a resumed run calls it before rewriting its outputs.
    pub fn invalidate(&self) -> Result<(), RunDirError> {
        let manifest = self.path.join(MANIFEST);
        match fs::remove_file(&manifest) {
            Ok(()) => sync_dir(&self.path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&manifest, "cannot remove the manifest")(e)),
        }
    }

    /// Empties the folder for a new run: the manifest first (so that readers refuse the folder
    /// from now on), then every other file and sub-folder except the lock file.
    pub fn clear(&self) -> Result<(), RunDirError> {
        let manifest = self.path.join(MANIFEST);
        if manifest.exists() {
            fs::remove_file(&manifest).map_err(io(&manifest, "cannot remove the old manifest"))?;
            sync_dir(&self.path)?;
        }
        for entry in fs::read_dir(&self.path).map_err(io(&self.path, "cannot list"))? {
            let entry = entry.map_err(io(&self.path, "cannot list"))?;
            if entry.file_name() == LOCK {
                continue;
            }
            let p = entry.path();
            let is_dir = entry
                .file_type()
                .map_err(io(&p, "cannot inspect"))?
                .is_dir();
            if is_dir {
                fs::remove_dir_all(&p).map_err(io(&p, "cannot remove the old run's folder"))?;
            } else {
                fs::remove_file(&p).map_err(io(&p, "cannot remove the old run's file"))?;
            }
        }
        sync_dir(&self.path)
    }

    /// Writes `bytes` to `name` atomically (see [`write_atomic`]).
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), RunDirError> {
        write_atomic(&self.file(name)?, bytes)
    }

    /// Lets `f` write `name` through a temporary path, then renames it into place (for writers
    /// that take a path: PNG encoders, safetensors). If `f` fails, the temporary file is removed
    /// and `name` is unchanged.
    pub fn write_with<E: From<RunDirError>>(
        &self,
        name: &str,
        f: impl FnOnce(&Path) -> Result<(), E>,
    ) -> Result<(), E> {
        write_atomic_with(&self.file(name)?, f)
    }

    /// Removes `name` if present.
    pub fn remove(&self, name: &str) -> Result<(), RunDirError> {
        let p = self.file(name)?;
        match fs::remove_file(&p) {
            Ok(()) => sync_dir(p.parent().unwrap_or(&self.path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&p, "cannot remove")(e)),
        }
    }

    /// Marks the run complete: writes `manifest.json` (every file now in the folder, with
    /// sub-folders, except hidden files and checkpoints) atomically, then removes the
    /// checkpoint. Call it after the last output is written.
    pub fn commit(&self) -> Result<Manifest, RunDirError> {
        let manifest = write_manifest(&self.path)?;
        self.remove(CHECKPOINT)?;
        Ok(manifest)
    }

    /// Marks the sub-folder `name` (e.g. an ensemble member's `member-0`) complete as a run
    /// folder of its own, readable by [`verify`]: writes its manifest, after its files. The
    /// folder's own [`RunDir::commit`] then covers it too.
    pub fn commit_sub(&self, name: &str) -> Result<Manifest, RunDirError> {
        let dir = self.file(name)?;
        let manifest = write_manifest(&dir)?;
        self.remove(&format!("{name}/{CHECKPOINT}"))?;
        Ok(manifest)
    }
}

/// Writes `dir/manifest.json` over the files now under `dir`.
fn write_manifest(dir: &Path) -> Result<Manifest, RunDirError> {
    let mut files = BTreeMap::new();
    collect_files(dir, "", &mut files)?;
    let manifest = Manifest {
        format: FORMAT.into(),
        version: MANIFEST_VERSION,
        files,
    };
    let json = serde_json::to_string_pretty(&manifest).expect("manifests serialise");
    write_atomic(&dir.join(MANIFEST), json.as_bytes())?;
    Ok(manifest)
}

/// Checks that `dir` holds a complete run: its manifest exists, parses, and every listed file
/// exists with the listed size and CRC-32. Readers (`eval`, `finetune`, `predict`) call it
/// before reading anything else.
///
/// # Errors
/// [`RunDirError::Incomplete`] (no manifest), [`RunDirError::BadManifest`],
/// [`RunDirError::Mismatch`], [`RunDirError::NotADirectory`], [`RunDirError::Io`].
pub fn verify(dir: &Path) -> Result<Manifest, RunDirError> {
    match fs::metadata(dir) {
        Ok(m) if !m.is_dir() => {
            return Err(RunDirError::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        Ok(_) => {}
        Err(e) => return Err(io(dir, "cannot open the run folder")(e)),
    }
    let path = dir.join(MANIFEST);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RunDirError::Incomplete {
                path: dir.to_path_buf(),
            });
        }
        Err(e) => return Err(io(&path, "cannot read the manifest")(e)),
    };
    let bad = |message: String| RunDirError::BadManifest {
        path: path.clone(),
        message,
    };
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if manifest.format != FORMAT || manifest.version != MANIFEST_VERSION {
        return Err(bad(format!(
            "format {:?} version {} (expected {FORMAT:?} version {MANIFEST_VERSION})",
            manifest.format, manifest.version
        )));
    }
    for (name, entry) in &manifest.files {
        check_name(name).map_err(|e| bad(e.to_string()))?;
        let mismatch = |problem: String| RunDirError::Mismatch {
            path: dir.to_path_buf(),
            file: name.clone(),
            problem,
        };
        let found = match checksum(&dir.join(name)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(mismatch("is missing".into()));
            }
            Err(e) => return Err(io(&dir.join(name), "cannot read")(e)),
        };
        if found.bytes != entry.bytes {
            return Err(mismatch(format!(
                "has {} bytes, the manifest says {}",
                found.bytes, entry.bytes
            )));
        }
        if found.crc32 != entry.crc32 {
            return Err(mismatch(format!(
                "has CRC-32 {:08x}, the manifest says {:08x}",
                found.crc32, entry.crc32
            )));
        }
    }
    Ok(manifest)
}

mod error;
mod files;

pub use error::RunDirError;
use files::{
    check_name, checksum, collect_files, remove_temporaries, sync_dir, try_lock, visible_entries,
};
pub use files::{write_atomic, write_atomic_with};

#[cfg(test)]
mod tests;
