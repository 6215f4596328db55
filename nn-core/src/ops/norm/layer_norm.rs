//! Layer normalisation (Ba, Kiros & Hinton 2016, "Layer normalization"), PyTorch's
//! `F.layer_norm`.
//!
//! Each sample is normalised over its last D dimensions (`normalized_shape`) with its own mean
//! and biased variance; γ and β have `normalized_shape` and act elementwise: `y = γ ⊙ x̂ + β`.
//! Identical in training and evaluation. Backward per row (r = 1/√(σ² + ε), g = γ ⊙ dy):
//! `∂L/∂x = r·(g − mean(g) − x̂·mean(g·x̂))`; `∂L/∂γ = Σ_rows dy ⊙ x̂`, `∂L/∂β = Σ_rows dy`.

use ndarray::IxDyn;
use rayon::prelude::*;

use super::Moments;
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

/// Columns per task when reducing ∂L/∂γ and ∂L/∂β over rows (fixed: thread-count independent).
const COLUMN_BLOCK: usize = 64;

struct LayerNormBackward {
    d: usize,
    mean: Vec<f32>,
    rstd: Vec<f32>,
    has_weight: bool,
    has_bias: bool,
}

impl Backward for LayerNormBackward {
    fn name(&self) -> &'static str {
        "layer_norm"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, grad: Array) -> Vec<Option<Array>> {
        let d = self.d;
        let x = ctx.inputs[0].data().as_standard_layout();
        let x = x.as_slice().expect("standard layout");
        let dy = grad.as_standard_layout();
        let dy = dy.as_slice().expect("standard layout");
        let gamma: Vec<f32> = if self.has_weight {
            ctx.inputs[1].to_vec()
        } else {
            vec![1.0; d]
        };
        let dx = ctx.needs_grad(0).then(|| {
            let mut dx = crate::buffer_pool::take(x.len()); // every element is written
            if d > 0 {
                dx.par_chunks_mut(d)
                    .zip(x.par_chunks(d).zip(dy.par_chunks(d)))
                    .enumerate()
                    .for_each(|(row, (dr, (xr, gr)))| {
                        let (mu, r) = (self.mean[row], self.rstd[row]);
                        let (mut s1, mut s2) = (0.0f64, 0.0f64);
                        for ((&xv, &gv), &ga) in xr.iter().zip(gr).zip(&gamma) {
                            let g = (ga * gv) as f64;
                            s1 += g;
                            s2 += g * ((xv - mu) * r) as f64;
                        }
                        let (s1, s2) = ((s1 / d as f64) as f32, (s2 / d as f64) as f32);
                        for (((o, &xv), &gv), &ga) in dr.iter_mut().zip(xr).zip(gr).zip(&gamma) {
                            *o = r * (ga * gv - s1 - (xv - mu) * r * s2);
                        }
                    });
            }
            Array::from_shape_vec(IxDyn(ctx.inputs[0].shape()), dx).expect("shape")
        });
        let want_w = self.has_weight && ctx.needs_grad(1);
        let want_b = self.has_bias && ctx.needs_grad(1 + self.has_weight as usize);
        let (mut dg, mut db) = (vec![0.0f32; d], vec![0.0f32; d]);
        if (want_w || want_b) && d > 0 {
            let rows = x.len() / d;
            dg.par_chunks_mut(COLUMN_BLOCK)
                .zip(db.par_chunks_mut(COLUMN_BLOCK))
                .enumerate()
                .for_each(|(blk, (g, b))| {
                    let c0 = blk * COLUMN_BLOCK;
                    let mut ag = vec![0.0f64; g.len()];
                    let mut ab = vec![0.0f64; g.len()];
                    for row in 0..rows {
                        let (mu, r) = (self.mean[row], self.rstd[row]);
                        let o = row * d + c0;
                        for j in 0..g.len() {
                            let gv = dy[o + j] as f64;
                            ag[j] += gv * ((x[o + j] - mu) * r) as f64;
                            ab[j] += gv;
                        }
                    }
                    g.iter_mut().zip(ag).for_each(|(g, a)| *g = a as f32);
                    b.iter_mut().zip(ab).for_each(|(b, a)| *b = a as f32);
                });
        }
        let shape = ctx.inputs[1..]
            .first()
            .map_or_else(|| vec![d], |t| t.shape().to_vec());
        let arr = |v: Vec<f32>| Array::from_shape_vec(IxDyn(&shape), v).expect("γ/β shape");
        let mut out = vec![dx];
        if self.has_weight {
            out.push(want_w.then(|| arr(dg.clone())));
        }
        if self.has_bias {
            out.push(want_b.then(|| arr(db)));
        }
        out
    }
}

impl Tensor {
    /// Layer normalisation over the last dimensions `normalized_shape` of this tensor, as
    /// PyTorch's `F.layer_norm(x, normalized_shape, weight, bias, eps)`; `weight` and `bias`
    /// have `normalized_shape`. See the [module docs](crate::ops::norm).
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, 3.0, 2.0, 6.0], &[2, 2]);
    /// let y = x.layer_norm(&[2], None, None, 0.0);
    /// assert_eq!(y.to_vec(), vec![-1.0, 1.0, -1.0, 1.0]);
    /// ```
    ///
    /// # Panics
    /// If `normalized_shape` is not a suffix of the input's shape or γ/β do not have it.
    pub fn layer_norm(
        &self,
        normalized_shape: &[usize],
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f32,
    ) -> Tensor {
        let s = self.shape();
        assert!(
            !normalized_shape.is_empty()
                && normalized_shape.len() <= s.len()
                && s.ends_with(normalized_shape),
            "layer_norm: normalized_shape {normalized_shape:?} is not a suffix of input shape {s:?}"
        );
        for (what, t) in [("weight", weight), ("bias", bias)] {
            if let Some(t) = t {
                assert!(
                    t.shape() == normalized_shape,
                    "layer_norm: {what} shape {:?} differs from normalized_shape {normalized_shape:?}",
                    t.shape()
                );
            }
        }
        let d: usize = normalized_shape.iter().product();
        let x = self.data().as_standard_layout();
        let x = x.as_slice().expect("standard layout");
        let gamma = weight.map_or_else(|| vec![1.0; d], Tensor::to_vec);
        let beta = bias.map_or_else(|| vec![0.0; d], Tensor::to_vec);
        let mut y = crate::buffer_pool::take(x.len()); // every element is written
        let (mut mean, mut rstd) = (Vec::new(), Vec::new());
        if d > 0 {
            (mean, rstd) = x
                .par_chunks(d)
                .map(|r| {
                    let m = Moments::of(r);
                    (m.mean as f32, (1.0 / (m.var() + eps as f64).sqrt()) as f32)
                })
                .unzip();
            y.par_chunks_mut(d)
                .zip(x.par_chunks(d))
                .enumerate()
                .for_each(|(row, (yr, xr))| {
                    let (mu, r) = (mean[row], rstd[row]);
                    for (((o, &v), &g), &b) in yr.iter_mut().zip(xr).zip(&gamma).zip(&beta) {
                        *o = (v - mu) * r * g + b;
                    }
                });
        }
        let mut inputs = vec![self.clone()];
        inputs.extend(weight.cloned());
        inputs.extend(bias.cloned());
        Tensor::from_op(
            Array::from_shape_vec(IxDyn(s), y).expect("shape"),
            inputs,
            LayerNormBackward {
                d,
                mean,
                rstd,
                has_weight: weight.is_some(),
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
    fn gradients() {
        assert_gradients(
            |t| t[0].layer_norm(&[3, 4], Some(&t[1]), Some(&t[2]), 1e-5),
            &[&[2, 3, 4], &[3, 4], &[3, 4]],
            1,
        );
        assert_gradients(|t| t[0].layer_norm(&[5], None, None, 1e-5), &[&[3, 5]], 2);
        assert_gradients(
            |t| t[0].layer_norm(&[70], None, Some(&t[1]), 1e-5),
            &[&[3, 70], &[70]],
            3,
        );
    }

    #[test]
    #[should_panic(expected = "is not a suffix")]
    fn shape_must_be_a_suffix() {
        let _ = Tensor::ones(&[2, 3]).layer_norm(&[2], None, None, 1e-5);
    }
}
