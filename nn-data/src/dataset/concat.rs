//! [`Concat`]: several data sets one after another (PyTorch's `ConcatDataset`).

use super::{Dataset, Sample};
use crate::DataError;
use std::sync::Arc;

/// The samples of `parts[0]`, then those of `parts[1]`, … Labels are kept as they are, so the
/// parts must share one label space; `num_classes` is the largest of the parts', and class names
/// are those of the first part that has them and the full number of classes.
#[derive(Clone)]
pub struct Concat {
    parts: Vec<Arc<dyn Dataset>>,
    /// `ends[k]` = total length of parts `0..=k`.
    ends: Vec<usize>,
    num_classes: usize,
}

impl std::fmt::Debug for Concat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Concat")
            .field("ends", &self.ends)
            .finish_non_exhaustive()
    }
}

impl Concat {
    /// The concatenation of `parts` (errors if there is none).
    pub fn new(parts: Vec<Arc<dyn Dataset>>) -> Result<Self, DataError> {
        if parts.is_empty() {
            return Err(DataError::invalid("parts", "[]", "at least one data set"));
        }
        let mut total = 0usize;
        let ends = parts
            .iter()
            .map(|p| {
                total += p.len();
                total
            })
            .collect();
        let num_classes = parts.iter().map(|p| p.num_classes()).max().unwrap_or(0);
        Ok(Self {
            parts,
            ends,
            num_classes,
        })
    }

    /// (part, index within the part) of global `index`.
    fn locate(&self, index: usize) -> Result<(usize, usize), DataError> {
        let part = self.ends.partition_point(|&end| end <= index);
        if part == self.parts.len() {
            return Err(DataError::IndexOutOfRange {
                index,
                len: self.len(),
            });
        }
        let start = if part == 0 { 0 } else { self.ends[part - 1] };
        Ok((part, index - start))
    }
}

impl Dataset for Concat {
    fn len(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }

    fn get(&self, index: usize) -> Result<Sample, DataError> {
        let (p, i) = self.locate(index)?;
        self.parts[p].get(i)
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn class_names(&self) -> Option<&[String]> {
        self.parts
            .iter()
            .filter_map(|p| p.class_names())
            .find(|names| names.len() == self.num_classes)
    }

    fn label(&self, index: usize) -> Result<usize, DataError> {
        let (p, i) = self.locate(index)?;
        self.parts[p].label(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InMemoryDataset;
    use ndarray::Array4;

    fn ds(n: usize, base: u8, classes: usize) -> Arc<dyn Dataset> {
        let data = Array4::from_shape_fn((n, 1, 1, 1), |(i, ..)| base + i as u8);
        Arc::new(InMemoryDataset::from_u8(data, 1.0, vec![0; n], classes).unwrap())
    }

    #[test]
    fn concat_walks_parts_in_order_and_skips_empty_ones() {
        let c = Concat::new(vec![ds(2, 0, 2), ds(0, 50, 2), ds(3, 100, 5)]).unwrap();
        assert_eq!(c.len(), 5);
        assert_eq!(c.num_classes(), 5);
        let firsts: Vec<f32> = (0..5).map(|i| c.get(i).unwrap().image[[0, 0, 0]]).collect();
        assert_eq!(firsts, [0.0, 1.0, 100.0, 101.0, 102.0]);
        assert!(matches!(
            c.get(5),
            Err(DataError::IndexOutOfRange { index: 5, len: 5 })
        ));
        assert!(Concat::new(vec![]).is_err());
    }
}
