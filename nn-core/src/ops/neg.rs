//! Negation.
//!
//! y = −x;  ∂L/∂x = −∂L/∂y.

use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

struct NegBackward;

impl Backward for NegBackward {
    fn name(&self) -> &'static str {
        "neg"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, mut g: Array) -> Vec<Option<Array>> {
        g.mapv_inplace(|v| -v);
        vec![ctx.needs_grad(0).then_some(g)]
    }
}

impl Tensor {
    /// Elementwise `−self`.
    pub fn neg(&self) -> Tensor {
        let value = self.data().mapv(|v| -v);
        Tensor::from_op(value, vec![self.clone()], NegBackward)
    }
}

impl std::ops::Neg for &Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        Tensor::neg(self)
    }
}

impl std::ops::Neg for Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        Tensor::neg(&self)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward() {
        let x = Tensor::from_vec(vec![1.0, -2.0], &[2]);
        assert_eq!((-&x).to_vec(), vec![-1.0, 2.0]);
        assert_eq!((-x).to_vec(), vec![-1.0, 2.0]);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].neg(), &[&[3, 4]], 1);
    }
}
