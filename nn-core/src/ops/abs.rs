//! Absolute value.
//!
//! y = |x|;  ∂L/∂x = ∂L/∂y · sign(x), with sign(0) = 0 (PyTorch's subgradient).

use super::elementwise::chain_unary;
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

struct AbsBackward;

impl Backward for AbsBackward {
    fn name(&self) -> &'static str {
        "abs"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        chain_unary(ctx, g, |x, _| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        })
    }
}

impl Tensor {
    /// |x| elementwise.
    pub fn abs(&self) -> Tensor {
        Tensor::from_op(self.data().mapv(f32::abs), vec![self.clone()], AbsBackward)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward_and_subgradient_at_zero() {
        let x = Tensor::from_vec(vec![-2.0, 0.0, 3.0], &[3]).with_requires_grad();
        let y = x.abs();
        assert_eq!(y.to_vec(), vec![2.0, 0.0, 3.0]);
        y.sum_all().backward();
        assert_eq!(x.grad().unwrap().as_slice().unwrap(), &[-1.0, 0.0, 1.0]);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].abs(), &[&[3, 4]], 1);
    }
}
