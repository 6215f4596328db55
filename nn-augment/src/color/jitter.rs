//! `ColorJitter`: brightness, contrast, saturation and hue jitter applied in a random order
//! (torchvision `ColorJitter`; the photometric distortions of Howard 2013 and Szegedy et al. 2015).
//!
//! Factors: brightness/contrast/saturation `x` → `U(max(0, 1−x), 1+x)`, hue `x` → `U(−x, x)`
//! (`x ≤ ½`); explicit `[lo, hi]` ranges are accepted too. The order is a uniform permutation.

use super::adjust::{brightness_inplace, contrast_inplace, hue_inplace, saturation_inplace};
use crate::error::{Result, check};
use crate::shape::{Shape, ShapeRange};
use crate::shorthand::Range;
use crate::transform::{Transform, gray_or_rgb, uniform};
use ndarray::Array3;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Sampled parameters of a colour jitter: the order of the four adjustments and their factors
/// (`None` = that adjustment is disabled).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JitterParams {
    /// Permutation of `0 = brightness, 1 = contrast, 2 = saturation, 3 = hue`.
    pub order: [u8; 4],
    /// Brightness factor.
    pub brightness: Option<f32>,
    /// Contrast factor.
    pub contrast: Option<f32>,
    /// Saturation factor.
    pub saturation: Option<f32>,
    /// Hue shift in turns, in `[-0.5, 0.5]`.
    pub hue: Option<f32>,
}

/// Config of [`ColorJitter`]; `None` (or a zero half-width) disables an adjustment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColorJitterConfig {
    /// Brightness factor range (`x` = `[max(0, 1−x), 1+x]`).
    #[serde(default)]
    pub brightness: Option<Range>,
    /// Contrast factor range.
    #[serde(default)]
    pub contrast: Option<Range>,
    /// Saturation factor range.
    #[serde(default)]
    pub saturation: Option<Range>,
    /// Hue shift range (`x` = `[−x, x]`, within `[−½, ½]`).
    #[serde(default)]
    pub hue: Option<Range>,
}

impl ColorJitterConfig {
    /// Symmetric ranges, torchvision style (`ColorJitter(0.4, 0.4, 0.4, 0.1)`).
    pub fn new(brightness: f64, contrast: f64, saturation: f64, hue: f64) -> Self {
        ColorJitterConfig {
            brightness: Some(Range::Around(brightness)),
            contrast: Some(Range::Around(contrast)),
            saturation: Some(Range::Around(saturation)),
            hue: Some(Range::Around(hue)),
        }
    }

    /// Validates and builds the transform.
    pub fn init(&self) -> Result<ColorJitter> {
        let t = "color_jitter";
        let factor = |r: &Option<Range>, name: &str| -> Result<Option<[f64; 2]>> {
            match r {
                None => Ok(None),
                Some(r) => {
                    let mut v = r.resolve(t, name, 1.0)?;
                    if matches!(r, Range::Around(_)) {
                        v[0] = v[0].max(0.0);
                    }
                    check::range(t, name, v, 0.0, f64::MAX)?;
                    Ok(if v == [1.0, 1.0] { None } else { Some(v) })
                }
            }
        };
        let brightness = factor(&self.brightness, "brightness")?;
        let contrast = factor(&self.contrast, "contrast")?;
        let saturation = factor(&self.saturation, "saturation")?;
        let hue = match &self.hue {
            None => None,
            Some(r) => {
                let v = r.resolve(t, "hue", 0.0)?;
                check::range(t, "hue", v, -0.5, 0.5)?;
                if v == [0.0, 0.0] { None } else { Some(v) }
            }
        };
        Ok(ColorJitter {
            brightness,
            contrast,
            saturation,
            hue,
        })
    }
}

/// Random brightness, contrast, saturation and hue in random order (torchvision `ColorJitter`).
#[derive(Clone, Debug, PartialEq)]
pub struct ColorJitter {
    brightness: Option<[f64; 2]>,
    contrast: Option<[f64; 2]>,
    saturation: Option<[f64; 2]>,
    hue: Option<[f64; 2]>,
}

impl ColorJitter {
    /// Symmetric ranges (`ColorJitter(0.4, 0.4, 0.4, 0.1)`).
    pub fn new(brightness: f64, contrast: f64, saturation: f64, hue: f64) -> Result<Self> {
        ColorJitterConfig::new(brightness, contrast, saturation, hue).init()
    }
}

/// Applies sampled jitter parameters in place.
pub fn apply_jitter(img: &mut Array3<f32>, p: &JitterParams) {
    for &k in &p.order {
        match k {
            0 => {
                if let Some(f) = p.brightness {
                    brightness_inplace(img, f)
                }
            }
            1 => {
                if let Some(f) = p.contrast {
                    contrast_inplace(img, f)
                }
            }
            2 => {
                if let Some(f) = p.saturation {
                    saturation_inplace(img, f)
                }
            }
            _ => {
                if let Some(f) = p.hue {
                    hue_inplace(img, f)
                }
            }
        }
    }
}

impl fmt::Display for ColorJitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |r: Option<[f64; 2]>| match r {
            Some([a, b]) => format!("[{a:.3}, {b:.3}]"),
            None => "None".to_string(),
        };
        write!(
            f,
            "ColorJitter(brightness={}, contrast={}, saturation={}, hue={})",
            show(self.brightness),
            show(self.contrast),
            show(self.saturation),
            show(self.hue)
        )
    }
}

impl Transform for ColorJitter {
    type Params = JitterParams;
    fn sample_params(&self, _shape: Shape, rng: &mut dyn RngCore) -> JitterParams {
        use rand::Rng;
        let mut order = [0u8, 1, 2, 3];
        for i in (1..4).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
        let mut draw = |r: Option<[f64; 2]>| r.map(|[a, b]| uniform(rng, a, b) as f32);
        let brightness = draw(self.brightness);
        let contrast = draw(self.contrast);
        let saturation = draw(self.saturation);
        let hue = draw(self.hue);
        JitterParams {
            order,
            brightness,
            contrast,
            saturation,
            hue,
        }
    }
    fn apply(&self, img: &Array3<f32>, params: &JitterParams) -> Array3<f32> {
        self.apply_owned(img.clone(), params)
    }
    fn apply_owned(&self, mut img: Array3<f32>, params: &JitterParams) -> Array3<f32> {
        apply_jitter(&mut img, params);
        img
    }
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        gray_or_rgb("color_jitter", input)
    }
}
