//! Cutout (DeVries & Taylor, "Improved Regularization of Convolutional Neural Networks with
//! Cutout", arXiv:1708.04552, 2017): mask out random squares of the input images in training.
//!
//! For each image, with probability `p`, and for each of `n_holes` holes: draw a centre
//! (cy, cx) uniformly over the image — so a square near the border is partly outside it, as in the
//! paper — and set
//!
//! ```text
//! x[:, y0..y1, x0..x1] = fill,   y0 = max(cy − ⌊s/2⌋, 0),  y1 = min(cy − ⌊s/2⌋ + s, H)   (same for x)
//! ```
//!
//! for side s = `size`. (The reference code uses cy ± ⌊s/2⌋, which for odd s gives side s − 1;
//! here the side is always s before clipping.) `fill` = 0 is the paper's choice: after per-channel
//! normalisation 0 is the data set's mean. At test time the full image is used (nothing to do).
//!
//! Random choices follow the sample-then-apply pattern: [`Cutout::sample`] draws the boxes,
//! [`Cutout::apply_boxes`] applies them deterministically. [`Cutout::apply_image`] is the
//! per-sample form (one `[C, H, W]` image), [`Cutout::apply_batch`] the batch form (`[N, C, H, W]`,
//! an independent draw per image, in batch order from one generator).

use ndarray::{Array4, ArrayViewMut3, ArrayViewMut4, Axis, s};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Result, check_range, invalid};

/// Configuration of [`Cutout`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CutoutConfig {
    /// Side of the square in pixels, ≥ 1. Default 16 (the paper's CIFAR-10 setting).
    pub size: usize,
    /// Squares per image, ≥ 1. Default 1.
    pub n_holes: usize,
    /// Value written into the squares. Default 0.
    pub fill: f32,
    /// Probability of applying cutout to an image, in [0, 1]. Default 1.
    pub p: f32,
}

impl Default for CutoutConfig {
    fn default() -> Self {
        CutoutConfig {
            size: 16,
            n_holes: 1,
            fill: 0.0,
            p: 1.0,
        }
    }
}

impl CutoutConfig {
    /// One square of side `size`, filled with 0, always applied.
    pub fn new(size: usize) -> Self {
        CutoutConfig {
            size,
            ..Self::default()
        }
    }

    /// Validates and builds the transform.
    pub fn init(self) -> Result<Cutout> {
        const C: &str = "CutoutConfig";
        if self.size == 0 {
            return Err(invalid(C, "size", 0, "a side >= 1 pixel"));
        }
        if self.n_holes == 0 {
            return Err(invalid(C, "n_holes", 0, "at least 1 hole"));
        }
        if !self.fill.is_finite() {
            return Err(invalid(C, "fill", self.fill, "a finite value"));
        }
        check_range(C, "p", self.p, 0.0, 1.0, "a probability in [0, 1]")?;
        Ok(Cutout { config: self })
    }
}

/// One masked rectangle, rows `y0..y1` and columns `x0..x1` (already clipped to the image).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// Number of pixels covered.
    pub fn area(&self) -> usize {
        (self.y1 - self.y0) * (self.x1 - self.x0)
    }
}

/// The cutout transform (see the module docs).
///
/// ```
/// use ndarray::Array4;
/// use nn_core::rng::seeded;
/// use nn_regularize::CutoutConfig;
///
/// let cutout = CutoutConfig::new(4).init().unwrap();
/// let mut images = Array4::<f32>::ones((8, 3, 16, 16));
/// let boxes = cutout.apply_batch(images.view_mut(), &mut seeded(0));
/// for (n, b) in boxes.iter().enumerate() {
///     let zeros = images.index_axis(ndarray::Axis(0), n).iter().filter(|&&v| v == 0.0).count();
///     assert_eq!(zeros, 3 * b[0].area()); // every channel of the square
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Cutout {
    config: CutoutConfig,
}

impl Cutout {
    /// The configuration.
    pub fn config(&self) -> &CutoutConfig {
        &self.config
    }

    /// Draws the boxes for one `(h, w)` image: empty with probability 1 − p, else `n_holes` boxes.
    /// Draw order: the p-coin (only if p < 1), then (cy, cx) per hole.
    pub fn sample<R: Rng + ?Sized>(&self, (h, w): (usize, usize), rng: &mut R) -> Vec<CutoutBox> {
        let c = &self.config;
        if h == 0 || w == 0 || (c.p < 1.0 && !rng.random_bool(c.p as f64)) {
            return Vec::new();
        }
        let half = c.size / 2;
        (0..c.n_holes)
            .map(|_| {
                let cy = rng.random_range(0..h);
                let cx = rng.random_range(0..w);
                let (y0, x0) = (cy as isize - half as isize, cx as isize - half as isize);
                CutoutBox {
                    y0: y0.max(0) as usize,
                    y1: ((y0 + c.size as isize).max(0) as usize).min(h),
                    x0: x0.max(0) as usize,
                    x1: ((x0 + c.size as isize).max(0) as usize).min(w),
                }
            })
            .collect()
    }

    /// Writes `fill` into `boxes` of a `[C, H, W]` image, every channel.
    pub fn apply_boxes(&self, mut image: ArrayViewMut3<'_, f32>, boxes: &[CutoutBox]) {
        for b in boxes {
            image
                .slice_mut(s![.., b.y0..b.y1, b.x0..b.x1])
                .fill(self.config.fill);
        }
    }

    /// Per-sample form: cutout on one `[C, H, W]` image, in place. Returns the boxes applied.
    pub fn apply_image<R: Rng + ?Sized>(
        &self,
        image: ArrayViewMut3<'_, f32>,
        rng: &mut R,
    ) -> Vec<CutoutBox> {
        let boxes = self.sample((image.shape()[1], image.shape()[2]), rng);
        self.apply_boxes(image, &boxes);
        boxes
    }

    /// Batch form: cutout on every image of a `[N, C, H, W]` batch, in place, each with its own
    /// draw (drawn in batch order from `rng`). Returns the boxes per image.
    pub fn apply_batch<R: Rng + ?Sized>(
        &self,
        mut images: ArrayViewMut4<'_, f32>,
        rng: &mut R,
    ) -> Vec<Vec<CutoutBox>> {
        images
            .axis_iter_mut(Axis(0))
            .map(|img| self.apply_image(img, rng))
            .collect()
    }

    /// [`Cutout::apply_batch`] by value, the shape of a per-batch data-loader hook.
    pub fn transform_batch<R: Rng + ?Sized>(
        &self,
        mut images: Array4<f32>,
        rng: &mut R,
    ) -> Array4<f32> {
        self.apply_batch(images.view_mut(), rng);
        images
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::rng::seeded;

    #[test]
    fn validation() {
        assert!(CutoutConfig::new(0).init().is_err());
        let mut c = CutoutConfig::new(4);
        c.n_holes = 0;
        assert!(c.init().is_err());
        c.n_holes = 1;
        c.p = 1.5;
        assert!(c.init().is_err());
        c.p = 0.5;
        c.fill = f32::NAN;
        assert!(c.init().unwrap_err().to_string().contains("fill"));
    }

    #[test]
    fn interior_square_has_full_area_and_fill() {
        let mut c = CutoutConfig::new(5);
        c.fill = -2.0;
        let cut = c.init().unwrap();
        let mut rng = seeded(1);
        let mut seen_full = false;
        for _ in 0..50 {
            let mut img = ndarray::Array3::<f32>::ones((2, 20, 20));
            let boxes = cut.apply_image(img.view_mut(), &mut rng);
            let b = boxes[0];
            assert!(b.y1 <= 20 && b.x1 <= 20 && b.y0 <= b.y1 && b.x0 <= b.x1);
            assert!(b.y1 - b.y0 <= 5 && b.x1 - b.x0 <= 5);
            let filled = img.iter().filter(|&&v| v == -2.0).count();
            assert_eq!(filled, 2 * b.area());
            seen_full |= b.area() == 25;
        }
        assert!(seen_full);
    }

    #[test]
    fn probability_zero_does_nothing_and_seed_reproduces() {
        let mut c = CutoutConfig::new(3);
        c.p = 0.0;
        let cut = c.init().unwrap();
        let mut img = Array4::<f32>::ones((4, 1, 8, 8));
        cut.apply_batch(img.view_mut(), &mut seeded(0));
        assert!(img.iter().all(|&v| v == 1.0));
        let cut = CutoutConfig::new(3).init().unwrap();
        let a = cut.transform_batch(Array4::ones((4, 1, 8, 8)), &mut seeded(3));
        let b = cut.transform_batch(Array4::ones((4, 1, 8, 8)), &mut seeded(3));
        assert_eq!(a, b);
    }
}
