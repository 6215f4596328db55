//! The data loader: batching, per-epoch shuffling from a seed, drop-last, a per-sample transform
//! hook (augmentation), a per-batch hook (mixup/CutMix), parallel decoding on rayon and
//! background prefetch — with every random draw derived from `(seed, epoch, position)` so that
//! any number of threads gives bit-identical epochs.

mod batch;
mod config;
mod data_loader;
mod epoch;
mod rng;

pub use batch::Batch;
pub use config::{LoaderConfig, Shard};
pub use data_loader::DataLoader;
pub use epoch::Epoch;
pub use rng::{batch_rng, sample_rng, shuffle_rng, shuffled_order};

use ndarray::Array3;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// A per-sample transform (augmentation): CHW image in, CHW image out, drawing from the
/// sample's own generator ([`sample_rng`]). nn-augment's transforms are wrapped into this shape.
pub type SampleTransform = Arc<dyn Fn(Array3<f32>, &mut ChaCha8Rng) -> Array3<f32> + Send + Sync>;

/// A per-batch hook (mixup, CutMix): batch in, batch out (it may set
/// [`Batch::soft_targets`]), drawing from the batch's own generator ([`batch_rng`]).
pub type BatchHook = Arc<dyn Fn(Batch, &mut ChaCha8Rng) -> Batch + Send + Sync>;
