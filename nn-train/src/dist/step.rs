//! One data-parallel optimisation step ([`Session::train_step_group`] on a rank of a job with
//! more than one): the per-rank forward pass, the agreement on the global loss, backward seeded
//! with the rank's share of the step, the bucketed gradient sums, then the same update on every
//! rank.

use ndarray::IxDyn;
use nn_core::{Array, Ctx, Mode, Tensor};
use nn_data::Batch;

use super::{GradReducer, StepLocal};
use crate::accumulate::forward_stream;
use crate::callback::Callback;
use crate::error::{Result, TrainError};
use crate::session::{Session, StepStats, count_correct};

impl Session {
    /// The denominator of a batch's mean loss: its sample count, or with class weights and hard
    /// labels the total weight of its labels (PyTorch's weighted mean).
    fn loss_denominator(&self, batch: &Batch) -> f64 {
        match (&self.config.class_weights, &batch.soft_targets) {
            (Some(w), None) => batch.labels.iter().map(|&y| w[y] as f64).sum(),
            _ => batch.labels.len() as f64,
        }
    }

    /// The step over this rank's shards `batches` (one per micro-batch); see the module docs
    /// and [`crate::dist`].
    ///
    /// Each micro-batch's loss is this rank's mean over its shard, `L_rm = Σ ℓ / d_rm`; the
    /// step's loss is `Σ_rm d_rm·L_rm / D` with `D = Σ_rm d_rm`, so this rank seeds the
    /// backward pass of micro-batch m with `d_rm / D` and the sum over the ranks of the
    /// accumulated gradients is the gradient of the step's loss. The `[penalty]`'s gradient is
    /// added after the sum, on every rank (the weights are the same everywhere).
    pub(crate) fn distributed_step(
        &mut self,
        batches: Vec<Batch>,
        epoch: usize,
        step: u64,
        callbacks: &mut [&mut dyn Callback],
    ) -> Result<StepStats> {
        let k = batches.len();
        let denominators: Vec<f64> = batches.iter().map(|b| self.loss_denominator(b)).collect();
        // With several micro-batches, the step's total D first (one micro-batch: its own).
        let step_total = match k {
            1 => None,
            _ => Some(self.dist.agree_sum(Ok(denominators.iter().sum()))?),
        };
        self.model.zero_grad();
        let lr = self.optimizer.lr(0);
        let rank_seed = self
            .config
            .seed
            .wrapping_add((self.dist.rank() as u64).wrapping_mul(0xd1b5_4a32_d192_ed03));
        let mut parts = Vec::with_capacity(k);
        for (micro, (batch, d)) in batches.into_iter().zip(denominators).enumerate() {
            let n = batch.labels.len();
            let x = Tensor::from_array(batch.images.into_dyn());
            let mut ctx = Ctx::new(Mode::Train, forward_stream(rank_seed, step, micro));
            if self.config.distributed.sync_batch_norm {
                ctx = ctx.with_replicas(self.dist.replicas());
            }
            let (logits, loss) = self.batch_loss(&x, batch.soft_targets, &batch.labels, &mut ctx);
            let global = self.dist.agree_step(Ok(StepLocal {
                loss: loss.item(),
                denominator: d,
                correct: count_correct(&logits, &batch.labels),
                samples: n,
            }))?;
            if !global.loss.is_finite() {
                self.model.zero_grad();
                return Err(TrainError::Diverged {
                    epoch,
                    step,
                    loss: global.loss,
                });
            }
            let (seed, weight) = match step_total {
                None => (global.share, 1.0),
                Some(total) => ((d / total) as f32, global.denominator / total),
            };
            if micro + 1 < k {
                loss.backward_with(Array::from_elem(IxDyn(&[]), seed));
            } else {
                self.backward_reduced(&loss, seed)?;
            }
            parts.push((global, weight));
        }
        self.finish_step(step, callbacks)?;
        let loss: f64 = parts.iter().map(|(g, w)| g.loss as f64 * w).sum();
        Ok(StepStats {
            loss: loss as f32,
            correct: parts.iter().map(|(g, _)| g.correct).sum(),
            samples: parts.iter().map(|(g, _)| g.samples).sum(),
            lr,
        })
    }

    /// Backward seeded with `seed`, the gradients summed across the ranks in buckets started
    /// from the backward hook ([`GradReducer`]).
    fn backward_reduced(&mut self, loss: &Tensor, seed: f32) -> Result<()> {
        let model = self.model.as_ref();
        if !self.reducer.as_ref().is_some_and(|r| r.matches(model)) {
            let bytes = self.config.distributed.bucket_bytes();
            self.reducer = Some(GradReducer::new(self.dist.comm().clone(), model, bytes));
        }
        let reducer = self.reducer.as_mut().expect("built above");
        reducer.begin();
        let mut failed = None;
        loss.backward_with_hook(Array::from_elem(IxDyn(&[]), seed), &mut |leaf| {
            if failed.is_none() {
                failed = reducer.on_leaf(leaf).err();
            }
        });
        match failed {
            Some(e) => Err(e),
            None => reducer.finish(),
        }
    }
}
