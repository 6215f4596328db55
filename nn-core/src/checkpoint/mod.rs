//! Checkpoints: save and load a module's named parameters and buffers in the
//! [safetensors](https://huggingface.co/docs/safetensors) format, with PyTorch's names
//! (`features.0.weight`) and layouts (`Linear` weight `[out, in]`, `Conv2d` weight
//! `[out, in/groups, kh, kw]`), so that a state dict saved by PyTorch
//! (`safetensors.torch.save_file(model.state_dict(), path)`) loads into the equivalent model and
//! back.
//!
//! * [`save`] / [`load`] — a module to and from a file; files are written atomically (temporary
//!   file + rename).
//! * [`LoadReport`] — missing, unexpected and mis-shaped tensors by name; [`LoadMode::Strict`]
//!   (the default, as PyTorch) refuses an inexact match and changes nothing.
//! * [`write_file`], [`read_file`], [`to_bytes`], [`from_bytes`], [`apply_state_dict`] — the
//!   same on plain state dicts (`Vec<(String, Array)>`).
//! * [`CheckpointError`] — typed errors naming the file and the tensor.
//!
//! Values are saved as `f32`, except integer buffers ([`crate::Buffer::is_integer`]: BatchNorm's
//! `num_batches_tracked`), which [`save`] writes as `I64` as PyTorch does, so that a saved state
//! dict loads into PyTorch with every dtype PyTorch expects. Any float or integer dtype PyTorch
//! writes (`F16`, `BF16`, `F64`, `I64`, …) is converted to `f32` on load.
//!
//! ```
//! use nn_core::checkpoint::{LoadMode, load, save};
//! use nn_core::layers::{LinearConfig, ReLU, Sequential};
//! use nn_core::{Module, rng::seeded};
//!
//! let mlp = |seed| {
//!     let mut rng = seeded(seed);
//!     Sequential::new()
//!         .with(LinearConfig::new(4, 8).init(&mut rng).unwrap())
//!         .with(ReLU)
//!         .with(LinearConfig::new(8, 3).init(&mut rng).unwrap())
//! };
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("mlp.safetensors");
//! let (a, b) = (mlp(0), mlp(1));
//! save(&a, &path).unwrap();
//! let report = load(&b, &path, LoadMode::Strict).unwrap();
//! assert_eq!(report.loaded, ["0.weight", "0.bias", "2.weight", "2.bias"]);
//! assert_eq!(a.state_dict(), b.state_dict());
//! ```

mod error;
mod format;
mod load;

use std::path::Path;

pub use error::CheckpointError;
pub use format::{from_bytes, read_file, to_bytes, to_bytes_typed, write_file, write_file_typed};
pub use load::{LoadMode, LoadReport, ShapeMismatch, apply_state_dict};

use crate::module::Module;

/// Saves the parameters and buffers of `module` ([`Module::state_dict`]) to the safetensors file
/// `path`, atomically: `F32`, and `I64` for integer buffers ([`integer_buffers`]).
///
/// # Errors
/// [`CheckpointError::Write`] on I/O failure; [`CheckpointError::DuplicateName`] if the module
/// names two tensors alike.
pub fn save<M: Module + ?Sized>(module: &M, path: impl AsRef<Path>) -> Result<(), CheckpointError> {
    write_file_typed(path, &module.state_dict(), &integer_buffers(module), None)
}

/// The names of the integer buffers of `module` (BatchNorm's `num_batches_tracked`), which
/// checkpoints store as `I64` ([`write_file_typed`]).
pub fn integer_buffers<M: Module + ?Sized>(module: &M) -> Vec<String> {
    let mut out = Vec::new();
    module.visit("", &mut |e| {
        if let crate::module::Entry::Buffer(name, b) = e
            && b.is_integer()
        {
            out.push(name.to_string());
        }
    });
    out
}

/// Loads the safetensors file `path` into the parameters and buffers of `module` by name (see
/// [`apply_state_dict`]).
///
/// # Errors
/// [`CheckpointError::Read`] / [`CheckpointError::Format`] / [`CheckpointError::UnsupportedDtype`]
/// for a file that cannot be read; [`CheckpointError::Strict`] for an inexact strict load (the
/// module is left unchanged).
pub fn load<M: Module + ?Sized>(
    module: &M,
    path: impl AsRef<Path>,
    mode: LoadMode,
) -> Result<LoadReport, CheckpointError> {
    let path = path.as_ref();
    let state = read_file(path)?;
    apply_state_dict(module, state, mode, path)
}
