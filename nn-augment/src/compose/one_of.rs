//! [`OneOf`]: one transform chosen at random (torchvision `RandomChoice`).

use super::{build_children, seq_size, write_children};
use crate::config::TransformConfig;
use crate::error::{AugmentError, Result};
use crate::shape::{Shape, ShapeRange};
use crate::transform::{DynParams, DynTransform, Transform};
use ndarray::Array3;
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Config of [`OneOf`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneOfConfig {
    /// The alternatives.
    pub transforms: Vec<TransformConfig>,
    /// Relative weights (default: uniform); normalised to sum 1.
    #[serde(default)]
    pub p: Option<Vec<f64>>,
}

impl OneOfConfig {
    /// Validates and builds the transform.
    pub fn init(&self) -> Result<OneOf> {
        OneOf::new(build_children(&self.transforms)?, self.p.clone())
    }
}

/// Applies one transform chosen at random (torchvision `RandomChoice`).
#[derive(Debug)]
pub struct OneOf {
    transforms: Vec<Box<dyn DynTransform>>,
    cumulative: Vec<f64>,
}

impl OneOf {
    /// One of `transforms`, with relative weights `p` (uniform if `None`).
    pub fn new(transforms: Vec<Box<dyn DynTransform>>, p: Option<Vec<f64>>) -> Result<Self> {
        let t = "one_of";
        if transforms.is_empty() {
            return Err(AugmentError::invalid(
                t,
                "transforms",
                "[]",
                "at least one transform",
            ));
        }
        let p = p.unwrap_or_else(|| vec![1.0; transforms.len()]);
        if p.len() != transforms.len() {
            return Err(AugmentError::invalid(
                t,
                "p",
                &p,
                format!("{} weights, one per transform", transforms.len()),
            ));
        }
        let total: f64 = p.iter().sum();
        if p.iter().any(|&x| !(x >= 0.0 && x.is_finite())) || total <= 0.0 {
            return Err(AugmentError::invalid(
                t,
                "p",
                &p,
                "finite weights ≥ 0 with a positive sum",
            ));
        }
        let mut acc = 0.0;
        let cumulative = p
            .iter()
            .map(|x| {
                acc += x / total;
                acc
            })
            .collect();
        Ok(OneOf {
            transforms,
            cumulative,
        })
    }

    /// The probability of child `i`.
    fn weight(&self, i: usize) -> f64 {
        self.cumulative[i] - if i == 0 { 0.0 } else { self.cumulative[i - 1] }
    }
}

/// Parameters of a [`OneOf`]: the chosen child and its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    /// Index of the chosen transform.
    pub index: usize,
    /// Its parameters.
    pub params: DynParams,
}

impl fmt::Display for OneOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut prev = 0.0;
        let p: Vec<String> = self
            .cumulative
            .iter()
            .map(|&c| {
                let s = format!("{:.3}", c - prev);
                prev = c;
                s
            })
            .collect();
        write_children(
            f,
            "OneOf",
            Some(format!("p=[{}]", p.join(", "))),
            &self.transforms,
        )
    }
}

impl Transform for OneOf {
    type Params = Choice;
    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> Choice {
        let u: f64 = rng.random();
        let index = self
            .cumulative
            .iter()
            .position(|&c| u < c)
            .unwrap_or(self.transforms.len() - 1);
        Choice {
            index,
            params: self.transforms[index].sample_dyn(shape, rng),
        }
    }
    fn apply(&self, img: &Array3<f32>, c: &Choice) -> Array3<f32> {
        self.transforms[c.index].apply_dyn(img, &c.params)
    }
    fn apply_owned(&self, img: Array3<f32>, c: &Choice) -> Array3<f32> {
        self.transforms[c.index].apply_owned_dyn(img, &c.params)
    }
    fn apply_mask(&self, mask: &Array3<f32>, c: &Choice) -> Array3<f32> {
        self.transforms[c.index].apply_mask_dyn(mask, &c.params)
    }
    fn output_shape(&self, shape: Shape, c: &Choice) -> Shape {
        self.transforms[c.index].output_shape_dyn(shape, &c.params)
    }
    /// The hull over the alternatives that can be chosen (weight > 0).
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        let mut out: Option<ShapeRange> = None;
        for (i, t) in self.transforms.iter().enumerate() {
            if self.weight(i) > 0.0 {
                let r = seq_size([(i, t)], input)?;
                out = Some(out.map_or(r, |o| o.hull(r)));
            }
        }
        Ok(out.expect("OneOf has a transform of positive weight"))
    }
}
