//! Horizontal and vertical flips (`RandomHorizontalFlip`, `RandomVerticalFlip`).
//!
//! `hflip(x)[c, i, j] = x[c, i, W−1−j]`, `vflip(x)[c, i, j] = x[c, H−1−i, j]`. The horizontal flip
//! is the standard augmentation of Krizhevsky et al. 2012 (AlexNet) and of every CIFAR recipe.

use crate::error::{Result, check};
use crate::kernels::crop as k;
use crate::shape::{Shape, ShapeRange};
use crate::shorthand::default_half;
use crate::transform::{Transform, bernoulli};
use ndarray::{Array3, ArrayBase, Data, Ix3};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Mirrors the image left-right (torchvision `F.horizontal_flip`).
pub fn hflip<S: Data<Elem = f32>>(img: &ArrayBase<S, Ix3>) -> Array3<f32> {
    k::hflip(img)
}

/// Mirrors the image top-bottom (torchvision `F.vertical_flip`).
pub fn vflip<S: Data<Elem = f32>>(img: &ArrayBase<S, Ix3>) -> Array3<f32> {
    k::vflip(img)
}

/// Config of a random flip: flip with probability `p` (default 0.5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlipConfig {
    /// Probability of flipping, in `[0, 1]`.
    #[serde(default = "default_half")]
    pub p: f64,
}

impl Default for FlipConfig {
    fn default() -> Self {
        FlipConfig { p: 0.5 }
    }
}

macro_rules! flip_transform {
    ($name:ident, $cfgname:literal, $display:literal, $f:path, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug, PartialEq)]
        pub struct $name {
            p: f64,
        }

        impl $name {
            /// Flip with probability `p ∈ [0, 1]`.
            pub fn new(p: f64) -> Result<Self> {
                check::prob($cfgname, "p", p)?;
                Ok($name { p })
            }

            /// The flip probability.
            pub fn p(&self) -> f64 {
                self.p
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($display, "(p={})"), self.p)
            }
        }

        /// Parameters: whether to flip (`true` with probability `p`).
        impl Transform for $name {
            type Params = bool;
            fn sample_params(&self, _shape: Shape, rng: &mut dyn RngCore) -> bool {
                bernoulli(rng, self.p)
            }
            fn apply(&self, img: &Array3<f32>, flip: &bool) -> Array3<f32> {
                if *flip { $f(img) } else { img.clone() }
            }
            fn apply_owned(&self, img: Array3<f32>, flip: &bool) -> Array3<f32> {
                if *flip { $f(&img) } else { img }
            }
            fn apply_mask(&self, mask: &Array3<f32>, flip: &bool) -> Array3<f32> {
                self.apply(mask, flip)
            }
            fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
                Ok(input)
            }
        }
    };
}

impl FlipConfig {
    /// Validates and builds a [`HorizontalFlip`].
    pub fn init_horizontal(&self) -> Result<HorizontalFlip> {
        HorizontalFlip::new(self.p)
    }

    /// Validates and builds a [`VerticalFlip`].
    pub fn init_vertical(&self) -> Result<VerticalFlip> {
        VerticalFlip::new(self.p)
    }
}

flip_transform!(
    HorizontalFlip,
    "horizontal_flip",
    "RandomHorizontalFlip",
    hflip,
    "Random left-right flip with probability `p` (torchvision `RandomHorizontalFlip`)."
);
flip_transform!(
    VerticalFlip,
    "vertical_flip",
    "RandomVerticalFlip",
    vflip,
    "Random top-bottom flip with probability `p` (torchvision `RandomVerticalFlip`)."
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::test_image;
    use rand::SeedableRng;

    #[test]
    fn flips_mirror_the_indices_and_are_involutions() {
        let img = test_image(3, 5);
        let h = hflip(&img);
        let v = vflip(&img);
        assert_eq!(h[[1, 2, 0]], img[[1, 2, 4]]);
        assert_eq!(v[[2, 0, 3]], img[[2, 2, 3]]);
        assert_eq!(hflip(&h), img);
        assert_eq!(vflip(&v), img);
    }

    #[test]
    fn probability_zero_and_one_are_deterministic_and_p_is_validated() {
        let img = test_image(4, 4);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        assert_eq!(
            HorizontalFlip::new(0.0)
                .unwrap()
                .apply_random(&img, &mut rng),
            img
        );
        assert_eq!(
            HorizontalFlip::new(1.0)
                .unwrap()
                .apply_random(&img, &mut rng),
            hflip(&img)
        );
        assert!(VerticalFlip::new(1.5).is_err());
        assert!(FlipConfig { p: -0.1 }.init_horizontal().is_err());
        assert_eq!(
            HorizontalFlip::new(0.25).unwrap().to_string(),
            "RandomHorizontalFlip(p=0.25)"
        );
    }
}
