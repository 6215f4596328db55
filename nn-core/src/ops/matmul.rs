//! Matrix product of two 2-d tensors; with a 3-d operand it is the batched product
//! ([`Tensor::bmm`]).
//!
//! Z = X·Y for X (m×k), Y (k×n);  ∂L/∂X = ∂L/∂Z · Yᵀ,  ∂L/∂Y = Xᵀ · ∂L/∂Z.
//! All three products go through the GEMM seam ([`crate::linalg::gemm`]) with strided
//! (transposed) views, without copies; outputs and gradients come from the buffer pool.

use ndarray::Ix2;

use crate::autograd::{Backward, BackwardCtx};
use crate::buffer_pool;
use crate::linalg::gemm;
use crate::tensor::{Array, Data, Tensor};

fn as_2d<'a>(op: &str, d: &'a Data) -> ndarray::ArrayView2<'a, f32> {
    d.view()
        .into_dimensionality::<Ix2>()
        .unwrap_or_else(|_| panic!("{op}: expected a 2-d tensor, got shape {:?}", d.shape()))
}

/// A·B into a fresh (pooled) array.
fn product(a: ndarray::ArrayView2<'_, f32>, b: ndarray::ArrayView2<'_, f32>) -> Array {
    let mut c = buffer_pool::array_for_overwrite(&[a.nrows(), b.ncols()]);
    gemm(
        1.0,
        a,
        b,
        0.0,
        c.view_mut().into_dimensionality::<Ix2>().expect("2-d"),
    );
    c
}

struct MatmulBackward;

impl Backward for MatmulBackward {
    fn name(&self) -> &'static str {
        "matmul"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let x = as_2d("matmul", ctx.inputs[0].data());
        let y = as_2d("matmul", ctx.inputs[1].data());
        let g = g.into_dimensionality::<Ix2>().expect("2-d gradient");
        let gx = ctx.needs_grad(0).then(|| product(g.view(), y.t()));
        let gy = ctx.needs_grad(1).then(|| product(x.t(), g.view()));
        buffer_pool::recycle(g.into_dyn());
        vec![gx, gy]
    }
}

impl Tensor {
    /// Matrix product `self · other` of an (m×k) and a (k×n) tensor (PyTorch's `torch.matmul`
    /// for 2-d operands). If either operand is 3-d this is the batched product [`Tensor::bmm`].
    ///
    /// # Panics
    /// If an operand is not 2-d or 3-d or the inner sizes differ; the message names the shapes.
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        if self.ndim() == 3 || other.ndim() == 3 {
            return self.bmm(other);
        }
        let x = as_2d("matmul", self.data());
        let y = as_2d("matmul", other.data());
        assert_eq!(
            x.ncols(),
            y.nrows(),
            "matmul: inner sizes differ for shapes {:?} and {:?}",
            self.shape(),
            other.shape()
        );
        let z = product(x, y);
        Tensor::from_op(z, vec![self.clone(), other.clone()], MatmulBackward)
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;
    use proptest::prelude::*;

    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward() {
        let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        let b = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2]);
        assert_eq!(a.matmul(&b).to_vec(), vec![4.0, 5.0, 10.0, 11.0]);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].matmul(&x[1]), &[&[3, 4], &[4, 5]], 1);
    }

    #[test]
    #[should_panic(expected = "matmul: inner sizes differ for shapes [2, 3] and [2, 3]")]
    fn shape_mismatch_names_shapes() {
        Tensor::zeros(&[2, 3]).matmul(&Tensor::zeros(&[2, 3]));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// matmul equals the naive triple loop on random shapes and values (also for a
        /// transposed right operand, the layout of a linear layer's weight).
        #[test]
        fn equals_naive_triple_loop(
            m in 1usize..40, k in 1usize..40, n in 1usize..40, transposed in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let mut rng = crate::rng::seeded(seed);
            let a = Tensor::rand_uniform(&[m, k], -1.0, 1.0, &mut rng);
            let b = if transposed {
                let bt = Tensor::rand_uniform(&[n, k], -1.0, 1.0, &mut rng);
                Tensor::from_data(bt.data().clone().reversed_axes())
            } else {
                Tensor::rand_uniform(&[k, n], -1.0, 1.0, &mut rng)
            };
            let c = a.matmul(&b);
            prop_assert_eq!(c.shape(), &[m, n]);
            let av = a.data().view().into_dimensionality::<ndarray::Ix2>().unwrap();
            let bv = b.data().view().into_dimensionality::<ndarray::Ix2>().unwrap();
            let naive = Array2::from_shape_fn((m, n), |(i, j)| {
                (0..k).map(|p| av[[i, p]] as f64 * bv[[p, j]] as f64).sum::<f64>()
            });
            for (got, want) in c.to_vec().iter().zip(naive.iter()) {
                prop_assert!((*got as f64 - want).abs() <= 1e-5 * (1.0 + k as f64));
            }
        }
    }
}
