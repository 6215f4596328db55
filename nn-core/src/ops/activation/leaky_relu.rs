//! Leaky rectified linear unit (Maas, Hannun & Ng 2013).
//!
//! y = x if x > 0 else a·x;  ∂L/∂x = ∂L/∂y · (1 if x > 0 else a).
//!
//! The derivative at 0 is `a`, as in PyTorch.

use crate::autograd::{Backward, BackwardCtx};
use crate::ops::elementwise::chain_unary;
use crate::tensor::{Array, Tensor};

struct LeakyReluBackward {
    slope: f32,
}

impl Backward for LeakyReluBackward {
    fn name(&self) -> &'static str {
        "leaky_relu"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let a = self.slope;
        chain_unary(ctx, g, |x, _| if x > 0.0 { 1.0 } else { a })
    }
}

impl Tensor {
    /// Leaky ReLU with negative slope `slope`: `x` for x > 0, `slope·x` otherwise (PyTorch's
    /// `F.leaky_relu(x, negative_slope)`, whose default slope is 0.01).
    pub fn leaky_relu(&self, slope: f32) -> Tensor {
        let value = self.data().mapv(|x| if x > 0.0 { x } else { slope * x });
        Tensor::from_op(value, vec![self.clone()], LeakyReluBackward { slope })
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward() {
        let x = Tensor::from_vec(vec![-2.0, 0.0, 3.0], &[3]);
        assert_eq!(x.leaky_relu(0.1).to_vec(), vec![-0.2, 0.0, 3.0]);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].leaky_relu(0.01), &[&[3, 4]], 1);
        assert_gradients(|x| x[0].leaky_relu(0.3), &[&[3, 4]], 2);
    }
}
