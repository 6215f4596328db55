//! A data set held in memory: an `N×C×H×W` pixel array (compact `u8` or `f32`) plus labels.

use super::{Dataset, Sample, check_index};
use crate::DataError;
use ndarray::{Array4, ArrayView3, Axis};
use std::sync::Arc;

/// The pixel storage of an [`InMemoryDataset`], shared (`Arc`) so clones and adapters are cheap.
#[derive(Debug, Clone)]
pub enum Pixels {
    /// Raw bytes, converted on access to `value as f32 / divisor` (255 for 8-bit images, as in
    /// torchvision's `ToTensor`; 16 for the UCI digits). A quarter of the memory of `f32`.
    U8 {
        /// `N×C×H×W` bytes.
        data: Arc<Array4<u8>>,
        /// The divisor mapping the byte range onto `[0, 1]`.
        divisor: f32,
    },
    /// Already-scaled floating-point pixels.
    F32(Arc<Array4<f32>>),
}

impl Pixels {
    /// `[N, C, H, W]`.
    pub fn shape(&self) -> [usize; 4] {
        let s = match self {
            Pixels::U8 { data, .. } => data.shape(),
            Pixels::F32(data) => data.shape(),
        };
        [s[0], s[1], s[2], s[3]]
    }
}

/// An in-memory, labelled image data set (what the CIFAR, MNIST and digits readers return).
///
/// ```
/// use ndarray::Array4;
/// use nn_data::{Dataset, InMemoryDataset};
/// let ds = InMemoryDataset::from_u8(Array4::from_elem((2, 1, 2, 2), 255u8), 255.0, vec![0, 1], 2)?;
/// assert_eq!(ds.get(1)?.image[[0, 1, 1]], 1.0);
/// # Ok::<(), nn_data::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct InMemoryDataset {
    pixels: Pixels,
    labels: Arc<Vec<usize>>,
    num_classes: usize,
    class_names: Option<Arc<Vec<String>>>,
}

impl InMemoryDataset {
    /// A data set of byte images scaled by `1 / divisor` on access.
    ///
    /// Errors if the number of labels differs from `N`, a label is `>= num_classes`, or
    /// `divisor` is not finite and positive.
    pub fn from_u8(
        images: Array4<u8>,
        divisor: f32,
        labels: Vec<usize>,
        num_classes: usize,
    ) -> Result<Self, DataError> {
        if !(divisor.is_finite() && divisor > 0.0) {
            return Err(DataError::invalid(
                "divisor",
                divisor,
                "a finite number > 0",
            ));
        }
        Self::new(
            Pixels::U8 {
                data: Arc::new(images),
                divisor,
            },
            labels,
            num_classes,
        )
    }

    /// A data set of floating-point images (used as they are).
    pub fn from_f32(
        images: Array4<f32>,
        labels: Vec<usize>,
        num_classes: usize,
    ) -> Result<Self, DataError> {
        Self::new(Pixels::F32(Arc::new(images)), labels, num_classes)
    }

    /// A data set from shared pixel storage.
    pub fn new(pixels: Pixels, labels: Vec<usize>, num_classes: usize) -> Result<Self, DataError> {
        let n = pixels.shape()[0];
        if labels.len() != n {
            return Err(DataError::invalid(
                "labels.len()",
                labels.len(),
                format!("one label per image ({n})"),
            ));
        }
        if let Some((i, &l)) = labels.iter().enumerate().find(|&(_, &l)| l >= num_classes) {
            return Err(DataError::invalid(
                "label",
                format!("{l} (sample {i})"),
                format!("< num_classes = {num_classes}"),
            ));
        }
        Ok(Self {
            pixels,
            labels: Arc::new(labels),
            num_classes,
            class_names: None,
        })
    }

    /// The same data set with class names (`names.len()` must equal `num_classes`).
    pub fn with_class_names<S: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Result<Self, DataError> {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        if names.len() != self.num_classes {
            return Err(DataError::invalid(
                "class_names.len()",
                names.len(),
                format!("num_classes = {}", self.num_classes),
            ));
        }
        self.class_names = Some(Arc::new(names));
        Ok(self)
    }

    /// The pixel storage.
    pub fn pixels(&self) -> &Pixels {
        &self.pixels
    }

    /// All labels in index order.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// `[C, H, W]` of every image.
    pub fn image_shape(&self) -> [usize; 3] {
        let [_, c, h, w] = self.pixels.shape();
        [c, h, w]
    }

    /// All images as one scaled `N×C×H×W` `f32` array (a copy).
    pub fn to_f32(&self) -> Array4<f32> {
        match &self.pixels {
            Pixels::U8 { data, divisor } => data.mapv(|v| f32::from(v) / divisor),
            Pixels::F32(data) => (**data).clone(),
        }
    }

    /// Image `index` as stored (no copy) if the storage is bytes.
    pub fn raw_u8(&self, index: usize) -> Option<ArrayView3<'_, u8>> {
        match &self.pixels {
            Pixels::U8 { data, .. } if index < self.len() => Some(data.index_axis(Axis(0), index)),
            _ => None,
        }
    }
}

impl Dataset for InMemoryDataset {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn get(&self, index: usize) -> Result<Sample, DataError> {
        check_index(index, self.len())?;
        let image = match &self.pixels {
            Pixels::U8 { data, divisor } => {
                let d = *divisor;
                data.index_axis(Axis(0), index).mapv(|v| f32::from(v) / d)
            }
            Pixels::F32(data) => data.index_axis(Axis(0), index).to_owned(),
        };
        Ok(Sample {
            image,
            label: self.labels[index],
        })
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref().map(Vec::as_slice)
    }

    fn label(&self, index: usize) -> Result<usize, DataError> {
        check_index(index, self.len())?;
        Ok(self.labels[index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array4;

    #[test]
    fn u8_pixels_are_divided_like_to_tensor() {
        let data = Array4::from_shape_fn((1, 1, 1, 256), |(_, _, _, w)| w as u8);
        let ds = InMemoryDataset::from_u8(data, 255.0, vec![0], 1).unwrap();
        let img = ds.get(0).unwrap().image;
        for v in 0..256 {
            assert_eq!(img[[0, 0, v]], v as f32 / 255.0);
        }
    }

    #[test]
    fn bad_labels_and_lengths_are_errors() {
        let data = Array4::<u8>::zeros((2, 1, 2, 2));
        assert!(InMemoryDataset::from_u8(data.clone(), 255.0, vec![0], 2).is_err());
        assert!(InMemoryDataset::from_u8(data.clone(), 255.0, vec![0, 2], 2).is_err());
        assert!(InMemoryDataset::from_u8(data.clone(), 0.0, vec![0, 1], 2).is_err());
        let ds = InMemoryDataset::from_u8(data, 255.0, vec![0, 1], 2).unwrap();
        assert!(matches!(
            ds.get(2),
            Err(DataError::IndexOutOfRange { index: 2, len: 2 })
        ));
        assert!(ds.clone().with_class_names(["a"]).is_err());
        assert_eq!(
            ds.with_class_names(["a", "b"])
                .unwrap()
                .class_names()
                .unwrap()[1],
            "b"
        );
    }
}
