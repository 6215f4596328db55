//! Data-parallel training: one model trained by N processes (ranks), each on its shard of every
//! global batch (`mpirun -np N nn-train train --config job.toml --out DIR`, built with the
//! `mpi` feature), as PyTorch's DistributedDataParallel does.
//!
//! Per step, every rank
//! 1. reads its shard of the global batch (the job's `batch_size`): the same seeded order and
//!    augmentation draws as one process, rank r taking positions ⌊r·n/N⌋..⌊(r+1)·n/N⌋ of each
//!    batch of n ([`nn_data::Shard`]);
//! 2. runs forward (batch norm per rank as in DDP, or synchronised with
//!    [`DistributedSettings::sync_batch_norm`]) and agrees with the others on the global
//!    loss, its share `d_r / Σ d` of the batch, and whether any rank failed ([`Dist::agree_step`]);
//! 3. runs backward seeded with its share, packing gradients into buckets whose sums start while
//!    backward goes on ([`GradReducer`]); the sums in rank order are the gradients of the mean
//!    loss of the global batch, bit-identical on every rank;
//! 4. takes the same optimizer step, so the replicas stay identical without broadcasting weights.
//!
//! Rank 0 alone validates, runs the epoch callbacks, keeps the best snapshot, tests and writes
//! the run folder; the others wait for its decision at each epoch end ([`Dist::agree_control`]).
//!
//! ## Determinism
//! A run on N ranks is bit-identical from run to run: the shards, the per-sample augmentation
//! streams, the backward order, the bucket layout and the summation order (rank order, see
//! [`collective`]) are all fixed. One rank *is* one process bit for bit (the sum of one
//! buffer is the buffer, the share is 1). Against one process, N ranks differ only in rounding:
//! each rank's gradient is its shard's mean loss gradient times `n_r/n`, summed in rank order,
//! where one process sums over the whole batch inside its kernels — relative differences of
//! about 1e-7 per step. Batch norm per rank normalises with shard statistics, which is a
//! different (noisier) model than one process's; with `sync_batch_norm` the statistics are the
//! global batch's (moments merged in rank order). Dropout masks are drawn from a per-rank
//! stream (rank 0's is the single-process stream), so jobs with dropout agree with one process
//! in distribution, not bit for bit; mixup/CutMix draw one λ per global batch (the batch's
//! stream, shared by all ranks) and pair images within each rank's shard.
//!
//! | file | what |
//! |---|---|
//! | [`collective`] | [`Collective`], [`SingleProcess`]; the rank-ordered sum |
//! | [`threads`] | [`ThreadGroup`]: ranks as threads of one process (tests, no MPI) |
//! | [`reducer`] | [`GradReducer`]: bucketed gradient sums overlapped with backward |
//! | [`settings`] | [`DistributedSettings`]: the job's `[distributed]` block |
//! | `agree` | status agreement: errors and stops reach every rank |
//! | `step` | the data-parallel step (micro-batches, shares, penalty after the sum) |
//! | `mpi` | `MpiCollective` (feature `mpi`): Open MPI through the `mpi` crate |

mod agree;
pub mod collective;
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod reducer;
pub mod settings;
mod step;
pub mod threads;

use std::sync::Arc;

pub use agree::{StepLocal, StepTotals};
pub use collective::{Collective, SingleProcess, Ticket};
pub use reducer::{GradReducer, ReduceStats};
pub use settings::DistributedSettings;
pub use threads::ThreadGroup;

use nn_core::replica::{ReplicaGroup, Replicas};

use crate::config::TrainConfig;
use crate::error::{Result, invalid};

/// What a job must allow to run on `ranks` > 1 ranks: at least two samples per rank in each
/// global batch (batch norm needs two) and a mini-batch optimizer. (Reduce-on-plateau works:
/// rank 0 validates and sends the epoch's figures to every rank.)
pub fn check_job(config: &TrainConfig, ranks: usize) -> Result<()> {
    if config.batch_size / ranks < 2 {
        return Err(invalid(
            "batch_size",
            config.batch_size,
            &format!(
                "at least 2 samples per rank ({ranks} ranks share each global batch of \
                 `batch_size` samples)"
            ),
        ));
    }
    if crate::lbfgs::is_lbfgs(config) {
        return Err(invalid(
            "optimizer.kind",
            "lbfgs",
            "a mini-batch optimizer under mpirun (L-BFGS jobs are full-batch, in one process)",
        ));
    }
    Ok(())
}

/// A session's place in a data-parallel job: its communicator and the per-rank machinery.
#[derive(Debug, Clone)]
pub struct Dist {
    comm: Arc<dyn Collective>,
}

impl Default for Dist {
    fn default() -> Self {
        Dist::single()
    }
}

impl Dist {
    /// One process.
    pub fn single() -> Dist {
        Dist {
            comm: Arc::new(SingleProcess::default()),
        }
    }

    /// Rank `comm.rank()` of `comm.size()`.
    pub fn new(comm: Arc<dyn Collective>) -> Dist {
        Dist { comm }
    }

    /// This rank.
    pub fn rank(&self) -> usize {
        self.comm.rank()
    }

    /// Number of ranks.
    pub fn size(&self) -> usize {
        self.comm.size()
    }

    /// Whether this is rank 0 (the one that validates, logs and writes).
    pub fn is_root(&self) -> bool {
        self.comm.rank() == 0
    }

    /// The communicator.
    pub fn comm(&self) -> &Arc<dyn Collective> {
        &self.comm
    }

    /// The communicator as nn-core's replica group (for synchronised batch norm).
    pub fn replicas(&self) -> Replicas {
        Arc::new(CollectiveReplicas(self.comm.clone()))
    }
}

/// A [`Collective`] seen by nn-core's layers as a [`ReplicaGroup`].
#[derive(Debug)]
struct CollectiveReplicas(Arc<dyn Collective>);

impl ReplicaGroup for CollectiveReplicas {
    fn size(&self) -> usize {
        self.0.size()
    }
    fn rank(&self) -> usize {
        self.0.rank()
    }
    fn all_gather(&self, local: &[f64]) -> Vec<f64> {
        self.0
            .all_gather(local)
            .unwrap_or_else(|e| panic!("synchronised batch norm: {e}"))
    }
}
