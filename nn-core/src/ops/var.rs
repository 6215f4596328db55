//! Variance and standard deviation over axes.
//!
//! With n the number of reduced elements and mean x̄ over them,
//! v = Σᵢ (xᵢ − x̄)² / (n − c), where c is the `correction` (PyTorch's Bessel correction:
//! c = 1 is the unbiased estimator, `unbiased=True`, PyTorch's default; c = 0 the population
//! variance, `unbiased=False`, what batch normalisation normalises with);
//! ∂L/∂xᵢ = ∂L/∂v · 2(xᵢ − x̄)/(n − c)  (the Σ(xᵢ − x̄) = 0 term from x̄ vanishes).
//! If n ≤ c the result is NaN or ∞, as in PyTorch. std = √v.

use ndarray::Zip;

use super::axes::{normalize_axes, reduced_count, reduced_shape};
use super::sum::{broadcast_back, sum_axes};
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

struct VarBackward {
    axes: Vec<usize>,
    /// The mean over the reduced axes, with kept dims.
    mean: Array,
    divisor: f32,
}

impl Backward for VarBackward {
    fn name(&self) -> &'static str {
        "var"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        if !ctx.needs_grad(0) {
            return vec![None];
        }
        let x = ctx.inputs[0].data();
        let mut gx = broadcast_back(g, x.shape(), &self.axes, 2.0 / self.divisor);
        let mean = self.mean.broadcast(x.raw_dim()).expect("kept dims");
        Zip::from(&mut gx)
            .and(x)
            .and(&mean)
            .for_each(|g, &x, &m| *g *= x - m);
        vec![Some(gx)]
    }
}

impl Tensor {
    /// The variance over `axes` (all axes if empty) with Bessel `correction` (1 = unbiased, as
    /// PyTorch's default `x.var(dim)`; 0 = population variance), reduced axes kept as size 1 if
    /// `keepdim` (PyTorch's `x.var(dim=axes, correction=c, keepdim=keepdim)`). See the module docs.
    ///
    /// # Panics
    /// If an axis is out of range or repeated.
    pub fn var(&self, axes: &[usize], correction: usize, keepdim: bool) -> Tensor {
        let axes = normalize_axes("var", axes, self.shape());
        let n = reduced_count(self.shape(), &axes);
        let divisor = n as f32 - correction as f32;
        let x = self.data();
        let mut mean = sum_axes(x, &axes, true);
        mean.mapv_inplace(|v| v / n as f32);
        let mut dev = x.to_owned();
        Zip::from(&mut dev)
            .and_broadcast(&mean)
            .for_each(|d, &m| *d = (*d - m) * (*d - m));
        let mut value = sum_axes(&dev.into_shared(), &axes, keepdim);
        value.mapv_inplace(|v| v / divisor.max(0.0));
        debug_assert_eq!(value.shape(), reduced_shape(self.shape(), &axes, keepdim));
        Tensor::from_op(
            value,
            vec![self.clone()],
            VarBackward {
                axes,
                mean,
                divisor,
            },
        )
    }

    /// The standard deviation √var over `axes` (see [`Tensor::var`]; PyTorch's `x.std(...)`).
    ///
    /// # Panics
    /// If an axis is out of range or repeated.
    pub fn std(&self, axes: &[usize], correction: usize, keepdim: bool) -> Tensor {
        self.var(axes, correction, keepdim).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward() {
        let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 6.0, 8.0], &[2, 3]);
        assert_eq!(x.var(&[1], 1, false).to_vec(), vec![1.0, 4.0]);
        let pop = x.var(&[1], 0, true);
        assert_eq!(pop.shape(), &[2, 1]);
        assert!((pop.to_vec()[0] - 2.0 / 3.0).abs() < 1e-7);
        assert_eq!(x.std(&[1], 1, false).to_vec(), vec![1.0, 2.0]);
        assert!(
            Tensor::from_vec(vec![1.0], &[1])
                .var(&[0], 1, false)
                .item()
                .is_nan()
        );
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].var(&[1], 1, false), &[&[3, 4]], 1);
        assert_gradients(|x| x[0].var(&[0, 2], 0, true), &[&[2, 3, 4]], 2);
        assert_gradients(|x| x[0].var(&[], 1, false), &[&[2, 3]], 3);
        assert_gradients(|x| x[0].std(&[1], 1, false), &[&[3, 4]], 4);
    }
}
