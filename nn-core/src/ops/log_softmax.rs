//! Log-softmax along one axis.
//!
//! yᵢ = xᵢ − m − ln Σⱼ e^(xⱼ − m), m = maxⱼ xⱼ (log-sum-exp with the maximum subtracted: no
//! overflow, no log of 0); ∂L/∂xᵢ = ∂L/∂yᵢ − e^(yᵢ)·Σⱼ ∂L/∂yⱼ.

use ndarray::{ArrayViewMut1, Axis, Zip};

use super::axes::check_axis;
use super::softmax::for_each_lane;
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

/// In-place stable log-softmax of one lane.
fn log_softmax_lane(mut lane: ArrayViewMut1<'_, f32>) {
    let m = lane.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let s: f32 = lane.iter().map(|&v| (v - m).exp()).sum();
    let shift = m + s.ln();
    lane.mapv_inplace(|v| v - shift);
}

struct LogSoftmaxBackward {
    axis: usize,
}

impl Backward for LogSoftmaxBackward {
    fn name(&self) -> &'static str {
        "log_softmax"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, mut g: Array) -> Vec<Option<Array>> {
        if !ctx.needs_grad(0) {
            return vec![None];
        }
        let axis = Axis(self.axis);
        Zip::from(g.lanes_mut(axis))
            .and(ctx.output.lanes(axis))
            .for_each(|mut g, y| {
                let s = g.sum();
                Zip::from(&mut g)
                    .and(&y)
                    .for_each(|g, &y| *g -= y.exp() * s);
            });
        vec![Some(g)]
    }
}

impl Tensor {
    /// Log-softmax along `axis` (PyTorch's `F.log_softmax(x, dim=axis)`), computed directly
    /// (more accurate than `softmax(axis).log()`, which underflows to −∞).
    ///
    /// # Panics
    /// If `axis` is out of range.
    pub fn log_softmax(&self, axis: usize) -> Tensor {
        check_axis("log_softmax", axis, self.shape());
        let mut y = self.data().to_owned();
        for_each_lane(&mut y, axis, log_softmax_lane);
        Tensor::from_op(y, vec![self.clone()], LogSoftmaxBackward { axis })
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward_is_stable() {
        let x = Tensor::from_vec(vec![1000.0, 1001.0, 1002.0, -200.0, 0.0, 200.0], &[2, 3]);
        let y = x.log_softmax(1).to_vec();
        let want = [
            -2.407_605_6,
            -1.407_605_6,
            -0.407_605_6,
            -400.0,
            -200.0,
            0.0,
        ];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].log_softmax(1), &[&[3, 4]], 1);
        assert_gradients(|x| x[0].log_softmax(0), &[&[2, 3, 2]], 2);
    }
}
