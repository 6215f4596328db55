//! Exponential.
//!
//! y = eˣ;  ∂L/∂x = ∂L/∂y · y.

use super::elementwise::chain_unary;
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

struct ExpBackward;

impl Backward for ExpBackward {
    fn name(&self) -> &'static str {
        "exp"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        chain_unary(ctx, g, |_, y| y)
    }
}

impl Tensor {
    /// eˣ elementwise.
    pub fn exp(&self) -> Tensor {
        Tensor::from_op(self.data().mapv(f32::exp), vec![self.clone()], ExpBackward)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward() {
        let y = Tensor::from_vec(vec![0.0, 1.0], &[2]).exp().to_vec();
        assert_eq!(y, vec![1.0, std::f32::consts::E]);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].exp(), &[&[3, 4]], 1);
    }
}
