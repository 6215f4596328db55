//! Test-time augmentation (TTA) of a model or an ensemble over a data set: every raw image
//! becomes a few views ([`nn_augment::tta`]), each view goes through the job's preprocessing
//! and every model, and the softmax probabilities are averaged over views and models before
//! the arg-max.
//!
//! ```text
//! p̄(x) = (1 / (M·V)) Σ_m Σ_v softmax(f_m(preprocess(view_v(x))))
//! ```
//!
//! Views ([`TtaMode`]): the image only, the image and its mirror (`flip`), and the 10-crop
//! testing of Krizhevsky et al. 2012 (`five-crop`, `ten-crop` = five crops of the image and of
//! its mirror). Crops need an image larger than the model's input; our data sets (8×8 digits,
//! 28×28 MNIST, 32×32 CIFAR) are the model's input size, so the crops are taken **after
//! zero-padding** the raw image by `pad` pixels on every side (default `max(1, min(H, W)/8)`:
//! 1 px for digits, 4 px for CIFAR — CIFAR's `RandomCrop(32, padding=4)` training recipe):
//! the five crops of size H×W are the image shifted by ±pad in both directions plus the
//! unshifted centre. `multi-scale` is the ResNet paper's multi-scale ten-crop testing instead:
//! ten crops of the input size from the image resized to three shorter sides (S, 8S/7, 9S/7).
//! Views keep the input size, so any model of the zoo accepts them.

use std::fmt;
use std::str::FromStr;

use ndarray::{Array2, Array3, Array4, Axis, s};
use nn_augment::functional::{five_crop, pad, ten_crop};
use nn_augment::tta::{TtaViews, multi_scale_ten_crop_rect_views, stack_views};
use nn_augment::{Fill, PaddingMode};
use nn_core::Module;
use nn_data::{Dataset, ImagePreprocessor};
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};
use crate::trainer::predict_proba;

/// Which views TTA averages over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TtaMode {
    /// The image only (plain evaluation).
    #[default]
    None,
    /// The image and its horizontal mirror (2 views).
    Flip,
    /// Four corner crops and the centre crop of the padded image (5 views).
    FiveCrop,
    /// [`TtaMode::FiveCrop`] of the image and of its mirror (10 views).
    TenCrop,
    /// The multi-scale ten-crop testing of the ResNet paper (He et al. 2016, after Simonyan &
    /// Zisserman 2015), scaled to small images: the shorter side S resized (bilinear,
    /// antialiased) to each of [`multi_scale_sides`]`(S)` = S, round(8S/7), round(9S/7) (224, 256
    /// and 288 for S = 224; the paper's own set is {224, 256, 384, 480, 640}, too large a zoom for
    /// 8-32 px images), then ten crops of the input size at each scale (30 views).
    MultiScale,
}

/// The shorter sides of [`TtaMode::MultiScale`] for an image whose shorter side is `s`: `s`,
/// `round(8s/7)`, `round(9s/7)`.
pub fn multi_scale_sides(s: usize) -> [usize; 3] {
    [s, (8 * s + 3) / 7, (9 * s + 3) / 7]
}

impl TtaMode {
    /// Number of views per image.
    pub fn num_views(self) -> usize {
        match self {
            TtaMode::None => 1,
            TtaMode::Flip => 2,
            TtaMode::FiveCrop => 5,
            TtaMode::TenCrop => 10,
            TtaMode::MultiScale => 30,
        }
    }
}

impl fmt::Display for TtaMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TtaMode::None => "none",
            TtaMode::Flip => "flip",
            TtaMode::FiveCrop => "five-crop",
            TtaMode::TenCrop => "ten-crop",
            TtaMode::MultiScale => "multi-scale",
        })
    }
}

impl FromStr for TtaMode {
    type Err = crate::TrainError;

    fn from_str(s: &str) -> Result<TtaMode> {
        match s {
            "none" => Ok(TtaMode::None),
            "flip" => Ok(TtaMode::Flip),
            "five-crop" => Ok(TtaMode::FiveCrop),
            "ten-crop" => Ok(TtaMode::TenCrop),
            "multi-scale" => Ok(TtaMode::MultiScale),
            other => Err(invalid(
                "tta",
                other,
                "one of none, flip, five-crop, ten-crop, multi-scale",
            )),
        }
    }
}

/// The largest TTA padding accepted, in pixels per side.
pub const MAX_TTA_PAD: usize = 1024;

/// A TTA recipe: the views and, for crops, the zero padding applied first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Tta {
    /// The views.
    pub mode: TtaMode,
    /// Padding (pixels per side) before five or ten crops; `None`: `max(1, min(H, W) / 8)`.
    /// (Multi-scale crops upscaled images and pads nothing.)
    pub pad: Option<usize>,
}

impl Tta {
    /// The recipe `mode` with the default padding.
    pub fn new(mode: TtaMode) -> Tta {
        Tta { mode, pad: None }
    }

    /// Checks the padding: crops need at least 1 pixel, and at most [`MAX_TTA_PAD`] (a padded
    /// image is `(side + 2·pad)²` pixels per channel).
    pub fn validate(&self) -> Result<()> {
        match self.pad {
            Some(0) if matches!(self.mode, TtaMode::FiveCrop | TtaMode::TenCrop) => Err(invalid(
                "tta.pad",
                0,
                "at least 1 pixel for crops (without padding every crop is the image itself)",
            )),
            Some(p) if p > MAX_TTA_PAD => Err(invalid(
                "tta.pad (--tta-pad)",
                p,
                &format!("at most {MAX_TTA_PAD} pixels of padding"),
            )),
            _ => Ok(()),
        }
    }

    /// The padding used for an `h × w` image.
    pub fn pad_for(&self, h: usize, w: usize) -> usize {
        self.pad.unwrap_or_else(|| (h.min(w) / 8).max(1))
    }

    /// The views of one raw CHW image: `[num_views, C, H, W]` (the image's own size).
    pub fn views(&self, img: &Array3<f32>) -> Array4<f32> {
        let (_, h, w) = img.dim();
        let padded = || {
            let p = self.pad_for(h, w);
            pad(img, [p; 4], PaddingMode::Constant, &Fill::Scalar(0.0))
        };
        match self.mode {
            TtaMode::None => TtaViews::Identity.views(img),
            TtaMode::Flip => TtaViews::Hflip.views(img),
            TtaMode::FiveCrop if h == w => TtaViews::FiveCrop { size: h }.views(&padded()),
            TtaMode::TenCrop if h == w => TtaViews::TenCrop {
                size: h,
                vertical: false,
            }
            .views(&padded()),
            TtaMode::FiveCrop => stack_views(&five_crop(&padded(), h, w)),
            TtaMode::TenCrop => stack_views(&ten_crop(&padded(), h, w, false)),
            TtaMode::MultiScale => {
                multi_scale_ten_crop_rect_views(img, &multi_scale_sides(h.min(w)), (h, w))
            }
        }
    }
}

/// Mean class probabilities of a set of models on a data set, with their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// `[N, classes]`, each row the mean over views and models (sums to 1).
    pub probabilities: Array2<f32>,
    /// The labels of the N images.
    pub labels: Vec<usize>,
}

impl Predictions {
    /// Mean negative log-likelihood `−(1/N) Σ ln p̄(yᵢ | xᵢ)` (the cross-entropy of the
    /// averaged prediction) and accuracy of the arg-max (first class on ties).
    pub fn loss_and_accuracy(&self) -> (f32, f32) {
        let n = self.labels.len().max(1) as f64;
        let (mut nll, mut correct) = (0.0f64, 0usize);
        for (row, &y) in self.probabilities.outer_iter().zip(&self.labels) {
            nll -= (row[y] as f64).max(1e-30).ln();
            if argmax(row.iter().copied()) == y {
                correct += 1;
            }
        }
        ((nll / n) as f32, (correct as f64 / n) as f32)
    }

    /// The arg-max class of every row.
    pub fn predicted(&self) -> Vec<usize> {
        self.probabilities
            .outer_iter()
            .map(|r| argmax(r.iter().copied()))
            .collect()
    }

    /// The confusion matrix and per-class figures of the arg-max, for classes named `classes`
    /// (one name per column of `probabilities`).
    pub fn metrics(&self, classes: Vec<String>) -> crate::metrics::ClassMetrics {
        crate::metrics::ClassMetrics::new(&self.predicted(), &self.labels, classes)
    }

    /// The element-wise mean of several prediction sets over the same images (the ensemble).
    ///
    /// # Panics
    /// If `sets` is empty or the sets differ in shape or labels.
    pub fn mean(sets: &[Predictions]) -> Predictions {
        assert!(!sets.is_empty(), "Predictions::mean: no prediction sets");
        let mut sum = sets[0].probabilities.clone();
        for p in &sets[1..] {
            assert_eq!(p.labels, sets[0].labels, "Predictions::mean: labels differ");
            sum += &p.probabilities;
        }
        Predictions {
            probabilities: sum / sets.len() as f32,
            labels: sets[0].labels.clone(),
        }
    }
}

fn argmax(values: impl Iterator<Item = f32>) -> usize {
    let (mut best, mut best_v) = (0, f32::NEG_INFINITY);
    for (k, v) in values.enumerate() {
        if v > best_v {
            (best, best_v) = (k, v);
        }
    }
    best
}

/// Images per forward pass (times the number of views).
const CHUNK: usize = 128;

/// The TTA predictions of `models` (an ensemble, or one model) on every image of `dataset`:
/// views of the raw image, then `preprocess`, then each model in evaluation mode; softmax
/// probabilities averaged over views and models.
///
/// # Panics
/// If `models` is empty (a programmer error).
pub fn predict_dataset(
    models: &[&dyn Module],
    dataset: &dyn Dataset,
    preprocess: &dyn ImagePreprocessor,
    tta: &Tta,
) -> Result<Predictions> {
    assert!(!models.is_empty(), "predict_dataset: no models");
    tta.validate()?;
    let v = tta.mode.num_views();
    let mut labels = Vec::with_capacity(dataset.len());
    let mut rows: Vec<Array2<f32>> = Vec::new();
    for start in (0..dataset.len()).step_by(CHUNK) {
        let end = (start + CHUNK).min(dataset.len());
        let mut views = Vec::with_capacity((end - start) * v);
        for i in start..end {
            let sample = dataset.get(i)?;
            labels.push(sample.label);
            for view in tta.views(&sample.image).outer_iter() {
                views.push(preprocess.apply(view.to_owned()));
            }
        }
        let batch = stack_views(&views);
        let mut mean: Option<Array2<f32>> = None;
        for model in models {
            let p = predict_proba(*model, batch.clone());
            let k = p.ncols();
            // [images·views, K] → [images, views, K] → mean over views.
            let per_image = p
                .into_shape_with_order((end - start, v, k))
                .expect("views are grouped by image")
                .mean_axis(Axis(1))
                .expect("at least one view");
            mean = Some(match mean {
                Some(m) => m + per_image,
                None => per_image,
            });
        }
        rows.push(mean.expect("at least one model") / models.len() as f32);
    }
    let k = rows.first().map_or(0, |r| r.ncols());
    let mut probabilities = Array2::zeros((labels.len(), k));
    let mut at = 0;
    for r in rows {
        let n = r.nrows();
        probabilities.slice_mut(s![at..at + n, ..]).assign(&r);
        at += n;
    }
    Ok(Predictions {
        probabilities,
        labels,
    })
}

/// Loss (NLL of the averaged probabilities) and accuracy of `models` with `tta` on `dataset`.
pub fn evaluate_tta(
    models: &[&dyn Module],
    dataset: &dyn Dataset,
    preprocess: &dyn ImagePreprocessor,
    tta: &Tta,
) -> Result<(f32, f32)> {
    Ok(predict_dataset(models, dataset, preprocess, tta)?.loss_and_accuracy())
}

/// The TTA self-check: the validation split evaluated without and with the TTA recipe, so
/// that a recipe the model was not trained for (flips on digits, crops of an un-augmented
/// model) is caught before its test figure is believed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TtaCheck {
    /// The recipe checked.
    pub tta: Tta,
    /// Validation images.
    pub images: usize,
    /// Validation accuracy without TTA.
    pub val_acc_plain: f32,
    /// Validation accuracy with TTA.
    pub val_acc_tta: f32,
    /// Validation loss (NLL) without TTA.
    pub val_loss_plain: f32,
    /// Validation loss (NLL) with TTA.
    pub val_loss_tta: f32,
}

impl TtaCheck {
    /// Whether TTA lowers validation accuracy.
    pub fn lowers_accuracy(&self) -> bool {
        self.val_acc_tta < self.val_acc_plain
    }

    /// The warning to print when TTA lowers validation accuracy.
    pub fn warning(&self) -> Option<String> {
        self.lowers_accuracy().then(|| {
            format!(
                "warning: --tta {} lowers validation accuracy from {:.4} to {:.4} ({} images): \
                 the model was not trained to be invariant to these views; expect the same on \
                 the test split (use --tta none, or train with the matching augmentation)",
                self.tta.mode, self.val_acc_plain, self.val_acc_tta, self.images
            )
        })
    }
}

/// Runs the [`TtaCheck`] of `models` (one model or an ensemble) on the validation split `val`.
pub fn tta_self_check(
    models: &[&dyn Module],
    val: &dyn Dataset,
    preprocess: &dyn ImagePreprocessor,
    tta: &Tta,
) -> Result<TtaCheck> {
    let (val_loss_plain, val_acc_plain) =
        evaluate_tta(models, val, preprocess, &Tta::new(TtaMode::None))?;
    let (val_loss_tta, val_acc_tta) = evaluate_tta(models, val, preprocess, tta)?;
    Ok(TtaCheck {
        tta: *tta,
        images: val.len(),
        val_acc_plain,
        val_acc_tta,
        val_loss_plain,
        val_loss_tta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use nn_augment::Interpolation;
    use nn_augment::functional::resize_short_side;

    #[test]
    fn modes_parse_and_print() {
        for m in [
            TtaMode::None,
            TtaMode::Flip,
            TtaMode::FiveCrop,
            TtaMode::TenCrop,
            TtaMode::MultiScale,
        ] {
            assert_eq!(m.to_string().parse::<TtaMode>().unwrap(), m);
        }
        let e = "six-crop".parse::<TtaMode>().unwrap_err();
        assert!(e.to_string().contains("six-crop"), "{e}");
    }

    #[test]
    fn crops_are_shifts_of_the_padded_image_and_keep_the_size() {
        let img = Array3::from_shape_fn((1, 4, 4), |(_, y, x)| (y * 4 + x) as f32 + 1.0);
        for mode in [TtaMode::FiveCrop, TtaMode::TenCrop] {
            let v = Tta::new(mode).views(&img);
            assert_eq!(v.dim(), (mode.num_views(), 1, 4, 4));
            // The centre crop of the padded image is the image itself.
            assert_eq!(v.index_axis(Axis(0), 4), img);
            // Top-left crop: shifted down-right by the 1-px padding.
            assert_eq!(v[[0, 0, 0, 0]], 0.0);
            assert_eq!(v[[0, 0, 1, 1]], 1.0);
        }
        let flip = Tta::new(TtaMode::Flip).views(&img);
        assert_eq!(
            flip.index_axis(Axis(0), 1),
            nn_augment::functional::hflip(&img)
        );
        let rect = Array3::<f32>::ones((2, 3, 5));
        assert_eq!(Tta::new(TtaMode::TenCrop).views(&rect).dim(), (10, 2, 3, 5));
        assert_eq!(Tta::new(TtaMode::None).pad_for(32, 32), 4);
        assert_eq!(Tta::new(TtaMode::None).pad_for(8, 8), 1);
    }

    #[test]
    fn multi_scale_is_ten_crops_of_three_upscaled_images() {
        assert_eq!(multi_scale_sides(224), [224, 256, 288]);
        assert_eq!(multi_scale_sides(28), [28, 32, 36]);
        assert_eq!(multi_scale_sides(8), [8, 9, 10]);
        let img = Array3::from_shape_fn((2, 8, 8), |(c, y, x)| (c * 64 + y * 8 + x) as f32);
        let v = Tta::new(TtaMode::MultiScale).views(&img);
        assert_eq!(v.dim(), (30, 2, 8, 8));
        // Scale 1 is the image itself: its ten crops are 5 copies and 5 mirrors.
        for k in 0..5 {
            assert_eq!(v.index_axis(Axis(0), k), img);
            assert_eq!(
                v.index_axis(Axis(0), 5 + k),
                nn_augment::functional::hflip(&img)
            );
        }
        // Scale 2: the ten crops of the image resized to 9×9 (top-left crop first, centre 5th).
        let scaled = resize_short_side(&img, 9, Interpolation::Bilinear, true);
        assert_eq!(v.index_axis(Axis(0), 10), scaled.slice(s![.., ..8, ..8]));
        assert_eq!(v.index_axis(Axis(0), 13), scaled.slice(s![.., 1.., 1..]));
        // Rectangular images keep their size; the shorter side sets the scales.
        let rect = Array3::<f32>::ones((1, 6, 10));
        assert_eq!(
            Tta::new(TtaMode::MultiScale).views(&rect).dim(),
            (30, 1, 6, 10)
        );
    }

    proptest::proptest! {
        /// Every mode keeps the image size, the first view of none/flip and the centre crop of
        /// five/ten-crop is the image itself, and a crop view is the image shifted by at most
        /// the padding (its pixels are image pixels or the zero fill).
        #[test]
        fn views_keep_the_size_and_contain_the_image(
            c in 1usize..4, h in 1usize..10, w in 1usize..10, pad in 1usize..4, seed in 0u64..1000,
        ) {
            let img = Array3::from_shape_fn((c, h, w), |(k, y, x)| {
                1.0 + ((seed as usize + 7 * k + 13 * y + 31 * x) % 97) as f32
            });
            for mode in [TtaMode::None, TtaMode::Flip, TtaMode::FiveCrop, TtaMode::TenCrop] {
                let v = Tta { mode, pad: Some(pad) }.views(&img);
                proptest::prop_assert_eq!(v.dim(), (mode.num_views(), c, h, w));
                let identity = if matches!(mode, TtaMode::FiveCrop | TtaMode::TenCrop) { 4 } else { 0 };
                proptest::prop_assert_eq!(v.index_axis(Axis(0), identity), img.view());
                proptest::prop_assert!(v.iter().all(|x| *x == 0.0 || img.iter().any(|y| y == x)));
            }
        }

        /// The mean of prediction sets is a distribution per row.
        #[test]
        fn means_of_distributions_are_distributions(
            raw in proptest::collection::vec(0.01f32..1.0, 3 * 4 * 5),
        ) {
            let sets: Vec<Predictions> = raw
                .chunks(4 * 5)
                .map(|chunk| {
                    let mut p = Array2::from_shape_vec((4, 5), chunk.to_vec()).unwrap();
                    for mut row in p.rows_mut() {
                        let s = row.sum();
                        row /= s;
                    }
                    Predictions { probabilities: p, labels: vec![0, 1, 2, 3] }
                })
                .collect();
            let m = Predictions::mean(&sets);
            for row in m.probabilities.rows() {
                proptest::prop_assert!((row.sum() - 1.0).abs() < 1e-5);
            }
            let (loss, acc) = m.loss_and_accuracy();
            proptest::prop_assert!(loss >= 0.0 && (0.0..=1.0).contains(&acc));
        }
    }

    #[test]
    fn loss_accuracy_and_mean_of_predictions() {
        let a = Predictions {
            probabilities: array![[0.5, 0.5], [0.9, 0.1]],
            labels: vec![1, 1],
        };
        let b = Predictions {
            probabilities: array![[0.1, 0.9], [0.7, 0.3]],
            labels: vec![1, 1],
        };
        let m = Predictions::mean(&[a.clone(), b]);
        let expected = array![[0.3f32, 0.7], [0.8, 0.2]];
        assert!(
            (&m.probabilities - &expected)
                .iter()
                .all(|d| d.abs() < 1e-6)
        );
        let (loss, acc) = m.loss_and_accuracy();
        assert!((loss - (-(0.7f32.ln() + 0.2f32.ln()) / 2.0)).abs() < 1e-6);
        assert_eq!(acc, 0.5);
        // Ties go to the first class, like torch.argmax.
        assert_eq!(a.predicted(), vec![0, 0]);
    }
}
