//! Batched matrix product, with broadcasting of a 2-d operand.
//!
//! Zᵢ = Xᵢ·Yᵢ for X [b, m, k] and Y [b, k, n] (PyTorch's `torch.bmm`); a 2-d operand is shared by
//! every batch item (PyTorch's `torch.matmul` broadcasting): X [b, m, k]·Y [k, n] or
//! X [m, k]·Y [b, k, n].
//!
//! ∂L/∂Xᵢ = ∂L/∂Zᵢ · Yᵢᵀ,  ∂L/∂Yᵢ = Xᵢᵀ · ∂L/∂Zᵢ; the gradient of a shared 2-d operand is the sum
//! over the batch, ∂L/∂Y = Σᵢ Xᵢᵀ · ∂L/∂Zᵢ (one GEMM over the stacked batch when the layout
//! allows, otherwise accumulated in batch order), so results never depend on the thread count.
//!
//! Every product goes through the GEMM seam ([`crate::linalg::gemm`]). Small products run one
//! batch item per rayon task (each on one thread); large ones one after another, each parallel.

use ndarray::{ArrayView2, ArrayView3, Axis, Ix2, Ix3};
use rayon::prelude::*;

use crate::autograd::{Backward, BackwardCtx};
use crate::buffer_pool;
use crate::linalg::{gemm_with, worth_parallel};
use crate::tensor::{Array, Data, Tensor};

/// An operand: one matrix per batch item, or one matrix shared by all.
#[derive(Clone, Copy)]
enum Operand<'a> {
    Batched(ArrayView3<'a, f32>),
    Shared(ArrayView2<'a, f32>),
}

impl<'a> Operand<'a> {
    fn of(d: &'a Data) -> Operand<'a> {
        match d.ndim() {
            2 => Operand::Shared(d.view().into_dimensionality::<Ix2>().expect("2-d")),
            3 => Operand::Batched(d.view().into_dimensionality::<Ix3>().expect("3-d")),
            _ => unreachable!("shapes were checked in the forward pass"),
        }
    }
    fn item(&self, i: usize) -> ArrayView2<'a, f32> {
        match *self {
            Operand::Batched(a) => a.index_axis_move(Axis(0), i),
            Operand::Shared(a) => a,
        }
    }
    /// The operand transposed (each matrix).
    fn t(self) -> Operand<'a> {
        match self {
            Operand::Batched(a) => Operand::Batched(a.permuted_axes([0, 2, 1])),
            Operand::Shared(a) => Operand::Shared(a.reversed_axes()),
        }
    }
}

/// Cᵢ = Aᵢ·Bᵢ into `c` ([batch, m, n]), every item written (β = 0).
fn batched_product(a: Operand<'_>, b: Operand<'_>, c: &mut Array) {
    let mut c = c.view_mut().into_dimensionality::<Ix3>().expect("3-d");
    let (batch, m, n) = c.dim();
    let k = a.item(0).ncols();
    // A batch of items times one shared matrix, stored contiguously: one GEMM on the stacked rows.
    if let (Operand::Batched(a3), Operand::Shared(b2)) = (a, b)
        && a3.is_standard_layout()
    {
        let a_flat = a3
            .into_shape_with_order((batch * m, k))
            .expect("standard layout");
        let c_flat = c
            .view_mut()
            .into_shape_with_order((batch * m, n))
            .expect("standard layout");
        gemm_with(1.0, a_flat, b2, 0.0, c_flat, true);
        return;
    }
    if worth_parallel(m, n, k) {
        for (i, ci) in c.outer_iter_mut().enumerate() {
            gemm_with(1.0, a.item(i), b.item(i), 0.0, ci, true);
        }
    } else {
        c.outer_iter_mut()
            .into_par_iter()
            .enumerate()
            .for_each(|(i, ci)| gemm_with(1.0, a.item(i), b.item(i), 0.0, ci, false));
    }
}

/// Σᵢ Aᵢ·Bᵢ into a fresh [m, n] array (the gradient of a shared operand), in batch order.
fn summed_product(a: Operand<'_>, b: Operand<'_>, batch: usize) -> Array {
    let (m, n) = (a.item(0).nrows(), b.item(0).ncols());
    let mut c = buffer_pool::array_for_overwrite(&[m, n]);
    let mut c2 = c.view_mut().into_dimensionality::<Ix2>().expect("2-d");
    // Aᵢ are the column blocks of one matrix [m, batch·k] and Bᵢ the row blocks of one matrix
    // [batch·k, n]: the sum is a single GEMM (on views where the strides allow, else on copies,
    // still cheaper than `batch` small products).
    if let (Operand::Batched(a3), Operand::Batched(b3)) = (a, b) {
        let k = a3.dim().2;
        let a_cat = a3.permuted_axes([1, 0, 2]);
        let a_flat = a_cat.to_shape((m, batch * k)).expect("same size");
        let b_flat = b3.to_shape((batch * k, n)).expect("same size");
        gemm_with(1.0, a_flat.view(), b_flat.view(), 0.0, c2, true);
        return c;
    }
    for i in 0..batch {
        let beta = if i == 0 { 0.0 } else { 1.0 };
        gemm_with(1.0, a.item(i), b.item(i), beta, c2.view_mut(), true);
    }
    c
}

struct BmmBackward {
    batch: usize,
}

impl Backward for BmmBackward {
    fn name(&self) -> &'static str {
        "bmm"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let x = Operand::of(ctx.inputs[0].data());
        let y = Operand::of(ctx.inputs[1].data());
        let gv = Operand::Batched(g.view().into_dimensionality::<Ix3>().expect("3-d gradient"));
        let grad = |this: Operand<'_>, left: Operand<'_>, right: Operand<'_>, shape: &[usize]| {
            match this {
                Operand::Batched(_) => {
                    let mut out = buffer_pool::array_for_overwrite(shape);
                    batched_product(left, right, &mut out);
                    out
                }
                Operand::Shared(_) => summed_product(left, right, self.batch),
            }
        };
        let gx = ctx
            .needs_grad(0)
            .then(|| grad(x, gv, y.t(), ctx.inputs[0].shape()));
        let gy = ctx
            .needs_grad(1)
            .then(|| grad(y, x.t(), gv, ctx.inputs[1].shape()));
        buffer_pool::recycle(g);
        vec![gx, gy]
    }
}

impl Tensor {
    /// Batched matrix product: `self` [b, m, k] · `other` [b, k, n] → [b, m, n] (PyTorch's
    /// `torch.bmm`). One operand may be 2-d, [m, k] or [k, n]: it is then shared by every batch
    /// item (as `torch.matmul` broadcasts it) and its gradient is summed over the batch.
    ///
    /// # Panics
    /// If neither operand is 3-d, an operand is not 2-d or 3-d, the batch sizes differ or the
    /// inner sizes differ; the message names the shapes.
    pub fn bmm(&self, other: &Tensor) -> Tensor {
        let (sa, sb) = (self.shape(), other.shape());
        let ok_rank = matches!((sa.len(), sb.len()), (3, 3) | (3, 2) | (2, 3));
        assert!(
            ok_rank,
            "bmm: expected [b, m, k]·[b, k, n] (one operand may be 2-d), got shapes {sa:?} and \
             {sb:?}"
        );
        let (ba, m, k) = if sa.len() == 3 {
            (Some(sa[0]), sa[1], sa[2])
        } else {
            (None, sa[0], sa[1])
        };
        let (bb, k2, n) = if sb.len() == 3 {
            (Some(sb[0]), sb[1], sb[2])
        } else {
            (None, sb[0], sb[1])
        };
        let batch = match (ba, bb) {
            (Some(x), Some(y)) => {
                assert_eq!(x, y, "bmm: batch sizes differ for shapes {sa:?} and {sb:?}");
                x
            }
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => unreachable!("checked rank"),
        };
        assert_eq!(
            k, k2,
            "bmm: inner sizes differ for shapes {sa:?} and {sb:?}"
        );
        let mut z = buffer_pool::array_for_overwrite(&[batch, m, n]);
        if batch > 0 && m > 0 && n > 0 {
            batched_product(Operand::of(self.data()), Operand::of(other.data()), &mut z);
        }
        Tensor::from_op(z, vec![self.clone(), other.clone()], BmmBackward { batch })
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array3, s};

    use crate::Tensor;
    use crate::gradcheck::assert_gradients;
    use crate::rng::seeded;

    fn naive(a: &Tensor, b: &Tensor) -> Vec<f32> {
        let a3 = if a.ndim() == 2 {
            a.data().view().insert_axis(ndarray::Axis(0)).to_owned()
        } else {
            a.to_array()
        };
        let b3 = if b.ndim() == 2 {
            b.data().view().insert_axis(ndarray::Axis(0)).to_owned()
        } else {
            b.to_array()
        };
        let batch = a3.shape()[0].max(b3.shape()[0]);
        let (m, k, n) = (a3.shape()[1], a3.shape()[2], b3.shape()[2]);
        let out = Array3::from_shape_fn((batch, m, n), |(i, r, c)| {
            let ai = if a3.shape()[0] == 1 { 0 } else { i };
            let bi = if b3.shape()[0] == 1 { 0 } else { i };
            (0..k).map(|p| a3[[ai, r, p]] * b3[[bi, p, c]]).sum()
        });
        out.iter().copied().collect()
    }

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= 1e-4 * (1.0 + y.abs()))
    }

    #[test]
    fn forward_matches_naive_for_all_operand_forms() {
        let mut rng = seeded(1);
        for (sa, sb) in [
            (vec![3, 4, 5], vec![3, 5, 2]),
            (vec![3, 4, 5], vec![5, 2]),
            (vec![4, 5], vec![3, 5, 2]),
            (vec![2, 70, 90], vec![2, 90, 80]),
            (vec![2, 70, 90], vec![90, 80]),
        ] {
            let a = Tensor::randn(&sa, 0.0, 1.0, &mut rng);
            let b = Tensor::randn(&sb, 0.0, 1.0, &mut rng);
            assert!(close(&a.bmm(&b).to_vec(), &naive(&a, &b)), "{sa:?}·{sb:?}");
            assert_eq!(a.matmul(&b).to_vec(), a.bmm(&b).to_vec());
        }
        // A non-contiguous batch (every other item) takes the per-item path.
        let a = Tensor::randn(&[6, 4, 5], 0.0, 1.0, &mut rng);
        let a_sub = Tensor::from_data(a.data().slice(s![..;2, .., ..]).to_shared().into_dyn());
        let strided = Tensor::from_data(a.data().clone().slice_move(s![..;2, .., ..]).into_dyn());
        let b = Tensor::randn(&[5, 3], 0.0, 1.0, &mut rng);
        assert!(close(&strided.bmm(&b).to_vec(), &naive(&a_sub, &b)));
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].bmm(&x[1]), &[&[2, 3, 4], &[2, 4, 5]], 1);
        assert_gradients(|x| x[0].bmm(&x[1]), &[&[2, 3, 4], &[4, 5]], 2);
        assert_gradients(|x| x[0].bmm(&x[1]), &[&[3, 4], &[2, 4, 5]], 3);
    }

    #[test]
    fn shared_operand_gradient_is_the_batch_sum() {
        // d/dW Σ (Xᵢ·W) = Σᵢ Xᵢᵀ·1, for a strided (transposed-items) batch too.
        let mut rng = seeded(4);
        let x = Tensor::randn(&[3, 4, 5], 0.0, 1.0, &mut rng);
        let xt = Tensor::from_data(x.data().clone().permuted_axes(vec![0, 2, 1]));
        let w = Tensor::randn(&[4, 2], 0.0, 1.0, &mut rng).with_requires_grad();
        xt.bmm(&w).sum_all().backward();
        let g = w.grad().unwrap();
        let xa = x.to_array();
        for r in 0..4 {
            let expect: f32 = (0..3)
                .flat_map(|i| (0..5).map(move |c| (i, c)))
                .map(|(i, c)| xa[[i, r, c]])
                .sum();
            assert!((g[[r, 0]] - expect).abs() < 1e-4 && (g[[r, 1]] - expect).abs() < 1e-4);
        }
    }

    #[test]
    #[should_panic(expected = "bmm: batch sizes differ for shapes [2, 3, 4] and [3, 4, 5]")]
    fn batch_mismatch_names_shapes() {
        Tensor::zeros(&[2, 3, 4]).bmm(&Tensor::zeros(&[3, 4, 5]));
    }

    #[test]
    #[should_panic(expected = "bmm: inner sizes differ")]
    fn inner_mismatch_panics() {
        Tensor::zeros(&[2, 3, 4]).bmm(&Tensor::zeros(&[5, 5]));
    }
}
