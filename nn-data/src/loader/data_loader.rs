//! [`DataLoader`]: batches of a [`Dataset`], deterministic for any number of threads.

use super::rng::{batch_rng, sample_rng, shuffled_order};
use super::{Batch, BatchHook, Epoch, LoaderConfig, SampleTransform};
use crate::{DataError, Dataset};
use ndarray::{Array3, Array4};
use rayon::ThreadPool;
use rayon::prelude::*;
use std::sync::Arc;

/// Iterates a data set in mini-batches (PyTorch's `DataLoader` for a map-style data set).
///
/// For epoch `e`, the sample order is `0..len` or, with `shuffle`, [`shuffled_order`]`(len,
/// seed, e)`. Batch `b` holds positions `b·B .. min((b+1)·B, len)` of that order; the sample at
/// position `p` is read, then transformed with the generator [`sample_rng`]`(seed, e, p)`; the
/// batch hook gets [`batch_rng`]`(seed, e, b)`. With a [`Shard`](super::Shard), only the
/// shard's positions of each batch are read (each with its own position's generator) and the
/// hook sees the shard with the batch's generator. Samples of a batch are processed in parallel on
/// rayon, but since every draw comes from its own stream and results are assembled in position
/// order, the batches are bit-identical for any number of threads.
///
/// ```
/// use std::sync::Arc;
/// use nn_data::{digits, DataLoader, LoaderConfig};
/// let config = LoaderConfig { batch_size: 64, shuffle: true, seed: 7, ..Default::default() };
/// let loader = DataLoader::new(Arc::new(digits()), config)?
///     .with_transform(Arc::new(|img, _rng| img.mapv(|v| 1.0 - v)));
/// let mut seen = 0;
/// for batch in loader.epoch(0) {
///     let batch = batch?;
///     assert_eq!(batch.images.shape()[1..], [1, 8, 8]);
///     seen += batch.len();
/// }
/// assert_eq!(seen, 1797);
/// # Ok::<(), nn_data::DataError>(())
/// ```
#[derive(Clone)]
pub struct DataLoader {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    dataset: Arc<dyn Dataset>,
    config: LoaderConfig,
    transform: Option<SampleTransform>,
    batch_hook: Option<BatchHook>,
    pool: Option<Arc<ThreadPool>>,
}

impl std::fmt::Debug for DataLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataLoader")
            .field("len", &self.inner.dataset.len())
            .field("config", &self.inner.config)
            .field("transform", &self.inner.transform.is_some())
            .field("batch_hook", &self.inner.batch_hook.is_some())
            .finish()
    }
}

impl DataLoader {
    /// A loader over `dataset`; errors on an invalid configuration.
    pub fn new(dataset: Arc<dyn Dataset>, config: LoaderConfig) -> Result<Self, DataError> {
        config.validate()?;
        let pool = match config.num_threads {
            Some(n) => Some(Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .thread_name(|i| format!("nn-data-{i}"))
                    .build()
                    .map_err(|e| DataError::invalid("num_threads", n, e.to_string()))?,
            )),
            None => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                dataset,
                config,
                transform: None,
                batch_hook: None,
                pool,
            }),
        })
    }

    fn edit(self, f: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            dataset: shared.dataset.clone(),
            config: shared.config.clone(),
            transform: shared.transform.clone(),
            batch_hook: shared.batch_hook.clone(),
            pool: shared.pool.clone(),
        });
        f(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Sets the per-sample transform (augmentation).
    pub fn with_transform(self, transform: SampleTransform) -> Self {
        self.edit(|i| i.transform = Some(transform))
    }

    /// Sets the per-batch hook (mixup, CutMix).
    pub fn with_batch_hook(self, hook: BatchHook) -> Self {
        self.edit(|i| i.batch_hook = Some(hook))
    }

    /// Runs decoding and transforms on `pool` (overrides `num_threads`).
    pub fn with_thread_pool(self, pool: Arc<ThreadPool>) -> Self {
        self.edit(|i| i.pool = Some(pool))
    }

    /// The configuration.
    pub fn config(&self) -> &LoaderConfig {
        &self.inner.config
    }

    /// The data set.
    pub fn dataset(&self) -> &Arc<dyn Dataset> {
        &self.inner.dataset
    }

    /// Batches per epoch.
    pub fn num_batches(&self) -> usize {
        self.inner.num_batches()
    }

    /// The order in which `epoch` visits the data set's indices.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        self.inner.order(epoch)
    }

    /// Batch `batch` of `epoch`, computed now on the calling thread (random access; the same
    /// result the epoch iterator yields).
    pub fn batch(&self, epoch: u64, batch: usize) -> Result<Batch, DataError> {
        if batch >= self.num_batches() {
            return Err(DataError::IndexOutOfRange {
                index: batch,
                len: self.num_batches(),
            });
        }
        self.inner.batch(epoch, batch, &self.order(epoch))
    }

    /// Iterates the batches of `epoch` (prefetched in the background if `prefetch > 0`).
    pub fn epoch(&self, epoch: u64) -> Epoch {
        Epoch::new(self.inner.clone(), epoch, 0)
    }

    /// The batches `start..` of `epoch`: the same batches [`DataLoader::epoch`] yields from
    /// position `start` on (every draw depends only on the seed, the epoch and the position), so
    /// an interrupted epoch resumes exactly. `start >= num_batches()` yields nothing.
    pub fn epoch_from(&self, epoch: u64, start: usize) -> Epoch {
        Epoch::new(self.inner.clone(), epoch, start)
    }
}

impl Inner {
    pub(super) fn config(&self) -> &LoaderConfig {
        &self.config
    }

    pub(super) fn num_batches(&self) -> usize {
        let (n, b) = (self.dataset.len(), self.config.batch_size);
        if self.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    pub(super) fn order(&self, epoch: u64) -> Vec<usize> {
        let n = self.dataset.len();
        if self.config.shuffle {
            shuffled_order(n, self.config.seed, epoch)
        } else {
            (0..n).collect()
        }
    }

    /// Computes batch `b` of `epoch` given the epoch's `order`.
    /// One transformed sample: (image, label) of the sample at `pos` of the epoch.
    fn sample(
        &self,
        epoch: u64,
        pos: usize,
        order: &[usize],
    ) -> Result<(Array3<f32>, usize), DataError> {
        let s = self.dataset.get(order[pos])?;
        let image = match &self.transform {
            Some(t) => t(
                s.image,
                &mut sample_rng(self.config.seed, epoch, pos as u64),
            ),
            None => s.image,
        };
        Ok((image, s.label))
    }

    /// Computes batch `b` of `epoch` given the epoch's `order`.
    ///
    /// The first sample fixes the image shape; every other sample is read, transformed and
    /// copied straight into its slot of the batch buffer in parallel (no sequential collate).
    pub(super) fn batch(&self, epoch: u64, b: usize, order: &[usize]) -> Result<Batch, DataError> {
        let bs = self.config.batch_size;
        let mut positions = b * bs..((b + 1) * bs).min(order.len());
        if let Some(shard) = self.config.shard {
            let part = shard.range(positions.len());
            positions = positions.start + part.start..positions.start + part.end;
            if positions.is_empty() {
                return Err(DataError::invalid(
                    "shard",
                    format!("{} of {}", shard.index, shard.count),
                    format!(
                        "a non-empty part of batch {b} (drop a last batch smaller than the replica count)"
                    ),
                ));
            }
        }
        let indices = order[positions.clone()].to_vec();
        let work = || -> Result<(Array4<f32>, Vec<usize>), DataError> {
            let (first, first_label) = self.sample(epoch, positions.start, order)?;
            let shape = first.shape().to_vec();
            let per = first.len();
            if per == 0 {
                return Err(DataError::ShapeMismatch {
                    index: order[positions.start],
                    expected: vec![1, 1, 1],
                    found: shape,
                });
            }
            let mut data = vec![0f32; per * positions.len()];
            let mut labels = vec![first_label; positions.len()];
            copy_into(&mut data[..per], &first);
            data[per..]
                .par_chunks_mut(per)
                .zip(labels[1..].par_iter_mut())
                .zip(positions.start + 1..positions.end)
                .try_for_each(|((slot, label), pos)| {
                    let (image, l) = self.sample(epoch, pos, order)?;
                    if image.shape() != shape.as_slice() {
                        return Err(DataError::ShapeMismatch {
                            index: order[pos],
                            expected: shape.clone(),
                            found: image.shape().to_vec(),
                        });
                    }
                    copy_into(slot, &image);
                    *label = l;
                    Ok(())
                })?;
            let images = Array4::from_shape_vec((labels.len(), shape[0], shape[1], shape[2]), data)
                .expect("batch buffer holds N·C·H·W values by construction");
            Ok((images, labels))
        };
        let (images, labels) = match &self.pool {
            Some(pool) => pool.install(work)?,
            None => work()?,
        };
        let batch = Batch {
            images,
            labels,
            soft_targets: None,
            indices,
            num_classes: self.dataset.num_classes(),
        };
        let seed = self.config.seed;
        Ok(match &self.batch_hook {
            Some(hook) => hook(batch, &mut batch_rng(seed, epoch, b as u64)),
            None => batch,
        })
    }
}

/// Copies a CHW image into a flat slot (logical order, whatever the image's layout).
fn copy_into(slot: &mut [f32], image: &Array3<f32>) {
    match image.as_slice() {
        Some(src) => slot.copy_from_slice(src),
        None => slot.iter_mut().zip(image.iter()).for_each(|(d, &v)| *d = v),
    }
}
