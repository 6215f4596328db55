//! The training loop: mini-batch SGD (or any nn-optim optimizer) with a schedule, per-epoch
//! validation, best-snapshot tracking and early stopping, then one test evaluation.
//!
//! It follows the lecture's practice: the initial loss is recorded next to its expected value
//! log C ("check initial loss"), the model snapshot that worked best on validation is kept and
//! restored at the end ("early stopping: always do this"), and a diverging loss stops the job
//! with an error that suggests a lower learning rate.

use std::path::{Path, PathBuf};
use std::time::Instant;

use nn_core::checkpoint::{LoadMode, apply_state_dict};
use nn_core::loss::cross_entropy;
use nn_core::{Array, Ctx, Module, Tensor, with_no_grad};
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
pub fn train_checkpointed(
    mut s: Session,
    callbacks: &mut [&mut dyn Callback],
    plan: Checkpointing,
) -> Result<Trained> {
    let config = &s.config.clone();
    // The EMA and a second instance of the architecture to evaluate its weights in.
    let mut ema = match &config.ema {
        Some(settings) => {
            let shadow = config.model.build(
                s.data.input_shape,
                s.data.num_classes,
                &mut nn_core::rng::stream(config.seed, 1),
            )?;
            Some((Ema::from_model(s.model.as_ref(), *settings)?, shadow))
        }
        None => None,
    };
    let mut best_raw: Option<Vec<(String, Array)>> = None;
    let mut best_ema: Option<Vec<(String, Array)>> = None;
    let mut st = match plan.resume {
        Some(ckpt) => {
            let path = plan.path.clone().unwrap_or_else(|| "<checkpoint>".into());
            let mut kept = Kept {
                ema: ema.as_mut().map(|(e, _)| e),
                best_raw: &mut best_raw,
                best_ema: &mut best_ema,
            };
            checkpoint::restore(ckpt, &mut s, &mut kept, callbacks, &path)?
        }
        None => checkpoint::fresh(&s)?,
    };
    let every = config.checkpoint.every_steps;
    let save = |st: &TrainState,
                s: &Session,
                ema: &Option<(Ema, Box<dyn Module>)>,
                best_raw: &Option<Vec<(String, Array)>>,
                best_ema: &Option<Vec<(String, Array)>>,
                callbacks: &[&mut dyn Callback]|
     -> Result<()> {
        if let Some(path) = &plan.path {
            let kept = KeptRef {
                ema: ema.as_ref().map(|(e, _)| e),
                best_raw: best_raw.as_ref(),
                best_ema: best_ema.as_ref(),
            };
            checkpoint::capture(st, s, &kept, callbacks).save(path)?;
        }
        Ok(())
    };
    let interrupted = |step: u64| -> Result<()> {
        match plan.interrupt.as_ref().and_then(Interrupt::signal) {
            Some(signal) => Err(TrainError::Interrupted {
                signal,
                step,
                checkpoint: plan.path.clone(),
            }),
            None => Ok(()),
        }
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
            // end of the epoch).
            let mut group = Vec::with_capacity(config.grad_accumulation);
            for batch in batches.by_ref().take(config.grad_accumulation) {
                group.push(batch?);
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
            if control == Control::Stop {
                // Finish the epoch's bookkeeping (validation, snapshot) with the steps done.
                break;
            }
            let signal = interrupted(st.step);
            if signal.is_err() || (every > 0 && st.step % every == 0) {
                st.epoch_sums.seconds = seconds_before + start.elapsed().as_secs_f64();
                save(&st, &s, &ema, &best_raw, &best_ema, callbacks)?;
            }
            signal?;
        }
        s.scheduler.on_epoch(&mut s.optimizer);
        if let Some(p) = &s.plateau {
            p.apply(&mut s.optimizer);
        }
        // Without validation (data.no_validation) the figures are NaN and the last epoch is kept.
        let validated = !s.config.data.no_validation;
        let (val_loss, val_acc) = if validated {
            evaluate(s.model.as_ref(), &s.val_loader)?
        } else {
            (f32::NAN, f32::NAN)
        };
        // Reduce-on-plateau sees the epoch's validation metric (the rates of the next epoch).
        if let Some(p) = &mut s.plateau {
            p.on_validation(val_loss, val_acc, &mut s.optimizer);
        }
        let ema_val = match &ema {
            Some((ema, shadow)) => {
                ema.copy_to(shadow.as_ref())?;
                Some(evaluate(shadow.as_ref(), &s.val_loader)?)
            }
            None => None,
        };
        let sums = st.epoch_sums;
        let seconds = (seconds_before + start.elapsed().as_secs_f64()) as f32;
        let record = EpochRecord {
            epoch: epoch + 1,
            lr: sums.last_lr.unwrap_or_else(|| s.optimizer.lr(0)),
            train_loss: (sums.loss_sum / sums.seen.max(1) as f64) as f32,
            train_acc: sums.correct as f32 / sums.seen.max(1) as f32,
            val_loss,
            val_acc,
            seconds,
            ema_val_loss: ema_val.map(|v| v.0),
            ema_val_acc: ema_val.map(|v| v.1),
        };
        for cb in callbacks.iter_mut() {
            control = control.or(cb.on_epoch(&record, s.model.as_ref()));
        }
        let report = &mut st.report;
        if !validated {
            report.best_epoch = epoch + 1;
            (report.best_val_acc, report.raw_best_val_acc) = (f32::NAN, f32::NAN);
        } else if val_acc > report.raw_best_val_acc {
            report.raw_best_val_acc = val_acc;
            best_raw = Some(s.model.state_dict());
            if val_acc > report.best_val_acc {
                report.best_val_acc = val_acc;
                report.best_epoch = epoch + 1;
                report.kept = KeptWeights::Raw;
            }
        }
        if let (Some((ema, _)), Some((_, acc))) = (&ema, ema_val) {
            if report.ema_best_val_acc.is_none_or(|best| acc > best) {
                report.ema_best_val_acc = Some(acc);
                report.ema_best_epoch = Some(epoch + 1);
                best_ema = Some(ema.state_dict());
                if acc > report.best_val_acc {
                    report.best_val_acc = acc;
                    report.best_epoch = epoch + 1;
                    report.kept = KeptWeights::Ema;
                }
            }
        }
        report.history.push(record);
        st.epoch_seconds.push(seconds);
        if control == Control::Stop {
            report.stopped_by_callback = true;
            st.finished = true;
        } else if let Some(es) = config.early_stopping {
            if epoch + 1 - report.best_epoch >= es.patience && epoch + 1 < config.epochs {
                report.stopped_early = true;
                st.finished = true;
            }
        }
        st.epoch += 1;
        st.batch = 0;
        st.epoch_sums = EpochSums::default();
        st.finished |= st.epoch >= config.epochs;
        save(&st, &s, &ema, &best_raw, &best_ema, callbacks)?;
        interrupted(st.step)?;
    }
    let mut report = st.report;
    for (record, seconds) in report.history.iter_mut().zip(&st.epoch_seconds) {
        record.seconds = *seconds;
    }
    let restore = |state: Vec<(String, Array)>, model: &dyn Module| {
        apply_state_dict(model, state, LoadMode::Strict, Path::new("<best snapshot>"))
    };
    if let (Some((_, shadow)), Some(state)) = (&ema, best_ema.clone()) {
        restore(state, shadow.as_ref())?;
        report.ema_test_acc = Some(evaluate(shadow.as_ref(), &s.test_loader)?.1);
    }
    if let Some(state) = best_raw {
        restore(state, s.model.as_ref())?;
    }
    let mut test = evaluate_predictions(s.model.as_ref(), &s.test_loader)?;
    report.raw_test_acc = test.accuracy;
    if report.kept == KeptWeights::Ema {
        if let Some(state) = best_ema {
            restore(state, s.model.as_ref())?;
            test = evaluate_predictions(s.model.as_ref(), &s.test_loader)?;
        }
    }
    (report.test_loss, report.test_acc) = (test.loss, test.accuracy);
    report.test_metrics = Some(test.metrics(s.data.class_names.clone()));
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

/// Mean cross-entropy and accuracy of `model` in evaluation mode over a loader.
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
            let logits = model.forward(
                &Tensor::from_array(batch.images.into_dyn()),
                &mut Ctx::eval(),
            );
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
/// batch of preprocessed images `[N, C, H, W]`.
pub fn predict_proba(model: &dyn Module, images: ndarray::Array4<f32>) -> ndarray::Array2<f32> {
    with_no_grad(|| {
        let logits = model.forward(&Tensor::from_array(images.into_dyn()), &mut Ctx::eval());
        logits
            .softmax(1)
            .to_array()
            .into_dimensionality()
            .expect("logits are [N, classes]")
    })
}
