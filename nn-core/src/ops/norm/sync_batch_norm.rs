//! Synchronised batch normalisation (PyTorch's `nn.SyncBatchNorm`): batch normalisation in
//! training mode when the batch is split across data-parallel replicas
//! ([`crate::replica::ReplicaGroup`]), normalising every shard with the statistics of the whole
//! batch.
//!
//! Forward: each replica computes its per-channel moments (count, mean, Σ(x − mean)²), the group
//! gathers them and every replica merges them **in replica order** (Chan et al.'s pairwise
//! update, in f64), so all replicas normalise with the same μ and σ² and update their running
//! statistics identically (unbiased with the global count M). Backward: each replica computes
//! its per-channel Σ dy and Σ dy·(x − μ), the group gathers them and sums them in replica order,
//! and every replica applies `∂L/∂x = γr·(dy − S1/M) − γr³·S2/M·(x − μ)` to its shard with the
//! global sums. `∂L/∂γ` and `∂L/∂β` are the replica's own sums (Σ dy·x̂, Σ dy over its shard),
//! as in PyTorch: the data-parallel gradient reduction adds them up.
//!
//! The replicas' upstream gradients must be gradients of one global loss (each replica's loss
//! weighted by its share of the batch), which is how nn-train seeds backward.

use std::sync::Arc;

use ndarray::IxDyn;

use super::Moments;
use super::batch_norm::{
    BatchNormOptions, RunningStats, channel_affine, channel_dx, channel_grad_sums, channel_moments,
    channel_values, check_channel_param, ncl,
};
use crate::autograd::{Backward, BackwardCtx};
use crate::replica::ReplicaGroup;
use crate::tensor::{Array, Tensor};

struct SyncBatchNormBackward {
    mean: Vec<f32>,
    rstd: Vec<f32>,
    /// Values per channel over all replicas.
    total: f64,
    has_weight: bool,
    has_bias: bool,
    group: Arc<dyn ReplicaGroup>,
}

impl Backward for SyncBatchNormBackward {
    fn name(&self) -> &'static str {
        "sync_batch_norm"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, grad: Array) -> Vec<Option<Array>> {
        let shape = ctx.inputs[0].shape();
        let (n, c, l) = ncl("sync_batch_norm", shape);
        let x = ctx.inputs[0].data().as_standard_layout();
        let x = x.as_slice().expect("standard layout");
        let dy_std = grad.as_standard_layout();
        let dy = dy_std.as_slice().expect("standard layout");
        let gamma = channel_values(self.has_weight.then(|| &ctx.inputs[1]), c, 1.0);
        let local = channel_grad_sums(x, dy, (n, c, l), &self.mean);
        let flat: Vec<f64> = local.iter().flat_map(|&(a, b)| [a, b]).collect();
        let gathered = self.group.all_gather(&flat);
        let mut global = vec![(0.0f64, 0.0f64); c];
        for replica in gathered.chunks_exact(2 * c) {
            for (g, s) in global.iter_mut().zip(replica.chunks_exact(2)) {
                g.0 += s[0];
                g.1 += s[1];
            }
        }
        let m = self.total;
        let dx = ctx.needs_grad(0).then(|| {
            let coef: Vec<(f32, f32, f32)> = (0..c)
                .map(|ci| {
                    let (g, r, mu) = (gamma[ci] as f64, self.rstd[ci] as f64, self.mean[ci] as f64);
                    let (s1, s2) = global[ci];
                    let b = -g * r * r * r * s2 / m;
                    ((g * r) as f32, b as f32, (-g * r * s1 / m - b * mu) as f32)
                })
                .collect();
            let v = channel_dx(x, dy, (c, l), &coef);
            Array::from_shape_vec(IxDyn(shape), v).expect("input shape")
        });
        drop(dy_std);
        crate::buffer_pool::recycle(grad);
        let mut out = vec![dx];
        let vec1 = |v: Vec<f32>| Array::from_shape_vec(IxDyn(&[c]), v).expect("[C]");
        if self.has_weight {
            out.push(ctx.needs_grad(1).then(|| {
                vec1(
                    local
                        .iter()
                        .zip(&self.rstd)
                        .map(|(s, &r)| (s.1 * r as f64) as f32)
                        .collect(),
                )
            }));
        }
        if self.has_bias {
            let i = 1 + self.has_weight as usize;
            out.push(
                ctx.needs_grad(i)
                    .then(|| vec1(local.iter().map(|s| s.0 as f32).collect())),
            );
        }
        out
    }
}

impl Tensor {
    /// Batch normalisation in training mode of this replica's shard `[N, C, *]` of a batch split
    /// across `group`, with the statistics of the whole batch (PyTorch's `SyncBatchNorm`). Every
    /// replica's per-channel moments (count, mean, Σ(x − μ)²) are gathered and merged in replica
    /// order; backward sums Σdy and Σdy·(x − μ) over the group the same way and applies
    /// `∂L/∂x = γr·(dy − S1/M) − γr³·S2/M·(x − μ)`; the γ/β gradients stay local (the
    /// data-parallel gradient reduction adds them up). `o.training` is ignored (always training:
    /// in evaluation mode use [`Tensor::batch_norm`] with the running statistics). Over a group
    /// of one replica the
    /// result is [`Tensor::batch_norm`]'s, bit for bit.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use nn_core::{Tensor, ops::BatchNormOptions, replica::{ReplicaGroup, SingleReplica}};
    /// let x = Tensor::from_vec(vec![1.0, 3.0, 10.0, 30.0], &[2, 2]);
    /// let o = BatchNormOptions::default();
    /// let group: Arc<dyn ReplicaGroup> = Arc::new(SingleReplica);
    /// let y = x.sync_batch_norm(None, None, None, o, &group);
    /// assert_eq!(y.to_vec(), x.batch_norm(None, None, None, o).to_vec());
    /// ```
    ///
    /// # Panics
    /// If the shapes do not fit, or if the whole batch has one value per channel.
    pub fn sync_batch_norm(
        &self,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        running: Option<RunningStats<'_>>,
        o: BatchNormOptions,
        group: &Arc<dyn ReplicaGroup>,
    ) -> Tensor {
        let (n, c, l) = ncl("sync_batch_norm", self.shape());
        check_channel_param("sync_batch_norm", "weight", weight, c);
        check_channel_param("sync_batch_norm", "bias", bias, c);
        let x = self.data().as_standard_layout();
        let x = x.as_slice().expect("standard layout");
        let local = channel_moments(x, (n, c, l));
        let flat: Vec<f64> = local.iter().flat_map(|m| [m.count, m.mean, m.m2]).collect();
        let gathered = group.all_gather(&flat);
        let mut moments = vec![Moments::default(); c];
        for replica in gathered.chunks_exact(3 * c) {
            for (g, s) in moments.iter_mut().zip(replica.chunks_exact(3)) {
                *g = g.merge(Moments {
                    count: s[0],
                    mean: s[1],
                    m2: s[2],
                });
            }
        }
        let total = moments.first().map_or(0.0, |m| m.count);
        assert!(
            total > 1.0,
            "sync_batch_norm: expected more than 1 value per channel over all replicas when \
             training, got {total} (local input shape {:?})",
            self.shape()
        );
        if let Some(r) = running {
            assert!(
                r.mean.shape() == [c] && r.var.shape() == [c],
                "sync_batch_norm: running statistics of shapes {:?} and {:?} do not match {c} \
                 channels",
                r.mean.shape(),
                r.var.shape()
            );
            let unbias = total / (total - 1.0);
            let mo = o.momentum as f64;
            r.mean.update(|mut v| {
                for (rm, mm) in v.iter_mut().zip(&moments) {
                    *rm = ((1.0 - mo) * *rm as f64 + mo * mm.mean) as f32;
                }
            });
            r.var.update(|mut v| {
                for (rv, mm) in v.iter_mut().zip(&moments) {
                    *rv = ((1.0 - mo) * *rv as f64 + mo * mm.var() * unbias) as f32;
                }
            });
        }
        let (mean, rstd): (Vec<f32>, Vec<f32>) = moments
            .iter()
            .map(|m| {
                (
                    m.mean as f32,
                    (1.0 / (m.var() + o.eps as f64).sqrt()) as f32,
                )
            })
            .unzip();
        let gamma = channel_values(weight, c, 1.0);
        let beta = channel_values(bias, c, 0.0);
        let scale: Vec<f32> = gamma.iter().zip(&rstd).map(|(g, r)| g * r).collect();
        let shift: Vec<f32> = (0..c).map(|i| beta[i] - mean[i] * scale[i]).collect();
        let y = channel_affine(x, (c, l), &scale, &shift, false);
        let mut inputs = vec![self.clone()];
        inputs.extend(weight.cloned());
        inputs.extend(bias.cloned());
        Tensor::from_op(
            Array::from_shape_vec(IxDyn(self.shape()), y).expect("shape"),
            inputs,
            SyncBatchNormBackward {
                mean,
                rstd,
                total,
                has_weight: weight.is_some(),
                has_bias: bias.is_some(),
                group: group.clone(),
            },
        )
    }
}

#[cfg(test)]
mod tests;
