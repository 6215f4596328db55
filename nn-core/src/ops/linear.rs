//! The affine map of a fully connected layer, fused: one GEMM and one bias pass forward, one GEMM
//! per needed gradient backward; optionally fused with the ReLU that follows it.
//!
//! Y = X·Wᵀ + b for X (n×in), W (out×in, PyTorch's layout), b (out);
//! ∂L/∂X = ∂L/∂Y · W,  ∂L/∂W = (∂L/∂Y)ᵀ · X,  ∂L/∂b = Σₙ ∂L/∂Yₙ.
//!
//! With the ReLU fused, H = max(0, X·Wᵀ + b) is computed in the same pass as the bias, and
//! backward first masks the incoming gradient, ∂L/∂Y = ∂L/∂H · 𝟙[H > 0], in place.
//!
//! Outputs and gradients come from the buffer pool ([`crate::buffer_pool`]) and the consumed output
//! gradient goes back to it, so a training step reuses the previous step's memory. Only the
//! gradients that are needed are computed (the first layer's input gradient is skipped when the
//! input does not require one).

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut2, Axis, Ix1, Ix2};
use rayon::prelude::*;

use super::relu::{relu as relu_fn, relu_grad};
use crate::autograd::{Backward, BackwardCtx};
use crate::buffer_pool;
use crate::linalg::gemm;
use crate::tensor::{Array, Data, Tensor};

/// Rows per parallel task of the bias/ReLU pass and the ReLU mask (a fixed size, so the split
/// never depends on the number of threads).
const ROWS_PER_TASK: usize = 16;
/// Below this many elements the bias/ReLU pass runs on the calling thread.
const PARALLEL_LEN: usize = 1 << 15;

struct LinearBackward {
    has_bias: bool,
    relu: bool,
}

fn as_2d<'a>(op: &str, what: &str, d: &'a Data) -> ArrayView2<'a, f32> {
    d.view()
        .into_dimensionality::<Ix2>()
        .unwrap_or_else(|_| panic!("{op}: {what} must be 2-d, got shape {:?}", d.shape()))
}

/// Runs `f` on chunks of rows of `a` (in parallel for large arrays), with the index of each
/// chunk's first row.
fn for_row_chunks(mut a: ArrayViewMut2<'_, f32>, f: impl Fn(usize, ArrayViewMut2<'_, f32>) + Sync) {
    if a.len() >= PARALLEL_LEN {
        a.axis_chunks_iter_mut(Axis(0), ROWS_PER_TASK)
            .into_par_iter()
            .enumerate()
            .for_each(|(i, rows)| f(i * ROWS_PER_TASK, rows));
    } else {
        f(0, a.view_mut());
    }
}

impl Backward for LinearBackward {
    fn name(&self) -> &'static str {
        if self.relu { "linear_relu" } else { "linear" }
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let x = as_2d("linear", "input", ctx.inputs[0].data());
        let w = as_2d("linear", "weight", ctx.inputs[1].data());
        let mut g = g.into_dimensionality::<Ix2>().expect("2-d gradient");
        if self.relu {
            let h = as_2d("linear_relu", "output", ctx.output);
            for_row_chunks(g.view_mut(), |i0, mut rows| {
                let h = h.slice(ndarray::s![i0..i0 + rows.nrows(), ..]);
                ndarray::Zip::from(&mut rows)
                    .and(&h)
                    .for_each(|g, &h| *g = relu_grad(*g, h));
            });
        }
        let gx = ctx.needs_grad(0).then(|| {
            let mut gx = buffer_pool::array_for_overwrite(x.shape());
            let gx2 = gx.view_mut().into_dimensionality::<Ix2>().expect("2-d");
            gemm(1.0, g.view(), w, 0.0, gx2);
            gx
        });
        let gw = ctx.needs_grad(1).then(|| {
            let mut gw = buffer_pool::array_for_overwrite(w.shape());
            let gw2 = gw.view_mut().into_dimensionality::<Ix2>().expect("2-d");
            gemm(1.0, g.t(), x, 0.0, gw2);
            gw
        });
        let mut out = vec![gx, gw];
        if self.has_bias {
            out.push(ctx.needs_grad(2).then(|| g.sum_axis(Axis(0)).into_dyn()));
        }
        buffer_pool::recycle(g.into_dyn());
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
        linear_op("linear", self, weight, bias, false)
    }

    /// `max(0, self · weightᵀ + bias)`: [`Tensor::linear`] followed by [`Tensor::relu`], fused
    /// into one op (one pass over the output instead of two, one output array instead of two).
    /// Same values and gradients as the two ops in sequence.
    ///
    /// # Panics
    /// If the shapes do not agree; the message names them.
    pub fn linear_relu(&self, weight: &Tensor, bias: Option<&Tensor>) -> Tensor {
        linear_op("linear_relu", self, weight, bias, true)
    }
}

fn linear_op(
    op: &'static str,
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    relu: bool,
) -> Tensor {
    let x = input
        .data()
        .view()
        .into_dimensionality::<Ix2>()
        .unwrap_or_else(|_| {
            panic!(
                "{op}: input must be 2-d (batch × features), got shape {:?}",
                input.shape()
            )
        });
    let w = weight
        .data()
        .view()
        .into_dimensionality::<Ix2>()
        .unwrap_or_else(|_| {
            panic!(
                "{op}: weight must be 2-d (out × in), got shape {:?}",
                weight.shape()
            )
        });
    assert_eq!(
        x.ncols(),
        w.ncols(),
        "{op}: input shape {:?} does not match weight shape {:?} (expected input [n, {}])",
        input.shape(),
        weight.shape(),
        w.ncols()
    );
    let b: Option<ArrayView1<'_, f32>> = bias.map(|b| {
        let bv = b
            .data()
            .view()
            .into_dimensionality::<Ix1>()
            .unwrap_or_else(|_| panic!("{op}: bias must be 1-d, got shape {:?}", b.shape()));
        assert_eq!(
            bv.len(),
            w.nrows(),
            "{op}: bias shape {:?} does not match weight shape {:?}",
            b.shape(),
            weight.shape()
        );
        bv
    });
    let mut y = buffer_pool::array_for_overwrite(&[x.nrows(), w.nrows()]);
    {
        let mut y2 = y.view_mut().into_dimensionality::<Ix2>().expect("2-d");
        gemm(1.0, x, w.t(), 0.0, y2.view_mut());
        if b.is_some() || relu {
            for_row_chunks(y2, |_, mut rows| {
                for mut row in rows.outer_iter_mut() {
                    match (&b, relu) {
                        (Some(b), true) => row.zip_mut_with(b, |y, &b| *y = relu_fn(*y + b)),
                        (Some(b), false) => row.zip_mut_with(b, |y, &b| *y += b),
                        (None, _) => row.mapv_inplace(relu_fn),
                    }
                }
            });
        }
    }
    let mut inputs = vec![input.clone(), weight.clone()];
    if let Some(b) = bias {
        inputs.push(b.clone());
    }
    Tensor::from_op(
        y,
        inputs,
        LinearBackward {
            has_bias: bias.is_some(),
            relu,
        },
    )
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;
    use crate::rng::seeded;

    #[test]
    fn forward() {
        let x = Tensor::from_vec(vec![1.0, 2.0], &[1, 2]);
        let w = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2]);
        let b = Tensor::from_vec(vec![0.5, 0.5, 0.5], &[3]);
        assert_eq!(x.linear(&w, Some(&b)).to_vec(), vec![1.5, 2.5, 3.5]);
        assert_eq!(x.linear(&w, None).to_vec(), vec![1.0, 2.0, 3.0]);
        let nb = Tensor::from_vec(vec![-2.0, 0.5, -4.0], &[3]);
        assert_eq!(x.linear_relu(&w, Some(&nb)).to_vec(), vec![0.0, 2.5, 0.0]);
    }

    #[test]
    fn gradient() {
        assert_gradients(
            |x| x[0].linear(&x[1], Some(&x[2])),
            &[&[4, 5], &[3, 5], &[3]],
            1,
        );
        assert_gradients(|x| x[0].linear(&x[1], None), &[&[4, 5], &[3, 5]], 2);
        assert_gradients(
            |x| x[0].linear_relu(&x[1], Some(&x[2])),
            &[&[4, 5], &[3, 5], &[3]],
            3,
        );
        assert_gradients(|x| x[0].linear_relu(&x[1], None), &[&[4, 5], &[3, 5]], 4);
    }

    /// The fused op equals linear followed by relu, values and gradients, on a size that takes
    /// the parallel paths and the buffer pool.
    #[test]
    fn fused_relu_equals_the_two_ops() {
        let mut rng = seeded(5);
        let x = Tensor::randn(&[64, 300], 0.0, 1.0, &mut rng);
        let run = |fused: bool| {
            let w = Tensor::randn(&[600, 300], 0.0, 0.05, &mut seeded(6)).with_requires_grad();
            let b = Tensor::randn(&[600], 0.0, 0.1, &mut seeded(7)).with_requires_grad();
            let xi = x.detach().with_requires_grad();
            let h = if fused {
                xi.linear_relu(&w, Some(&b))
            } else {
                xi.linear(&w, Some(&b)).relu()
            };
            let out = h.to_vec();
            (&h * &h).sum_all().backward();
            (
                out,
                xi.grad().unwrap(),
                w.grad().unwrap(),
                b.grad().unwrap(),
            )
        };
        let (h1, gx1, gw1, gb1) = run(true);
        let (h2, gx2, gw2, gb2) = run(false);
        assert_eq!(h1, h2);
        assert_eq!(gx1, gx2);
        assert_eq!(gw1, gw2);
        assert_eq!(gb1, gb2);
    }

    #[test]
    #[should_panic(expected = "linear_relu: bias shape [4] does not match weight shape [3, 2]")]
    fn bias_mismatch_names_shapes() {
        Tensor::zeros(&[1, 2]).linear_relu(&Tensor::zeros(&[3, 2]), Some(&Tensor::zeros(&[4])));
    }
}
