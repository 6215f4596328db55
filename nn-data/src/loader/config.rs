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
