//! Test-time augmentation: turn one image into a batch of views (`[N, C, H, W]`), run the model on
//! the batch, and average the predicted class probabilities over the views.
//!
//! * [`hflip_views`]: the image and its mirror (2 views).
//! * [`five_crop_views`] / [`ten_crop_views`]: 4 corners + centre (+ the same on the flipped
//!   image) — the 10-crop testing of Krizhevsky et al. 2012.
//! * [`multi_scale_ten_crop_views`] (square crops) / [`multi_scale_ten_crop_rect_views`]: resize
//!   the shorter side to each scale, then ten-crop — the
//!   ResNet test recipe (He et al. 2016: scales {224, 256, 384, 480, 640}).
//!
//! Averaging: feed the views through the model, apply softmax per view, then
//! [`average_probabilities`] (the mean row) or [`tta_predict`] (mean row + argmax). Average
//! *probabilities*, not logits: that is what the papers report and what the ensemble of views
//! estimates.
//!
//! ```
//! use nn_augment::tta::{ten_crop_views, tta_predict};
//! use ndarray::{Array2, Array3};
//!
//! let img = Array3::<f32>::from_elem((3, 36, 36), 0.5);
//! let views = ten_crop_views(&img, 32, false);
//! assert_eq!(views.dim(), (10, 3, 32, 32));
//! // ... run a model on `views`, softmax each row:
//! let probs = Array2::from_shape_fn((10, 4), |(v, k)| if k == v % 3 { 0.7 } else { 0.1 });
//! let pred = tta_predict(&probs);
//! assert_eq!(pred.class, 0);
//! ```

use crate::error::{AugmentError, Result};
use crate::geometry::crop::{five_crop, ten_crop};
use crate::geometry::flip::hflip;
use crate::geometry::resize::resize_short_side;
use crate::interpolation::Interpolation;
use ndarray::{Array1, Array2, Array3, Array4, ArrayBase, Axis, Data, Ix2, Ix3};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The ResNet multi-scale test set of shorter sides.
pub const RESNET_SCALES: [usize; 5] = [224, 256, 384, 480, 640];

/// Stacks equally shaped CHW views into `[N, C, H, W]`.
///
/// # Panics
/// If the views differ in shape or the list is empty.
pub fn stack_views(views: &[Array3<f32>]) -> Array4<f32> {
    assert!(!views.is_empty(), "stack_views: no views");
    let d = views[0].dim();
    let mut out = Array4::zeros((views.len(), d.0, d.1, d.2));
    for (mut o, v) in out.outer_iter_mut().zip(views) {
        assert_eq!(v.dim(), d, "stack_views: views of different shapes");
        o.assign(v);
    }
    out
}

/// The image and its horizontal mirror: `[2, C, H, W]`.
pub fn hflip_views<S: Data<Elem = f32>>(img: &ArrayBase<S, Ix3>) -> Array4<f32> {
    stack_views(&[img.to_owned(), hflip(img)])
}

/// Four corner crops and the centre crop of `size × size`: `[5, C, size, size]` in the order
/// top-left, top-right, bottom-left, bottom-right, centre (torchvision `FiveCrop`).
///
/// # Panics
/// If `size` exceeds the image.
pub fn five_crop_views<S: Data<Elem = f32>>(img: &ArrayBase<S, Ix3>, size: usize) -> Array4<f32> {
    stack_views(&five_crop(img, size, size))
}

/// [`five_crop_views`] of the image and of its horizontal (`vertical = false`) or vertical flip:
/// `[10, C, size, size]` (torchvision `TenCrop`).
pub fn ten_crop_views<S: Data<Elem = f32>>(
    img: &ArrayBase<S, Ix3>,
    size: usize,
    vertical: bool,
) -> Array4<f32> {
    stack_views(&ten_crop(img, size, size, vertical))
}

/// For each scale `s`: resize the shorter side to `s` (bilinear, antialias), then ten-crop
/// `crop × crop`: `[10·|scales|, C, crop, crop]`, grouped by scale.
///
/// # Panics
/// If a scale is smaller than `crop`.
pub fn multi_scale_ten_crop_views<S: Data<Elem = f32>>(
    img: &ArrayBase<S, Ix3>,
    scales: &[usize],
    crop: usize,
) -> Array4<f32> {
    multi_scale_ten_crop_rect_views(img, scales, (crop, crop))
}

/// [`multi_scale_ten_crop_views`] with a `crop_h × crop_w` crop (e.g. the input size of a model
/// trained on non-square images): for each scale `s`, resize the shorter side to `s`, then
/// ten-crop; `[10·|scales|, C, crop_h, crop_w]`, grouped by scale.
///
/// # Panics
/// If a resized image is smaller than the crop.
pub fn multi_scale_ten_crop_rect_views<S: Data<Elem = f32>>(
    img: &ArrayBase<S, Ix3>,
    scales: &[usize],
    (crop_h, crop_w): (usize, usize),
) -> Array4<f32> {
    let mut views = Vec::with_capacity(10 * scales.len());
    for &s in scales {
        let r = resize_short_side(img, s, Interpolation::Bilinear, true);
        let (_, h, w) = r.dim();
        assert!(
            h >= crop_h && w >= crop_w,
            "multi_scale_ten_crop: scale {s} gives a {h}×{w} image, smaller than the crop \
             {crop_h}×{crop_w}"
        );
        views.extend(ten_crop(&r, crop_h, crop_w, false));
    }
    stack_views(&views)
}

/// Mean of per-view class probabilities: `p̄_k = (1/N) Σ_v p_{v,k}` over the `N` rows of `probs`
/// (`[views, classes]`, each row a softmax output).
///
/// # Panics
/// If `probs` has no rows.
pub fn average_probabilities<S: Data<Elem = f32>>(probs: &ArrayBase<S, Ix2>) -> Array1<f32> {
    assert!(probs.nrows() > 0, "average_probabilities: no views");
    probs.mean_axis(Axis(0)).expect("non-empty")
}

/// The TTA prediction of one image.
#[derive(Clone, Debug, PartialEq)]
pub struct TtaPrediction {
    /// Mean probability per class.
    pub probabilities: Array1<f32>,
    /// `argmax` of the mean (the first one on ties).
    pub class: usize,
    /// The mean probability of that class.
    pub confidence: f32,
}

/// Averages per-view probabilities and picks the most probable class.
pub fn tta_predict<S: Data<Elem = f32>>(probs: &ArrayBase<S, Ix2>) -> TtaPrediction {
    let p = average_probabilities(probs);
    let mut class = 0;
    for (k, &v) in p.iter().enumerate() {
        if v > p[class] {
            class = k;
        }
    }
    let confidence = p[class];
    TtaPrediction {
        probabilities: p,
        class,
        confidence,
    }
}

/// A configurable set of TTA views (for configs and CLIs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TtaViews {
    /// The image only.
    Identity,
    /// Image + horizontal mirror.
    Hflip,
    /// Five crops of `size`.
    FiveCrop {
        /// Crop side.
        size: usize,
    },
    /// Ten crops of `size`.
    TenCrop {
        /// Crop side.
        size: usize,
        /// Flip vertically instead of horizontally.
        #[serde(default)]
        vertical: bool,
    },
    /// Ten crops of `crop` at each shorter-side scale.
    MultiScaleTenCrop {
        /// Shorter sides (e.g. [`RESNET_SCALES`]).
        scales: Vec<usize>,
        /// Crop side.
        crop: usize,
    },
}

impl TtaViews {
    /// The ResNet test recipe: ten 224-crops at each of [`RESNET_SCALES`] (50 views).
    pub fn resnet() -> Self {
        TtaViews::MultiScaleTenCrop {
            scales: RESNET_SCALES.to_vec(),
            crop: 224,
        }
    }

    /// Checks the sizes (independently of an image).
    pub fn validate(&self) -> Result<()> {
        let t = "tta";
        match self {
            TtaViews::FiveCrop { size } | TtaViews::TenCrop { size, .. } if *size == 0 => {
                Err(AugmentError::invalid(t, "size", size, "≥ 1"))
            }
            TtaViews::MultiScaleTenCrop { scales, crop } => {
                if *crop == 0 {
                    return Err(AugmentError::invalid(t, "crop", crop, "≥ 1"));
                }
                if scales.is_empty() || scales.iter().any(|s| s < crop) {
                    return Err(AugmentError::invalid(
                        t,
                        "scales",
                        scales,
                        format!("a non-empty list of sides ≥ crop ({crop})"),
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Number of views produced per image.
    pub fn num_views(&self) -> usize {
        match self {
            TtaViews::Identity => 1,
            TtaViews::Hflip => 2,
            TtaViews::FiveCrop { .. } => 5,
            TtaViews::TenCrop { .. } => 10,
            TtaViews::MultiScaleTenCrop { scales, .. } => 10 * scales.len(),
        }
    }

    /// The views of `img`: `[num_views, C, H', W']`.
    ///
    /// # Panics
    /// If a crop is larger than the image.
    pub fn views<S: Data<Elem = f32>>(&self, img: &ArrayBase<S, Ix3>) -> Array4<f32> {
        match self {
            TtaViews::Identity => img.to_owned().insert_axis(Axis(0)),
            TtaViews::Hflip => hflip_views(img),
            TtaViews::FiveCrop { size } => five_crop_views(img, *size),
            TtaViews::TenCrop { size, vertical } => ten_crop_views(img, *size, *vertical),
            TtaViews::MultiScaleTenCrop { scales, crop } => {
                multi_scale_ten_crop_views(img, scales, *crop)
            }
        }
    }
}

impl fmt::Display for TtaViews {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TtaViews::Identity => write!(f, "Identity"),
            TtaViews::Hflip => write!(f, "HFlipTTA(views=2)"),
            TtaViews::FiveCrop { size } => write!(f, "FiveCrop(size={size})"),
            TtaViews::TenCrop { size, vertical } => {
                write!(f, "TenCrop(size={size}, vertical_flip={vertical})")
            }
            TtaViews::MultiScaleTenCrop { scales, crop } => {
                write!(f, "MultiScaleTenCrop(scales={scales:?}, crop={crop})")
            }
        }
    }
}

/// Row-wise softmax of logits `[views, classes]` (a convenience for models that output logits).
pub fn softmax_rows<S: Data<Elem = f32>>(logits: &ArrayBase<S, Ix2>) -> Array2<f32> {
    let mut out = logits.to_owned();
    for mut row in out.rows_mut() {
        let m = row.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        row.mapv_inplace(|x| (x - m).exp());
        let s = row.sum();
        row.mapv_inplace(|x| x / s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::test_image;
    use ndarray::array;

    #[test]
    fn softmax_rows_sum_to_one_and_are_shift_invariant() {
        let l = array![[1.0f32, 2.0, 3.0], [1001.0, 1002.0, 1003.0]];
        let p = softmax_rows(&l);
        for row in p.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-6);
        }
        for k in 0..3 {
            assert!((p[[0, k]] - p[[1, k]]).abs() < 1e-6);
        }
    }

    #[test]
    fn prediction_averages_views_and_takes_the_first_maximum() {
        let probs = array![[0.6f32, 0.4, 0.0], [0.2, 0.4, 0.4]];
        let t = tta_predict(&probs);
        assert_eq!(t.probabilities, array![0.4f32, 0.4, 0.2]);
        assert_eq!((t.class, t.confidence), (0, 0.4));
    }

    #[test]
    fn view_sets_have_their_sizes() {
        let img = test_image(8, 8);
        let v = hflip_views(&img);
        assert_eq!(v.dim(), (2, 3, 8, 8));
        assert_eq!(v.index_axis(ndarray::Axis(0), 0), img);
        assert_eq!(ten_crop_views(&img, 4, false).dim(), (10, 3, 4, 4));
        assert_eq!(five_crop_views(&img, 4).dim(), (5, 3, 4, 4));
    }

    #[test]
    fn multi_scale_views_crop_each_resized_image() {
        // A non-square 6×9 image, crops of its own size: scale 6 is the image itself (its first
        // view) and its mirror (its sixth); scale 8 gives the ten crops of the 8×12 resize.
        let img = test_image(6, 9);
        let v = multi_scale_ten_crop_rect_views(&img, &[6, 8], (6, 9));
        assert_eq!(v.dim(), (20, 3, 6, 9));
        assert_eq!(v.index_axis(ndarray::Axis(0), 0), img);
        assert_eq!(v.index_axis(ndarray::Axis(0), 5), hflip(&img));
        let big = resize_short_side(&img, 8, Interpolation::Bilinear, true);
        assert_eq!(big.dim(), (3, 8, 12));
        let crops = ten_crop(&big, 6, 9, false);
        for (k, c) in crops.iter().enumerate() {
            assert_eq!(&v.index_axis(ndarray::Axis(0), 10 + k), c);
        }
        // The square form is the rectangular one with equal sides.
        let sq = test_image(8, 8);
        assert_eq!(
            multi_scale_ten_crop_views(&sq, &[8, 10], 6),
            multi_scale_ten_crop_rect_views(&sq, &[8, 10], (6, 6))
        );
    }

    #[test]
    #[should_panic(expected = "smaller than the crop")]
    fn a_scale_below_the_crop_panics_naming_the_shapes() {
        multi_scale_ten_crop_views(&test_image(8, 8), &[4], 6);
    }
}
