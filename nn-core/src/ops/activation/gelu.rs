//! Gaussian error linear unit (Hendrycks & Gimpel 2016, "Gaussian Error Linear Units").
//!
//! Exact form: y = x·Φ(x), Φ(x) = ½(1 + erf(x/√2)) the standard normal CDF;
//! ∂L/∂x = ∂L/∂y · (Φ(x) + x·φ(x)), φ(x) = e^(−x²/2)/√(2π).
//!
//! Tanh approximation: y = ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³);
//! ∂L/∂x = ∂L/∂y · (½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²)).
//!
//! The exact form is evaluated in f64 with [`super::erf_f64`]/[`super::erfc_f64`] (Cody's
//! approximation) and rounded once, so it matches PyTorch's `F.gelu` to f32 rounding; the tail
//! x ≪ 0 uses erfc and keeps full relative accuracy.

use serde::{Deserialize, Serialize};

use super::erf::{erf_f64, erfc_f64};
use crate::autograd::{Backward, BackwardCtx};
use crate::ops::elementwise::chain_unary;
use crate::tensor::{Array, Tensor};

/// Which GELU formula to use (PyTorch's `approximate` argument of `F.gelu`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GeluApproximate {
    /// The exact form x·Φ(x) (PyTorch's `approximate='none'`, the default).
    #[default]
    None,
    /// The tanh approximation (PyTorch's `approximate='tanh'`, used by BERT and GPT-2).
    Tanh,
}

const FRAC_1_SQRT_2: f64 = std::f64::consts::FRAC_1_SQRT_2;
/// 1/√(2π).
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
/// √(2/π).
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const TANH_COEF: f32 = 0.044_715;

/// Φ(x), the standard normal CDF, accurate in both tails.
fn normal_cdf(x: f64) -> f64 {
    if x < 0.0 {
        0.5 * erfc_f64(-x * FRAC_1_SQRT_2)
    } else {
        0.5 * (1.0 + erf_f64(x * FRAC_1_SQRT_2))
    }
}

fn gelu_exact(x: f32) -> f32 {
    let x = x as f64;
    (x * normal_cdf(x)) as f32
}

/// Φ(x) + x·φ(x), given the forward output y = x·Φ(x): Φ(x) = y/x away from 0 (y carries Φ to
/// f32 relative precision, including the far negative tail), which saves evaluating erf again.
fn gelu_exact_grad(x: f32, y: f32) -> f32 {
    let x = x as f64;
    let cdf = if x.abs() > 1e-3 {
        y as f64 / x
    } else {
        normal_cdf(x)
    };
    (cdf + x * FRAC_1_SQRT_2PI * (-0.5 * x * x).exp()) as f32
}

fn gelu_tanh(x: f32) -> f32 {
    let u = SQRT_2_OVER_PI * (x + TANH_COEF * x * x * x);
    0.5 * x * (1.0 + u.tanh())
}

fn gelu_tanh_grad(x: f32) -> f32 {
    let u = SQRT_2_OVER_PI * (x + TANH_COEF * x * x * x);
    let t = u.tanh();
    let du = SQRT_2_OVER_PI * (1.0 + 3.0 * TANH_COEF * x * x);
    0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du
}

struct GeluBackward {
    approximate: GeluApproximate,
}

impl Backward for GeluBackward {
    fn name(&self) -> &'static str {
        match self.approximate {
            GeluApproximate::None => "gelu",
            GeluApproximate::Tanh => "gelu_tanh",
        }
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        match self.approximate {
            GeluApproximate::None => chain_unary(ctx, g, gelu_exact_grad),
            GeluApproximate::Tanh => chain_unary(ctx, g, |x, _| gelu_tanh_grad(x)),
        }
    }
}

impl Tensor {
    /// GELU, exact form x·Φ(x) (PyTorch's `F.gelu(x)`).
    pub fn gelu(&self) -> Tensor {
        self.gelu_with(GeluApproximate::None)
    }

    /// GELU, tanh approximation (PyTorch's `F.gelu(x, approximate='tanh')`).
    pub fn gelu_tanh(&self) -> Tensor {
        self.gelu_with(GeluApproximate::Tanh)
    }

    /// GELU with the formula chosen by `approximate` (see [`GeluApproximate`]).
    pub fn gelu_with(&self, approximate: GeluApproximate) -> Tensor {
        let value = match approximate {
            GeluApproximate::None => self.data().mapv(gelu_exact),
            GeluApproximate::Tanh => self.data().mapv(gelu_tanh),
        };
        Tensor::from_op(value, vec![self.clone()], GeluBackward { approximate })
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward() {
        // Reference values from PyTorch 2.x, F.gelu in float64.
        let x = Tensor::from_vec(vec![-3.0, -0.5, 0.0, 1.0, 2.5], &[5]);
        let want = [-0.004_049_694, -0.154_268_77, 0.0, 0.841_344_7, 2.484_475_8];
        for (g, w) in x.gelu().to_vec().iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
        let want = [-0.003_637_392, -0.154_286, 0.0, 0.841_192, 2.484_915_7];
        for (g, w) in x.gelu_tanh().to_vec().iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
        // Far tail: relative accuracy is kept (−10·Φ(−10); PyTorch's 1 + erf form gives −0).
        let t = Tensor::from_vec(vec![-10.0], &[1]).gelu().item();
        assert!((t / -7.619_853e-23 - 1.0).abs() < 1e-5, "{t}");
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].gelu(), &[&[3, 4]], 1);
        assert_gradients(|x| x[0].gelu_tanh(), &[&[3, 4]], 2);
    }
}
