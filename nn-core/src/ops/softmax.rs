//! Softmax along one axis.
//!
//! yᵢ = e^(xᵢ − m) / Σⱼ e^(xⱼ − m) along the axis, m = maxⱼ xⱼ (subtracting the maximum makes the
//! exponentials overflow-free without changing the result);
//! ∂L/∂xᵢ = yᵢ·(∂L/∂yᵢ − Σⱼ ∂L/∂yⱼ·yⱼ).

use ndarray::{ArrayViewMut1, Axis, Zip};

use super::axes::check_axis;
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

/// Above this many elements, lanes are processed in parallel (each lane on one thread, so the
/// result does not depend on the number of threads).
pub(crate) const PARALLEL_LEN: usize = 1 << 15;

/// Applies `f` to every lane of `a` along `axis`, in parallel for large arrays.
pub(crate) fn for_each_lane(
    a: &mut Array,
    axis: usize,
    f: impl Fn(ArrayViewMut1<'_, f32>) + Sync + Send,
) {
    let parallel = a.len() >= PARALLEL_LEN;
    let lanes = Zip::from(a.lanes_mut(Axis(axis)));
    if parallel {
        lanes.par_for_each(f);
    } else {
        lanes.for_each(f);
    }
}

/// In-place stable softmax of one lane.
pub(crate) fn softmax_lane(mut lane: ArrayViewMut1<'_, f32>) {
    let m = lane.fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut s = 0.0;
    lane.mapv_inplace(|v| {
        let e = (v - m).exp();
        s += e;
        e
    });
    let inv = 1.0 / s;
    lane.mapv_inplace(|e| e * inv);
}

struct SoftmaxBackward {
    axis: usize,
}

impl Backward for SoftmaxBackward {
    fn name(&self) -> &'static str {
        "softmax"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, mut g: Array) -> Vec<Option<Array>> {
        if !ctx.needs_grad(0) {
            return vec![None];
        }
        let axis = Axis(self.axis);
        Zip::from(g.lanes_mut(axis))
            .and(ctx.output.lanes(axis))
            .for_each(|mut g, y| {
                let dot = g.dot(&y);
                Zip::from(&mut g)
                    .and(&y)
                    .for_each(|g, &y| *g = y * (*g - dot));
            });
        vec![Some(g)]
    }
}

impl Tensor {
    /// Softmax along `axis` (PyTorch's `F.softmax(x, dim=axis)`): every lane along the axis becomes
    /// a probability vector.
    ///
    /// # Panics
    /// If `axis` is out of range.
    pub fn softmax(&self, axis: usize) -> Tensor {
        check_axis("softmax", axis, self.shape());
        let mut y = self.data().to_owned();
        for_each_lane(&mut y, axis, softmax_lane);
        Tensor::from_op(y, vec![self.clone()], SoftmaxBackward { axis })
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward_is_stable_and_normalised() {
        let x = Tensor::from_vec(vec![1000.0, 1001.0, 1002.0, -5.0, 0.0, 5.0], &[2, 3]);
        let y = x.softmax(1).to_vec();
        let want = [0.090_030_57, 0.244_728_48, 0.665_240_94];
        for (a, b) in y[..3].iter().zip(want) {
            assert!((a - b).abs() < 1e-6);
        }
        assert!((y[3..].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let y0 = x.softmax(0).to_vec();
        assert!((y0[0] + y0[3] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].softmax(1), &[&[3, 4]], 1);
        assert_gradients(|x| x[0].softmax(0), &[&[3, 4]], 2);
        assert_gradients(|x| x[0].softmax(1), &[&[2, 3, 2]], 3);
    }
}
