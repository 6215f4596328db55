//! Photometric transforms: brightness/contrast/saturation/hue jitter, grayscale, AlexNet PCA
//! lighting, normalisation, and the point operations of the AutoAugment family.

pub mod adjust;
pub mod grayscale;
pub mod jitter;
pub mod normalize;
pub mod ops;
pub mod pca;

use ndarray::Array3;

/// The image's data as one mutable CHW slice (re-lays the array out if needed).
pub(crate) fn planes_mut(img: &mut Array3<f32>) -> &mut [f32] {
    if !img.is_standard_layout() {
        *img = img.as_standard_layout().into_owned();
    }
    img.as_slice_mut().expect("standard layout")
}
