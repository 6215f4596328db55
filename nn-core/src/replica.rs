//! [`ReplicaGroup`]: the processes (or threads) that each hold a shard of one mini-batch in
//! data-parallel training, as seen by the layers that need statistics of the whole batch.
//!
//! nn-core knows no transport: a trainer that splits batches across replicas (nn-train over MPI,
//! or threads in tests) implements this trait and hands it to the forward pass with
//! [`crate::Ctx::with_replicas`]. Batch normalisation then normalises with the statistics of the
//! global batch (synchronised batch norm, [`crate::Tensor::sync_batch_norm`]) instead of the
//! replica's shard.
//!
//! A replica group is a *collective*: every replica calls [`ReplicaGroup::all_gather`] the same
//! number of times, in the same order, with inputs of the same length.

use std::sync::Arc;

/// A group of replicas that each hold a shard of the batch; see the [module docs](self).
pub trait ReplicaGroup: Send + Sync + std::fmt::Debug {
    /// Number of replicas.
    fn size(&self) -> usize;

    /// This replica's index in `0..size()`.
    fn rank(&self) -> usize;

    /// Every replica's `local` (the same length on every replica), concatenated in replica
    /// order: replica r's values at `r·local.len()..(r + 1)·local.len()`. Every replica gets
    /// the same result, so reductions over it done in replica order agree bit for bit.
    ///
    /// # Panics
    /// If the transport fails (a lost replica cannot be recovered from inside a forward pass).
    fn all_gather(&self, local: &[f64]) -> Vec<f64>;
}

/// The trivial group of one replica (the whole batch is local): [`ReplicaGroup::all_gather`]
/// returns its input. Synchronised batch norm over it is plain batch norm.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleReplica;

impl ReplicaGroup for SingleReplica {
    fn size(&self) -> usize {
        1
    }
    fn rank(&self) -> usize {
        0
    }
    fn all_gather(&self, local: &[f64]) -> Vec<f64> {
        local.to_vec()
    }
}

/// A shared handle to a replica group.
pub type Replicas = Arc<dyn ReplicaGroup>;
