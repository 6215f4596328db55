//! The training loop: mini-batch SGD (or any nn-optim optimizer) with a schedule, per-epoch
//! validation, best-snapshot tracking and early stopping, then one test evaluation.
//!
//! It follows the lecture's practice: the initial loss is recorded next to its expected value
//! log C ("check initial loss"), the model snapshot that worked best on validation is kept and
//! restored at the end ("early stopping: always do this"), and a diverging loss stops the job
//! with an error that suggests a lower learning rate.

use std::path::Path;
use std::time::Instant;

use nn_core::checkpoint::{LoadMode, apply_state_dict};
use nn_core::loss::cross_entropy;
use nn_core::{Array, Ctx, Module, Tensor, with_no_grad};
use nn_data::DataLoader;
use nn_optim::{Interval, Schedule};
use serde::{Deserialize, Serialize};

use crate::callback::{Callback, Control, OnEpoch, StepInfo};
use crate::config::TrainConfig;
use crate::data::PreparedData;
use crate::error::Result;
use crate::session::{Session, count_correct};

/// Metrics of one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Learning rate of the first parameter group at the end of the epoch.
    pub lr: f64,
    /// Mean training loss (on the augmented/mixed batches, in training mode).
    pub train_loss: f32,
    /// Training accuracy against the hard labels (on the augmented batches, in training mode).
    pub train_acc: f32,
    /// Validation loss (evaluation mode).
    pub val_loss: f32,
    /// Validation accuracy (evaluation mode).
    pub val_acc: f32,
    /// Wall-clock seconds of the epoch (training and validation).
    pub seconds: f32,
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
pub fn train_with(config: &TrainConfig, callbacks: &mut [&mut dyn Callback]) -> Result<Trained> {
    let mut s = Session::new(config)?;
    let (initial_val_loss, _) = evaluate(s.model.as_ref(), &s.val_loader)?;
    let mut report = TrainReport {
        parameters: s.model.num_parameters(),
        initial_val_loss,
        expected_initial_loss: (s.data.num_classes as f32).ln(),
        history: Vec::new(),
        best_epoch: 0,
        best_val_acc: f32::NEG_INFINITY,
        test_loss: f32::NAN,
        test_acc: f32::NAN,
        stopped_early: false,
        stopped_by_callback: false,
    };
    let mut best_state: Option<Vec<(String, Array)>> = None;
    let mut step: u64 = 0;
    for epoch in 0..config.epochs {
        let start = Instant::now();
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        let mut control = Control::Continue;
        for batch in s.train_loader.epoch(epoch as u64) {
            let stats = s.train_step(batch?, epoch, step, callbacks)?;
            correct += stats.correct;
            loss_sum += stats.loss as f64 * stats.samples as f64;
            seen += stats.samples;
            let info = StepInfo {
                epoch,
                step,
                loss: stats.loss,
                lr: stats.lr,
                batch_size: stats.samples,
                model: s.model.as_ref(),
            };
            for cb in callbacks.iter_mut() {
                control = control.or(cb.on_step(&info));
            }
            step += 1;
            if control == Control::Stop {
                // Finish the epoch's bookkeeping (validation, snapshot) with the steps done.
                break;
            }
        }
        s.scheduler.on_epoch(&mut *s.optimizer);
        let (val_loss, val_acc) = evaluate(s.model.as_ref(), &s.val_loader)?;
        let record = EpochRecord {
            epoch: epoch + 1,
            lr: s.optimizer.lr(0),
            train_loss: (loss_sum / seen.max(1) as f64) as f32,
            train_acc: correct as f32 / seen.max(1) as f32,
            val_loss,
            val_acc,
            seconds: start.elapsed().as_secs_f32(),
        };
        for cb in callbacks.iter_mut() {
            control = control.or(cb.on_epoch(&record, s.model.as_ref()));
        }
        if val_acc > report.best_val_acc {
            report.best_val_acc = val_acc;
            report.best_epoch = epoch + 1;
            best_state = Some(s.model.state_dict());
        }
        report.history.push(record);
        if control == Control::Stop {
            report.stopped_by_callback = true;
            break;
        }
        if let Some(es) = config.early_stopping {
            if epoch + 1 - report.best_epoch >= es.patience && epoch + 1 < config.epochs {
                report.stopped_early = true;
                break;
            }
        }
    }
    if let Some(state) = best_state {
        apply_state_dict(
            s.model.as_ref(),
            state,
            LoadMode::Strict,
            Path::new("<best snapshot>"),
        )?;
    }
    let (test_loss, test_acc) = evaluate(s.model.as_ref(), &s.test_loader)?;
    report.test_loss = test_loss;
    report.test_acc = test_acc;
    Ok(Trained {
        model: s.model,
        report,
        data: s.data,
    })
}

/// The default schedule: linear warm-up over the first epoch, then cosine to 0 over the rest
/// (in steps or epochs, following `config.schedule_interval`).
pub fn default_schedule(config: &TrainConfig, steps_per_epoch: u64) -> Schedule {
    let (warm, total) = match config.schedule_interval {
        Interval::Step => (steps_per_epoch, steps_per_epoch * config.epochs as u64),
        Interval::Epoch => (1, config.epochs as u64),
    };
    let rest = total.saturating_sub(warm).max(1);
    Schedule::warmup(
        warm,
        Schedule::Cosine {
            t_max: rest,
            eta_min: 0.0,
        },
    )
}

/// Mean cross-entropy and accuracy of `model` in evaluation mode over a loader.
pub fn evaluate(model: &dyn Module, loader: &DataLoader) -> Result<(f32, f32)> {
    let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
    for batch in loader.epoch(0) {
        let batch = batch?;
        let n = batch.labels.len();
        let (loss, c) = with_no_grad(|| {
            let logits = model.forward(
                &Tensor::from_array(batch.images.into_dyn()),
                &mut Ctx::eval(),
            );
            (
                cross_entropy(&logits, &batch.labels).item(),
                count_correct(&logits, &batch.labels),
            )
        });
        loss_sum += loss as f64 * n as f64;
        correct += c;
        seen += n;
    }
    Ok((
        (loss_sum / seen.max(1) as f64) as f32,
        correct as f32 / seen.max(1) as f32,
    ))
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
