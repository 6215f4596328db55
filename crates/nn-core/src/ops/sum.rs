//! Sum of all elements.
//!
//! s = Σᵢ xᵢ;  ∂L/∂xᵢ = ∂L/∂s.

use ndarray::IxDyn;

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

impl Tensor {
    /// The sum of all elements, as a 0-dimensional tensor.
    pub fn sum_all(&self) -> Tensor {
        let value = Array::from_elem(IxDyn(&[]), self.data().sum());
        Tensor::from_op(value, vec![self.clone()], SumAllBackward)
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
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].sum_all(), &[&[3, 4]], 1);
    }
}
