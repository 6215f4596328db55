//! The [`Dataset`] interface and its adapters.
//!
//! A data set is an indexable collection of [`Sample`]s (a CHW `f32` image scaled to `[0, 1]`
//! and a class label), like PyTorch's map-style `torch.utils.data.Dataset`. Adapters compose:
//! [`Subset`] (e.g. overfit a small sample), [`Concat`], [`ClassFilter`] (transfer-learning
//! splits, optional label remapping) and seeded stratified splits ([`train_val_split`],
//! [`stratified_split`]).

mod class_filter;
mod concat;
mod in_memory;
mod split;
mod subset;

pub use class_filter::ClassFilter;
pub use concat::Concat;
pub use in_memory::{InMemoryDataset, Pixels};
pub use split::{ThreeWaySplit, stratified_split, train_val_split, train_val_test_split};
pub use subset::Subset;

use crate::DataError;
use ndarray::Array3;
use std::sync::Arc;

/// One sample: an image in CHW layout with values in `[0, 1]` (torchvision's `ToTensor`
/// convention) and its class label in `0..num_classes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The image, shape `[C, H, W]`.
    pub image: Array3<f32>,
    /// The class label.
    pub label: usize,
}

/// A map-style data set: `len` samples addressed by index, with `num_classes` classes.
///
/// Implementations must be cheap to share between threads (`Send + Sync`): the loader reads
/// samples from a rayon pool. `get` returns a typed error instead of panicking, so lazily decoded
/// data sets (an image folder) can report an unreadable file at the moment it is read.
pub trait Dataset: Send + Sync {
    /// Number of samples.
    fn len(&self) -> usize;

    /// Sample `index`, or [`DataError::IndexOutOfRange`] if `index >= len()`.
    fn get(&self, index: usize) -> Result<Sample, DataError>;

    /// Number of classes (labels are in `0..num_classes()`).
    fn num_classes(&self) -> usize;

    /// Human-readable class names, if known (`class_names()[label]`).
    fn class_names(&self) -> Option<&[String]> {
        None
    }

    /// The label of sample `index` without decoding its image. The default calls
    /// [`get`](Dataset::get); data sets that keep labels apart override it, which makes
    /// stratified splits and class filters cheap.
    fn label(&self, index: usize) -> Result<usize, DataError> {
        Ok(self.get(index)?.label)
    }

    /// `true` if the data set has no sample.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// All labels of `dataset`, in index order (uses the cheap [`Dataset::label`]).
pub fn labels(dataset: &(impl Dataset + ?Sized)) -> Result<Vec<usize>, DataError> {
    (0..dataset.len()).map(|i| dataset.label(i)).collect()
}

pub(crate) fn check_index(index: usize, len: usize) -> Result<(), DataError> {
    if index < len {
        Ok(())
    } else {
        Err(DataError::IndexOutOfRange { index, len })
    }
}

macro_rules! forward_dataset {
    ($($ty:ty),*) => {$(
        impl<D: Dataset + ?Sized> Dataset for $ty {
            fn len(&self) -> usize {
                (**self).len()
            }
            fn get(&self, index: usize) -> Result<Sample, DataError> {
                (**self).get(index)
            }
            fn num_classes(&self) -> usize {
                (**self).num_classes()
            }
            fn class_names(&self) -> Option<&[String]> {
                (**self).class_names()
            }
            fn label(&self, index: usize) -> Result<usize, DataError> {
                (**self).label(index)
            }
        }
    )*};
}

forward_dataset!(Arc<D>, Box<D>, &D);
