//! Rectified linear unit.
//!
//! y = max(0, x);  ∂L/∂x = ∂L/∂y · 𝟙[x > 0] (the subgradient at 0 is 0, as in PyTorch; NaN
//! propagates, as in PyTorch).
//!
//! The output comes from the buffer pool ([`crate::buffer_pool`]) in the input's memory format
//! (row-major or channels-last); backward masks the incoming gradient in place. Large tensors are processed in parallel, in chunks of a fixed size.

use rayon::prelude::*;

use super::layout;
use crate::autograd::{Backward, BackwardCtx};
use crate::buffer_pool;
use crate::tensor::{Array, Tensor};

/// Elements per parallel task (a fixed size: the split never depends on the thread count).
const CHUNK: usize = 1 << 14;

/// max(0, v), keeping NaN (PyTorch's `relu`).
#[inline]
pub(crate) fn relu(v: f32) -> f32 {
    if v <= 0.0 { 0.0 } else { v }
}

/// ∂L/∂x from ∂L/∂y = `g` and the output `y`: 0 where y ≤ 0, else g (a select, not a branch,
/// so that the loop vectorises; NaN outputs pass the gradient, as PyTorch's
/// `threshold_backward`).
#[inline]
pub(crate) fn relu_grad(g: f32, y: f32) -> f32 {
    if y <= 0.0 { 0.0 } else { g }
}

struct ReluBackward;

impl Backward for ReluBackward {
    fn name(&self) -> &'static str {
        "relu"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, mut g: Array) -> Vec<Option<Array>> {
        // y > 0 exactly where x > 0, so the output suffices and the input need not be kept.
        let y = ctx.output;
        let mask = |g: &mut f32, y: f32| *g = relu_grad(*g, y);
        // Same memory format (row-major or channels-last): one pass over raw memory.
        let same_format = layout::format_of(&g).is_some() && g.strides() == y.strides();
        match (g.as_slice_memory_order_mut(), y.as_slice_memory_order()) {
            (Some(gs), Some(ys)) if same_format => {
                if gs.len() >= 2 * CHUNK {
                    gs.par_chunks_mut(CHUNK)
                        .zip(ys.par_chunks(CHUNK))
                        .for_each(|(gc, yc)| gc.iter_mut().zip(yc).for_each(|(g, &y)| mask(g, y)));
                } else {
                    gs.iter_mut().zip(ys).for_each(|(g, &y)| mask(g, y));
                }
            }
            _ => ndarray::Zip::from(&mut g)
                .and(y)
                .for_each(|g, &y| mask(g, y)),
        }
        vec![Some(g)]
    }
}

impl Tensor {
    /// ReLU, `max(0, x)` elementwise (Nair & Hinton 2010).
    pub fn relu(&self) -> Tensor {
        let x = self.data();
        let value = match layout::raw(x) {
            Some((xs, format)) => {
                let mut out = buffer_pool::take(xs.len());
                if xs.len() >= 2 * CHUNK {
                    out.par_chunks_mut(CHUNK)
                        .zip(xs.par_chunks(CHUNK))
                        .for_each(|(o, x)| o.iter_mut().zip(x).for_each(|(o, &x)| *o = relu(x)));
                } else {
                    out.iter_mut().zip(xs).for_each(|(o, &x)| *o = relu(x));
                }
                layout::array_in(format, x.shape(), out)
            }
            None => x.mapv(relu),
        };
        Tensor::from_op(value, vec![self.clone()], ReluBackward)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;
    use crate::rng::seeded;

    #[test]
    fn forward() {
        let x = Tensor::from_vec(vec![-1.0, 0.0, 2.0, f32::NAN], &[4]);
        let y = x.relu().to_vec();
        assert_eq!(&y[..3], &[0.0, 0.0, 2.0]);
        assert!(y[3].is_nan());
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].relu(), &[&[4, 5]], 1);
    }

    #[test]
    fn large_and_strided_inputs() {
        // Large enough for the parallel chunks; a transposed (non-contiguous) input too.
        let x = Tensor::randn(&[300, 200], 0.0, 1.0, &mut seeded(3)).with_requires_grad();
        let y = x.relu();
        let expect: Vec<f32> = x.to_vec().iter().map(|&v| v.max(0.0)).collect();
        assert_eq!(y.to_vec(), expect);
        (&y * &y).sum_all().backward();
        let g: Vec<f32> = x.grad().unwrap().iter().copied().collect();
        let expect_g: Vec<f32> = x
            .to_vec()
            .iter()
            .map(|&v| if v > 0.0 { 2.0 * v } else { 0.0 })
            .collect();
        assert_eq!(g, expect_g);
        let t = Tensor::from_data(x.data().clone().reversed_axes());
        assert_eq!(
            t.relu().to_vec(),
            t.to_vec().iter().map(|&v| v.max(0.0)).collect::<Vec<_>>()
        );
    }
}
