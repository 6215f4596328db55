//! Hyperbolic tangent.
//!
//! y = tanh(x) = (e^x − e^(−x)) / (e^x + e^(−x));  ∂L/∂x = ∂L/∂y · (1 − y²).

use crate::autograd::{Backward, BackwardCtx};
use crate::ops::elementwise::chain_unary;
use crate::tensor::{Array, Tensor};

struct TanhBackward;

impl Backward for TanhBackward {
    fn name(&self) -> &'static str {
        "tanh"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        chain_unary(ctx, g, |_, y| 1.0 - y * y)
    }
}

impl Tensor {
    /// The hyperbolic tangent elementwise (PyTorch's `torch.tanh`).
    pub fn tanh(&self) -> Tensor {
        let value = self.data().mapv(f32::tanh);
        Tensor::from_op(value, vec![self.clone()], TanhBackward)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward() {
        let y = Tensor::from_vec(vec![-50.0, 0.0, 0.5], &[3])
            .tanh()
            .to_vec();
        assert_eq!(y[0], -1.0);
        assert_eq!(y[1], 0.0);
        assert!((y[2] - 0.462_117_16).abs() < 1e-7);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].tanh(), &[&[3, 4]], 1);
    }
}
