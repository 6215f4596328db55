//! [`LoaderConfig`]: the loader's settings, with PyTorch `DataLoader` defaults.

use crate::DataError;
use serde::{Deserialize, Serialize};

/// How a [`DataLoader`](super::DataLoader) batches and orders samples.
///
/// Defaults follow `torch.utils.data.DataLoader`: batch size 1, no shuffling, keep the last
/// partial batch, 2 batches prefetched (PyTorch's `prefetch_factor`), seed 0, the ambient rayon
/// pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoaderConfig {
    /// Samples per batch (≥ 1).
    pub batch_size: usize,
    /// Visit samples in a new random order every epoch (a pure function of `seed` and the epoch).
    pub shuffle: bool,
    /// Drop the last batch if it is smaller than `batch_size`.
    pub drop_last: bool,
    /// The seed of the shuffle and of every transform/hook draw.
    pub seed: u64,
    /// Batches prepared ahead by a background thread; 0 computes each batch on the calling
    /// thread when it is requested.
    pub prefetch: usize,
    /// Size of a dedicated rayon pool for decoding and transforms; `None` uses the pool given
    /// with [`DataLoader::with_thread_pool`](super::DataLoader::with_thread_pool), else rayon's
    /// global pool (or, with `prefetch = 0`, the pool of the calling thread).
    pub num_threads: Option<usize>,
    /// Data-parallel training: yield only this replica's [`Shard`] of every batch (the epoch's
    /// order, the batches and every random draw stay those of the whole batch). Default `None`:
    /// whole batches.
    #[serde(default)]
    pub shard: Option<Shard>,
}

/// One replica's part of every batch in data-parallel training: of a batch of `n` samples
/// (positions `p₀..p₀+n` of the epoch's order), replica `index` of `count` takes the contiguous
/// positions `p₀ + ⌊index·n/count⌋ .. p₀ + ⌊(index+1)·n/count⌋` — shard sizes differ by at most
/// one, and the shards of all replicas, concatenated in replica order, are the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    /// This replica's index, `0..count`.
    pub index: usize,
    /// Number of replicas.
    pub count: usize,
}

impl Shard {
    /// The positions of this shard within a batch of `n` samples.
    pub fn range(&self, n: usize) -> std::ops::Range<usize> {
        self.index * n / self.count..(self.index + 1) * n / self.count
    }

    /// The smallest shard of a batch of `n` samples: `⌊n/count⌋`.
    pub fn min_len(count: usize, n: usize) -> usize {
        n / count.max(1)
    }
}

impl Default for LoaderConfig {
    fn default() -> Self {
        Self {
            batch_size: 1,
            shuffle: false,
            drop_last: false,
            seed: 0,
            prefetch: 2,
            num_threads: None,
            shard: None,
        }
    }
}

impl LoaderConfig {
    /// Default settings with `batch_size`.
    pub fn with_batch_size(batch_size: usize) -> Self {
        Self {
            batch_size,
            ..Self::default()
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), DataError> {
        if self.batch_size == 0 {
            return Err(DataError::invalid("batch_size", 0, "≥ 1"));
        }
        if let Some(s) = self.shard {
            if s.count == 0 || s.index >= s.count {
                return Err(DataError::invalid(
                    "shard",
                    format!("{} of {}", s.index, s.count),
                    "an index in 0..count with count ≥ 1",
                ));
            }
            if self.batch_size < s.count {
                return Err(DataError::invalid(
                    "batch_size",
                    self.batch_size,
                    format!("at least one sample per replica ({} replicas)", s.count),
                ));
            }
        }
        if self.num_threads == Some(0) {
            return Err(DataError::invalid(
                "num_threads",
                0,
                "≥ 1 (or None for the ambient pool)",
            ));
        }
        Ok(())
    }
}
