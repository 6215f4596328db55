//! [`Subset`]: a view of selected indices of another data set (PyTorch's `Subset`).

use super::{Dataset, Sample, check_index};
use crate::DataError;
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// The samples `indices[0], indices[1], …` of `inner`, in that order (repeats allowed).
///
/// Typical use: the CS231n sanity check "overfit a small sample" (`Subset::first(ds, 20)`), and the
/// halves of a train/validation split.
#[derive(Debug, Clone)]
pub struct Subset<D> {
    inner: D,
    indices: Arc<Vec<usize>>,
}

impl<D: Dataset> Subset<D> {
    /// The subset of `inner` at `indices`; every index must be `< inner.len()`.
    pub fn new(inner: D, indices: Vec<usize>) -> Result<Self, DataError> {
        let len = inner.len();
        if let Some(&bad) = indices.iter().find(|&&i| i >= len) {
            return Err(DataError::IndexOutOfRange { index: bad, len });
        }
        Ok(Self {
            inner,
            indices: Arc::new(indices),
        })
    }

    /// The first `n` samples (all of them if `n >= len`).
    pub fn first(inner: D, n: usize) -> Self {
        let n = n.min(inner.len());
        Self {
            inner,
            indices: Arc::new((0..n).collect()),
        }
    }

    /// `n` distinct samples drawn uniformly without replacement with `seed`, kept in ascending
    /// index order. Errors if `n > len`.
    pub fn random(inner: D, n: usize, seed: u64) -> Result<Self, DataError> {
        let len = inner.len();
        if n > len {
            return Err(DataError::invalid(
                "n",
                n,
                format!("at most the data set length {len}"),
            ));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut indices = sample(&mut rng, len, n).into_vec();
        indices.sort_unstable();
        Ok(Self {
            inner,
            indices: Arc::new(indices),
        })
    }

    /// The selected indices of the inner data set.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// The inner data set.
    pub fn inner(&self) -> &D {
        &self.inner
    }
}

impl<D: Dataset> Dataset for Subset<D> {
    fn len(&self) -> usize {
        self.indices.len()
    }

    fn get(&self, index: usize) -> Result<Sample, DataError> {
        check_index(index, self.len())?;
        self.inner.get(self.indices[index])
    }

    fn num_classes(&self) -> usize {
        self.inner.num_classes()
    }

    fn class_names(&self) -> Option<&[String]> {
        self.inner.class_names()
    }

    fn label(&self, index: usize) -> Result<usize, DataError> {
        check_index(index, self.len())?;
        self.inner.label(self.indices[index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InMemoryDataset;
    use ndarray::Array4;

    fn ds(n: usize) -> InMemoryDataset {
        let data = Array4::from_shape_fn((n, 1, 1, 1), |(i, ..)| i as u8);
        InMemoryDataset::from_u8(data, 1.0, (0..n).map(|i| i % 3).collect(), 3).unwrap()
    }

    #[test]
    fn subset_maps_indices() {
        let s = Subset::new(ds(10), vec![7, 2, 2]).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s.get(0).unwrap().image[[0, 0, 0]], 7.0);
        assert_eq!(s.label(1).unwrap(), 2);
        assert!(s.get(3).is_err());
        assert!(Subset::new(ds(10), vec![10]).is_err());
        assert_eq!(Subset::first(ds(10), 4).indices(), &[0, 1, 2, 3]);
        assert_eq!(Subset::first(ds(3), 4).len(), 3);
    }

    #[test]
    fn random_subset_is_seeded_distinct_sorted() {
        let a = Subset::random(ds(50), 10, 3).unwrap();
        let b = Subset::random(ds(50), 10, 3).unwrap();
        let c = Subset::random(ds(50), 10, 4).unwrap();
        assert_eq!(a.indices(), b.indices());
        assert_ne!(a.indices(), c.indices());
        assert!(a.indices().windows(2).all(|w| w[0] < w[1]));
        assert!(Subset::random(ds(5), 6, 0).is_err());
    }
}
