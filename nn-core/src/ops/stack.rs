//! Stacking along a new axis.
//!
//! y[…, k, …] = xₖ (k at position a; all xₖ have the same shape);
//! ∂L/∂xₖ = ∂L/∂y[…, k, …].

use ndarray::Axis;

use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

struct StackBackward {
    axis: usize,
}

impl Backward for StackBackward {
    fn name(&self) -> &'static str {
        "stack"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        (0..ctx.inputs.len())
            .map(|k| {
                ctx.needs_grad(k)
                    .then(|| g.index_axis(Axis(self.axis), k).to_owned())
            })
            .collect()
    }
}

impl Tensor {
    /// Stacks same-shape `tensors` along a new axis at position `axis` (PyTorch's
    /// `torch.stack(tensors, dim=axis)`).
    ///
    /// # Panics
    /// If `tensors` is empty, the shapes differ, or `axis > ndim`.
    pub fn stack(tensors: &[Tensor], axis: usize) -> Tensor {
        assert!(!tensors.is_empty(), "stack: no tensors to stack");
        let first = tensors[0].shape();
        assert!(
            tensors.iter().all(|t| t.shape() == first),
            "stack: tensors of shapes {:?} do not all have the same shape",
            tensors
                .iter()
                .map(|t| t.shape().to_vec())
                .collect::<Vec<_>>()
        );
        assert!(
            axis <= first.len(),
            "stack: axis {axis} is out of range for tensors of shape {first:?}"
        );
        let views: Vec<_> = tensors.iter().map(|t| t.data().view()).collect();
        let value = ndarray::stack(Axis(axis), &views).expect("shapes were checked");
        Tensor::from_op(value, tensors.to_vec(), StackBackward { axis })
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward() {
        let a = Tensor::from_vec(vec![1.0, 2.0], &[2]);
        let b = Tensor::from_vec(vec![3.0, 4.0], &[2]);
        let s0 = Tensor::stack(&[a.clone(), b.clone()], 0);
        assert_eq!(s0.shape(), &[2, 2]);
        assert_eq!(s0.to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
        let s1 = Tensor::stack(&[a, b], 1);
        assert_eq!(s1.to_vec(), vec![1.0, 3.0, 2.0, 4.0]);
    }

    #[test]
    #[should_panic(expected = "stack: tensors of shapes [[2], [3]] do not all have the same shape")]
    fn mismatch() {
        Tensor::stack(&[Tensor::zeros(&[2]), Tensor::zeros(&[3])], 0);
    }

    #[test]
    fn gradient() {
        assert_gradients(
            |x| Tensor::stack(&[x[0].clone(), x[1].clone()], 1),
            &[&[2, 3], &[2, 3]],
            1,
        );
    }
}
