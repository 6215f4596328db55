//! [`DistributedSettings`]: the `[distributed]` block of a job — how a data-parallel run
//! (`mpirun -np N nn-train train ...`) shares batch statistics and packs gradients. A job run
//! in one process ignores it.

use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// The `[distributed]` block of a job.
///
/// ```toml
/// [distributed]
/// sync_batch_norm = false   # true: BatchNorm with the statistics of the global batch
/// bucket_mb = 1.0           # gradient bucket size (PyTorch DDP's bucket_cap_mb)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistributedSettings {
    /// Batch normalisation with the statistics of the whole global batch across the ranks
    /// (PyTorch's `SyncBatchNorm`): the same forward pass as one process with the whole batch.
    /// Default false: each rank normalises with the statistics of its own shard, as PyTorch
    /// DDP does (cheaper: no communication inside forward and backward).
    pub sync_batch_norm: bool,
    /// Size of a gradient bucket in MiB (PyTorch DDP's `bucket_cap_mb`, default 25 there).
    /// Default 1: the models of this workspace are small (ResNet-20's gradients are 1.1 MB),
    /// and smaller buckets start sending earlier in backward. A bucket holds at least one
    /// parameter.
    pub bucket_mb: f64,
}

impl Default for DistributedSettings {
    fn default() -> Self {
        DistributedSettings {
            sync_batch_norm: false,
            bucket_mb: 1.0,
        }
    }
}

impl DistributedSettings {
    /// Checks the bucket size.
    pub fn validate(&self) -> Result<()> {
        if !(self.bucket_mb.is_finite() && self.bucket_mb > 0.0 && self.bucket_mb <= 4096.0) {
            return Err(invalid(
                "distributed.bucket_mb",
                self.bucket_mb,
                "a size in MiB in (0, 4096]",
            ));
        }
        Ok(())
    }

    /// The bucket size in bytes.
    pub fn bucket_bytes(&self) -> usize {
        (self.bucket_mb * 1024.0 * 1024.0) as usize
    }
}
