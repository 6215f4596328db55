//! Mean squared error.
//!
//! ℓ_k = (x_k − t_k)², reduced by the mean over all elements (default), the sum, or not at all;
//! ∂L/∂x_k = 2(x_k − t_k)·r, ∂L/∂t_k = −2(x_k − t_k)·r, with r = 1/numel for the mean and 1 for
//! the sum (PyTorch's `F.mse_loss`).

use ndarray::{IxDyn, Zip};

use super::Reduction;
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

struct MseBackward {
    reduction: Reduction,
}

impl Backward for MseBackward {
    fn name(&self) -> &'static str {
        "mse_loss"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let (x, t) = (ctx.inputs[0].data(), ctx.inputs[1].data());
        let n = x.len() as f32;
        let mut d = Array::zeros(IxDyn(x.shape()));
        match self.reduction {
            Reduction::None => Zip::from(&mut d)
                .and(x)
                .and(t)
                .and(&g)
                .for_each(|d, &x, &t, &g| *d = 2.0 * (x - t) * g),
            r => {
                let k = 2.0 * g[[]] / if r == Reduction::Mean { n } else { 1.0 };
                Zip::from(&mut d)
                    .and(x)
                    .and(t)
                    .for_each(|d, &x, &t| *d = k * (x - t));
            }
        }
        let gt = ctx.needs_grad(1).then(|| -&d);
        vec![ctx.needs_grad(0).then_some(d), gt]
    }
}

/// The squared error between `input` and `target` (same shape), reduced by `reduction`
/// (PyTorch's `F.mse_loss(input, target, reduction)`; the default there is [`Reduction::Mean`]).
/// Both tensors get gradients if they require them.
///
/// # Panics
/// If the shapes differ.
pub fn mse_loss(input: &Tensor, target: &Tensor, reduction: Reduction) -> Tensor {
    assert_eq!(
        input.shape(),
        target.shape(),
        "mse_loss: input of shape {:?} and target of shape {:?} differ",
        input.shape(),
        target.shape()
    );
    let mut sq = Array::zeros(IxDyn(input.shape()));
    Zip::from(&mut sq)
        .and(input.data())
        .and(target.data())
        .for_each(|s, &x, &t| *s = (x - t) * (x - t));
    let value = match reduction {
        Reduction::None => sq,
        r => {
            let s: f64 = sq.iter().map(|&v| v as f64).sum();
            let v = if r == Reduction::Mean {
                s / sq.len() as f64
            } else {
                s
            };
            Array::from_elem(IxDyn(&[]), v as f32)
        }
    };
    Tensor::from_op(
        value,
        vec![input.clone(), target.clone()],
        MseBackward { reduction },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward() {
        let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let t = Tensor::from_vec(vec![1.0, 0.0, 3.0, 5.0], &[2, 2]);
        assert_eq!(mse_loss(&x, &t, Reduction::Mean).item(), 1.25);
        assert_eq!(mse_loss(&x, &t, Reduction::Sum).item(), 5.0);
        assert_eq!(
            mse_loss(&x, &t, Reduction::None).to_vec(),
            vec![0.0, 4.0, 0.0, 1.0]
        );
    }

    #[test]
    fn gradients() {
        for r in [Reduction::Mean, Reduction::Sum, Reduction::None] {
            assert_gradients(|x| mse_loss(&x[0], &x[1], r), &[&[3, 4], &[3, 4]], 1);
        }
    }

    #[test]
    #[should_panic(expected = "mse_loss: input of shape [2] and target of shape [3] differ")]
    fn shape_mismatch() {
        mse_loss(&Tensor::zeros(&[2]), &Tensor::zeros(&[3]), Reduction::Mean);
    }
}
