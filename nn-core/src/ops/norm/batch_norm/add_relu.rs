//! Batch norm, residual addition and ReLU in one op, for the end of a residual block:
//! `z = relu(BN(x) + s)` on channels-last inputs.
//!
//! Forward: the statistics (and the running-statistics update) of [`Tensor::batch_norm`], then
//! one pass `z = relu(fma(scale, x, shift) + s)`, the same roundings as BN's affine map followed
//! by [`Tensor::add_relu`]; BN's output is never stored.
//!
//! Backward (inputs `[x, γ?, β?, s]`): `∂L/∂(BN(x) + s) = g·𝟙[z > 0]` is written over `g` block
//! by block, each block's batch-norm sums taken while it is in cache; then dx goes to a new
//! buffer, and the masked `g` itself is the gradient of `s`. The block partition and the f32/f64
//! accumulation order are those of the separate ops, so every value is bit-identical to them.

use rayon::prelude::*;

use super::super::Moments;
use super::super::channels_last::{self, ROWS, Then};
use super::{BatchNormBackward, BatchNormOptions, RunningStats, channel_values, ncl};
use crate::autograd::{Backward, BackwardCtx};
use crate::ops::layout;
use crate::simd::{Isa, LANES, Simd, dispatch};
use crate::tensor::{Array, Tensor};

impl Tensor {
    /// `relu(batch_norm(self) + s)` in one op: the values and gradients of
    /// [`Tensor::batch_norm_with_moments`] (without ReLU) followed by [`Tensor::add_relu`], bit
    /// for bit, with two passes over memory fewer forward and backward. `moments` as for
    /// [`Tensor::batch_norm_with_moments`].
    ///
    /// # Panics
    /// As [`Tensor::batch_norm`]; also if `self` and `s` are not both channels-last of the same
    /// shape.
    pub(crate) fn batch_norm_add_relu(
        &self,
        (weight, bias): (Option<&Tensor>, Option<&Tensor>),
        running: Option<RunningStats<'_>>,
        o: BatchNormOptions,
        moments: Option<Vec<Moments>>,
        s: &Tensor,
    ) -> Tensor {
        assert!(
            layout::is_channels_last(self.data())
                && layout::is_channels_last(s.data())
                && s.shape() == self.shape(),
            "batch_norm_add_relu: expected two channels-last inputs of the same shape, got {:?} \
             (channels-last {}) and {:?} (channels-last {})",
            self.shape(),
            self.is_channels_last(),
            s.shape(),
            s.is_channels_last()
        );
        let (x, channels_last) = self.batch_norm_input();
        let st = self.batch_norm_statistics(&x, channels_last, (weight, bias), running, o, moments);
        let sv = s
            .data()
            .as_slice_memory_order()
            .expect("channels-last is contiguous");
        let z = channels_last::affine(&x, st.c(), &st.scale, &st.shift, Then::AddRelu(sv));
        let z = layout::array_in(layout::Format::ChannelsLast, self.shape(), z);
        let mut inputs = vec![self.clone()];
        inputs.extend(weight.cloned());
        inputs.extend(bias.cloned());
        inputs.push(s.clone());
        let bn = st.into_backward(o.training, (weight, bias), false, true);
        Tensor::from_op(z, inputs, BatchNormAddReluBackward(bn))
    }
}

/// The batch norm's backward (without ReLU, channels-last), after the mask of the ReLU.
struct BatchNormAddReluBackward(BatchNormBackward);

impl Backward for BatchNormAddReluBackward {
    fn name(&self) -> &'static str {
        "batch_norm_add_relu"
    }

    fn backward(&self, ctx: &BackwardCtx<'_>, grad: Array) -> Vec<Option<Array>> {
        let bn = &self.0;
        let shape = ctx.inputs[0].shape().to_vec();
        let (n, c, l) = ncl("batch_norm_add_relu", &shape);
        let gamma = channel_values(bn.has_weight.then(|| &ctx.inputs[1]), c, 1.0);
        let x = ctx.inputs[0]
            .data()
            .as_slice_memory_order()
            .expect("channels-last is contiguous");
        let z = ctx
            .output
            .as_slice_memory_order()
            .expect("the output is channels-last");
        let mut g = layout::into_channels_last(grad);
        let gs = g.as_slice_memory_order_mut().expect("channels-last");
        let sums = masked_grad_sums(x, gs, z, c, &bn.mean);
        let dx = ctx.needs_grad(0).then(|| {
            let coef = bn.coefficients(&gamma, &sums, (n * l) as f64);
            let mut dx = crate::buffer_pool::take(x.len()); // every element is written
            channels_last::input_grad_into(x, gs, &mut dx, c, &coef);
            layout::array_in(layout::Format::ChannelsLast, &shape, dx)
        });
        let mut out = bn.outputs(ctx, dx, &sums);
        // The masked upstream gradient is the residual input's gradient, as it is.
        if ctx.needs_grad(ctx.inputs.len() - 1) {
            out.push(Some(g));
        } else {
            crate::buffer_pool::recycle(g);
            out.push(None);
        }
        out
    }
}

/// `g ← g·𝟙[z > 0]` (ReLU's gradient from its output, as `relu_grad`).
#[inline(always)]
fn mask<S: Simd>(g: &mut [f32], z: &[f32]) {
    assert_eq!(g.len(), z.len());
    let whole = g.len() - g.len() % LANES;
    for i in (0..whole).step_by(LANES) {
        // SAFETY: i + 16 ≤ len of g and z.
        unsafe {
            let p = g.as_mut_ptr().add(i);
            S::store(p, S::mask_pos(S::load(p), S::load(z.as_ptr().add(i))));
        }
    }
    for (g, &z) in g[whole..].iter_mut().zip(&z[whole..]) {
        *g = crate::ops::relu::relu_grad(*g, z);
    }
}

dispatch!(fn mask_v(g: &mut [f32], z: &[f32]) = mask);

/// Per channel (Σ dy, Σ dy·(x − mean[ch])) with dy = g·𝟙[z > 0], which is written over `g`:
/// block by block (the blocks of [`channels_last::grad_sums`]), each masked and then summed while
/// it is in cache.
fn masked_grad_sums(
    x: &[f32],
    g: &mut [f32],
    z: &[f32],
    c: usize,
    mean: &[f32],
) -> Vec<(f64, f64)> {
    assert!(g.len() == x.len() && z.len() == x.len());
    let isa = Isa::detect();
    let block = |(b, gb): (usize, &mut [f32])| {
        let r = b * ROWS * c..b * ROWS * c + gb.len();
        mask_v(isa, gb, &z[r.clone()]);
        channels_last::block_sums(isa, (&x[r], gb), None, c, mean)
    };
    let per_block: Vec<(Vec<f32>, Vec<f32>)> = if g.len() > ROWS * c {
        g.par_chunks_mut(ROWS * c).enumerate().map(block).collect()
    } else {
        g.chunks_mut(ROWS * c).enumerate().map(block).collect()
    };
    channels_last::total_sums(per_block, c)
}

#[cfg(test)]
mod tests {
    use crate::gradcheck::assert_gradients;
    use crate::ops::BatchNormOptions;

    /// Finite-difference gradients of x, γ, β and s, on the scalar (C = 3) and the vector
    /// (C = 16) kernels. The seeds keep the finite differences away from the ReLU's kink.
    #[test]
    fn gradients() {
        let train = BatchNormOptions::default();
        for (c, seed) in [(3, 21), (16, 23)] {
            assert_gradients(
                |t| {
                    let (x, s) = (t[0].to_channels_last(), t[3].to_channels_last());
                    x.batch_norm_add_relu((Some(&t[1]), Some(&t[2])), None, train, None, &s)
                },
                &[&[2, c, 2, 3], &[c], &[c], &[2, c, 2, 3]],
                seed,
            );
        }
    }
}
