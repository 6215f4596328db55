//! Concatenation along an existing axis.
//!
//! y = [x₁, x₂, …] along axis a (the other axes must agree);
//! ∂L/∂xₖ = the slice of ∂L/∂y along a at xₖ's offset.

use ndarray::{Axis, Slice};

use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

struct ConcatBackward {
    axis: usize,
}

impl Backward for ConcatBackward {
    fn name(&self) -> &'static str {
        "concat"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let mut offset = 0;
        ctx.inputs
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let len = x.shape()[self.axis];
                let gi = ctx.needs_grad(i).then(|| {
                    g.slice_axis(
                        Axis(self.axis),
                        Slice::from(offset as isize..(offset + len) as isize),
                    )
                    .to_owned()
                });
                offset += len;
                gi
            })
            .collect()
    }
}

impl Tensor {
    /// Concatenates `tensors` along `axis` (PyTorch's `torch.cat(tensors, dim=axis)`).
    ///
    /// # Panics
    /// If `tensors` is empty, the ranks differ, `axis` is out of range, or the sizes of another
    /// axis differ; the message names the shapes.
    pub fn concat(tensors: &[Tensor], axis: usize) -> Tensor {
        assert!(!tensors.is_empty(), "concat: no tensors to concatenate");
        let first = tensors[0].shape();
        super::axes::check_axis("concat", axis, first);
        for t in tensors {
            let s = t.shape();
            let compatible = s.len() == first.len()
                && s.iter()
                    .zip(first)
                    .enumerate()
                    .all(|(k, (a, b))| k == axis || a == b);
            assert!(
                compatible,
                "concat: shapes {:?} cannot be concatenated along axis {axis}",
                tensors
                    .iter()
                    .map(|t| t.shape().to_vec())
                    .collect::<Vec<_>>()
            );
        }
        let views: Vec<_> = tensors.iter().map(|t| t.data().view()).collect();
        let value = ndarray::concatenate(Axis(axis), &views).expect("shapes were checked");
        Tensor::from_op(value, tensors.to_vec(), ConcatBackward { axis })
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward() {
        let a = Tensor::from_vec(vec![1.0, 2.0], &[1, 2]);
        let b = Tensor::from_vec(vec![3.0, 4.0, 5.0, 6.0], &[2, 2]);
        let c = Tensor::concat(&[a.clone(), b], 0);
        assert_eq!(c.shape(), &[3, 2]);
        assert_eq!(c.to_vec(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let d = Tensor::concat(&[a.clone(), a], 1);
        assert_eq!(d.to_vec(), vec![1.0, 2.0, 1.0, 2.0]);
    }

    #[test]
    #[should_panic(
        expected = "concat: shapes [[1, 2], [2, 3]] cannot be concatenated along axis 0"
    )]
    fn mismatch() {
        Tensor::concat(&[Tensor::zeros(&[1, 2]), Tensor::zeros(&[2, 3])], 0);
    }

    #[test]
    fn gradient() {
        assert_gradients(
            |x| Tensor::concat(&[x[0].clone(), x[1].clone()], 1),
            &[&[2, 3], &[2, 2]],
            1,
        );
        // The same tensor twice accumulates both slices.
        assert_gradients(
            |x| Tensor::concat(&[x[0].clone(), x[1].clone(), x[0].clone()], 0),
            &[&[1, 3], &[2, 3]],
            2,
        );
    }
}
