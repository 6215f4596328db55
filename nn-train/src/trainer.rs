//! The training loop: mini-batch SGD (or any nn-optim optimizer) with a schedule, per-epoch
//! validation, best-snapshot tracking and early stopping, then one test evaluation.
//!
//! It follows the lecture's practice: the initial loss is recorded next to its expected value
//! log C ("check initial loss"), the model snapshot that worked best on validation is kept and
//! restored at the end ("early stopping: always do this"), and a diverging loss stops the job
//! with an error that suggests a lower learning rate.

use std::path::PathBuf;
use std::time::Instant;

use nn_core::infer::infer;
use nn_core::loss::cross_entropy;
use nn_core::{Array, Module, Tensor, with_no_grad};
use nn_data::DataLoader;
use nn_optim::schedule::{Cosine, Warmup};
use nn_optim::{Interval, Schedule};
use serde::{Deserialize, Serialize};

use crate::callback::{Callback, Control, OnEpoch, StepInfo};
use crate::checkpoint::{self, Checkpoint, EpochSums, Kept, KeptRef, TrainState};
use crate::config::TrainConfig;
use crate::data::PreparedData;
use crate::ema::Ema;
use crate::error::{Result, TrainError};
use crate::interrupt::Interrupt;
use crate::metrics::ClassMetrics;
use crate::root_epoch;
use crate::session::Session;

/// Metrics of one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Learning rate of the first parameter group used by the epoch's last update (the rate
    /// the optimizer stepped with, not the one the schedule set for the next step).
    pub lr: f64,
    /// Mean training loss (on the augmented/mixed batches, in training mode).
    pub train_loss: f32,
    /// Training accuracy against the hard labels (on the augmented batches, in training mode).
    pub train_acc: f32,
    /// Validation loss (evaluation mode).
    pub val_loss: f32,
    /// Validation accuracy (evaluation mode).
    pub val_acc: f32,
    /// Wall-clock seconds of the epoch (training and validation). Not serialised: timings
    /// differ between identical runs, and the report must not (`nn-train train --out` writes
    /// them to `timings.json`).
    #[serde(skip)]
    pub seconds: f32,
    /// Validation loss of the EMA weights (jobs with [`TrainConfig::ema`]).
    #[serde(default)]
    pub ema_val_loss: Option<f32>,
    /// Validation accuracy of the EMA weights (jobs with [`TrainConfig::ema`]).
    #[serde(default)]
    pub ema_val_acc: Option<f32>,
}

/// Which weights a job kept: the raw weights or their moving average.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum KeptWeights {
    /// The weights the optimizer produced (the best validation epoch's).
    #[default]
    Raw,
    /// The exponential moving average of the weights ([`crate::ema`]).
    Ema,
}

/// What a finished job reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Number of parameters of the model.
    pub parameters: usize,
    /// Validation loss of the untrained model (sanity check: about `expected_initial_loss`).
    pub initial_val_loss: f32,
    /// log C for C classes: the loss of uniform predictions.
    pub expected_initial_loss: f32,
    /// Per-epoch metrics.
    pub history: Vec<EpochRecord>,
    /// The epoch (1-based) whose snapshot was kept.
    pub best_epoch: usize,
    /// Its validation accuracy.
    pub best_val_acc: f32,
    /// Test loss of the kept snapshot.
    pub test_loss: f32,
    /// Test accuracy of the kept snapshot.
    pub test_acc: f32,
    /// Whether early stopping ended the job before the last epoch.
    pub stopped_early: bool,
    /// Whether a [`Callback`] stopped the job.
    #[serde(default)]
    pub stopped_by_callback: bool,
    /// Which weights were kept (and tested): the EMA weights if their best validation accuracy
    /// beat the raw weights' (strictly), else the raw weights.
    #[serde(default)]
    pub kept: KeptWeights,
    /// Best validation accuracy of the raw weights (= `best_val_acc` without EMA).
    #[serde(default)]
    pub raw_best_val_acc: f32,
    /// Best validation accuracy of the EMA weights (jobs with EMA).
    #[serde(default)]
    pub ema_best_val_acc: Option<f32>,
    /// Epoch of the best EMA validation accuracy (jobs with EMA).
    #[serde(default)]
    pub ema_best_epoch: Option<usize>,
    /// Test accuracy of the best raw snapshot (for comparison; not used for any choice).
    #[serde(default)]
    pub raw_test_acc: f32,
    /// Test accuracy of the best EMA snapshot (jobs with EMA; for comparison only).
    #[serde(default)]
    pub ema_test_acc: Option<f32>,
    /// Confusion matrix and per-class accuracy of the kept snapshot on the test split.
    #[serde(default)]
    pub test_metrics: Option<ClassMetrics>,
}

/// A trained model with its report.
pub struct Trained {
    /// The model, holding the best validation snapshot.
    pub model: Box<dyn Module>,
    /// The report.
    pub report: TrainReport,
    /// The data (with the fitted preprocessing), for further evaluation.
    pub data: PreparedData,
}

/// Runs the job described by `config`, calling `on_epoch` after every epoch (for progress
/// output). The same as [`train_with`] with one [`OnEpoch`] callback.
pub fn train(config: &TrainConfig, on_epoch: &mut dyn FnMut(&EpochRecord)) -> Result<Trained> {
    train_with(config, &mut [&mut OnEpoch(on_epoch)])
}

/// Runs the job described by `config` with `callbacks` hooked into the loop (see
/// [`Callback`]): builds a [`Session`], records the initial validation loss, trains
/// `config.epochs` epochs with per-epoch validation (stopping early if `config.early_stopping`
/// or a callback says so), restores the best validation snapshot and evaluates it on the test
/// split.
///
/// With [`TrainConfig::ema`], an [`Ema`] is updated after every optimizer step and its weights
/// are validated every epoch too; the best EMA snapshot and the best raw snapshot are both
/// kept, and the one with the higher validation accuracy (raw on ties) is restored and tested
/// ([`TrainReport::kept`]). Early stopping counts epochs since the better of the two improved.
pub fn train_with(config: &TrainConfig, callbacks: &mut [&mut dyn Callback]) -> Result<Trained> {
    train_session(Session::new(config)?, callbacks)
}

/// [`train_with`] on a session built beforehand (e.g. to print its [`Session::transfer`] load
/// report before training starts). The job is `session.config`.
pub fn train_session(s: Session, callbacks: &mut [&mut dyn Callback]) -> Result<Trained> {
    train_checkpointed(s, callbacks, Checkpointing::default())
}

/// How [`train_checkpointed`] writes checkpoints, stops on a signal and resumes.
#[derive(Debug, Default)]
pub struct Checkpointing {
    /// Where checkpoints are written ([`crate::checkpoint`]): at the end of every epoch and
    /// every [`crate::config::CheckpointSettings::every_steps`] steps. `None`: never.
    pub path: Option<PathBuf>,
    /// Checked after every step: once raised, a checkpoint is written (if `path` is set) and
    /// the job ends with [`TrainError::Interrupted`].
    pub interrupt: Option<Interrupt>,
    /// Continue from this checkpoint (of the same job) instead of starting afresh.
    pub resume: Option<Checkpoint>,
}

/// [`train_session`] with checkpoints, interruption and resume. A job resumed from any of its
/// checkpoints ends with the same model and [`TrainReport`], bit for bit, as the job run
/// without interruption (only [`EpochRecord::seconds`] differ).
///
/// In a data-parallel session ([`Session::distributed`]) every rank trains; rank 0 alone
/// validates, calls the callbacks' `on_epoch`, keeps the best snapshots, writes checkpoints and
/// tests. Its decisions (early stopping, a callback's stop, an error, a failed checkpoint
/// write) and any rank's signal reach every rank at the next agreement ([`crate::dist`]). Every
/// rank resumes from the same checkpoint (rank 0's). The other ranks return their final
/// weights with a report that has no history and NaN metrics.
pub fn train_checkpointed(
    mut s: Session,
    callbacks: &mut [&mut dyn Callback],
    plan: Checkpointing,
) -> Result<Trained> {
    let config = &s.config.clone();
    let root = s.dist.is_root();
    // The EMA and a second instance of the architecture to evaluate its weights in (rank 0).
    let mut ema = match (&config.ema, root) {
        (Some(settings), true) => {
            let shadow = config.model.build(
                s.data.input_shape,
                s.data.num_classes,
                &mut nn_core::rng::stream(config.seed, 1),
            )?;
            Some((Ema::from_model(s.model.as_ref(), *settings)?, shadow))
        }
        _ => None,
    };
    let mut best_raw: Option<Vec<(String, Array)>> = None;
    let mut best_ema: Option<Vec<(String, Array)>> = None;
    let started = match plan.resume {
        Some(mut ckpt) => {
            if !root {
                // Rank 0's part: its callbacks, EMA and best snapshots stay with rank 0.
                ckpt.state.callbacks.clear();
                ckpt.state.ema_updates = None;
                ckpt.state.has_best_raw = false;
                ckpt.state.has_best_ema = false;
            }
            let path = plan.path.clone().unwrap_or_else(|| "<checkpoint>".into());
            let mut kept = Kept {
                ema: ema.as_mut().map(|(e, _)| e),
                best_raw: &mut best_raw,
                best_ema: &mut best_ema,
            };
            checkpoint::restore(ckpt, &mut s, &mut kept, callbacks, &path)
        }
        None if root => checkpoint::fresh(&s),
        None => Ok(checkpoint::fresh_with(&s, f32::NAN)),
    };
    let mut st = s.dist.agree(started)?;
    let every = config.checkpoint.every_steps;
    // Rank 0 writes (the other ranks have no checkpoint path); every rank learns the outcome.
    let save = |st: &TrainState,
                s: &Session,
                ema: &Option<(Ema, Box<dyn Module>)>,
                best_raw: &Option<Vec<(String, Array)>>,
                best_ema: &Option<Vec<(String, Array)>>,
                callbacks: &[&mut dyn Callback]|
     -> Result<()> {
        let written = match &plan.path {
            Some(path) => {
                let kept = KeptRef {
                    ema: ema.as_ref().map(|(e, _)| e),
                    best_raw: best_raw.as_ref(),
                    best_ema: best_ema.as_ref(),
                };
                checkpoint::capture(st, s, &kept, callbacks).save(path)
            }
            None => Ok(()),
        };
        s.dist.agree(written)
    };
    let signal = || plan.interrupt.as_ref().and_then(Interrupt::signal);
    let interrupted = |signal: i32, step: u64| TrainError::Interrupted {
        signal,
        step,
        checkpoint: plan.path.clone(),
    };
    while !st.finished {
        let epoch = st.epoch;
        let start = Instant::now();
        let seconds_before = st.epoch_sums.seconds;
        let mut control = Control::Continue;
        // Resumed at `st.batch`, a multiple of `grad_accumulation` (a step's first micro-batch).
        let mut batches = s.train_loader.epoch_from(epoch as u64, st.batch);
        loop {
            // The micro-batches of one optimizer step (`grad_accumulation` of them; fewer at the
            // end of the epoch). A rank that cannot read its shard tells the others.
            let mut group = Vec::with_capacity(config.grad_accumulation);
            for batch in batches.by_ref().take(config.grad_accumulation) {
                match batch {
                    Ok(b) => group.push(b),
                    Err(e) => return Err(s.dist.fail(e.into())),
                }
            }
            if group.is_empty() {
                break;
            }
            let micro_batches = group.len();
            let stats = s.train_step_group(group, epoch, st.step, callbacks)?;
            st.epoch_sums.last_lr = Some(stats.lr);
            if let Some((ema, _)) = &mut ema {
                ema.update(s.model.as_ref());
            }
            let sums = &mut st.epoch_sums;
            sums.correct += stats.correct;
            sums.loss_sum += stats.loss as f64 * stats.samples as f64;
            sums.seen += stats.samples;
            let info = StepInfo {
                epoch,
                step: st.step,
                loss: stats.loss,
                lr: stats.lr,
                batch_size: stats.samples,
                model: s.model.as_ref(),
            };
            for cb in callbacks.iter_mut() {
                control = control.or(cb.on_step(&info));
            }
            st.step += 1;
            st.batch += micro_batches;
            let (agreed, sig) = s.dist.agree_after_step(Ok(control), signal())?;
            control = agreed;
            if control == Control::Stop {
                // Finish the epoch's bookkeeping (validation, snapshot) with the steps done.
                break;
            }
            if sig.is_some() || (every > 0 && st.step % every == 0) {
                st.epoch_sums.seconds = seconds_before + start.elapsed().as_secs_f64();
                save(&st, &s, &ema, &best_raw, &best_ema, callbacks)?;
            }
            if let Some(sig) = sig {
                return Err(interrupted(sig, st.step));
            }
        }
        s.scheduler.on_epoch(&mut s.optimizer);
        if let Some(p) = &s.plateau {
            // The schedule's rates at this point, then the reductions so far: with a per-step
            // schedule `on_epoch` sets nothing, and the rates are already reduced once.
            s.scheduler.apply(&mut s.optimizer);
            p.apply(&mut s.optimizer);
        }
        let end = match root {
            true => root_epoch::end_epoch(
                &mut s,
                &mut st,
                (epoch, start, seconds_before, control),
                &ema,
                (&mut best_raw, &mut best_ema),
                callbacks,
            ),
            false => Ok(control),
        };
        let (control, sig) = s.dist.agree_after_step(end, signal())?;
        root_epoch::share_plateau_figures(&mut s, &st)?;
        st.finished |= control == Control::Stop;
        st.epoch += 1;
        st.batch = 0;
        st.epoch_sums = EpochSums::default();
        st.finished |= st.epoch >= config.epochs;
        save(&st, &s, &ema, &best_raw, &best_ema, callbacks)?;
        if let Some(sig) = sig {
            return Err(interrupted(sig, st.step));
        }
    }
    let mut report = st.report;
    for (record, seconds) in report.history.iter_mut().zip(&st.epoch_seconds) {
        record.seconds = *seconds;
    }
    let tested = match root {
        true => root_epoch::test_best(&mut s, &ema, best_raw, best_ema, &mut report),
        false => Ok(()),
    };
    s.dist.agree(tested)?;
    Ok(Trained {
        model: s.model,
        report,
        data: s.data,
    })
}

/// The default schedule: a linear warm-up over the first epoch, then cosine to 0 over the rest
/// (in steps or epochs, following `config.schedule_interval`).
///
/// With W warm-up steps, update t (0-based) of the warm-up uses `lr·(t + 1)/W`: the first update
/// already moves the weights (at lr/W), the last one is at the full rate, and the cosine starts
/// right after (PyTorch: `LinearLR(start_factor=1/W, total_iters=W-1)` then `CosineAnnealingLR`;
/// the gradual warm-up of Goyal et al. 2017 also starts from a nonzero rate). A warm-up that
/// starts at 0 would waste its first update — the whole first epoch when an epoch is one step
/// (full-batch jobs, or `schedule_interval = "epoch"`). With W = 1 there is no warm-up.
pub fn default_schedule(config: &TrainConfig, steps_per_epoch: u64) -> Schedule {
    let (warm, total) = match config.schedule_interval {
        Interval::Step => (
            steps_per_epoch.max(1),
            steps_per_epoch * config.epochs as u64,
        ),
        Interval::Epoch => (1, config.epochs as u64),
    };
    let ramp = warm - 1;
    let cosine = Schedule::Cosine(Cosine {
        t_max: total.saturating_sub(ramp).max(1),
        eta_min: 0.0,
    });
    if ramp == 0 {
        return cosine;
    }
    Schedule::Warmup(Warmup {
        steps: ramp,
        start_factor: 1.0 / warm as f64,
        inner: Box::new(cosine),
    })
}

/// Mean cross-entropy and accuracy of `model` in evaluation mode over a loader (each batch
/// through `nn_core::infer::infer`: in the model's chunks, depth first, where it has them).
pub fn evaluate(model: &dyn Module, loader: &DataLoader) -> Result<(f32, f32)> {
    let e = evaluate_predictions(model, loader)?;
    Ok((e.loss, e.accuracy))
}

/// What [`evaluate_predictions`] measured: loss, accuracy and every image's arg-max class.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Mean cross-entropy.
    pub loss: f32,
    /// Accuracy of the arg-max.
    pub accuracy: f32,
    /// The arg-max class of every image, in loader order.
    pub predicted: Vec<usize>,
    /// The labels, in loader order.
    pub labels: Vec<usize>,
}

impl Evaluation {
    /// The confusion matrix and per-class figures, for classes named `classes`.
    pub fn metrics(&self, classes: Vec<String>) -> ClassMetrics {
        ClassMetrics::new(&self.predicted, &self.labels, classes)
    }
}

/// [`evaluate`] keeping the predictions (for the confusion matrix).
pub fn evaluate_predictions(model: &dyn Module, loader: &DataLoader) -> Result<Evaluation> {
    let mut loss_sum = 0.0f64;
    let (mut predicted, mut labels) = (Vec::new(), Vec::new());
    for batch in loader.epoch(0) {
        let batch = batch?;
        let n = batch.labels.len();
        let (loss, pred) = with_no_grad(|| {
            let logits = infer(model, &Tensor::from_array(batch.images.into_dyn()));
            (
                cross_entropy(&logits, &batch.labels).item(),
                logits.argmax(1, false),
            )
        });
        loss_sum += loss as f64 * n as f64;
        predicted.extend(pred.iter().copied());
        labels.extend_from_slice(&batch.labels);
    }
    let seen = labels.len().max(1);
    let correct = predicted
        .iter()
        .zip(&labels)
        .filter(|(p, l)| p == l)
        .count();
    Ok(Evaluation {
        loss: (loss_sum / seen as f64) as f32,
        accuracy: correct as f32 / seen as f32,
        predicted,
        labels,
    })
}

/// Predicted class probabilities (softmax of the logits) of `model` in evaluation mode for a
/// batch of preprocessed images `[N, C, H, W]` (through `nn_core::infer::infer`).
pub fn predict_proba(model: &dyn Module, images: ndarray::Array4<f32>) -> ndarray::Array2<f32> {
    with_no_grad(|| {
        let logits = infer(model, &Tensor::from_array(images.into_dyn()));
        logits
            .softmax(1)
            .to_array()
            .into_dimensionality()
            .expect("logits are [N, classes]")
    })
}
