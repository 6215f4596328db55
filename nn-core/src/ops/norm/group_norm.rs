//! Group normalisation (Wu & He 2018, "Group normalization"), PyTorch's `F.group_norm`.
//!
//! The C channels of `[N, C, *]` are split into G groups of C/G consecutive channels; every
//! (sample, group) block of M = (C/G)·L values is normalised with its own mean and biased
//! variance, then scaled and shifted per channel: `y = γ_c·x̂ + β_c`. Independent of the batch
//! size, identical in training and evaluation. G = 1 is layer normalisation over (C, *) with
//! per-channel affine; G = C is instance normalisation. Backward per block (r = 1/√(σ² + ε),
//! g = γ_c·dy): `∂L/∂x = r·(g − mean(g) − x̂·mean(g·x̂))`; `∂L/∂γ_c = Σ_{n,l} dy·x̂`,
//! `∂L/∂β_c = Σ_{n,l} dy`.

use ndarray::IxDyn;
use rayon::prelude::*;

use super::batch_norm::{channel_values, check_channel_param, ncl};
use super::{Moments, dot_centered, sum64};
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

/// Per-(sample, group) mean and 1/√(σ² + ε) of a contiguous `[N, C, L]` buffer.
pub(crate) fn group_stats(
    x: &[f32],
    (n, c, l): (usize, usize, usize),
    groups: usize,
    eps: f32,
) -> (Vec<f32>, Vec<f32>) {
    let block = c / groups * l;
    if block == 0 {
        return (vec![0.0; n * groups], vec![0.0; n * groups]);
    }
    x.par_chunks(block)
        .map(|b| {
            let m = Moments::of(b);
            (m.mean as f32, (1.0 / (m.var() + eps as f64).sqrt()) as f32)
        })
        .unzip()
}

/// y = (x − mean[n,g])·rstd[n,g]·γ_c + β_c.
pub(crate) fn group_forward(
    x: &[f32],
    (c, l): (usize, usize),
    groups: usize,
    (mean, rstd): (&[f32], &[f32]),
    (gamma, beta): (&[f32], &[f32]),
) -> Vec<f32> {
    let mut y = crate::buffer_pool::take(x.len()); // every element is written
    let cg = c / groups;
    if cg * l == 0 {
        return y;
    }
    y.par_chunks_mut(cg * l)
        .zip(x.par_chunks(cg * l))
        .enumerate()
        .for_each(|(blk, (yb, xb))| {
            let gi = blk % groups;
            let (mu, r) = (mean[blk], rstd[blk]);
            for (j, (yp, xp)) in yb.chunks_mut(l).zip(xb.chunks(l)).enumerate() {
                let ch = gi * cg + j;
                let a = gamma[ch] * r;
                let b = beta[ch] - mu * a;
                for (o, &v) in yp.iter_mut().zip(xp) {
                    *o = a * v + b;
                }
            }
        });
    y
}

/// Backward of [`group_forward`]: (dx if `need_x`, Σ dy·x̂ per channel, Σ dy per channel).
pub(crate) fn group_backward(
    x: &[f32],
    dy: &[f32],
    (n, c, l): (usize, usize, usize),
    groups: usize,
    (mean, rstd): (&[f32], &[f32]),
    gamma: &[f32],
    need_x: bool,
) -> (Option<Vec<f32>>, Vec<f32>, Vec<f32>) {
    let cg = c / groups;
    // Per (n, c): Σ dy and Σ dy·(x − μ_{n,g}).
    let plane_sums: Vec<(f64, f64)> = (0..n * c)
        .into_par_iter()
        .map(|p| {
            let blk = (p / c) * groups + (p % c) / cg;
            let r = p * l..(p + 1) * l;
            (
                sum64(&dy[r.clone()]),
                dot_centered(&dy[r.clone()], &x[r], mean[blk]),
            )
        })
        .collect();
    let dgamma: Vec<f32> = (0..c)
        .map(|ch| {
            (0..n)
                .map(|ni| plane_sums[ni * c + ch].1 * rstd[ni * groups + ch / cg] as f64)
                .sum::<f64>() as f32
        })
        .collect();
    let dbeta: Vec<f32> = (0..c)
        .map(|ch| (0..n).map(|ni| plane_sums[ni * c + ch].0).sum::<f64>() as f32)
        .collect();
    let dx = need_x.then(|| {
        let mut dx = crate::buffer_pool::take(x.len()); // every element is written
        if cg * l == 0 {
            return dx;
        }
        let m = (cg * l) as f64;
        dx.par_chunks_mut(cg * l)
            .zip(x.par_chunks(cg * l).zip(dy.par_chunks(cg * l)))
            .enumerate()
            .for_each(|(blk, (db, (xb, gb)))| {
                let (ni, gi) = (blk / groups, blk % groups);
                let (mu, r) = (mean[blk] as f64, rstd[blk] as f64);
                // With g = γ·dy: S1 = Σ g, S2 = Σ g·(x − μ), over the block.
                let (mut s1, mut s2) = (0.0f64, 0.0f64);
                for j in 0..cg {
                    let (sd, sx) = plane_sums[ni * c + gi * cg + j];
                    s1 += gamma[gi * cg + j] as f64 * sd;
                    s2 += gamma[gi * cg + j] as f64 * sx;
                }
                // dx = r·γ_c·dy − r³·S2/M·(x − μ) − r·S1/M
                let b = -r * r * r * s2 / m;
                let k = (-r * s1 / m - b * mu) as f32;
                let b = b as f32;
                for (j, ((dp, xp), gp)) in db
                    .chunks_mut(l)
                    .zip(xb.chunks(l))
                    .zip(gb.chunks(l))
                    .enumerate()
                {
                    let a = (r * gamma[gi * cg + j] as f64) as f32;
                    for ((d, &xv), &gv) in dp.iter_mut().zip(xp).zip(gp) {
                        *d = a * gv + b * xv + k;
                    }
                }
            });
        dx
    });
    (dx, dgamma, dbeta)
}

pub(super) struct GroupNormBackward {
    pub(super) groups: usize,
    pub(super) mean: Vec<f32>,
    pub(super) rstd: Vec<f32>,
    pub(super) has_weight: bool,
    pub(super) has_bias: bool,
}

impl Backward for GroupNormBackward {
    fn name(&self) -> &'static str {
        "group_norm"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, grad: Array) -> Vec<Option<Array>> {
        let shape = ctx.inputs[0].shape();
        let dims = ncl("group_norm", shape);
        let c = dims.1;
        let x = ctx.inputs[0].data().as_standard_layout();
        let dy = grad.as_standard_layout();
        let gamma = channel_values(self.has_weight.then(|| &ctx.inputs[1]), c, 1.0);
        let (dx, dg, db) = group_backward(
            x.as_slice().expect("standard layout"),
            dy.as_slice().expect("standard layout"),
            dims,
            self.groups,
            (&self.mean, &self.rstd),
            &gamma,
            ctx.needs_grad(0),
        );
        let vec1 = |v: Vec<f32>| Array::from_shape_vec(IxDyn(&[c]), v).expect("[C]");
        let mut out = vec![dx.map(|v| Array::from_shape_vec(IxDyn(shape), v).expect("shape"))];
        if self.has_weight {
            out.push(ctx.needs_grad(1).then(|| vec1(dg)));
        }
        if self.has_bias {
            out.push(
                ctx.needs_grad(1 + self.has_weight as usize)
                    .then(|| vec1(db)),
            );
        }
        out
    }
}

impl Tensor {
    /// Group normalisation of this `[N, C, *]` tensor with `groups` groups, as PyTorch's
    /// `F.group_norm(x, groups, weight, bias, eps)`; see the [module docs](crate::ops::norm).
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, 3.0, 5.0, 7.0], &[1, 2, 2]);
    /// let y = x.group_norm(1, None, None, 0.0).to_vec();
    /// let s = 5f32.sqrt(); // mean 4, variance 5 over the whole sample
    /// let want = [-3.0 / s, -1.0 / s, 1.0 / s, 3.0 / s];
    /// assert!(y.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6));
    /// ```
    ///
    /// # Panics
    /// If `groups` does not divide the channels or the shapes do not fit.
    pub fn group_norm(
        &self,
        groups: usize,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f32,
    ) -> Tensor {
        let (n, c, l) = ncl("group_norm", self.shape());
        assert!(
            groups > 0 && c % groups == 0,
            "group_norm: {groups} groups do not divide the {c} channels of input shape {:?}",
            self.shape()
        );
        check_channel_param("group_norm", "weight", weight, c);
        check_channel_param("group_norm", "bias", bias, c);
        let x = self.data().as_standard_layout();
        let x = x.as_slice().expect("standard layout");
        let (mean, rstd) = group_stats(x, (n, c, l), groups, eps);
        let gamma = channel_values(weight, c, 1.0);
        let beta = channel_values(bias, c, 0.0);
        let y = group_forward(x, (c, l), groups, (&mean, &rstd), (&gamma, &beta));
        let mut inputs = vec![self.clone()];
        inputs.extend(weight.cloned());
        inputs.extend(bias.cloned());
        Tensor::from_op(
            Array::from_shape_vec(IxDyn(self.shape()), y).expect("shape"),
            inputs,
            GroupNormBackward {
                groups,
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
    use crate::gradcheck::{GradCheckConfig, assert_gradients, assert_gradients_at, random_inputs};

    #[test]
    fn gradients() {
        // f32 rounding of the normalised outputs dominates the finite difference at ε = 1e-3
        // here (the numeric estimate drifts away from the analytic one as ε shrinks); the op is
        // smooth, so a larger step is accurate.
        assert_gradients_at(
            |t| t[0].group_norm(2, Some(&t[1]), Some(&t[2]), 1e-5),
            &random_inputs(&[&[3, 4, 2, 3], &[4], &[4]], 1),
            &GradCheckConfig {
                eps: 1e-2,
                seed: 1,
                ..Default::default()
            },
        );
        assert_gradients(|t| t[0].group_norm(3, None, None, 1e-5), &[&[2, 3, 5]], 2);
        assert_gradients(
            |t| t[0].group_norm(1, Some(&t[1]), None, 1e-5),
            &[&[2, 4, 3], &[4]],
            3,
        );
    }

    #[test]
    #[should_panic(expected = "3 groups do not divide the 4 channels")]
    fn groups_must_divide_channels() {
        let _ = Tensor::ones(&[1, 4, 2]).group_norm(3, None, None, 1e-5);
    }
}
