//! Composition: [`Sequence`] (torchvision `Compose`), [`RandomApply`], [`OneOf`] (`RandomChoice`)
//! and [`RandomOrder`]. Containers sample the parameters of all their children up front,
//! propagating the image shape through [`Transform::output_shape`](crate::Transform::output_shape), so a whole pipeline's
//! parameters can be applied to an image and its mask alike. Their parameters hold the
//! children's as [`DynParams`].
//!
//! [`SequenceConfig::output_shape`] (= [`PipelineConfig`]) tells the shape a pipeline outputs for
//! an input shape, without running it, and rejects pipelines that cannot take that input.

mod one_of;
mod random_apply;
mod random_order;
mod sequence;

pub use one_of::{Choice, OneOf, OneOfConfig};
pub use random_apply::{RandomApply, RandomApplyConfig};
pub use random_order::{OrderParams, RandomOrder, RandomOrderConfig};
pub use sequence::{Pipeline, PipelineConfig, Sequence, SequenceConfig};

use crate::config::TransformConfig;
use crate::error::Result;
use crate::shape::{Shape, ShapeRange};
use crate::transform::{DynParams, DynTransform};
use ndarray::Array3;
use rand::RngCore;
use std::fmt;

/// Writes `name(` + one indented child per line + `)`.
pub(crate) fn write_children(
    f: &mut fmt::Formatter<'_>,
    head: &str,
    args: Option<String>,
    children: &[Box<dyn DynTransform>],
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

pub(crate) fn build_children(list: &[TransformConfig]) -> Result<Vec<Box<dyn DynTransform>>> {
    list.iter()
        .enumerate()
        .map(|(i, c)| {
            c.build()
                .map_err(|e| e.nested(&format!("transforms[{i}].")))
        })
        .collect()
}

pub(crate) fn seq_sample(
    ts: &[Box<dyn DynTransform>],
    mut shape: Shape,
    rng: &mut dyn RngCore,
) -> Vec<DynParams> {
    ts.iter()
        .map(|t| {
            let p = t.sample_dyn(shape, rng);
            shape = t.output_shape_dyn(shape, &p);
            p
        })
        .collect()
}

fn check_len(ts: &[Box<dyn DynTransform>], ps: &[DynParams]) {
    assert_eq!(
        ts.len(),
        ps.len(),
        "Compose: {} transforms but {} parameter sets",
        ts.len(),
        ps.len()
    );
}

pub(crate) fn seq_apply(
    ts: &[Box<dyn DynTransform>],
    img: &Array3<f32>,
    ps: &[DynParams],
) -> Array3<f32> {
    check_len(ts, ps);
    let mut it = ts.iter().zip(ps);
    match it.next() {
        None => img.clone(),
        Some((t, p)) => it.fold(t.apply_dyn(img, p), |acc, (t, p)| t.apply_owned_dyn(acc, p)),
    }
}

pub(crate) fn seq_apply_owned(
    ts: &[Box<dyn DynTransform>],
    img: Array3<f32>,
    ps: &[DynParams],
) -> Array3<f32> {
    check_len(ts, ps);
    ts.iter()
        .zip(ps)
        .fold(img, |acc, (t, p)| t.apply_owned_dyn(acc, p))
}

pub(crate) fn seq_mask(
    ts: &[Box<dyn DynTransform>],
    mask: &Array3<f32>,
    ps: &[DynParams],
) -> Array3<f32> {
    check_len(ts, ps);
    ts.iter()
        .zip(ps)
        .fold(mask.clone(), |acc, (t, p)| t.apply_mask_dyn(&acc, p))
}

pub(crate) fn seq_shape(ts: &[Box<dyn DynTransform>], shape: Shape, ps: &[DynParams]) -> Shape {
    ts.iter()
        .zip(ps)
        .fold(shape, |s, (t, p)| t.output_shape_dyn(s, p))
}

/// The output range of children applied in the given order; errors name the child's index.
pub(crate) fn seq_size<'a>(
    ts: impl IntoIterator<Item = (usize, &'a Box<dyn DynTransform>)>,
    input: ShapeRange,
) -> Result<ShapeRange> {
    ts.into_iter().try_fold(input, |r, (i, t)| {
        t.output_size_dyn(r)
            .map_err(|e| e.nested(&format!("transforms[{i}].")))
    })
}
