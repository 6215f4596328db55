//! One trial of a search: [`run_trial`] applies a sample to the job, trains it with an
//! [`ExplodeGuard`] and returns a [`TrialRecord`] — whatever happens, so that a diverged or
//! failing trial is a line of the results, not the end of the search.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::apply::apply_sample;
use super::kill::ExplodeGuard;
use super::space::Sample;
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::trainer::train_with;

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialStatus {
    /// Trained all its epochs (or stopped by the job's early stopping).
    Ok,
    /// Stopped by the [`ExplodeGuard`]: the loss exceeded the factor × the first loss.
    Exploded,
    /// The training loss ([`TrainError::Diverged`]) or the validation loss became NaN or
    /// infinite.
    Diverged,
    /// The sampled job could not be built or run (invalid combination, data error, panic).
    Failed,
}

impl std::fmt::Display for TrialStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TrialStatus::Ok => "ok",
            TrialStatus::Exploded => "exploded",
            TrialStatus::Diverged => "diverged",
            TrialStatus::Failed => "failed",
        })
    }
}

/// The outcome of one trial. Only validation metrics are recorded: selection never looks at
/// the test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// Stage (1-based; stage 1 is the coarse search).
    pub stage: usize,
    /// Trial id, unique over the whole search (0-based, in the order trials were planned).
    pub trial: usize,
    /// The sampled values, by config path.
    pub values: Sample,
    /// Best validation accuracy over the epochs run (none if no epoch finished).
    pub val_acc: Option<f32>,
    /// Lowest validation loss over the epochs run.
    pub val_loss: Option<f32>,
    /// The epoch (1-based) of the best validation accuracy (0 if none).
    pub best_epoch: usize,
    /// Epochs run (a stopped trial counts its partial last epoch).
    pub epochs_run: usize,
    /// Epochs the trial was given.
    pub epochs: usize,
    /// How it ended.
    pub status: TrialStatus,
    /// What went wrong (exploded, diverged, failed), or `None`.
    pub message: Option<String>,
    /// Wall-clock seconds (the only field that varies between identical runs).
    pub seconds: f64,
    /// The trial's learning curve: one point per epoch run (empty if none finished).
    #[serde(default)]
    pub curve: Vec<CurvePoint>,
}

/// One epoch of a trial's learning curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Mean training loss of the epoch.
    pub train_loss: f32,
    /// Validation loss after the epoch.
    pub val_loss: f32,
    /// Validation accuracy after the epoch.
    pub val_acc: f32,
}

/// Trains `base` with `sample` applied and `epochs` epochs (the sample may override the
/// epochs), stopping when the loss explodes past `explode_factor` × the first loss. Never
/// fails: errors and panics are recorded as [`TrialStatus::Failed`], divergence as
/// [`TrialStatus::Diverged`].
pub fn run_trial(
    base: &TrainConfig,
    sample: &Sample,
    stage: usize,
    trial: usize,
    epochs: usize,
    explode_factor: f32,
) -> TrialRecord {
    let start = Instant::now();
    let mut record = TrialRecord {
        stage,
        trial,
        values: sample.clone(),
        val_acc: None,
        val_loss: None,
        best_epoch: 0,
        epochs_run: 0,
        epochs,
        status: TrialStatus::Failed,
        message: None,
        seconds: 0.0,
        curve: Vec::new(),
    };
    let job = TrainConfig {
        epochs,
        ..base.clone()
    };
    let config = match apply_sample(&job, sample) {
        Ok(c) => c,
        Err(e) => {
            record.message = Some(e.to_string());
            record.seconds = start.elapsed().as_secs_f64();
            return record;
        }
    };
    record.epochs = config.epochs;
    let mut guard = ExplodeGuard::new(explode_factor);
    let outcome = catch_unwind(AssertUnwindSafe(|| train_with(&config, &mut [&mut guard])));
    match outcome {
        Ok(Ok(trained)) => {
            let r = &trained.report;
            record.epochs_run = r.history.len();
            record.curve = r
                .history
                .iter()
                .map(|e| CurvePoint {
                    epoch: e.epoch,
                    train_loss: e.train_loss,
                    val_loss: e.val_loss,
                    val_acc: e.val_acc,
                })
                .collect();
            if !r.history.is_empty() {
                record.val_acc = Some(r.best_val_acc);
                record.best_epoch = r.best_epoch;
                record.val_loss = r.history.iter().map(|e| e.val_loss).reduce(f32::min);
            }
            let non_finite = r
                .history
                .iter()
                .find(|e| !(e.train_loss.is_finite() && e.val_loss.is_finite()));
            match guard.explosion() {
                // The last steps' updates can leave non-finite weights that only the
                // validation pass sees.
                None if non_finite.is_some() => {
                    let e = non_finite.expect("checked");
                    record.status = TrialStatus::Diverged;
                    record.message = Some(format!(
                        "loss is not finite at epoch {}: train {}, validation {}",
                        e.epoch, e.train_loss, e.val_loss
                    ));
                }
                Some(x) => {
                    record.status = TrialStatus::Exploded;
                    record.message = Some(format!(
                        "loss {} at step {} > {} x first loss {}",
                        x.loss, x.step, explode_factor, x.first_loss
                    ));
                }
                None => record.status = TrialStatus::Ok,
            }
        }
        Ok(Err(e)) => {
            record.status = match e {
                TrainError::Diverged { .. } => TrialStatus::Diverged,
                _ => TrialStatus::Failed,
            };
            record.message = Some(e.to_string());
        }
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            record.message = Some(format!("panicked: {msg}"));
        }
    }
    record.seconds = start.elapsed().as_secs_f64();
    record
}
