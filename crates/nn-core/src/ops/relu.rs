//! Rectified linear unit.
//!
//! y = max(0, x);  ∂L/∂x = ∂L/∂y · 𝟙[x > 0] (the subgradient at 0 is 0, as in PyTorch).

use ndarray::Zip;

use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

struct ReluBackward;

impl Backward for ReluBackward {
    fn name(&self) -> &'static str {
        "relu"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, mut g: Array) -> Vec<Option<Array>> {
        // y > 0 exactly where x > 0, so the output suffices and the input need not be kept.
        Zip::from(&mut g).and(ctx.output).for_each(|g, &y| {
            if y <= 0.0 {
                *g = 0.0;
            }
        });
        vec![Some(g)]
    }
}

impl Tensor {
    /// ReLU, `max(0, x)` elementwise (Nair & Hinton 2010).
    pub fn relu(&self) -> Tensor {
        let value = self.data().mapv(|v| v.max(0.0));
        Tensor::from_op(value, vec![self.clone()], ReluBackward)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward() {
        let x = Tensor::from_vec(vec![-1.0, 0.0, 2.0], &[3]);
        assert_eq!(x.relu().to_vec(), vec![0.0, 0.0, 2.0]);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].relu(), &[&[4, 5]], 1);
    }
}
