//! Sums and means, over all elements or over given axes.
//!
//! s = Σᵢ xᵢ (all elements, or along the reduced axes for each kept index);
//! ∂L/∂xᵢ = ∂L/∂s broadcast back over the reduced axes. The mean divides by the number n of reduced
//! elements: m = s/n, ∂L/∂xᵢ = ∂L/∂m / n.

use ndarray::{Axis, IxDyn};

use super::axes::{normalize_axes, reduced_count, reduced_shape};
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

struct SumAllBackward;

impl Backward for SumAllBackward {
    fn name(&self) -> &'static str {
        "sum_all"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let gv = *g.iter().next().expect("scalar gradient");
        vec![Some(Array::from_elem(IxDyn(ctx.inputs[0].shape()), gv))]
    }
}

/// Backward of a sum or mean over `axes`: the upstream gradient times `scale`, broadcast back.
struct SumBackward {
    axes: Vec<usize>,
    scale: f32,
    name: &'static str,
}

impl Backward for SumBackward {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        if !ctx.needs_grad(0) {
            return vec![None];
        }
        let shape = ctx.inputs[0].shape();
        vec![Some(broadcast_back(g, shape, &self.axes, self.scale))]
    }
}

/// `g` (the gradient of a reduction over `axes`, with or without kept dims) times `scale`,
/// broadcast to `shape`.
pub(crate) fn broadcast_back(g: Array, shape: &[usize], axes: &[usize], scale: f32) -> Array {
    let kept = reduced_shape(shape, axes, true);
    let g = g.into_shape_with_order(IxDyn(&kept)).expect("same size");
    let b = g.broadcast(IxDyn(shape)).expect("kept dims broadcast");
    if scale == 1.0 {
        b.to_owned()
    } else {
        b.mapv(|v| v * scale)
    }
}

/// Σ over `axes` (normalised), output with or without kept dims.
pub(crate) fn sum_axes(x: &crate::tensor::Data, axes: &[usize], keepdim: bool) -> Array {
    let mut s = x.to_owned();
    for &a in axes.iter().rev() {
        s = s.sum_axis(Axis(a));
    }
    s.into_shape_with_order(IxDyn(&reduced_shape(x.shape(), axes, keepdim)))
        .expect("same size")
}

impl Tensor {
    /// The sum of all elements, as a 0-dimensional tensor.
    pub fn sum_all(&self) -> Tensor {
        let value = Array::from_elem(IxDyn(&[]), self.data().sum());
        Tensor::from_op(value, vec![self.clone()], SumAllBackward)
    }

    /// The mean of all elements, as a 0-dimensional tensor (NaN for an empty tensor).
    pub fn mean_all(&self) -> Tensor {
        self.mean(&[], false)
    }

    /// The sum over `axes` (PyTorch's `x.sum(dim=axes, keepdim=keepdim)`); the reduced axes are
    /// kept with size 1 if `keepdim`, removed otherwise. An empty `axes` reduces every axis.
    ///
    /// # Panics
    /// If an axis is out of range or repeated.
    pub fn sum(&self, axes: &[usize], keepdim: bool) -> Tensor {
        let axes = normalize_axes("sum", axes, self.shape());
        let value = sum_axes(self.data(), &axes, keepdim);
        Tensor::from_op(
            value,
            vec![self.clone()],
            SumBackward {
                axes,
                scale: 1.0,
                name: "sum",
            },
        )
    }

    /// The mean over `axes` (PyTorch's `x.mean(dim=axes, keepdim=keepdim)`). An empty `axes`
    /// reduces every axis.
    ///
    /// # Panics
    /// If an axis is out of range or repeated.
    pub fn mean(&self, axes: &[usize], keepdim: bool) -> Tensor {
        let axes = normalize_axes("mean", axes, self.shape());
        let scale = 1.0 / reduced_count(self.shape(), &axes) as f32;
        let mut value = sum_axes(self.data(), &axes, keepdim);
        value.mapv_inplace(|v| v * scale);
        Tensor::from_op(
            value,
            vec![self.clone()],
            SumBackward {
                axes,
                scale,
                name: "mean",
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward() {
        assert_eq!(
            Tensor::from_vec(vec![1.0, 2.0, 3.5], &[3]).sum_all().item(),
            6.5
        );
        let x = Tensor::from_vec((0..6).map(|v| v as f32).collect(), &[2, 3]);
        assert_eq!(x.sum(&[0], false).to_vec(), vec![3.0, 5.0, 7.0]);
        assert_eq!(x.sum(&[1], true).shape(), &[2, 1]);
        assert_eq!(x.sum(&[1], true).to_vec(), vec![3.0, 12.0]);
        assert_eq!(x.sum(&[0, 1], false).shape(), &[] as &[usize]);
        assert_eq!(x.mean(&[1], false).to_vec(), vec![1.0, 4.0]);
        assert_eq!(x.mean_all().item(), 2.5);
        assert_eq!(x.mean(&[], true).shape(), &[1, 1]);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].sum_all(), &[&[3, 4]], 1);
        assert_gradients(|x| x[0].sum(&[1], false), &[&[3, 4]], 2);
        assert_gradients(|x| x[0].sum(&[0, 2], true), &[&[2, 3, 4]], 3);
        assert_gradients(|x| x[0].mean(&[2, 0], false), &[&[2, 3, 4]], 4);
        assert_gradients(|x| x[0].mean_all(), &[&[2, 3]], 5);
    }
}
