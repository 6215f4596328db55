//! Composition: [`Sequence`] (torchvision `Compose`), [`RandomApply`], [`OneOf`] (`RandomChoice`)
//! and [`RandomOrder`]. Containers sample the parameters of all their children up front,
//! propagating the image shape through [`Transform::output_shape`], so a whole pipeline's
//! parameters can be applied to an image and its mask alike.

use crate::config::TransformConfig;
use crate::error::{AugmentError, Result, check};
use crate::transform::{Params, Transform, bernoulli, wrong_params};
use crate::types::{Shape, default_half};
use ndarray::Array3;
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Writes `name(` + one indented child per line + `)`.
fn write_children(
    f: &mut fmt::Formatter<'_>,
    head: &str,
    args: Option<String>,
    children: &[Box<dyn Transform>],
) -> fmt::Result {
    match args {
        Some(a) => writeln!(f, "{head}({a},")?,
        None => writeln!(f, "{head}(")?,
    }
    for t in children {
        let s = t.to_string();
        for line in s.lines() {
            writeln!(f, "    {line}")?;
        }
    }
    write!(f, ")")
}

fn build_children(list: &[TransformConfig]) -> Result<Vec<Box<dyn Transform>>> {
    list.iter()
        .enumerate()
        .map(|(i, c)| {
            c.build()
                .map_err(|e| e.nested(&format!("transforms[{i}].")))
        })
        .collect()
}

fn seq_sample(ts: &[Box<dyn Transform>], mut shape: Shape, rng: &mut dyn RngCore) -> Vec<Params> {
    ts.iter()
        .map(|t| {
            let p = t.sample_params(shape, rng);
            shape = t.output_shape(shape, &p);
            p
        })
        .collect()
}

fn seq_apply(ts: &[Box<dyn Transform>], img: &Array3<f32>, ps: &[Params]) -> Array3<f32> {
    assert_eq!(
        ts.len(),
        ps.len(),
        "Compose: {} transforms but {} parameter sets",
        ts.len(),
        ps.len()
    );
    let mut it = ts.iter().zip(ps);
    match it.next() {
        None => img.clone(),
        Some((t, p)) => it.fold(t.apply(img, p), |acc, (t, p)| t.apply_owned(acc, p)),
    }
}

fn seq_apply_owned(ts: &[Box<dyn Transform>], img: Array3<f32>, ps: &[Params]) -> Array3<f32> {
    assert_eq!(
        ts.len(),
        ps.len(),
        "Compose: {} transforms but {} parameter sets",
        ts.len(),
        ps.len()
    );
    ts.iter()
        .zip(ps)
        .fold(img, |acc, (t, p)| t.apply_owned(acc, p))
}

fn seq_mask(ts: &[Box<dyn Transform>], mask: &Array3<f32>, ps: &[Params]) -> Array3<f32> {
    ts.iter()
        .zip(ps)
        .fold(mask.clone(), |acc, (t, p)| t.apply_mask(&acc, p))
}

fn seq_shape(ts: &[Box<dyn Transform>], shape: Shape, ps: &[Params]) -> Shape {
    ts.iter()
        .zip(ps)
        .fold(shape, |s, (t, p)| t.output_shape(s, p))
}

/// Config of a [`Sequence`] (also the top-level pipeline config).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceConfig {
    /// The transforms, applied in order.
    pub transforms: Vec<TransformConfig>,
}

impl SequenceConfig {
    /// Validates and builds the pipeline.
    pub fn init(&self) -> Result<Sequence> {
        Ok(Sequence {
            transforms: build_children(&self.transforms)?,
        })
    }

    /// Parses a JSON config: `{"transforms": [{"type": "random_crop", "size": 32, ...}, ...]}`.
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| AugmentError::Parse {
            format: "JSON",
            message: e.to_string(),
        })
    }

    /// Parses a TOML config: `[[transforms]]` tables with a `type` key.
    pub fn from_toml(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| AugmentError::Parse {
            format: "TOML",
            message: e.to_string(),
        })
    }

    /// The config as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("configs serialise")
    }
}

/// Transforms applied one after another (torchvision `Compose`); the pipeline type.
#[derive(Debug, Default)]
pub struct Sequence {
    transforms: Vec<Box<dyn Transform>>,
}

/// The pipeline type: a [`Sequence`].
pub type Pipeline = Sequence;
/// The pipeline config type: a [`SequenceConfig`].
pub type PipelineConfig = SequenceConfig;

impl Sequence {
    /// A sequence of already-built transforms.
    pub fn new(transforms: Vec<Box<dyn Transform>>) -> Self {
        Sequence { transforms }
    }

    /// Appends a transform (builder style).
    pub fn then(mut self, t: impl Transform + 'static) -> Self {
        self.transforms.push(Box::new(t));
        self
    }

    /// The transforms.
    pub fn transforms(&self) -> &[Box<dyn Transform>] {
        &self.transforms
    }

    /// Number of transforms.
    pub fn len(&self) -> usize {
        self.transforms.len()
    }

    /// `true` if empty (the identity).
    pub fn is_empty(&self) -> bool {
        self.transforms.is_empty()
    }

    /// Parses and builds a JSON pipeline config.
    pub fn from_json(text: &str) -> Result<Self> {
        SequenceConfig::from_json(text)?.init()
    }

    /// Parses and builds a TOML pipeline config.
    pub fn from_toml(text: &str) -> Result<Self> {
        SequenceConfig::from_toml(text)?.init()
    }
}

impl fmt::Display for Sequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_children(f, "Compose", None, &self.transforms)
    }
}

impl Transform for Sequence {
    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> Params {
        Params::Seq(seq_sample(&self.transforms, shape, rng))
    }
    fn apply(&self, img: &Array3<f32>, params: &Params) -> Array3<f32> {
        match params {
            Params::Seq(ps) => seq_apply(&self.transforms, img, ps),
            p => wrong_params("Compose", p),
        }
    }
    fn apply_owned(&self, img: Array3<f32>, params: &Params) -> Array3<f32> {
        match params {
            Params::Seq(ps) => seq_apply_owned(&self.transforms, img, ps),
            p => wrong_params("Compose", p),
        }
    }
    fn apply_mask(&self, mask: &Array3<f32>, params: &Params) -> Array3<f32> {
        match params {
            Params::Seq(ps) => seq_mask(&self.transforms, mask, ps),
            p => wrong_params("Compose", p),
        }
    }
    fn output_shape(&self, shape: Shape, params: &Params) -> Shape {
        match params {
            Params::Seq(ps) => seq_shape(&self.transforms, shape, ps),
            p => wrong_params("Compose", p),
        }
    }
}

/// Config of [`RandomApply`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomApplyConfig {
    /// The transforms (applied in order, all or none).
    pub transforms: Vec<TransformConfig>,
    /// Probability of applying them (default 0.5).
    #[serde(default = "default_half")]
    pub p: f64,
}

impl RandomApplyConfig {
    /// Validates and builds the transform.
    pub fn init(&self) -> Result<RandomApply> {
        check::prob("random_apply", "p", self.p)?;
        Ok(RandomApply {
            transforms: build_children(&self.transforms)?,
            p: self.p,
        })
    }
}

/// Applies a sequence of transforms with probability `p` (torchvision `RandomApply`).
#[derive(Debug)]
pub struct RandomApply {
    transforms: Vec<Box<dyn Transform>>,
    p: f64,
}

impl RandomApply {
    /// Applies `transforms` together with probability `p`.
    pub fn new(transforms: Vec<Box<dyn Transform>>, p: f64) -> Result<Self> {
        check::prob("random_apply", "p", p)?;
        Ok(RandomApply { transforms, p })
    }
}

impl fmt::Display for RandomApply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_children(
            f,
            "RandomApply",
            Some(format!("p={}", self.p)),
            &self.transforms,
        )
    }
}

impl Transform for RandomApply {
    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> Params {
        if bernoulli(rng, self.p) {
            Params::Maybe(Some(Box::new(Params::Seq(seq_sample(
                &self.transforms,
                shape,
                rng,
            )))))
        } else {
            Params::Maybe(None)
        }
    }
    fn apply(&self, img: &Array3<f32>, params: &Params) -> Array3<f32> {
        match params {
            Params::Maybe(Some(inner)) => match &**inner {
                Params::Seq(ps) => seq_apply(&self.transforms, img, ps),
                p => wrong_params("RandomApply", p),
            },
            Params::Maybe(None) => img.clone(),
            p => wrong_params("RandomApply", p),
        }
    }
    fn apply_owned(&self, img: Array3<f32>, params: &Params) -> Array3<f32> {
        match params {
            Params::Maybe(Some(inner)) => match &**inner {
                Params::Seq(ps) => seq_apply_owned(&self.transforms, img, ps),
                p => wrong_params("RandomApply", p),
            },
            Params::Maybe(None) => img,
            p => wrong_params("RandomApply", p),
        }
    }
    fn apply_mask(&self, mask: &Array3<f32>, params: &Params) -> Array3<f32> {
        match params {
            Params::Maybe(Some(inner)) => match &**inner {
                Params::Seq(ps) => seq_mask(&self.transforms, mask, ps),
                p => wrong_params("RandomApply", p),
            },
            _ => mask.clone(),
        }
    }
    fn output_shape(&self, shape: Shape, params: &Params) -> Shape {
        match params {
            Params::Maybe(Some(inner)) => match &**inner {
                Params::Seq(ps) => seq_shape(&self.transforms, shape, ps),
                p => wrong_params("RandomApply", p),
            },
            _ => shape,
        }
    }
}

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
    transforms: Vec<Box<dyn Transform>>,
    cumulative: Vec<f64>,
}

impl OneOf {
    /// One of `transforms`, with relative weights `p` (uniform if `None`).
    pub fn new(transforms: Vec<Box<dyn Transform>>, p: Option<Vec<f64>>) -> Result<Self> {
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

    fn child<'a>(&self, params: &'a Params) -> (usize, &'a Params) {
        match params {
            Params::Choice(i, p) => (*i, p),
            p => wrong_params("OneOf", p),
        }
    }
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
    fn sample_params(&self, shape: Shape, rng: &mut dyn RngCore) -> Params {
        let u: f64 = rng.random();
        let i = self
            .cumulative
            .iter()
            .position(|&c| u < c)
            .unwrap_or(self.transforms.len() - 1);
        Params::Choice(i, Box::new(self.transforms[i].sample_params(shape, rng)))
    }
    fn apply(&self, img: &Array3<f32>, params: &Params) -> Array3<f32> {
        let (i, p) = self.child(params);
        self.transforms[i].apply(img, p)
    }
    fn apply_owned(&self, img: Array3<f32>, params: &Params) -> Array3<f32> {
        let (i, p) = self.child(params);
        self.transforms[i].apply_owned(img, p)
    }
    fn apply_mask(&self, mask: &Array3<f32>, params: &Params) -> Array3<f32> {
        let (i, p) = self.child(params);
        self.transforms[i].apply_mask(mask, p)
    }
    fn output_shape(&self, shape: Shape, params: &Params) -> Shape {
        let (i, p) = self.child(params);
        self.transforms[i].output_shape(shape, p)
    }
}

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
    transforms: Vec<Box<dyn Transform>>,
}

impl RandomOrder {
    /// All of `transforms`, in random order.
    pub fn new(transforms: Vec<Box<dyn Transform>>) -> Self {
        RandomOrder { transforms }
    }

    fn parts<'a>(&self, params: &'a Params) -> (&'a [usize], &'a [Params]) {
        match params {
            Params::Order(o, ps) if o.len() == ps.len() => (o, ps),
            p => wrong_params("RandomOrder", p),
        }
    }
}

impl fmt::Display for RandomOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_children(f, "RandomOrder", None, &self.transforms)
    }
}

impl Transform for RandomOrder {
    fn sample_params(&self, mut shape: Shape, rng: &mut dyn RngCore) -> Params {
        let mut order: Vec<usize> = (0..self.transforms.len()).collect();
        for i in (1..order.len()).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
        let ps = order
            .iter()
            .map(|&k| {
                let p = self.transforms[k].sample_params(shape, rng);
                shape = self.transforms[k].output_shape(shape, &p);
                p
            })
            .collect();
        Params::Order(order, ps)
    }
    fn apply(&self, img: &Array3<f32>, params: &Params) -> Array3<f32> {
        self.apply_owned(img.clone(), params)
    }
    fn apply_owned(&self, img: Array3<f32>, params: &Params) -> Array3<f32> {
        let (o, ps) = self.parts(params);
        o.iter()
            .zip(ps)
            .fold(img, |acc, (&k, p)| self.transforms[k].apply_owned(acc, p))
    }
    fn apply_mask(&self, mask: &Array3<f32>, params: &Params) -> Array3<f32> {
        let (o, ps) = self.parts(params);
        o.iter().zip(ps).fold(mask.clone(), |acc, (&k, p)| {
            self.transforms[k].apply_mask(&acc, p)
        })
    }
    fn output_shape(&self, shape: Shape, params: &Params) -> Shape {
        let (o, ps) = self.parts(params);
        o.iter()
            .zip(ps)
            .fold(shape, |s, (&k, p)| self.transforms[k].output_shape(s, p))
    }
}
