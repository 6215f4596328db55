//! [`RandomOrder`]: all transforms, in a uniformly random order (torchvision `RandomOrder`).

use super::{build_children, seq_size, write_children};
use crate::config::TransformConfig;
use crate::error::Result;
use crate::shape::{Shape, ShapeRange};
use crate::transform::{DynParams, DynTransform, Transform};
use ndarray::Array3;
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Config of [`RandomOrder`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomOrderConfig {
    /// The transforms, applied in a random order.
    pub transforms: Vec<TransformConfig>,
}

impl RandomOrderConfig {
    /// Validates and builds the transform.
    pub fn init(&self) -> Result<RandomOrder> {
        Ok(RandomOrder {
            transforms: build_children(&self.transforms)?,
        })
    }
}

/// Applies all transforms in a uniformly random order (torchvision `RandomOrder`).
#[derive(Debug)]
pub struct RandomOrder {
    transforms: Vec<Box<dyn DynTransform>>,
}

/// Parameters of a [`RandomOrder`]: the order and each child's parameters (in that order).
#[derive(Clone, Debug, PartialEq)]
pub struct OrderParams {
    /// The permutation: `order[k]` is the index of the `k`-th transform applied.
    pub order: Vec<usize>,
    /// The parameters of `transforms[order[k]]`, for each `k`.
    pub params: Vec<DynParams>,
}

/// Up to this many children, [`RandomOrder::output_size`] tries every order; beyond, it bounds
/// the sequences of that length drawn with repetition (a superset).
const MAX_ORDERS_CHILDREN: usize = 7;

impl RandomOrder {
    /// All of `transforms`, in random order.
    pub fn new(transforms: Vec<Box<dyn DynTransform>>) -> Self {
        RandomOrder { transforms }
    }

    fn parts<'a>(&self, p: &'a OrderParams) -> (&'a [usize], &'a [DynParams]) {
        assert_eq!(
            p.order.len(),
            p.params.len(),
            "RandomOrder: an order of {} transforms with {} parameter sets",
            p.order.len(),
            p.params.len()
        );
        (&p.order, &p.params)
    }
}

/// Calls `f` with every permutation of `0..n` (Heap's algorithm).
fn for_each_permutation(n: usize, f: &mut dyn FnMut(&[usize]) -> Result<()>) -> Result<()> {
    let mut a: Vec<usize> = (0..n).collect();
    let mut c = vec![0usize; n];
    f(&a)?;
    let mut i = 0;
    while i < n {
        if c[i] < i {
            a.swap(if i % 2 == 0 { 0 } else { c[i] }, i);
            f(&a)?;
            c[i] += 1;
            i = 0;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
    Ok(())
}

impl fmt::Display for RandomOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_children(f, "RandomOrder", None, &self.transforms)
    }
}

impl Transform for RandomOrder {
    type Params = OrderParams;
    fn sample_params(&self, mut shape: Shape, rng: &mut dyn RngCore) -> OrderParams {
        let mut order: Vec<usize> = (0..self.transforms.len()).collect();
        for i in (1..order.len()).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
        let params = order
            .iter()
            .map(|&k| {
                let p = self.transforms[k].sample_dyn(shape, rng);
                shape = self.transforms[k].output_shape_dyn(shape, &p);
                p
            })
            .collect();
        OrderParams { order, params }
    }
    fn apply(&self, img: &Array3<f32>, params: &OrderParams) -> Array3<f32> {
        self.apply_owned(img.clone(), params)
    }
    fn apply_owned(&self, img: Array3<f32>, params: &OrderParams) -> Array3<f32> {
        let (o, ps) = self.parts(params);
        o.iter().zip(ps).fold(img, |acc, (&k, p)| {
            self.transforms[k].apply_owned_dyn(acc, p)
        })
    }
    fn apply_mask(&self, mask: &Array3<f32>, params: &OrderParams) -> Array3<f32> {
        let (o, ps) = self.parts(params);
        o.iter().zip(ps).fold(mask.clone(), |acc, (&k, p)| {
            self.transforms[k].apply_mask_dyn(&acc, p)
        })
    }
    fn output_shape(&self, shape: Shape, params: &OrderParams) -> Shape {
        let (o, ps) = self.parts(params);
        o.iter().zip(ps).fold(shape, |s, (&k, p)| {
            self.transforms[k].output_shape_dyn(s, p)
        })
    }
    /// The hull over every order (up to 7 children; beyond, over the sequences of each step's
    /// hull, a superset).
    fn output_size(&self, input: ShapeRange) -> Result<ShapeRange> {
        let n = self.transforms.len();
        if n <= MAX_ORDERS_CHILDREN {
            let mut out = input;
            let mut first = true;
            for_each_permutation(n, &mut |order| {
                let r = seq_size(order.iter().map(|&k| (k, &self.transforms[k])), input)?;
                out = if first { r } else { out.hull(r) };
                first = false;
                Ok(())
            })?;
            return Ok(out);
        }
        let mut r = input;
        for _ in 0..n {
            let mut step: Option<ShapeRange> = None;
            for (k, t) in self.transforms.iter().enumerate() {
                let o = seq_size([(k, t)], r)?;
                step = Some(step.map_or(o, |s| s.hull(o)));
            }
            r = step.expect("n > 0");
        }
        Ok(r)
    }
}
