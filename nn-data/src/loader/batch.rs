//! [`Batch`]: stacked NCHW images, labels and optional soft targets.

use crate::DataError;
use ndarray::{Array2, Array3, Array4};

/// A mini-batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Images, `N×C×H×W`.
    pub images: Array4<f32>,
    /// Hard labels, one per image.
    pub labels: Vec<usize>,
    /// Soft targets `N×num_classes` (rows sum to 1), set by a batch hook such as mixup/CutMix;
    /// `None` means one-hot `labels`.
    pub soft_targets: Option<Array2<f32>>,
    /// Data-set index of every image (useful for debugging and per-sample bookkeeping).
    pub indices: Vec<usize>,
    /// Number of classes of the data set.
    pub num_classes: usize,
}

impl Batch {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// `true` if the batch holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The training targets: `soft_targets` if set, else the one-hot encoding of `labels`.
    pub fn targets(&self) -> Array2<f32> {
        if let Some(t) = &self.soft_targets {
            return t.clone();
        }
        let mut t = Array2::zeros((self.len(), self.num_classes));
        for (i, &l) in self.labels.iter().enumerate() {
            t[[i, l]] = 1.0;
        }
        t
    }

    /// Stacks CHW images (all of one shape) into a batch. `indices` name the samples in the
    /// error if a shape differs from the first one.
    pub fn collate(
        images: Vec<Array3<f32>>,
        labels: Vec<usize>,
        indices: Vec<usize>,
        num_classes: usize,
    ) -> Result<Self, DataError> {
        assert!(
            images.len() == labels.len() && labels.len() == indices.len(),
            "Batch::collate: {} images, {} labels, {} indices",
            images.len(),
            labels.len(),
            indices.len()
        );
        let shape: Vec<usize> = images.first().map_or(vec![0, 0, 0], |i| i.shape().to_vec());
        let per = shape.iter().product::<usize>();
        let mut data = Vec::with_capacity(per * images.len());
        for (img, &index) in images.iter().zip(&indices) {
            if img.shape() != shape.as_slice() {
                return Err(DataError::ShapeMismatch {
                    index,
                    expected: shape,
                    found: img.shape().to_vec(),
                });
            }
            match img.as_slice() {
                Some(s) => data.extend_from_slice(s),
                None => data.extend(img.iter().copied()),
            }
        }
        let images = Array4::from_shape_vec((images.len(), shape[0], shape[1], shape[2]), data)
            .expect("collate: length is N·C·H·W by construction");
        Ok(Self {
            images,
            labels,
            soft_targets: None,
            indices,
            num_classes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collate_stacks_and_checks_shapes() {
        let a = Array3::from_elem((1, 2, 2), 1.0);
        let b = Array3::from_elem((1, 2, 2), 2.0);
        let batch = Batch::collate(vec![a.clone(), b], vec![0, 2], vec![5, 6], 3).unwrap();
        assert_eq!(batch.images.shape(), [2, 1, 2, 2]);
        assert_eq!(batch.images[[1, 0, 1, 1]], 2.0);
        assert_eq!(batch.targets().row(1).to_vec(), [0.0, 0.0, 1.0]);
        let c = Array3::from_elem((1, 3, 2), 1.0);
        let err = Batch::collate(vec![a, c], vec![0, 0], vec![5, 9], 3).unwrap_err();
        assert!(matches!(err, DataError::ShapeMismatch { index: 9, .. }));
        // Non-standard layouts are copied in logical order.
        let t = Array3::from_shape_fn((1, 2, 3), |(_, h, w)| (h * 3 + w) as f32);
        let tr = t.clone().permuted_axes([0, 2, 1]);
        let batch = Batch::collate(vec![tr.clone()], vec![0], vec![0], 1).unwrap();
        assert_eq!(batch.images.index_axis(ndarray::Axis(0), 0), tr);
    }
}
