//! Cutout (DeVries & Taylor, "Improved Regularization of Convolutional Neural Networks with
//! Cutout", arXiv:1708.04552, 2017) as a per-sample transform: with probability `p`, for each of
//! `n_holes` holes, draw a centre `(cy, cx)` uniformly over the image — so a square near the
//! border is partly outside it, as in the paper — and set
//!
//! ```text
//! x[:, y0..y1, x0..x1] = fill,   y0 = max(cy − ⌊s/2⌋, 0),  y1 = min(cy − ⌊s/2⌋ + s, H)   (same for x)
//! ```
//!
//! for side `s = size` (the side is always `s` before clipping; the reference code's
//! `cy ± ⌊s/2⌋` gives `s − 1` for odd `s`). The paper applies it after normalisation, where the
//! fill 0 is the data set's mean: put it after `normalize` in a pipeline.
//!
//! Same semantics and draw order as `nn_regularize::Cutout` (the batch-hook form): with the same
//! generator both draw the same boxes.

use crate::error::{AugmentError, Result, check};
use crate::padding::Fill;
use crate::shape::{Shape, ShapeRange};
use crate::transform::Transform;
use ndarray::{Array3, s};
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use std::fmt;

fn sixteen() -> usize {
    16
}
fn one() -> usize {
    1
}
fn always() -> f64 {
    1.0
}

/// Config of [`Cutout`] (defaults: side 16 — the paper's CIFAR-10 setting —, one hole, fill 0,
/// always applied).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CutoutConfig {
    /// Side of the square in pixels (≥ 1): 16 for CIFAR-10, 8 for CIFAR-100, 20 for SVHN in
    /// the paper.
    #[serde(default = "sixteen")]
    pub size: usize,
    /// Squares per image (≥ 1).
    #[serde(default = "one")]
    pub n_holes: usize,
    /// Value written into the squares (a number or one per channel).
    #[serde(default)]
    pub fill: Fill,
    /// Probability of cutting an image, in `[0, 1]`.
    #[serde(default = "always")]
    pub p: f64,
}

impl Default for CutoutConfig {
    fn default() -> Self {
        CutoutConfig::new(16)
    }
}

impl CutoutConfig {
    /// One square of side `size`, filled with 0, always applied.
    pub fn new(size: usize) -> Self {
        CutoutConfig {
            size,
            n_holes: 1,
            fill: Fill::default(),
            p: 1.0,
        }
    }

    /// Validates and builds the transform.
    pub fn init(&self) -> Result<Cutout> {
        let t = "cutout";
        if self.size == 0 {
            return Err(AugmentError::invalid(t, "size", 0, "a side ≥ 1 pixel"));
        }
        if self.n_holes == 0 {
            return Err(AugmentError::invalid(t, "n_holes", 0, "at least 1 hole"));
        }
        self.fill.validate(t, "fill")?;
        check::prob(t, "p", self.p)?;
        Ok(Cutout { cfg: self.clone() })
    }
}

/// One cut-out rectangle, rows `y0..y1` and columns `x0..x1` (clipped to the image).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CutoutBox {
    /// First row.
    pub y0: usize,
    /// One past the last row.
    pub y1: usize,
    /// First column.
    pub x0: usize,
    /// One past the last column.
    pub x1: usize,
}

impl CutoutBox {
    /// Number of pixels covered (per channel).
    pub fn area(&self) -> usize {
        (self.y1 - self.y0) * (self.x1 - self.x0)
    }
}

/// The cutout transform (see the module docs).
///
/// ```
/// use nn_augment::{CutoutConfig, Transform};
/// use rand::SeedableRng;
///
/// let cutout = CutoutConfig::new(4).init().unwrap();
/// let img = ndarray::Array3::<f32>::ones((3, 16, 16));
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let boxes = cutout.sample_params([3, 16, 16], &mut rng);
/// let out = cutout.apply(&img, &boxes);
/// assert_eq!(out.iter().filter(|&&v| v == 0.0).count(), 3 * boxes[0].area());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Cutout {
    cfg: CutoutConfig,
}

impl Cutout {
    /// The configuration.
    pub fn config(&self) -> &CutoutConfig {
        &self.cfg
    }
}

impl fmt::Display for Cutout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Cutout(size={}, n_holes={}, fill={}, p={})",
            self.cfg.size, self.cfg.n_holes, self.cfg.fill, self.cfg.p
        )
    }
}

/// Parameters: the boxes (none if this image is not cut). Draw order: the p-coin (only if
/// p < 1), then `(cy, cx)` per hole.
impl Transform for Cutout {
    type Params = Vec<CutoutBox>;

    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> Vec<CutoutBox> {
        let [_, h, w] = shape;
        let c = &self.cfg;
        if h == 0 || w == 0 || (c.p < 1.0 && !rng.random_bool(c.p)) {
            return Vec::new();
        }
        let half = (c.size / 2) as isize;
        let clip = |start: isize, n: usize| {
            let end = (start + c.size as isize).max(0) as usize;
            (start.max(0) as usize, end.min(n))
        };
        (0..c.n_holes)
            .map(|_| {
                let cy = rng.random_range(0..h) as isize;
                let cx = rng.random_range(0..w) as isize;
                let (y0, y1) = clip(cy - half, h);
                let (x0, x1) = clip(cx - half, w);
                CutoutBox { y0, y1, x0, x1 }
            })
            .collect()
    }

    fn apply(&self, img: &Array3<f32>, boxes: &Vec<CutoutBox>) -> Array3<f32> {
        self.apply_owned(img.clone(), boxes)
    }

    fn apply_owned(&self, mut img: Array3<f32>, boxes: &Vec<CutoutBox>) -> Array3<f32> {
        for b in boxes {
            let mut region = img.slice_mut(s![.., b.y0..b.y1, b.x0..b.x1]);
            for (c, mut plane) in region.outer_iter_mut().enumerate() {
                plane.fill(self.cfg.fill.value(c));
            }
        }
        img
    }

    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        self.cfg.fill.check_channels("cutout", input)?;
        Ok(input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng(seed: u64) -> rand_chacha::ChaCha8Rng {
        rand_chacha::ChaCha8Rng::seed_from_u64(seed)
    }

    #[test]
    fn validation_names_the_field() {
        let e = CutoutConfig::new(0).init().unwrap_err().to_string();
        assert!(e.contains("`size`"), "{e}");
        let mut c = CutoutConfig::new(4);
        c.n_holes = 0;
        assert!(c.init().unwrap_err().to_string().contains("`n_holes`"));
        c.n_holes = 1;
        c.p = 1.5;
        assert!(c.init().unwrap_err().to_string().contains("`p`"));
    }

    #[test]
    fn boxes_have_the_side_inside_and_are_clipped_at_the_border() {
        let t = CutoutConfig::new(5).init().unwrap();
        let mut r = rng(1);
        let mut clipped = false;
        for _ in 0..500 {
            let b = t.sample_params([1, 9, 7], &mut r)[0];
            assert!(
                b.y0 <= b.y1 && b.y1 <= 9 && b.x0 <= b.x1 && b.x1 <= 7,
                "{b:?}"
            );
            assert!(b.y1 - b.y0 <= 5 && b.x1 - b.x0 <= 5);
            // An unclipped side is exactly 5.
            if b.y0 > 0 && b.y1 < 9 {
                assert_eq!(b.y1 - b.y0, 5);
            }
            clipped |= b.area() < 25;
        }
        assert!(clipped, "a centre near the border clips the square");
    }

    #[test]
    fn probability_zero_and_holes() {
        let mut cfg = CutoutConfig::new(3);
        cfg.p = 0.0;
        let never = cfg.init().unwrap();
        assert!(never.sample_params([3, 8, 8], &mut rng(0)).is_empty());
        cfg.p = 1.0;
        cfg.n_holes = 3;
        let three = cfg.init().unwrap();
        assert_eq!(three.sample_params([3, 8, 8], &mut rng(0)).len(), 3);
    }

    #[test]
    fn per_channel_fill() {
        let mut cfg = CutoutConfig::new(2);
        cfg.fill = Fill::PerChannel(vec![0.1, 0.2, 0.3]);
        let t = cfg.init().unwrap();
        let img = Array3::<f32>::ones((3, 4, 4));
        let b = CutoutBox {
            y0: 1,
            y1: 3,
            x0: 0,
            x1: 2,
        };
        let out = t.apply(&img, &vec![b]);
        assert_eq!(out[[2, 1, 1]], 0.3);
        assert_eq!(out[[0, 0, 0]], 1.0);
        let e = t.output_size(ShapeRange::exact([4, 4, 4])).unwrap_err();
        assert!(e.to_string().contains("cutout"), "{e}");
    }
}
