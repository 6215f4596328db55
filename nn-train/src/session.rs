//! [`Session`]: everything a job builds before its first step — the data with its fitted
//! preprocessing, the model, the loaders, the optimizer with its schedule and the loss — and
//! [`Session::train_step`], one optimisation step. [`crate::train_with`] is a loop over these;
//! tools that need their own loop (a learning-rate range test, a tuning trial) reuse them.
//!
//! With a `[transfer]` block the model starts from a checkpoint, with a fresh head and a frozen
//! or slower backbone ([`crate::transfer`]); the session reports what was loaded in
//! [`Session::transfer`] and unfreezes on schedule in [`Session::train_step`].

use std::sync::Arc;

use nn_core::loss::{CrossEntropyConfig, CrossEntropyLoss};
use nn_core::{Ctx, Mode, Module, Tensor, rng};
use nn_data::{Batch, DataLoader, LoaderConfig, Shard};
use nn_optim::{LrScheduler, OptimizerConfig, Schedule};
use nn_regularize::Penalty;

use crate::accumulate::{forward_stream, micro_batch_weights};
use crate::adapter::optimizer_step;
use crate::callback::Callback;
use crate::config::TrainConfig;
use crate::data::{PreparedData, loader, prepare};
use crate::dist::{Dist, GradReducer};
use crate::error::{Result, TrainError, invalid};
use crate::lbfgs::{check_full_batch, is_lbfgs};
use crate::optimizer::JobOptimizer;
use crate::pca_lighting::{fit_color_pca, training_pipeline};
use crate::plateau::Plateau;
use crate::regularize::{cutout_step, mixup_step};
use crate::shapes;
use crate::trainer::default_schedule;
use crate::transfer::{TransferReport, apply_transfer, param_groups, unfreeze};

/// The built pieces of a job.
pub struct Session {
    /// The job.
    pub config: TrainConfig,
    /// The splits and the preprocessing fitted on the training split.
    pub data: PreparedData,
    /// The model, freshly initialised from `config.seed` (then loaded from the transfer
    /// checkpoint, if any).
    pub model: Box<dyn Module>,
    /// Shuffled training batches with the job's augmentation and mixup.
    pub train_loader: DataLoader,
    /// Validation batches in order (no augmentation).
    pub val_loader: DataLoader,
    /// Test batches in order (no augmentation).
    pub test_loader: DataLoader,
    /// The optimizer: element-wise (biases and norm parameters in a no-decay group if
    /// `config.no_decay_on_1d`) or L-BFGS ([`crate::lbfgs`]).
    pub optimizer: JobOptimizer,
    /// The learning-rate schedule driving `optimizer`.
    pub scheduler: LrScheduler,
    /// The `[reduce_on_plateau]` scheduler, stepped with the validation metric after every
    /// epoch; its reductions multiply the rates `scheduler` sets ([`crate::plateau`]).
    pub plateau: Option<Plateau>,
    /// The training loss (cross-entropy with the job's label smoothing).
    pub loss_fn: CrossEntropyLoss,
    /// The `[penalty]` added to the training loss, if any.
    pub penalty: Option<Penalty>,
    /// What the `[transfer]` block loaded, re-initialised and froze (`None` without one).
    pub transfer: Option<TransferReport>,
    /// This session's rank in a data-parallel job ([`Dist::single`] for one process).
    pub dist: Dist,
    /// Bucketed gradient sums across the ranks (data-parallel jobs only).
    pub(crate) reducer: Option<GradReducer>,
    /// Whether gradual unfreezing has happened.
    pub(crate) unfrozen: bool,
}

/// What one training step measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// The mini-batch loss before the update.
    pub loss: f32,
    /// Correct predictions against the hard labels (in training mode, before the update).
    pub correct: usize,
    /// Samples in the batch.
    pub samples: usize,
    /// Learning rate of the first group used for the update.
    pub lr: f64,
}

impl StepStats {
    /// The stats of a step over several micro-batches: the sample-weighted mean loss, the summed
    /// counts.
    pub(crate) fn merge(parts: &[StepStats]) -> StepStats {
        let samples: usize = parts.iter().map(|p| p.samples).sum();
        let loss: f64 = parts
            .iter()
            .map(|p| p.loss as f64 * p.samples as f64)
            .sum::<f64>()
            / samples.max(1) as f64;
        StepStats {
            loss: loss as f32,
            correct: parts.iter().map(|p| p.correct).sum(),
            samples,
            lr: parts.first().map_or(0.0, |p| p.lr),
        }
    }
}

impl Session {
    /// Validates `config`, loads and preprocesses the data, builds the model, the loaders, the
    /// optimizer and the schedule.
    pub fn new(config: &TrainConfig) -> Result<Session> {
        Session::build(config, Dist::single())
    }

    /// [`Session::new`] for one rank of a data-parallel job ([`crate::dist`]): the training
    /// loader yields this rank's shard of every global batch of `config.batch_size`, and
    /// [`Session::train_step_group`] sums the ranks' gradients. Every rank builds the same
    /// model from the same seed; an error on any rank is an error on all ([`Dist::agree`]).
    pub fn distributed(config: &TrainConfig, dist: Dist) -> Result<Session> {
        let session = Session::build(config, dist.clone());
        dist.agree(session)
    }

    fn build(config: &TrainConfig, dist: Dist) -> Result<Session> {
        config.validate()?;
        let ranks = dist.size();
        if ranks > 1 {
            crate::dist::check_job(config, ranks)?;
        }
        // Shapes that cannot work are rejected before the data is read.
        shapes::check_before_loading(config)?;
        let mut data = prepare(&config.data, config.seed)?;
        // The model takes what the training pipeline makes of the images (then preprocessed).
        let pipeline_out = shapes::check(config, data.image_shape)?;
        data.input_shape = data.preprocess.output_shape(pipeline_out);
        check_full_batch(config, data.train.len())?;
        let lbfgs = is_lbfgs(config);
        if config.pca_lighting.is_some() {
            data.color_pca = Some(fit_color_pca(data.train.as_ref())?);
        }
        // Before the model is allocated, with the data already in memory.
        crate::memory_check::check(
            config,
            data.input_shape,
            data.num_classes,
            config.batch_size.min(data.train.len()),
            crate::memory_check::Budget::from_env()?.as_ref(),
        )?;
        let mut init_rng = rng::stream(config.seed, 1);
        let mut model = config
            .model
            .build(data.input_shape, data.num_classes, &mut init_rng)?;
        let transfer = config
            .transfer
            .as_ref()
            .map(|t| apply_transfer(model.as_mut(), t))
            .transpose()?;
        let loader_cfg = |seed: u64, shuffle: bool, drop_last: bool| LoaderConfig {
            batch_size: config.batch_size,
            shuffle,
            drop_last,
            seed,
            num_threads: config.data.threads,
            ..LoaderConfig::default()
        };
        // Drop a last batch of which a rank would get a single image (or none): batch norm
        // cannot normalise a single sample. In one process: a last batch of one image.
        let last = data.train.len() % config.batch_size;
        let drop_last = last > 0 && Shard::min_len(ranks, last) < 2;
        let shard = (ranks > 1).then(|| Shard {
            index: dist.rank(),
            count: ranks,
        });
        let pipeline = training_pipeline(
            config.augment.as_ref(),
            config.pca_lighting.as_ref().zip(data.color_pca.as_ref()),
        );
        let augment = pipeline
            .as_ref()
            .map(|a| a.init().map(Arc::new))
            .transpose()?;
        // The batch hooks, in the order documented in `crate::regularize` (the batched
        // preprocessing, if any, comes first).
        let mut hooks = Vec::new();
        if let Some(c) = &config.cutout {
            hooks.push(cutout_step(c.build()?));
        }
        if let Some(m) = &config.mixup {
            hooks.push(mixup_step(m.build(data.num_classes)?));
        }
        let train_loader = loader(
            data.train.clone(),
            LoaderConfig {
                shard,
                ..loader_cfg(config.seed, !lbfgs, drop_last)
            },
            augment,
            data.preprocess.clone(),
            hooks,
        )?;
        let val_loader = loader(
            data.val.clone(),
            loader_cfg(0, false, false),
            None,
            data.preprocess.clone(),
            Vec::new(),
        )?;
        let test_loader = loader(
            data.test.clone(),
            loader_cfg(0, false, false),
            None,
            data.preprocess.clone(),
            Vec::new(),
        )?;
        let groups = match (&transfer, &config.transfer) {
            (Some(report), Some(t)) => {
                param_groups(&report.head, t.backbone_lr_mult, config.no_decay_on_1d)
            }
            _ => param_groups(&[], 1.0, config.no_decay_on_1d),
        };
        let mut optimizer = match &config.optimizer {
            OptimizerConfig::Lbfgs(c) => JobOptimizer::Lbfgs(Box::new(c.clone().init()?)),
            c => JobOptimizer::Gradient(c.build(groups)?),
        };
        if let Some(scaling) = &config.lr_scaling {
            let factor = scaling.factor(config.batch_size * config.grad_accumulation)?;
            for g in 0..optimizer.num_groups() {
                let lr = optimizer.lr(g) * factor;
                optimizer.set_lr(g, lr);
            }
        }
        let steps_per_epoch = train_loader
            .num_batches()
            .div_ceil(config.grad_accumulation) as u64;
        let schedule = match &config.schedule {
            Some(s) => s.clone(),
            // ReduceLROnPlateau alone keeps the rate constant between reductions.
            None if lbfgs || config.reduce_on_plateau.is_some() => Schedule::Constant,
            None => default_schedule(config, steps_per_epoch),
        };
        let scheduler = LrScheduler::new(schedule, config.schedule_interval, &mut optimizer)?;
        let plateau = config
            .reduce_on_plateau
            .as_ref()
            .map(|p| Plateau::new(p, &optimizer))
            .transpose()?;
        let penalty = config.penalty.as_ref().map(|p| p.build()).transpose()?;
        if let Some(w) = &config.class_weights
            && w.len() != data.num_classes
        {
            return Err(invalid(
                "class_weights",
                format!("{} weights", w.len()),
                &format!(
                    "one weight per class ({} classes in the data)",
                    data.num_classes
                ),
            ));
        }
        let loss_fn = CrossEntropyConfig {
            label_smoothing: config.label_smoothing,
            weight: config.class_weights.clone(),
            ..CrossEntropyConfig::default()
        }
        .init()?;
        Ok(Session {
            config: config.clone(),
            data,
            model,
            train_loader,
            val_loader,
            test_loader,
            optimizer,
            scheduler,
            plateau,
            loss_fn,
            penalty,
            transfer,
            dist,
            reducer: None,
            unfrozen: false,
        })
    }

    /// One optimisation step on `batch` (global step `step` of epoch `epoch`): forward in
    /// training mode (dropout masks etc. seeded from the job's seed and `step`), loss,
    /// backward, the `[penalty]`'s gradient, the callbacks' `after_backward`, the optimizer
    /// step, the step-wise schedule. With `transfer.unfreeze_after_epochs = k`, the first step
    /// of an epoch ≥ k (0-based) first unfreezes the parameters the transfer froze.
    ///
    /// This is [`Session::train_step_group`] with one batch: `grad_accumulation` does not
    /// apply (the training loop groups the batches).
    ///
    /// Errors with [`TrainError::Diverged`] (before touching the parameters) if the loss is
    /// not finite.
    pub fn train_step(
        &mut self,
        batch: Batch,
        epoch: usize,
        step: u64,
        callbacks: &mut [&mut dyn Callback],
    ) -> Result<StepStats> {
        self.train_step_group(vec![batch], epoch, step, callbacks)
    }

    /// One optimisation step over the micro-batches `batches` (gradient accumulation, see
    /// [`crate::accumulate`]): forward and backward on each, its loss weighted by its share of
    /// the step's images, the `[penalty]`'s gradient once, then as [`Session::train_step`].
    /// The returned loss is the mean over all the step's images.
    ///
    /// Errors with [`TrainError::Diverged`] (before touching the parameters) if a loss is not
    /// finite.
    ///
    /// In a data-parallel session ([`Session::distributed`]) the batches are this rank's shards;
    /// the ranks agree on the global loss before each backward and sum their gradients during
    /// the last one, and the returned statistics are the global batch's (see [`crate::dist`]).
    ///
    /// # Panics
    /// If `batches` is empty (a programmer error).
    pub fn train_step_group(
        &mut self,
        batches: Vec<Batch>,
        epoch: usize,
        step: u64,
        callbacks: &mut [&mut dyn Callback],
    ) -> Result<StepStats> {
        assert!(!batches.is_empty(), "train_step_group: no batch");
        if let (Some(report), false) = (&self.transfer, self.unfrozen)
            && report.unfreeze_after_epochs.is_some_and(|k| epoch >= k)
        {
            unfreeze(self.model.as_ref(), report);
            self.unfrozen = true;
        }
        if let JobOptimizer::Lbfgs(_) = self.optimizer {
            let [batch] = <[Batch; 1]>::try_from(batches).map_err(|b| {
                invalid(
                    "grad_accumulation",
                    b.len(),
                    "1 with optimizer.kind = \"lbfgs\" (one full batch per step)",
                )
            })?;
            return self.lbfgs_step(batch, epoch, step, callbacks);
        }
        if self.dist.size() > 1 {
            return self.distributed_step(batches, epoch, step, callbacks);
        }
        let sizes: Vec<usize> = batches.iter().map(|b| b.labels.len()).collect();
        let weights = micro_batch_weights(&sizes);
        self.model.zero_grad();
        let lr = self.optimizer.lr(0);
        let mut parts = Vec::with_capacity(batches.len());
        let seed = self.config.seed;
        let (model, loss_fn) = (self.model.as_ref(), &self.loss_fn);
        for (micro, (batch, w)) in batches.into_iter().zip(weights).enumerate() {
            let n = batch.labels.len();
            // Forward and backward on a worker of the pool (`nn_core::workers`: the ops split
            // their work from inside it, 1.04x faster on a ResNet-20 step).
            let (value, correct) = nn_core::workers::run(|| {
                let x = Tensor::from_array(batch.images.into_dyn());
                let mut ctx = Ctx::new(Mode::Train, forward_stream(seed, step, micro));
                let (logits, loss) = loss_of(
                    model,
                    loss_fn,
                    &x,
                    batch.soft_targets,
                    &batch.labels,
                    &mut ctx,
                );
                let value = loss.item();
                if !value.is_finite() {
                    return (value, 0);
                }
                if sizes.len() == 1 {
                    loss.backward();
                } else {
                    loss.backward_with(nn_core::Array::from_elem(ndarray::IxDyn(&[]), w));
                }
                drop(loss);
                (value, count_correct(&logits, &batch.labels))
            });
            if !value.is_finite() {
                self.model.zero_grad();
                return Err(TrainError::Diverged {
                    epoch,
                    step,
                    loss: value,
                });
            }
            parts.push(StepStats {
                loss: value,
                correct,
                samples: n,
                lr,
            });
        }
        self.finish_step(step, callbacks)?;
        Ok(StepStats::merge(&parts))
    }

    /// The model's logits for `x` and the batch's loss: cross-entropy against `soft_targets`
    /// when the batch hook made them (mixup, CutMix), else against the hard `labels`.
    pub(crate) fn batch_loss(
        &self,
        x: &Tensor,
        soft_targets: Option<ndarray::Array2<f32>>,
        labels: &[usize],
        ctx: &mut Ctx,
    ) -> (Tensor, Tensor) {
        loss_of(
            self.model.as_ref(),
            &self.loss_fn,
            x,
            soft_targets,
            labels,
            ctx,
        )
    }

    /// The end of a gradient step, after the data's gradients are in place (summed across the
    /// ranks in a data-parallel session): the `[penalty]`'s gradient, the callbacks'
    /// `after_backward`, the optimizer's update, then the next step's rates.
    pub(crate) fn finish_step(
        &mut self,
        step: u64,
        callbacks: &mut [&mut dyn Callback],
    ) -> Result<()> {
        if let Some(p) = &self.penalty {
            p.loss(self.model.as_ref()).backward();
        }
        for cb in callbacks.iter_mut() {
            cb.after_backward(self.model.as_ref(), step);
        }
        if let JobOptimizer::Gradient(o) = &mut self.optimizer {
            optimizer_step(o.as_mut(), self.model.as_ref())?;
        }
        self.next_rates();
        Ok(())
    }

    /// After an optimizer step: the schedule's rates for the next step, times the plateau's
    /// reductions so far.
    pub(crate) fn next_rates(&mut self) {
        self.scheduler.on_step(&mut self.optimizer);
        if let Some(p) = &self.plateau {
            p.apply(&mut self.optimizer);
        }
    }

    /// The data-parallel reducer's measurements of the last step (`None` in one process).
    pub fn reduce_stats(&self) -> Option<crate::dist::ReduceStats> {
        self.reducer.as_ref().map(GradReducer::stats)
    }
}

/// Number of rows of `logits` whose arg-max is the label.
/// The logits of `model` for `x` and their loss against the soft targets, if any, or else the
/// labels.
fn loss_of(
    model: &dyn Module,
    loss_fn: &CrossEntropyLoss,
    x: &Tensor,
    soft_targets: Option<ndarray::Array2<f32>>,
    labels: &[usize],
    ctx: &mut Ctx,
) -> (Tensor, Tensor) {
    let logits = model.forward(x, ctx);
    let loss = match soft_targets {
        Some(t) => loss_fn.forward_soft(&logits, &Tensor::from_array(t.into_dyn())),
        None => loss_fn.forward(&logits, labels),
    };
    (logits, loss)
}

pub(crate) fn count_correct(logits: &Tensor, labels: &[usize]) -> usize {
    let pred = logits.argmax(1, false);
    pred.iter().zip(labels).filter(|(p, l)| *p == *l).count()
}
