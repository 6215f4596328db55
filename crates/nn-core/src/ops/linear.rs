//! The affine map of a fully connected layer, fused: one GEMM and one bias pass forward, one GEMM
//! per needed gradient backward.
//!
//! Y = X·Wᵀ + b for X (n×in), W (out×in, PyTorch's layout), b (out);
//! ∂L/∂X = ∂L/∂Y · W,  ∂L/∂W = (∂L/∂Y)ᵀ · X,  ∂L/∂b = Σₙ ∂L/∂Yₙ.

use ndarray::{Array2, Axis, Ix1, Ix2};

use crate::autograd::{Backward, BackwardCtx};
use crate::linalg::gemm;
use crate::tensor::{Array, Tensor};

struct LinearBackward {
    has_bias: bool,
}

impl Backward for LinearBackward {
    fn name(&self) -> &'static str {
        "linear"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let x = ctx.inputs[0]
            .data()
            .view()
            .into_dimensionality::<Ix2>()
            .expect("2-d input");
        let w = ctx.inputs[1]
            .data()
            .view()
            .into_dimensionality::<Ix2>()
            .expect("2-d weight");
        let g = g.into_dimensionality::<Ix2>().expect("2-d gradient");
        let gx = ctx.needs_grad(0).then(|| {
            let mut gx = Array2::<f32>::zeros(x.dim());
            gemm(1.0, g.view(), w, 0.0, gx.view_mut());
            gx.into_dyn()
        });
        let gw = ctx.needs_grad(1).then(|| {
            let mut gw = Array2::<f32>::zeros(w.dim());
            gemm(1.0, g.t(), x, 0.0, gw.view_mut());
            gw.into_dyn()
        });
        let mut out = vec![gx, gw];
        if self.has_bias {
            out.push(ctx.needs_grad(2).then(|| g.sum_axis(Axis(0)).into_dyn()));
        }
        out
    }
}

impl Tensor {
    /// `self · weightᵀ + bias` for `self` (n×in), `weight` (out×in) and `bias` (out), as
    /// PyTorch's `torch.nn.functional.linear`.
    ///
    /// # Panics
    /// If the shapes do not agree; the message names them.
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Tensor {
        let x = self
            .data()
            .view()
            .into_dimensionality::<Ix2>()
            .unwrap_or_else(|_| {
                panic!(
                    "linear: input must be 2-d (batch × features), got shape {:?}",
                    self.shape()
                )
            });
        let w = weight
            .data()
            .view()
            .into_dimensionality::<Ix2>()
            .unwrap_or_else(|_| {
                panic!(
                    "linear: weight must be 2-d (out × in), got shape {:?}",
                    weight.shape()
                )
            });
        assert_eq!(
            x.ncols(),
            w.ncols(),
            "linear: input shape {:?} does not match weight shape {:?} (expected input [n, {}])",
            self.shape(),
            weight.shape(),
            w.ncols()
        );
        let mut y = Array2::<f32>::zeros((x.nrows(), w.nrows()));
        gemm(1.0, x, w.t(), 0.0, y.view_mut());
        let mut inputs = vec![self.clone(), weight.clone()];
        if let Some(b) = bias {
            let bv = b
                .data()
                .view()
                .into_dimensionality::<Ix1>()
                .unwrap_or_else(|_| panic!("linear: bias must be 1-d, got shape {:?}", b.shape()));
            assert_eq!(
                bv.len(),
                w.nrows(),
                "linear: bias shape {:?} does not match weight shape {:?}",
                b.shape(),
                weight.shape()
            );
            y += &bv;
            inputs.push(b.clone());
        }
        Tensor::from_op(
            y.into_dyn(),
            inputs,
            LinearBackward {
                has_bias: bias.is_some(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward() {
        let x = Tensor::from_vec(vec![1.0, 2.0], &[1, 2]);
        let w = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2]);
        let b = Tensor::from_vec(vec![0.5, 0.5, 0.5], &[3]);
        assert_eq!(x.linear(&w, Some(&b)).to_vec(), vec![1.5, 2.5, 3.5]);
        assert_eq!(x.linear(&w, None).to_vec(), vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn gradient() {
        assert_gradients(
            |x| x[0].linear(&x[1], Some(&x[2])),
            &[&[4, 5], &[3, 5], &[3]],
            1,
        );
        assert_gradients(|x| x[0].linear(&x[1], None), &[&[4, 5], &[3, 5]], 2);
    }
}
