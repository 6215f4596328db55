//! Clamping to an interval.
//!
//! y = min(max(x, lo), hi);  ∂L/∂x = ∂L/∂y · 𝟙[lo ≤ x ≤ hi] (the gradient passes at the bounds
//! themselves, as in PyTorch). If lo > hi every output is hi (PyTorch's rule); NaN stays NaN and
//! gets no gradient.

use super::elementwise::chain_unary;
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

struct ClampBackward {
    lo: f32,
    hi: f32,
}

impl Backward for ClampBackward {
    fn name(&self) -> &'static str {
        "clamp"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let (lo, hi) = (self.lo, self.hi);
        chain_unary(ctx, g, |x, _| if x >= lo && x <= hi { 1.0 } else { 0.0 })
    }
}

impl Tensor {
    /// Clamps every element into [`min`, `max`] (PyTorch's `torch.clamp(x, min, max)`); use
    /// `f32::NEG_INFINITY` / `f32::INFINITY` for a one-sided clamp, or [`Tensor::clamp_min`] /
    /// [`Tensor::clamp_max`].
    pub fn clamp(&self, min: f32, max: f32) -> Tensor {
        let value = self
            .data()
            .mapv(|x| if x.is_nan() { x } else { x.max(min).min(max) });
        Tensor::from_op(
            value,
            vec![self.clone()],
            ClampBackward { lo: min, hi: max },
        )
    }

    /// `max(x, min)` elementwise.
    pub fn clamp_min(&self, min: f32) -> Tensor {
        self.clamp(min, f32::INFINITY)
    }

    /// `min(x, max)` elementwise.
    pub fn clamp_max(&self, max: f32) -> Tensor {
        self.clamp(f32::NEG_INFINITY, max)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward_and_boundary_gradient() {
        let x =
            Tensor::from_vec(vec![-2.0, -1.0, 0.5, 1.0, 3.0, f32::NAN], &[6]).with_requires_grad();
        let y = x.clamp(-1.0, 1.0);
        let v = y.to_vec();
        assert_eq!(&v[..5], &[-1.0, -1.0, 0.5, 1.0, 1.0]);
        assert!(v[5].is_nan());
        y.backward_with(ndarray::Array::ones(ndarray::IxDyn(&[6])));
        assert_eq!(
            x.grad().unwrap().as_slice().unwrap(),
            &[0.0, 1.0, 1.0, 1.0, 0.0, 0.0]
        );
        assert_eq!(
            Tensor::from_vec(vec![0.0, 5.0], &[2])
                .clamp(3.0, 1.0)
                .to_vec(),
            vec![1.0, 1.0]
        );
        assert_eq!(
            Tensor::from_vec(vec![-1.0, 5.0], &[2])
                .clamp_min(0.0)
                .to_vec(),
            vec![0.0, 5.0]
        );
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].clamp(-0.5, 0.6), &[&[4, 5]], 1);
        assert_gradients(|x| x[0].clamp_max(0.05), &[&[4, 5]], 2);
    }
}
