//! Training checkpoints: the whole state of a job between two steps, in one file, so that an
//! interrupted job resumes **exactly** — the resumed run's final model and report are
//! byte-identical to those of a run that was never interrupted.
//!
//! A [`Checkpoint`] is one [`TrainState`] (every scalar of the loop: position, partial epoch
//! sums, the report so far, the schedule, the optimizer's per-parameter step counts, callback
//! states, …) plus named `f32` tensors (model, optimizer buffers, EMA, best snapshots). It is
//! stored as one safetensors file (`checkpoint.safetensors` in the run folder,
//! [`crate::run_dir::CHECKPOINT`]): the tensors under the prefixes below, and the state as
//! [CBOR](https://cbor.io) (exact for every `f32`/`f64`, NaN and ±∞ included, which JSON is not)
//! in the `U8` tensor `__state__.cbor`. The file is written atomically (temporary file, `fsync`,
//! rename), so a kill during a write leaves the previous checkpoint intact.
//!
//! | tensor prefix | what |
//! |---|---|
//! | `model/` | the model's state dict (parameters and buffers) |
//! | `optimizer/<param>/<buffer>` | optimizer buffers (`momentum_buffer`, `exp_avg`, …) |
//! | `ema/` | the EMA's averaged parameters and copied buffers |
//! | `best_raw/`, `best_ema/` | the best validation snapshots so far |
//!
//! Nothing random is stored: every random draw of a job is a function of the seed and the
//! position — initialisation of `(seed)`, shuffling and augmentation of `(seed, epoch,
//! sample position)` ([`nn_data::DataLoader`]), mixup of `(seed, epoch, batch)`, dropout of
//! `(seed, step)` — so storing `(epoch, batch, step)` restores every stream.
//!
//! ## Adding state
//! A new piece of loop state (a gradient-accumulation counter, a rank's data shard, …) is a
//! new field of [`TrainState`] with `#[serde(default)]` (old checkpoints then still load, as
//! `plateau` does) or tensors under a new prefix; callbacks keep their own state
//! through [`crate::Callback::save_state`] / [`crate::Callback::load_state`]. Bump
//! [`CHECKPOINT_VERSION`] only for a change that old code must refuse.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use nn_core::Array;
use nn_optim::{GroupState, LbfgsState, LrScheduler, OptimState, ParamState};
use safetensors::tensor::{Dtype, View};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::{Result, TrainError};
use crate::optimizer::JobOptimizerState;
use crate::plateau::Plateau;
use crate::trainer::TrainReport;

/// The checkpoint format version this code writes and reads.
pub const CHECKPOINT_VERSION: u32 = 1;

/// The tensor holding the CBOR-encoded [`TrainState`].
const STATE_TENSOR: &str = "__state__.cbor";

/// Every scalar of a training loop between two steps. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// [`CHECKPOINT_VERSION`] of the code that wrote it.
    pub version: u32,
    /// The job as TOML ([`crate::TrainConfig::to_toml`]): a resume checks that it continues
    /// the same job.
    pub job: String,
    /// The epoch (0-based) to continue.
    pub epoch: usize,
    /// The first (micro-)batch of `epoch` not trained yet (0: the epoch has not started;
    /// `num_batches`: only its validation is left); with gradient accumulation always the first
    /// micro-batch of a step.
    pub batch: usize,
    /// Optimisation steps done (the global step of the next batch).
    pub step: u64,
    /// The loop has ended (all epochs, early stopping or a callback's stop): only the final
    /// restore-best-and-test phase is left.
    pub finished: bool,
    /// Sums over the batches of `epoch` done so far.
    pub epoch_sums: EpochSums,
    /// The report so far (history, best epoch, initial loss; test fields unset).
    pub report: TrainReport,
    /// Wall-clock seconds of each finished epoch (not part of the report: timings differ
    /// between identical runs).
    pub epoch_seconds: Vec<f32>,
    /// The optimizer's state (an element-wise optimizer's without its buffers: those are
    /// `optimizer/…` tensors).
    pub optimizer: OptimizerCheckpoint,
    /// The learning-rate schedule driver.
    pub scheduler: LrScheduler,
    /// The reduce-on-plateau scheduler with its reductions so far (jobs with
    /// `[reduce_on_plateau]`).
    #[serde(default)]
    pub plateau: Option<Plateau>,
    /// Number of EMA updates (jobs with `[ema]`).
    pub ema_updates: Option<u64>,
    /// Whether gradual unfreezing (transfer learning) has happened.
    pub unfrozen: bool,
    /// Whether `best_raw/…` and `best_ema/…` tensors are present.
    pub has_best_raw: bool,
    /// See `has_best_raw`.
    pub has_best_ema: bool,
    /// Each callback's state, in the order the callbacks were given (`None`: stateless).
    pub callbacks: Vec<Option<Vec<u8>>>,
}

/// Running sums of the epoch in progress.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct EpochSums {
    /// Σ loss · batch size.
    pub loss_sum: f64,
    /// Correct training predictions.
    pub correct: usize,
    /// Training samples seen.
    pub seen: usize,
    /// Wall-clock seconds spent on the epoch before the interruption.
    pub seconds: f64,
    /// Learning rate of the epoch's last update so far.
    pub last_lr: Option<f64>,
}

/// The optimizer's part of a [`TrainState`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OptimizerCheckpoint {
    /// An element-wise optimizer (SGD, Adam, …): scalars here, buffers as tensors.
    Gradient(OptimizerScalars),
    /// L-BFGS: its whole state (history vectors included).
    Lbfgs(LbfgsState),
}

impl OptimizerCheckpoint {
    /// Splits a job optimizer's state (buffers appended to `tensors`).
    pub fn split(state: JobOptimizerState, tensors: &mut Vec<(String, Array)>) -> Self {
        match state {
            JobOptimizerState::Gradient(s) => {
                OptimizerCheckpoint::Gradient(OptimizerScalars::split(s, tensors))
            }
            JobOptimizerState::Lbfgs(s) => OptimizerCheckpoint::Lbfgs(s),
        }
    }

    /// Joins the state with its tensors (taken out of `tensors`).
    pub fn join(
        &self,
        tensors: &mut BTreeMap<String, Array>,
        path: &Path,
    ) -> Result<JobOptimizerState> {
        Ok(match self {
            OptimizerCheckpoint::Gradient(s) => JobOptimizerState::Gradient(s.join(tensors, path)?),
            OptimizerCheckpoint::Lbfgs(s) => JobOptimizerState::Lbfgs(s.clone()),
        })
    }
}

/// [`OptimState`] without the buffers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct OptimizerScalars {
    /// The optimizer's name.
    pub optimizer: String,
    /// The groups with their current hyperparameters.
    pub groups: Vec<GroupState>,
    /// Per parameter: its update count and the names of its buffers.
    pub params: BTreeMap<String, (u64, Vec<String>)>,
}

impl OptimizerScalars {
    /// Splits `state` into scalars and `optimizer/<param>/<buffer>` tensors (appended to `out`).
    pub fn split(state: OptimState, out: &mut Vec<(String, Array)>) -> OptimizerScalars {
        let mut params = BTreeMap::new();
        for (name, ps) in state.params {
            let mut names = Vec::with_capacity(ps.buffers.len());
            for (b, a) in ps.buffers {
                out.push((format!("optimizer/{name}/{b}"), a));
                names.push(b);
            }
            params.insert(name, (ps.step, names));
        }
        OptimizerScalars {
            optimizer: state.optimizer,
            groups: state.groups,
            params,
        }
    }

    /// Joins the scalars with their tensors (taken out of `tensors`) into an [`OptimState`].
    pub fn join(&self, tensors: &mut BTreeMap<String, Array>, path: &Path) -> Result<OptimState> {
        let mut params = BTreeMap::new();
        for (name, (step, buffers)) in &self.params {
            let mut map = BTreeMap::new();
            for b in buffers {
                let key = format!("optimizer/{name}/{b}");
                let a = tensors
                    .remove(&key)
                    .ok_or_else(|| corrupt(path, format!("tensor `{key}` is missing")))?;
                map.insert(b.clone(), a);
            }
            params.insert(
                name.clone(),
                ParamState {
                    step: *step,
                    buffers: map,
                },
            );
        }
        Ok(OptimState {
            optimizer: self.optimizer.clone(),
            groups: self.groups.clone(),
            params,
        })
    }
}

/// A [`TrainState`] with its tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The scalars.
    pub state: TrainState,
    /// The tensors by name (`model/…`, `optimizer/…`, …).
    pub tensors: BTreeMap<String, Array>,
}

fn corrupt(path: &Path, message: String) -> TrainError {
    TrainError::BadCheckpoint {
        path: path.to_path_buf(),
        message,
    }
}

/// Encodes a value as CBOR (for [`crate::Callback::save_state`]).
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("writing CBOR to memory cannot fail");
    out
}

/// Decodes a CBOR value written by [`encode`]; `what` names it in the error.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    ciborium::from_reader(bytes).map_err(|e| TrainError::BadCheckpoint {
        path: PathBuf::from("<checkpoint>"),
        message: format!("cannot decode {what}: {e}"),
    })
}

/// A tensor as the safetensors writer sees it.
enum Tensor<'a> {
    F32(&'a Array),
    U8(&'a [u8], [usize; 1]),
}

impl View for Tensor<'_> {
    fn dtype(&self) -> Dtype {
        match self {
            Tensor::F32(_) => Dtype::F32,
            Tensor::U8(..) => Dtype::U8,
        }
    }
    fn shape(&self) -> &[usize] {
        match self {
            Tensor::F32(a) => a.shape(),
            Tensor::U8(_, shape) => shape,
        }
    }
    fn data(&self) -> Cow<'_, [u8]> {
        match self {
            Tensor::F32(a) => Cow::Owned(a.iter().flat_map(|v| v.to_le_bytes()).collect()),
            Tensor::U8(b, _) => Cow::Borrowed(b),
        }
    }
    fn data_len(&self) -> usize {
        match self {
            Tensor::F32(a) => a.len() * 4,
            Tensor::U8(b, _) => b.len(),
        }
    }
}

impl Checkpoint {
    /// Writes the checkpoint to `path` atomically (temporary file streamed one tensor at a
    /// time, `fsync`, rename, `fsync` of the folder).
    pub fn save(&self, path: &Path) -> Result<()> {
        let state = encode(&self.state);
        let mut views: Vec<(&str, Tensor<'_>)> = self
            .tensors
            .iter()
            .map(|(n, a)| (n.as_str(), Tensor::F32(a)))
            .collect();
        views.push((STATE_TENSOR, Tensor::U8(&state, [state.len()])));
        let metadata = HashMap::from([(
            "nn_train_checkpoint".to_string(),
            CHECKPOINT_VERSION.to_string(),
        )]);
        crate::run_dir::write_atomic_with(path, |tmp| {
            safetensors::serialize_to_file(views, Some(metadata), tmp).map_err(|e| {
                TrainError::Write {
                    path: path.to_path_buf(),
                    source: std::io::Error::other(e.to_string()),
                }
            })
        })
    }

    /// Reads a checkpoint written by [`Checkpoint::save`].
    ///
    /// # Errors
    /// [`TrainError::BadCheckpoint`] for a file that is not a checkpoint of this version
    /// (truncated, garbage, another dtype, missing state, non-finite model weights);
    /// [`TrainError::Checkpoint`] if it cannot be read.
    pub fn load(path: &Path) -> Result<Checkpoint> {
        let bytes = std::fs::read(path).map_err(|source| {
            TrainError::Checkpoint(nn_core::checkpoint::CheckpointError::Read {
                path: path.to_path_buf(),
                source,
            })
        })?;
        Checkpoint::from_bytes(&bytes, path)
    }

    /// Parses checkpoint bytes; `path` names the source in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Checkpoint> {
        let st = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| corrupt(path, format!("not a safetensors file: {e}")))?;
        let mut state = None;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            if name == STATE_TENSOR {
                if view.dtype() != Dtype::U8 {
                    return Err(corrupt(path, format!("`{name}` is not U8")));
                }
                state = Some(view.data().to_vec());
                continue;
            }
            if view.dtype() != Dtype::F32 {
                return Err(corrupt(
                    path,
                    format!("tensor `{name}` has dtype {:?}, expected F32", view.dtype()),
                ));
            }
            let values: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let a = Array::from_shape_vec(view.shape(), values)
                .map_err(|e| corrupt(path, format!("tensor `{name}`: {e}")))?;
            tensors.insert(name, a);
        }
        let state = state.ok_or_else(|| {
            corrupt(
                path,
                format!("no `{STATE_TENSOR}` tensor: not an nn-train checkpoint"),
            )
        })?;
        let state: TrainState = ciborium::from_reader(state.as_slice())
            .map_err(|e| corrupt(path, format!("cannot decode the training state: {e}")))?;
        if state.version != CHECKPOINT_VERSION {
            return Err(corrupt(
                path,
                format!(
                    "checkpoint version {} (this nn-train reads version {CHECKPOINT_VERSION})",
                    state.version
                ),
            ));
        }
        if let Some((name, _)) = tensors
            .iter()
            .find(|(n, a)| n.starts_with("model/") && a.iter().any(|v| !v.is_finite()))
        {
            return Err(corrupt(
                path,
                format!("tensor `{name}` holds NaN or infinite values"),
            ));
        }
        Ok(Checkpoint { state, tensors })
    }

    /// Takes the tensors under `prefix` out, without the prefix, sorted by name.
    pub fn take_prefixed(&mut self, prefix: &str) -> Vec<(String, Array)> {
        let keys: Vec<String> = self
            .tensors
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect();
        keys.into_iter()
            .map(|k| {
                let a = self.tensors.remove(&k).expect("key listed above");
                (k[prefix.len()..].to_string(), a)
            })
            .collect()
    }
}

/// Prefixes every name of `state` with `prefix`.
pub fn prefixed(
    prefix: &str,
    state: Vec<(String, Array)>,
) -> impl Iterator<Item = (String, Array)> {
    state
        .into_iter()
        .map(move |(n, a)| (format!("{prefix}{n}"), a))
}

mod resume;

pub(crate) use resume::{Kept, KeptRef, capture, fresh, fresh_with, restore};

#[cfg(test)]
mod tests;
