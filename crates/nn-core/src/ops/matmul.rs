//! Matrix product of two 2-d tensors (batched products are in `bmm`).
//!
//! Z = X·Y for X (m×k), Y (k×n);  ∂L/∂X = ∂L/∂Z · Yᵀ,  ∂L/∂Y = Xᵀ · ∂L/∂Z.
//! All three products go through the GEMM seam ([`crate::linalg::gemm`]) with strided
//! (transposed) views, without copies.

use ndarray::{Array2, Ix2, IxDyn};

use crate::autograd::{Backward, BackwardCtx};
use crate::linalg::gemm;
use crate::tensor::{Array, Data, Tensor};

fn as_2d<'a>(op: &str, d: &'a Data) -> ndarray::ArrayView2<'a, f32> {
    d.view()
        .into_dimensionality::<Ix2>()
        .unwrap_or_else(|_| panic!("{op}: expected a 2-d tensor, got shape {:?}", d.shape()))
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
        let gx = ctx.needs_grad(0).then(|| {
            let mut gx = Array2::<f32>::zeros(x.dim());
            gemm(1.0, g.view(), y.t(), 0.0, gx.view_mut());
            gx.into_dyn()
        });
        let gy = ctx.needs_grad(1).then(|| {
            let mut gy = Array2::<f32>::zeros(y.dim());
            gemm(1.0, x.t(), g.view(), 0.0, gy.view_mut());
            gy.into_dyn()
        });
        vec![gx, gy]
    }
}

impl Tensor {
    /// Matrix product `self · other` of an (m×k) and a (k×n) tensor.
    ///
    /// # Panics
    /// If either tensor is not 2-d or the inner sizes differ; the message names the shapes.
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        let x = as_2d("matmul", self.data());
        let y = as_2d("matmul", other.data());
        assert_eq!(
            x.ncols(),
            y.nrows(),
            "matmul: inner sizes differ for shapes {:?} and {:?}",
            self.shape(),
            other.shape()
        );
        let mut z = Array2::<f32>::zeros((x.nrows(), y.ncols()));
        gemm(1.0, x, y, 0.0, z.view_mut());
        let z = z
            .into_shape_with_order(IxDyn(&[x.nrows(), y.ncols()]))
            .expect("same size");
        Tensor::from_op(z, vec![self.clone(), other.clone()], MatmulBackward)
    }
}

#[cfg(test)]
mod tests {
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
}
