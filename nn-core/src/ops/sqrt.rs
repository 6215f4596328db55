//! Square root.
//!
//! y = √x;  ∂L/∂x = ∂L/∂y / (2y).  (At x = 0 the gradient is +∞, as in PyTorch.)

use super::elementwise::chain_unary;
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

struct SqrtBackward;

impl Backward for SqrtBackward {
    fn name(&self) -> &'static str {
        "sqrt"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        chain_unary(ctx, g, |_, y| 0.5 / y)
    }
}

impl Tensor {
    /// √x elementwise (NaN for x < 0).
    pub fn sqrt(&self) -> Tensor {
        Tensor::from_op(
            self.data().mapv(f32::sqrt),
            vec![self.clone()],
            SqrtBackward,
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::{GradCheckConfig, assert_gradients_at, random_inputs};

    #[test]
    fn forward() {
        assert_eq!(
            Tensor::from_vec(vec![4.0, 0.0], &[2]).sqrt().to_vec(),
            vec![2.0, 0.0]
        );
    }

    #[test]
    fn gradient() {
        let x = random_inputs(&[&[3, 4]], 1)[0].mapv(|v| v.abs() + 0.2);
        assert_gradients_at(|x| x[0].sqrt(), &[x], &GradCheckConfig::default());
    }
}
