//! Shared plumbing of elementwise ops: the chain rule `∂L/∂x = ∂L/∂y · f′(x, y)` applied in
//! place to the upstream gradient.

use ndarray::Zip;

use crate::autograd::BackwardCtx;
use crate::tensor::Array;

/// Multiplies the upstream gradient `g` (in place) by the local derivative `df(x, y)`, where `x`
/// is the op's single input and `y` its output, and returns it as the input's gradient (or `None`
/// when the input needs no gradient).
pub(crate) fn chain_unary(
    ctx: &BackwardCtx<'_>,
    mut g: Array,
    df: impl Fn(f32, f32) -> f32 + Sync,
) -> Vec<Option<Array>> {
    if !ctx.needs_grad(0) {
        return vec![None];
    }
    Zip::from(&mut g)
        .and(ctx.inputs[0].data())
        .and(ctx.output)
        .for_each(|g, &x, &y| *g *= df(x, y));
    vec![Some(g)]
}
