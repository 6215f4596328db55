//! The training loop: mini-batch SGD (or any nn-optim optimizer) with a schedule, per-epoch
//! validation, best-snapshot tracking and early stopping, then one test evaluation.
//!
//! It follows the lecture's practice: the initial loss is recorded next to its expected value
//! log C ("check initial loss"), the model snapshot that worked best on validation is kept and
//! restored at the end ("early stopping: always do this"), and a diverging loss stops the job
//! with an error that suggests a lower learning rate.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use nn_core::checkpoint::{LoadMode, apply_state_dict};
use nn_core::loss::{CrossEntropyConfig, CrossEntropyLoss, cross_entropy};
use nn_core::{Array, Ctx, Mode, Module, Tensor, rng, with_no_grad};
use nn_data::{Batch, DataLoader, LoaderConfig};
use nn_optim::{Interval, LrScheduler, Matcher, ParamGroup, Schedule};
use nn_regularize::{MixMode, MixupConfig};
use serde::{Deserialize, Serialize};

use crate::adapter::optimizer_step;
use crate::config::TrainConfig;
use crate::data::{PreparedData, loader, prepare};
use crate::error::{Result, TrainError};

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
/// output).
pub fn train(config: &TrainConfig, on_epoch: &mut dyn FnMut(&EpochRecord)) -> Result<Trained> {
    config.validate()?;
    let data = prepare(&config.data, config.seed)?;
    let mut init_rng = rng::stream(config.seed, 1);
    let model = config
        .model
        .build(data.input_shape, data.num_classes, &mut init_rng)?;

    let train_len = data.train.len();
    let loader_cfg = |seed: u64, shuffle: bool, drop_last: bool| LoaderConfig {
        batch_size: config.batch_size,
        shuffle,
        drop_last,
        seed,
        num_threads: config.data.threads,
        ..LoaderConfig::default()
    };
    // Drop a last batch of one image: batch norm cannot normalise a single sample.
    let drop_last = train_len % config.batch_size == 1;
    let augment = config
        .augment
        .as_ref()
        .map(|a| a.init().map(Arc::new))
        .transpose()?;
    let mut train_loader = loader(
        data.train.clone(),
        loader_cfg(config.seed, true, drop_last),
        augment,
        data.preprocess.clone(),
    )?;
    if let Some(m) = config.mixup {
        let mixup = MixupConfig {
            mixup_alpha: m.mixup_alpha,
            cutmix_alpha: m.cutmix_alpha,
            prob: m.prob,
            label_smoothing: m.label_smoothing,
            mode: MixMode::Batch,
            ..MixupConfig::new(data.num_classes)
        }
        .init()?;
        train_loader = train_loader.with_batch_hook(Arc::new(move |batch: Batch, rng| {
            let mixed = mixup
                .apply(batch.images, &batch.labels, rng)
                .expect("labels are in range and the batch is non-empty (checked by the loader)");
            Batch {
                images: mixed.images,
                soft_targets: Some(mixed.targets),
                ..batch
            }
        }));
    }
    let val_loader = loader(
        data.val.clone(),
        loader_cfg(0, false, false),
        None,
        data.preprocess.clone(),
    )?;
    let test_loader = loader(
        data.test.clone(),
        loader_cfg(0, false, false),
        None,
        data.preprocess.clone(),
    )?;

    let groups = if config.no_decay_on_1d {
        vec![ParamGroup::new("no_decay", Matcher::NdimAtMost(1)).with_weight_decay(0.0)]
    } else {
        vec![]
    };
    let mut optimizer = config.optimizer.build(groups)?;
    let steps_per_epoch = train_loader.num_batches() as u64;
    let schedule = config
        .schedule
        .clone()
        .unwrap_or_else(|| default_schedule(config, steps_per_epoch));
    let mut scheduler = LrScheduler::new(schedule, config.schedule_interval, &mut *optimizer)?;
    let loss_fn: CrossEntropyLoss = CrossEntropyConfig {
        label_smoothing: config.label_smoothing,
        ..CrossEntropyConfig::default()
    }
    .init()?;

    let (initial_val_loss, _) = evaluate(model.as_ref(), &val_loader)?;
    let mut report = TrainReport {
        parameters: model.num_parameters(),
        initial_val_loss,
        expected_initial_loss: (data.num_classes as f32).ln(),
        history: Vec::new(),
        best_epoch: 0,
        best_val_acc: f32::NEG_INFINITY,
        test_loss: f32::NAN,
        test_acc: f32::NAN,
        stopped_early: false,
    };
    let mut best_state: Option<Vec<(String, Array)>> = None;
    let mut step: u64 = 0;
    for epoch in 0..config.epochs {
        let start = Instant::now();
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for batch in train_loader.epoch(epoch as u64) {
            let batch = batch?;
            let n = batch.labels.len();
            let x = Tensor::from_array(batch.images.into_dyn());
            let mut ctx = Ctx::new(Mode::Train, rng::stream(config.seed ^ 0x5eed, step));
            let logits = model.forward(&x, &mut ctx);
            let loss = match batch.soft_targets {
                Some(t) => loss_fn.forward_soft(&logits, &Tensor::from_array(t.into_dyn())),
                None => loss_fn.forward(&logits, &batch.labels),
            };
            let value = loss.item();
            if !value.is_finite() {
                return Err(TrainError::Diverged {
                    epoch,
                    step,
                    loss: value,
                });
            }
            model.zero_grad();
            loss.backward();
            drop(loss);
            optimizer_step(optimizer.as_mut(), model.as_ref())?;
            scheduler.on_step(&mut *optimizer);
            correct += count_correct(&logits, &batch.labels);
            drop(logits);
            loss_sum += value as f64 * n as f64;
            seen += n;
            step += 1;
        }
        scheduler.on_epoch(&mut *optimizer);
        let (val_loss, val_acc) = evaluate(model.as_ref(), &val_loader)?;
        let record = EpochRecord {
            epoch: epoch + 1,
            lr: optimizer.lr(0),
            train_loss: (loss_sum / seen.max(1) as f64) as f32,
            train_acc: correct as f32 / seen.max(1) as f32,
            val_loss,
            val_acc,
            seconds: start.elapsed().as_secs_f32(),
        };
        on_epoch(&record);
        if val_acc > report.best_val_acc {
            report.best_val_acc = val_acc;
            report.best_epoch = epoch + 1;
            best_state = Some(model.state_dict());
        }
        report.history.push(record);
        if let Some(es) = config.early_stopping {
            if epoch + 1 - report.best_epoch >= es.patience && epoch + 1 < config.epochs {
                report.stopped_early = true;
                break;
            }
        }
    }
    if let Some(state) = best_state {
        apply_state_dict(
            model.as_ref(),
            state,
            LoadMode::Strict,
            Path::new("<best snapshot>"),
        )?;
    }
    let (test_loss, test_acc) = evaluate(model.as_ref(), &test_loader)?;
    report.test_loss = test_loss;
    report.test_acc = test_acc;
    Ok(Trained {
        model,
        report,
        data,
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

fn count_correct(logits: &Tensor, labels: &[usize]) -> usize {
    let pred = logits.argmax(1, false);
    pred.iter().zip(labels).filter(|(p, l)| *p == *l).count()
}
