//! Axis permutation and transposition.
//!
//! y = x with axes reordered: y[i_{σ(0)}, …] = x[i_0, …], i.e. `y.shape[k] = x.shape[σ(k)]`;
//! ∂L/∂x = ∂L/∂y permuted back by σ⁻¹.
//!
//! Unlike PyTorch's strided views, the result is a contiguous (row-major) copy: every tensor
//! value in this crate is then cheap to iterate in memory order, and a following op never pays for
//! strided access. The copy costs one pass over the data.

use ndarray::IxDyn;

use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

struct PermuteBackward {
    inverse: Vec<usize>,
}

impl Backward for PermuteBackward {
    fn name(&self) -> &'static str {
        "permute"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        if !ctx.needs_grad(0) {
            return vec![None];
        }
        let g = g.permuted_axes(IxDyn(&self.inverse));
        vec![Some(g.as_standard_layout().into_owned())]
    }
}

impl Tensor {
    /// Reorders the axes: axis `k` of the result is axis `axes[k]` of `self` (PyTorch's
    /// `x.permute(*axes)`).
    ///
    /// # Panics
    /// If `axes` is not a permutation of `0..ndim`.
    pub fn permute(&self, axes: &[usize]) -> Tensor {
        let n = self.ndim();
        let mut seen = vec![false; n];
        let valid = axes.len() == n
            && axes
                .iter()
                .all(|&a| a < n && !std::mem::replace(&mut seen[a], true));
        assert!(
            valid,
            "permute: {axes:?} is not a permutation of the axes of a tensor of shape {:?}",
            self.shape()
        );
        let mut inverse = vec![0; n];
        for (k, &a) in axes.iter().enumerate() {
            inverse[a] = k;
        }
        let value = self
            .data()
            .view()
            .permuted_axes(IxDyn(axes))
            .as_standard_layout()
            .into_owned();
        Tensor::from_op(value, vec![self.clone()], PermuteBackward { inverse })
    }

    /// Swaps axes `a` and `b` (PyTorch's `x.transpose(a, b)`).
    ///
    /// # Panics
    /// If an axis is out of range.
    pub fn transpose(&self, a: usize, b: usize) -> Tensor {
        let n = self.ndim();
        assert!(
            a < n && b < n,
            "transpose: axes ({a}, {b}) are out of range for a tensor of shape {:?}",
            self.shape()
        );
        let mut axes: Vec<usize> = (0..n).collect();
        axes.swap(a, b);
        self.permute(&axes)
    }

    /// The transpose of a 2-d tensor (PyTorch's `x.t()`).
    ///
    /// # Panics
    /// If the tensor is not 2-d.
    pub fn t(&self) -> Tensor {
        assert_eq!(
            self.ndim(),
            2,
            "t: expected a 2-d tensor, got shape {:?}",
            self.shape()
        );
        self.transpose(0, 1)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward() {
        let x = Tensor::from_vec((0..6).map(|v| v as f32).collect(), &[2, 3]);
        let y = x.t();
        assert_eq!(y.shape(), &[3, 2]);
        assert_eq!(y.to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert!(y.data().is_standard_layout());
        let z = Tensor::zeros(&[2, 3, 4]).permute(&[2, 0, 1]);
        assert_eq!(z.shape(), &[4, 2, 3]);
    }

    #[test]
    #[should_panic(expected = "permute: [0, 0] is not a permutation")]
    fn invalid_permutation() {
        Tensor::zeros(&[2, 3]).permute(&[0, 0]);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].transpose(0, 1), &[&[3, 4]], 1);
        assert_gradients(|x| x[0].permute(&[2, 0, 1]), &[&[2, 3, 4]], 2);
    }
}
