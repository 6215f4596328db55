//! Elementwise subtraction with broadcasting.
//!
//! z = x − y;  ∂L/∂x = sum_to_shape(∂L/∂z, shape(x)),  ∂L/∂y = −sum_to_shape(∂L/∂z, shape(y)).

use super::broadcast::{broadcast_shapes, sum_to_shape};
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

struct SubBackward;

impl Backward for SubBackward {
    fn name(&self) -> &'static str {
        "sub"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let gy = ctx.needs_grad(1).then(|| {
            let mut gy = sum_to_shape(g.clone(), ctx.inputs[1].shape());
            gy.mapv_inplace(|v| -v);
            gy
        });
        let gx = ctx
            .needs_grad(0)
            .then(|| sum_to_shape(g, ctx.inputs[0].shape()));
        vec![gx, gy]
    }
}

impl Tensor {
    /// Elementwise `self − other` with NumPy broadcasting.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    pub fn sub(&self, other: &Tensor) -> Tensor {
        broadcast_shapes("sub", self.shape(), other.shape());
        let value = self.data() - other.data();
        Tensor::from_op(value, vec![self.clone(), other.clone()], SubBackward)
    }
}

super::impl_binary_operator!(Sub, sub);

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward_broadcasts() {
        let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let b = Tensor::from_vec(vec![10.0, 20.0], &[2]);
        assert_eq!((&a - &b).to_vec(), vec![-9.0, -18.0, -7.0, -16.0]);
        assert_eq!((b - a).to_vec(), vec![9.0, 18.0, 7.0, 16.0]);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].sub(&x[1]), &[&[3, 4], &[4]], 1);
        assert_gradients(|x| x[0].sub(&x[1]), &[&[2, 1, 3], &[4, 1]], 2);
        assert_gradients(|x| x[0].sub(&x[1]), &[&[], &[2, 2]], 3);
    }
}
