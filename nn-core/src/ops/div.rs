//! Elementwise division with broadcasting.
//!
//! z = x / y;  ∂L/∂x = sum_to_shape(∂L/∂z / y, shape(x)),
//! ∂L/∂y = −sum_to_shape(∂L/∂z · x / y², shape(y)) = −sum_to_shape(∂L/∂z · z / y, shape(y)).

use super::broadcast::{broadcast_shapes, sum_to_shape};
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

struct DivBackward;

impl Backward for DivBackward {
    fn name(&self) -> &'static str {
        "div"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let (x, y) = (&ctx.inputs[0], &ctx.inputs[1]);
        let gy = ctx.needs_grad(1).then(|| {
            let x_over_y2 = x.data() / &(y.data() * y.data());
            sum_to_shape(-(&g * &x_over_y2), y.shape())
        });
        let gx = ctx
            .needs_grad(0)
            .then(|| sum_to_shape(g / y.data(), x.shape()));
        vec![gx, gy]
    }
}

impl Tensor {
    /// Elementwise `self / other` with NumPy broadcasting (IEEE semantics: x/0 = ±∞ or NaN).
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    pub fn div(&self, other: &Tensor) -> Tensor {
        broadcast_shapes("div", self.shape(), other.shape());
        let value = self.data() / other.data();
        Tensor::from_op(value, vec![self.clone(), other.clone()], DivBackward)
    }
}

super::impl_binary_operator!(Div, div);

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward_broadcasts() {
        let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let b = Tensor::from_vec(vec![2.0, 4.0], &[2, 1]);
        assert_eq!((&a / &b).to_vec(), vec![0.5, 1.0, 0.75, 1.0]);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].div(&x[1]), &[&[3, 4], &[3, 4]], 1);
        assert_gradients(|x| x[0].div(&x[1]), &[&[3, 4], &[4]], 2);
        assert_gradients(|x| x[0].div(&x[1]), &[&[3, 1], &[1, 4]], 3);
        // A value used as numerator and (shifted) denominator.
        assert_gradients(|x| x[0].div(&x[0].add_scalar(2.0)), &[&[5]], 4);
    }
}
