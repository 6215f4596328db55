//! Natural logarithm.
//!
//! y = ln x;  ∂L/∂x = ∂L/∂y / x.  (ln 0 = −∞, ln of a negative number = NaN, as in PyTorch.)

use super::elementwise::chain_unary;
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

struct LogBackward;

impl Backward for LogBackward {
    fn name(&self) -> &'static str {
        "log"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        chain_unary(ctx, g, |x, _| 1.0 / x)
    }
}

impl Tensor {
    /// ln x elementwise.
    pub fn log(&self) -> Tensor {
        Tensor::from_op(self.data().mapv(f32::ln), vec![self.clone()], LogBackward)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::{GradCheckConfig, assert_gradients_at, random_inputs};

    #[test]
    fn forward() {
        let y = Tensor::from_vec(vec![1.0, 0.0, -1.0], &[3]).log().to_vec();
        assert_eq!(y[0], 0.0);
        assert_eq!(y[1], f32::NEG_INFINITY);
        assert!(y[2].is_nan());
    }

    #[test]
    fn gradient() {
        let x = random_inputs(&[&[3, 4]], 1)[0].mapv(|v| v.abs() + 0.2);
        assert_gradients_at(|x| x[0].log(), &[x], &GradCheckConfig::default());
    }
}
