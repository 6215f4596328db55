//! Logistic sigmoid.
//!
//! y = σ(x) = 1 / (1 + e^(−x));  ∂L/∂x = ∂L/∂y · y(1 − y).
//!
//! Evaluated without overflow as 1/(1 + e^(−x)) for x ≥ 0 and e^x/(1 + e^x) for x < 0.

use crate::autograd::{Backward, BackwardCtx};
use crate::ops::elementwise::chain_unary;
use crate::tensor::{Array, Tensor};

/// σ(x) for one value, stable for large |x|.
pub(crate) fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

struct SigmoidBackward;

impl Backward for SigmoidBackward {
    fn name(&self) -> &'static str {
        "sigmoid"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        chain_unary(ctx, g, |_, y| y * (1.0 - y))
    }
}

impl Tensor {
    /// The logistic sigmoid σ(x) = 1/(1 + e^(−x)) elementwise (PyTorch's `torch.sigmoid`).
    pub fn sigmoid(&self) -> Tensor {
        let value = self.data().mapv(sigmoid);
        Tensor::from_op(value, vec![self.clone()], SigmoidBackward)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward_is_stable() {
        let x = Tensor::from_vec(vec![-200.0, -1.0, 0.0, 1.0, 200.0], &[5]);
        let y = x.sigmoid().to_vec();
        assert_eq!(y[0], 0.0);
        assert!((y[1] - 0.268_941_43).abs() < 1e-7);
        assert_eq!(y[2], 0.5);
        assert!((y[3] - 0.731_058_6).abs() < 1e-7);
        assert_eq!(y[4], 1.0);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].sigmoid(), &[&[3, 4]], 1);
    }
}
