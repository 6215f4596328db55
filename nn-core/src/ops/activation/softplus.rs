//! Softplus, a smooth ReLU (Dugas et al. 2001; PyTorch's `F.softplus(x, beta, threshold)`).
//!
//! y = (1/β)·ln(1 + e^(βx)), and y = x where βx > threshold (the linear regime, for numerical
//! stability, as PyTorch); ∂L/∂x = ∂L/∂y · σ(βx), and ∂L/∂y where βx > threshold.

use super::sigmoid::sigmoid;
use crate::autograd::{Backward, BackwardCtx};
use crate::ops::elementwise::chain_unary;
use crate::tensor::{Array, Tensor};

struct SoftplusBackward {
    beta: f32,
    threshold: f32,
}

impl Backward for SoftplusBackward {
    fn name(&self) -> &'static str {
        "softplus"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let (beta, threshold) = (self.beta, self.threshold);
        chain_unary(ctx, g, |x, _| {
            let z = beta * x;
            if z > threshold { 1.0 } else { sigmoid(z) }
        })
    }
}

impl Tensor {
    /// Softplus with PyTorch's defaults β = 1, threshold = 20.
    pub fn softplus(&self) -> Tensor {
        self.softplus_with(1.0, 20.0)
    }

    /// Softplus (1/β)·ln(1 + e^(βx)), reverting to the identity where βx > `threshold`
    /// (PyTorch's `F.softplus(x, beta, threshold)`).
    pub fn softplus_with(&self, beta: f32, threshold: f32) -> Tensor {
        let value = self.data().mapv(|x| {
            let z = beta * x;
            if z > threshold {
                x
            } else {
                // ln(1 + eᶻ) = max(z, 0) + ln(1 + e^(−|z|)), exact for z ≪ 0 too.
                (z.max(0.0) + (-z.abs()).exp().ln_1p()) / beta
            }
        });
        Tensor::from_op(
            value,
            vec![self.clone()],
            SoftplusBackward { beta, threshold },
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward() {
        let x = Tensor::from_vec(vec![-50.0, 0.0, 1.0, 30.0], &[4]);
        let y = x.softplus().to_vec();
        assert!((y[0] / 1.928_749_8e-22 - 1.0).abs() < 1e-6, "{}", y[0]);
        assert!((y[1] - std::f32::consts::LN_2).abs() < 1e-7);
        assert!((y[2] - 1.313_261_7).abs() < 1e-6);
        assert_eq!(y[3], 30.0);
        let y = x.softplus_with(2.0, 5.0).to_vec();
        assert!((y[2] - 1.063_464_3).abs() < 1e-6, "{}", y[2]);
        assert_eq!(y[3], 30.0);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].softplus(), &[&[3, 4]], 1);
        assert_gradients(|x| x[0].softplus_with(2.0, 20.0), &[&[3, 4]], 2);
    }
}
