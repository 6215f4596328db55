//! Exponential linear unit (Clevert, Unterthiner & Hochreiter 2016, "Fast and Accurate Deep
//! Network Learning by Exponential Linear Units").
//!
//! y = x if x > 0 else α(e^x − 1);  ∂L/∂x = ∂L/∂y · (1 if x > 0 else α·e^x).

use crate::autograd::{Backward, BackwardCtx};
use crate::ops::elementwise::chain_unary;
use crate::tensor::{Array, Tensor};

/// ELU scaled by `scale`: scale·x for x > 0, scale·α·(e^x − 1) otherwise (shared with SELU).
pub(crate) fn scaled_elu(x: &Tensor, alpha: f32, scale: f32, name: &'static str) -> Tensor {
    let value = x.data().mapv(|v| {
        if v > 0.0 {
            scale * v
        } else {
            scale * alpha * v.exp_m1()
        }
    });
    Tensor::from_op(value, vec![x.clone()], EluBackward { alpha, scale, name })
}

struct EluBackward {
    alpha: f32,
    scale: f32,
    name: &'static str,
}

impl Backward for EluBackward {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let (alpha, scale) = (self.alpha, self.scale);
        chain_unary(ctx, g, |x, _| {
            if x > 0.0 {
                scale
            } else {
                scale * alpha * x.exp()
            }
        })
    }
}

impl Tensor {
    /// ELU with parameter `alpha`: `x` for x > 0, `α(eˣ − 1)` otherwise (PyTorch's
    /// `F.elu(x, alpha)`, default α = 1).
    pub fn elu(&self, alpha: f32) -> Tensor {
        scaled_elu(self, alpha, 1.0, "elu")
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward() {
        let y = Tensor::from_vec(vec![-1.0, 0.0, 2.0], &[3])
            .elu(1.0)
            .to_vec();
        assert!((y[0] - (-0.632_120_56)).abs() < 1e-7);
        assert_eq!(&y[1..], &[0.0, 2.0]);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].elu(1.0), &[&[3, 4]], 1);
        assert_gradients(|x| x[0].elu(0.5), &[&[3, 4]], 2);
    }
}
