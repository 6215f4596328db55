//! Elementwise multiplication with broadcasting.
//!
//! z = x ⊙ y;  ∂L/∂x = sum_to_shape(∂L/∂z ⊙ y, shape(x)),  ∂L/∂y = sum_to_shape(∂L/∂z ⊙ x, shape(y)).

use super::broadcast::{broadcast_shapes, sum_to_shape};
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

struct MulBackward;

impl Backward for MulBackward {
    fn name(&self) -> &'static str {
        "mul"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let (x, y) = (&ctx.inputs[0], &ctx.inputs[1]);
        let gx = ctx
            .needs_grad(0)
            .then(|| sum_to_shape(&g * y.data(), x.shape()));
        let gy = ctx
            .needs_grad(1)
            .then(|| sum_to_shape(&g * x.data(), y.shape()));
        vec![gx, gy]
    }
}

impl Tensor {
    /// Elementwise `self ⊙ other` with NumPy broadcasting.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    pub fn mul(&self, other: &Tensor) -> Tensor {
        broadcast_shapes("mul", self.shape(), other.shape());
        let value = self.data() * other.data();
        Tensor::from_op(value, vec![self.clone(), other.clone()], MulBackward)
    }
}

super::impl_binary_operator!(Mul, mul);

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward_broadcasts() {
        let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let b = Tensor::from_vec(vec![10.0, 20.0], &[2, 1]);
        assert_eq!((&a * &b).to_vec(), vec![10.0, 20.0, 60.0, 80.0]);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].mul(&x[1]), &[&[3, 4], &[3, 4]], 1);
        assert_gradients(|x| x[0].mul(&x[1]), &[&[2, 3], &[1, 3]], 2);
        // A value used twice: d(x²)/dx = 2x.
        assert_gradients(|x| x[0].mul(&x[0]), &[&[5]], 3);
    }
}
