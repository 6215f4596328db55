//! The lecture's babysitting step 2, "make sure that you can overfit very small portion of the
//! training data": train on a few samples with regularisation turned off and check that the
//! training accuracy reaches 100 % (CS231n, "Babysitting the learning process"; Karpathy, "A
//! Recipe for Training Neural Networks", 2019: "overfit one batch").
//!
//! [`OverfitConfig::run`] takes a job and turns off everything that fights memorisation:
//! weight decay 0, no augmentation, no mixup, no label smoothing, no dropout, a constant
//! learning rate (the job's). It trains on the first `samples` training images, measures
//! loss and accuracy on them in evaluation mode after every epoch, and stops as soon as every
//! sample is classified correctly. If that never happens, [`OverfitReport::advice`] says what to
//! fiddle with.

use nn_data::LoaderConfig;
use nn_optim::{OptimizerConfig, Schedule};
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::data::loader;
use crate::error::{Result, TrainError, invalid};
use crate::session::Session;
use crate::trainer::evaluate;

/// Settings of the overfitting check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OverfitConfig {
    /// Number of training images (≥ 1). Default 64.
    pub samples: usize,
    /// Maximum number of epochs over them. Default 200.
    pub max_epochs: usize,
}

impl Default for OverfitConfig {
    fn default() -> Self {
        OverfitConfig {
            samples: 64,
            max_epochs: 200,
        }
    }
}

/// What the check found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverfitReport {
    /// The job actually run (regularisation off, `limit_train = samples`).
    pub job: TrainConfig,
    /// Loss on the samples before training (about log C).
    pub initial_loss: f32,
    /// (loss, accuracy) on the samples after each epoch, evaluation mode.
    pub history: Vec<(f32, f32)>,
    /// The epoch (1-based) after which every sample was classified correctly, if any.
    pub reached_at: Option<usize>,
    /// Whether the loss became NaN/∞.
    pub diverged: bool,
    /// What to try if 100 % was not reached (empty if it was).
    pub advice: Vec<String>,
}

/// `job` with regularisation turned off, on `samples` training images, at a constant lr.
pub fn unregularised(job: &TrainConfig, samples: usize, epochs: usize) -> TrainConfig {
    let mut c = job.clone();
    c.data.limit_train = Some(samples);
    c.batch_size = c.batch_size.min(samples);
    c.epochs = epochs;
    c.augment = None;
    c.pca_lighting = None;
    c.cutout = None;
    c.mixup = None;
    c.penalty = None;
    c.label_smoothing = 0.0;
    c.early_stopping = None;
    c.schedule = Some(Schedule::Constant);
    c.reduce_on_plateau = None;
    match &mut c.optimizer {
        OptimizerConfig::Sgd(o) => o.weight_decay = 0.0,
        OptimizerConfig::AdaGrad(o) => o.weight_decay = 0.0,
        OptimizerConfig::RmsProp(o) => o.weight_decay = 0.0,
        OptimizerConfig::Adam(o) => o.weight_decay = 0.0,
        OptimizerConfig::AdamW(o) => o.weight_decay = 0.0,
        OptimizerConfig::Lbfgs(_) => {}
    }
    c.model.without_regularization();
    c
}

impl OverfitConfig {
    /// Runs the check on `job` (see the module documentation).
    pub fn run(&self, job: &TrainConfig) -> Result<OverfitReport> {
        if self.samples == 0 {
            return Err(invalid("overfit.samples", 0, "at least 1"));
        }
        if self.max_epochs == 0 {
            return Err(invalid("overfit.max_epochs", 0, "at least 1"));
        }
        let config = unregularised(job, self.samples, self.max_epochs);
        let mut s = Session::new(&config)?;
        let eval_loader = loader(
            s.data.train.clone(),
            LoaderConfig {
                batch_size: config.batch_size,
                shuffle: false,
                drop_last: false,
                seed: 0,
                num_threads: config.data.threads,
                ..LoaderConfig::default()
            },
            None,
            s.data.preprocess.clone(),
            Vec::new(),
        )?;
        let (initial_loss, _) = evaluate(s.model.as_ref(), &eval_loader)?;
        let mut history = Vec::new();
        let (mut reached_at, mut diverged, mut step) = (None, false, 0u64);
        'epochs: for epoch in 0..self.max_epochs {
            for batch in s.train_loader.epoch(epoch as u64) {
                match s.train_step(batch?, epoch, step, &mut []) {
                    Ok(_) => {}
                    Err(TrainError::Diverged { .. }) => {
                        diverged = true;
                        break 'epochs;
                    }
                    Err(e) => return Err(e),
                }
                step += 1;
            }
            let (loss, acc) = evaluate(s.model.as_ref(), &eval_loader)?;
            history.push((loss, acc));
            if !loss.is_finite() {
                diverged = true;
                break;
            }
            if acc >= 1.0 {
                reached_at = Some(epoch + 1);
                break;
            }
        }
        let advice = if reached_at.is_some() {
            Vec::new()
        } else {
            advise(initial_loss, &history, diverged, config.optimizer.lr())
        };
        Ok(OverfitReport {
            job: config,
            initial_loss,
            history,
            reached_at,
            diverged,
            advice,
        })
    }
}

/// What to fiddle with when the samples were not memorised.
fn advise(initial: f32, history: &[(f32, f32)], diverged: bool, lr: f64) -> Vec<String> {
    let mut a = Vec::new();
    let last = history.last().map_or(initial, |h| h.0);
    if diverged {
        a.push(format!(
            "the loss became NaN/inf: the learning rate {lr} is too high (try 3-10x lower, or \
             `nn-train lr-find`)"
        ));
    } else if last > 0.9 * initial {
        a.push(format!(
            "the loss barely moved ({initial:.4} -> {last:.4}): the learning rate {lr} is \
             probably too low (try 3-10x higher, or `nn-train lr-find`)"
        ));
    } else if last > initial {
        a.push(format!(
            "the loss went up ({initial:.4} -> {last:.4}): the learning rate {lr} is probably \
             too high"
        ));
    } else {
        a.push(format!(
            "the loss fell ({initial:.4} -> {last:.4}) but not to ~0: train longer \
             (--epochs) or raise the learning rate a little"
        ));
    }
    a.push(
        "if it still fails: check that labels match images, that the model has enough \
         capacity (wider/deeper), and the initialisation (initial loss should be about log C)"
            .to_string(),
    );
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zoo::ModelConfig;

    #[test]
    fn regularisation_is_turned_off() {
        let mut job = TrainConfig {
            label_smoothing: 0.1,
            ..TrainConfig::default()
        };
        if let ModelConfig::Mlp { dropout, .. } = &mut job.model {
            *dropout = 0.5;
        }
        let c = unregularised(&job, 16, 50);
        assert_eq!(c.data.limit_train, Some(16));
        assert_eq!(c.batch_size, 16);
        assert_eq!(c.label_smoothing, 0.0);
        assert_eq!(c.schedule, Some(Schedule::Constant));
        let OptimizerConfig::Sgd(o) = &c.optimizer else {
            panic!("default optimizer is SGD")
        };
        assert_eq!(o.weight_decay, 0.0);
        assert!(matches!(c.model, ModelConfig::Mlp { dropout, .. } if dropout == 0.0));
        c.validate().unwrap();
    }

    #[test]
    fn advice_names_the_learning_rate() {
        let a = advise(2.3, &[(2.25, 0.2)], false, 1e-6);
        assert!(a[0].contains("too low"), "{a:?}");
        let a = advise(2.3, &[], true, 10.0);
        assert!(a[0].contains("too high"), "{a:?}");
        let a = advise(2.3, &[(0.5, 0.9)], false, 0.1);
        assert!(a[0].contains("train longer"), "{a:?}");
    }
}
