//! [`ClassFilter`]: only the samples of some classes (transfer-learning splits such as
//! "train on classes 0–4, fine-tune on 5–9").

use super::{Dataset, Sample, check_index};
use crate::DataError;

/// The samples of `inner` whose label is in `classes`, in their original order.
///
/// With `remap = true` the labels become positions in `classes` (`classes[k]` → `k`), the data set
/// has `classes.len()` classes and the class names follow; with `remap = false` labels and
/// `num_classes` are those of `inner`.
#[derive(Debug, Clone)]
pub struct ClassFilter<D> {
    inner: D,
    indices: Vec<usize>,
    /// `new_label[original]`, or `None` for classes that were filtered out.
    new_label: Vec<Option<usize>>,
    num_classes: usize,
    class_names: Option<Vec<String>>,
}

impl<D: Dataset> ClassFilter<D> {
    /// Keeps the classes `classes` (distinct, each `< inner.num_classes()`, at least one).
    pub fn new(inner: D, classes: &[usize], remap: bool) -> Result<Self, DataError> {
        let n = inner.num_classes();
        if classes.is_empty() {
            return Err(DataError::invalid("classes", "[]", "at least one class"));
        }
        let mut new_label = vec![None; n];
        for (k, &c) in classes.iter().enumerate() {
            if c >= n {
                return Err(DataError::invalid("classes", c, format!("a class < {n}")));
            }
            if new_label[c].is_some() {
                return Err(DataError::invalid("classes", c, "distinct classes"));
            }
            new_label[c] = Some(if remap { k } else { c });
        }
        let mut indices = Vec::new();
        for i in 0..inner.len() {
            let l = inner.label(i)?;
            if new_label.get(l).copied().flatten().is_some() {
                indices.push(i);
            }
        }
        let (num_classes, class_names) = if remap {
            let names = inner
                .class_names()
                .map(|names| classes.iter().map(|&c| names[c].clone()).collect());
            (classes.len(), names)
        } else {
            (n, inner.class_names().map(<[String]>::to_vec))
        };
        Ok(Self {
            inner,
            indices,
            new_label,
            num_classes,
            class_names,
        })
    }

    /// Indices (into the inner data set) of the kept samples.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    fn map(&self, label: usize) -> Result<usize, DataError> {
        self.new_label.get(label).copied().flatten().ok_or_else(|| {
            DataError::invalid(
                "label",
                label,
                "a label of a kept class (inner data set changed?)",
            )
        })
    }
}

impl<D: Dataset> Dataset for ClassFilter<D> {
    fn len(&self) -> usize {
        self.indices.len()
    }

    fn get(&self, index: usize) -> Result<Sample, DataError> {
        check_index(index, self.len())?;
        let mut s = self.inner.get(self.indices[index])?;
        s.label = self.map(s.label)?;
        Ok(s)
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }

    fn label(&self, index: usize) -> Result<usize, DataError> {
        check_index(index, self.len())?;
        self.map(self.inner.label(self.indices[index])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InMemoryDataset;
    use ndarray::Array4;

    fn ds() -> InMemoryDataset {
        let data = Array4::from_shape_fn((8, 1, 1, 1), |(i, ..)| i as u8);
        InMemoryDataset::from_u8(data, 1.0, (0..8).map(|i| i % 4).collect(), 4)
            .unwrap()
            .with_class_names(["a", "b", "c", "d"])
            .unwrap()
    }

    #[test]
    fn filter_with_and_without_remap() {
        let f = ClassFilter::new(ds(), &[3, 1], true).unwrap();
        assert_eq!(f.indices(), &[1, 3, 5, 7]);
        assert_eq!(f.num_classes(), 2);
        assert_eq!(f.class_names().unwrap(), ["d", "b"]);
        let labels: Vec<usize> = (0..4).map(|i| f.get(i).unwrap().label).collect();
        assert_eq!(labels, [1, 0, 1, 0]);
        let g = ClassFilter::new(ds(), &[3, 1], false).unwrap();
        assert_eq!(g.num_classes(), 4);
        assert_eq!(
            (0..4).map(|i| g.label(i).unwrap()).collect::<Vec<_>>(),
            [1, 3, 1, 3]
        );
    }

    #[test]
    fn bad_class_lists_are_errors() {
        assert!(ClassFilter::new(ds(), &[], true).is_err());
        assert!(ClassFilter::new(ds(), &[4], true).is_err());
        assert!(ClassFilter::new(ds(), &[1, 1], true).is_err());
    }
}
