//! Random erasing (Zhong et al., "Random Erasing Data Augmentation", AAAI 2020,
//! arXiv:1708.04896), with torchvision v2 `RandomErasing`'s semantics and defaults: with
//! probability `p` (0.5), up to 10 tries of
//!
//! ```text
//! area = U(scale)·H·W,   r = exp(U(log ratio)),   h = round(√(area·r)),   w = round(√(area/r))
//! ```
//!
//! (`scale` = [0.02, 0.33], `ratio` = [0.3, 3.3], Python's round-half-even), the first with
//! `h < H` and `w < W` is erased at a uniformly random position (top `∈ [0, H − h]`, left
//! `∈ [0, W − w]`) with `value`: a number (0), one per channel, or `"random"` (per-pixel
//! standard normal noise, torchvision's `value="random"`). If no try fits, the image is kept.
//! Draw order per try: scale, log-ratio; then (for the accepted try) the noise, top, left.

use super::{ErasureValue, erase_inplace};
use crate::error::{AugmentError, Result, check};
use crate::shape::{Shape, ShapeRange};
use crate::shorthand::default_half;
use crate::transform::{Transform, bernoulli, int_inclusive, uniform};
use ndarray::Array3;
use ndarray_rand::RandomExt;
use rand::RngCore;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use std::fmt;

fn default_scale() -> [f64; 2] {
    [0.02, 0.33]
}

fn default_ratio() -> [f64; 2] {
    [0.3, 3.3]
}

/// The keyword `"random"` in a config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RandomKeyword {
    /// `"random"`.
    Random,
}

/// The erasing value of [`RandomErasingConfig`]: a number, a list (one per channel), or
/// `"random"` (per-pixel standard normal noise).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EraseWith {
    /// The same value in every channel.
    Value(f32),
    /// One value per channel (or one for all).
    PerChannel(Vec<f32>),
    /// `"random"`: `N(0, 1)` noise per pixel and channel.
    Random(RandomKeyword),
}

impl Default for EraseWith {
    fn default() -> Self {
        EraseWith::Value(0.0)
    }
}

impl fmt::Display for EraseWith {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EraseWith::Value(v) => write!(f, "{v}"),
            EraseWith::PerChannel(v) => write!(f, "{v:?}"),
            EraseWith::Random(_) => write!(f, "random"),
        }
    }
}

/// Config of [`RandomErasing`] (torchvision defaults: p 0.5, scale [0.02, 0.33], ratio
/// [0.3, 3.3], value 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomErasingConfig {
    /// Probability of erasing an image, in `[0, 1]`.
    #[serde(default = "default_half")]
    pub p: f64,
    /// Range of the erased area as a fraction of the image area, `0 ≤ lo ≤ hi ≤ 1`.
    #[serde(default = "default_scale")]
    pub scale: [f64; 2],
    /// Range of the aspect ratio `h/w` of the erased region (sampled log-uniformly), `0 < lo ≤ hi`.
    #[serde(default = "default_ratio")]
    pub ratio: [f64; 2],
    /// What to write: a number, one per channel, or `"random"`.
    #[serde(default)]
    pub value: EraseWith,
}

impl Default for RandomErasingConfig {
    fn default() -> Self {
        RandomErasingConfig {
            p: 0.5,
            scale: default_scale(),
            ratio: default_ratio(),
            value: EraseWith::default(),
        }
    }
}

impl RandomErasingConfig {
    /// Validates and builds the transform.
    pub fn init(&self) -> Result<RandomErasing> {
        let t = "random_erasing";
        check::prob(t, "p", self.p)?;
        check::range(t, "scale", self.scale, 0.0, 1.0)?;
        check::range(t, "ratio", self.ratio, f64::MIN_POSITIVE, f64::MAX)?;
        match &self.value {
            EraseWith::Value(v) => check::finite(t, "value", f64::from(*v))?,
            EraseWith::PerChannel(v) => {
                if v.is_empty() || v.iter().any(|x| !x.is_finite()) {
                    return Err(AugmentError::invalid(
                        t,
                        "value",
                        v,
                        "a number, a non-empty list of finite numbers, or \"random\"",
                    ));
                }
            }
            EraseWith::Random(_) => {}
        }
        Ok(RandomErasing {
            cfg: self.clone(),
            log_ratio: [self.ratio[0].ln(), self.ratio[1].ln()],
        })
    }
}

/// Random erasing (see the module docs).
///
/// ```
/// use nn_augment::{RandomErasingConfig, Transform};
/// use rand::SeedableRng;
///
/// let erasing = RandomErasingConfig { p: 1.0, ..Default::default() }.init().unwrap();
/// let img = ndarray::Array3::<f32>::ones((3, 32, 32));
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let e = erasing.sample_params([3, 32, 32], &mut rng).expect("a region fits");
/// let out = erasing.apply(&img, &Some(e.clone()));
/// assert_eq!(out.iter().filter(|&&v| v == 0.0).count(), 3 * e.height * e.width);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RandomErasing {
    cfg: RandomErasingConfig,
    log_ratio: [f64; 2],
}

/// The region a [`RandomErasing`] erases and what it writes there.
#[derive(Clone, Debug, PartialEq)]
pub struct Erasure {
    /// First row.
    pub top: usize,
    /// First column.
    pub left: usize,
    /// Rows erased.
    pub height: usize,
    /// Columns erased.
    pub width: usize,
    /// The value(s) written.
    pub value: ErasureValue,
}

impl RandomErasing {
    /// The configuration.
    pub fn config(&self) -> &RandomErasingConfig {
        &self.cfg
    }
}

impl fmt::Display for RandomErasing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RandomErasing(p={}, scale={:?}, ratio={:?}, value={})",
            self.cfg.p, self.cfg.scale, self.cfg.ratio, self.cfg.value
        )
    }
}

/// Parameters: the erasure, or `None` (not drawn with probability 1 − p, or no try fitted).
impl Transform for RandomErasing {
    type Params = Option<Erasure>;

    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> Option<Erasure> {
        if !bernoulli(rng, self.cfg.p) {
            return None;
        }
        let [c, img_h, img_w] = shape;
        let area = (img_h * img_w) as f64;
        for _ in 0..10 {
            let erase_area = area * uniform(rng, self.cfg.scale[0], self.cfg.scale[1]);
            let aspect = uniform(rng, self.log_ratio[0], self.log_ratio[1]).exp();
            let h = (erase_area * aspect).sqrt().round_ties_even() as usize;
            let w = (erase_area / aspect).sqrt().round_ties_even() as usize;
            if !(h < img_h && w < img_w) {
                continue;
            }
            let value = match &self.cfg.value {
                EraseWith::Value(v) => ErasureValue::Values(vec![*v]),
                EraseWith::PerChannel(v) => ErasureValue::Values(v.clone()),
                EraseWith::Random(_) => {
                    ErasureValue::Pixels(Array3::random_using((c, h, w), StandardNormal, &mut *rng))
                }
            };
            let top = int_inclusive(rng, 0, img_h - h);
            let left = int_inclusive(rng, 0, img_w - w);
            return Some(Erasure {
                top,
                left,
                height: h,
                width: w,
                value,
            });
        }
        None
    }

    fn apply(&self, img: &Array3<f32>, params: &Option<Erasure>) -> Array3<f32> {
        self.apply_owned(img.clone(), params)
    }

    fn apply_owned(&self, mut img: Array3<f32>, params: &Option<Erasure>) -> Array3<f32> {
        if let Some(e) = params {
            erase_inplace(&mut img, e.top, e.left, e.height, e.width, &e.value);
        }
        img
    }

    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        if let EraseWith::PerChannel(v) = &self.cfg.value {
            let n = v.len();
            if n != 1 && input.channels != [n, n] {
                return Err(AugmentError::shape(
                    "random_erasing",
                    input,
                    format!("{n} channels (one per value) or a single value"),
                ));
            }
        }
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

    fn always() -> RandomErasingConfig {
        RandomErasingConfig {
            p: 1.0,
            ..Default::default()
        }
    }

    #[test]
    fn validation_names_the_field() {
        let bad = |c: RandomErasingConfig, field: &str| {
            let e = c.init().unwrap_err().to_string();
            assert!(e.contains(&format!("`{field}`")), "{e}");
        };
        bad(
            RandomErasingConfig {
                p: -0.1,
                ..always()
            },
            "p",
        );
        bad(
            RandomErasingConfig {
                scale: [0.5, 0.2],
                ..always()
            },
            "scale",
        );
        bad(
            RandomErasingConfig {
                scale: [0.1, 1.5],
                ..always()
            },
            "scale",
        );
        bad(
            RandomErasingConfig {
                ratio: [0.0, 1.0],
                ..always()
            },
            "ratio",
        );
        let value = EraseWith::PerChannel(vec![]);
        bad(RandomErasingConfig { value, ..always() }, "value");
    }

    #[test]
    fn regions_fit_strictly_and_follow_scale_and_ratio() {
        let t = always().init().unwrap();
        let mut r = rng(2);
        for _ in 0..300 {
            let e = t
                .sample_params([3, 40, 30], &mut r)
                .expect("fits at this size");
            assert!(e.height < 40 && e.width < 30);
            assert!(e.top + e.height <= 40 && e.left + e.width <= 30);
            // Rounding aside, the area fraction is within the scale range.
            let frac = (e.height * e.width) as f64 / 1200.0;
            assert!((0.005..=0.40).contains(&frac), "{frac}");
        }
    }

    #[test]
    fn nothing_fits_a_tiny_image_so_it_is_kept() {
        let t = RandomErasingConfig {
            scale: [0.9, 1.0],
            ratio: [1.0, 1.0],
            ..always()
        }
        .init()
        .unwrap();
        // area ≥ 0.9·4 with ratio 1 → side 2 = image side: never strictly inside.
        assert_eq!(t.sample_params([1, 2, 2], &mut rng(0)), None);
    }

    #[test]
    fn random_values_are_noise_of_the_region_shape() {
        let t = RandomErasingConfig {
            value: EraseWith::Random(RandomKeyword::Random),
            ..always()
        }
        .init()
        .unwrap();
        let e = t.sample_params([3, 32, 32], &mut rng(5)).unwrap();
        let ErasureValue::Pixels(p) = &e.value else {
            panic!("{e:?}")
        };
        assert_eq!(p.dim(), (3, e.height, e.width));
        let img = Array3::<f32>::zeros((3, 32, 32));
        let out = t.apply(&img, &Some(e.clone()));
        assert_eq!(out[[1, e.top, e.left]], p[[1, 0, 0]]);
    }

    #[test]
    fn config_parses_numbers_lists_and_random() {
        let c: RandomErasingConfig = serde_json::from_str(r#"{"value": "random"}"#).unwrap();
        assert_eq!(c.value, EraseWith::Random(RandomKeyword::Random));
        assert_eq!(c.p, 0.5);
        let c: RandomErasingConfig = serde_json::from_str(r#"{"value": [0.1, 0.2, 0.3]}"#).unwrap();
        assert_eq!(c.value, EraseWith::PerChannel(vec![0.1, 0.2, 0.3]));
        let c: RandomErasingConfig = serde_json::from_str(r#"{"value": 0.5}"#).unwrap();
        assert_eq!(c.value, EraseWith::Value(0.5));
        assert!(serde_json::from_str::<RandomErasingConfig>(r#"{"value": "noise"}"#).is_err());
        let t = RandomErasingConfig {
            value: EraseWith::PerChannel(vec![0.0, 0.0, 0.0]),
            ..always()
        }
        .init()
        .unwrap();
        assert!(t.output_size(ShapeRange::exact([1, 8, 8])).is_err());
        assert!(t.output_size(ShapeRange::exact([3, 8, 8])).is_ok());
    }
}
