//! Scaled exponential linear unit (Klambauer et al. 2017, "Self-Normalizing Neural Networks").
//!
//! y = λ·x if x > 0 else λ·α(e^x − 1), with the fixed constants α ≈ 1.6733 and λ ≈ 1.0507 that
//! make zero-mean unit-variance activations a fixed point;
//! ∂L/∂x = ∂L/∂y · (λ if x > 0 else λα·e^x).

use super::elu::scaled_elu;
use crate::tensor::Tensor;

/// SELU's α = 1.6732632423543772… (PyTorch's value, rounded to f32).
pub const SELU_ALPHA: f32 = 1.673_263_2;
/// SELU's scale λ = 1.0507009873554805… (PyTorch's value, rounded to f32).
pub const SELU_SCALE: f32 = 1.050_701;

impl Tensor {
    /// SELU, `λ·elu(x, α)` with [`SELU_ALPHA`] and [`SELU_SCALE`] (PyTorch's `F.selu`).
    pub fn selu(&self) -> Tensor {
        scaled_elu(self, SELU_ALPHA, SELU_SCALE, "selu")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward() {
        let y = Tensor::from_vec(vec![-1.0, 2.0], &[2]).selu().to_vec();
        assert!((y[0] - (-1.111_330_7)).abs() < 1e-6, "{}", y[0]);
        assert!((y[1] - 2.101_402).abs() < 1e-6);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].selu(), &[&[3, 4]], 1);
    }
}
