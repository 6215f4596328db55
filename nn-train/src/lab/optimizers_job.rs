//! `nn-train lab optimizers`, part 2: the loss curves of the lecture's optimizers on a real job
//! (default: the digits job; `--config` for the user's). Each method trains the job as it is —
//! data, model, schedule, seed, the job optimizer's weight decay — with only the optimizer
//! replaced, at the rate [`default_lr`] gives it or at its LR range test's suggestion
//! ([`crate::lr_finder`]). The per-step training loss and the per-epoch validation accuracy are
//! recorded.

use serde::{Deserialize, Serialize};

use super::optimizers::Method;
use crate::callback::{Callback, Control, StepInfo};
use crate::config::TrainConfig;
use crate::error::{Result, TrainError};
use crate::lr_finder::LrFinderConfig;
use crate::trainer::{EpochRecord, train_with};

/// The rate a method gets on `job` unless told otherwise: the job's own rate if the job uses
/// that method; else the lecture's usual starting points: SGD with or without momentum 0.1
/// (with the same rate, momentum takes ~10x longer steps: that is the comparison PyTorch's
/// examples make), AdaGrad 0.01 (PyTorch's default), RMSProp and Adam 1e-3 ("Adam with
/// learning rate 1e-3 is a good default"), L-BFGS 1 (full batch, PyTorch's default).
pub fn default_lr(job: &TrainConfig, method: Method) -> f64 {
    if job_method(job) == Some(method) {
        return job.optimizer.lr();
    }
    match method {
        Method::Sgd | Method::Momentum | Method::Nesterov => 0.1,
        Method::AdaGrad => 0.01,
        Method::RmsProp | Method::Adam => 1e-3,
        Method::Lbfgs => 1.0,
    }
}

/// The method of the job's optimizer, if it is one of the lab's (read through the config's
/// serialised form, so that any optimizer config works).
pub fn job_method(job: &TrainConfig) -> Option<Method> {
    let v = toml::Value::try_from(&job.optimizer).ok()?;
    let field = |k: &str| v.get(k).cloned();
    let kind = field("kind")?.as_str()?.to_string();
    let momentum = field("momentum").and_then(|m| m.as_float()).unwrap_or(0.0);
    let nesterov = field("nesterov").and_then(|m| m.as_bool()).unwrap_or(false);
    match kind.as_str() {
        "sgd" if nesterov => Some(Method::Nesterov),
        "sgd" if momentum > 0.0 => Some(Method::Momentum),
        "sgd" => Some(Method::Sgd),
        "adagrad" => Some(Method::AdaGrad),
        "rmsprop" => Some(Method::RmsProp),
        "adam" => Some(Method::Adam),
        "lbfgs" => Some(Method::Lbfgs),
        _ => None,
    }
}

/// The weight decay of the job's optimizer (0 if it has none).
pub fn job_weight_decay(job: &TrainConfig) -> f64 {
    toml::Value::try_from(&job.optimizer)
        .ok()
        .and_then(|v| v.get("weight_decay").and_then(|w| w.as_float()))
        .unwrap_or(0.0)
}

/// A batch size larger than any training split: one full batch.
pub const FULL_BATCH: usize = 1 << 24;

/// `job` with its optimizer replaced by `method` at `lr` (the job's weight decay kept). For
/// L-BFGS ([`crate::lbfgs`]): full batch, one iteration per step with a strong-Wolfe line
/// search of at most 9 more evaluations (usually one: so an epoch is about one or two passes
/// over the training data, as for the mini-batch methods one), history 10, and every source of
/// noise switched off as the lecture says (no augmentation, cutout, mixup, dropout, DropConnect
/// or stochastic depth; one batch per step; no batch-size scaling; the job's weight decay, which
/// L-BFGS lacks, is dropped).
pub fn with_method(job: &TrainConfig, method: Method, lr: f64) -> Result<TrainConfig> {
    let mut c = job.clone();
    match method.config(lr, job_weight_decay(job)) {
        Some(config) => c.optimizer = config,
        None => {
            c.optimizer = nn_optim::OptimizerConfig::Lbfgs(nn_optim::LbfgsConfig {
                lr,
                max_iter: 1,
                // The line search may evaluate max_eval − 1 more points (PyTorch's rule); with
                // the default max_eval = max_iter·5/4 = 1 it could not move at all.
                max_eval: Some(10),
                history_size: 10,
                line_search: nn_optim::LineSearch::StrongWolfe,
                ..nn_optim::LbfgsConfig::default()
            });
            c.batch_size = FULL_BATCH;
            c.grad_accumulation = 1;
            c.augment = None;
            c.cutout = None;
            c.mixup = None;
            c.pca_lighting = None;
            c.lr_scaling = None;
            c.schedule = None;
            // Dropout, channel dropout, DropConnect and stochastic depth off (fractional
            // pooling changes the architecture, so validate() below names it instead).
            c.model.without_regularization();
        }
    }
    c.validate()?;
    Ok(c)
}

/// The curves of one method on the job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobCurve {
    /// The method.
    pub method: Method,
    /// Its learning rate.
    pub lr: f64,
    /// Optimizer steps per epoch (1 for full-batch L-BFGS).
    pub steps_per_epoch: usize,
    /// (global step, training loss) of every step.
    pub steps: Vec<(u64, f32)>,
    /// The per-epoch records (validation loss and accuracy).
    pub epochs: Vec<EpochRecord>,
    /// Test accuracy of the best validation snapshot (`None` if training failed).
    pub test_acc: Option<f32>,
    /// Why training stopped early (divergence), if it did.
    pub error: Option<String>,
}

struct Steps(Vec<(u64, f32)>, Vec<EpochRecord>);

impl Callback for Steps {
    fn on_step(&mut self, s: &StepInfo<'_>) -> Control {
        self.0.push((s.step, s.loss));
        Control::Continue
    }
    fn on_epoch(&mut self, e: &EpochRecord, _: &dyn nn_core::Module) -> Control {
        self.1.push(e.clone());
        Control::Continue
    }
}

/// The rate of `method` on `job`: `lr` if given, else the LR range test's suggestion if
/// `find`, else [`default_lr`].
pub fn pick_lr(job: &TrainConfig, method: Method, lr: Option<f64>, find: bool) -> Result<f64> {
    if let Some(lr) = lr {
        return Ok(lr);
    }
    if find && method != Method::Lbfgs {
        let probe = with_method(job, method, default_lr(job, method))?;
        let r = LrFinderConfig::default().run(&probe)?;
        if let Some(s) = r.suggested {
            return Ok(s);
        }
    }
    Ok(default_lr(job, method))
}

/// Trains `job` with `method` at `lr`; a diverging run is a curve with its error, not a
/// failure of the lab.
pub fn run_job_curve(job: &TrainConfig, method: Method, lr: f64) -> Result<JobCurve> {
    let config = with_method(job, method, lr)?;
    let mut rec = Steps(Vec::new(), Vec::new());
    let outcome = train_with(&config, &mut [&mut rec]);
    let (test_acc, error) = match outcome {
        Ok(t) => (Some(t.report.test_acc), None),
        Err(e @ TrainError::Diverged { .. }) => (None, Some(e.to_string())),
        Err(e) => return Err(e),
    };
    let steps_per_epoch = rec.0.len().div_ceil(rec.1.len().max(1)).max(1);
    Ok(JobCurve {
        method,
        lr,
        steps_per_epoch,
        steps: rec.0,
        epochs: rec.1,
        test_acc,
        error,
    })
}

/// The verdict on the curves: final smoothed training loss and best validation accuracy per
/// method, best first.
pub fn job_verdict(curves: &[JobCurve]) -> String {
    let tail = |c: &JobCurve| {
        let n = c.steps.len();
        let k = (n / 10).max(1);
        let s: f64 = c.steps[n.saturating_sub(k)..]
            .iter()
            .map(|s| f64::from(s.1))
            .sum();
        s / k.min(n).max(1) as f64
    };
    let best_val = |c: &JobCurve| c.epochs.iter().map(|e| e.val_acc).fold(0.0f32, f32::max);
    let mut ok: Vec<&JobCurve> = curves.iter().filter(|c| c.error.is_none()).collect();
    ok.sort_by(|a, b| {
        best_val(b)
            .total_cmp(&best_val(a))
            .then(tail(a).total_cmp(&tail(b)))
    });
    let mut v = String::from("on the job, best validation accuracy first: ");
    let items: Vec<String> = ok
        .iter()
        .map(|c| {
            format!(
                "{} (lr {:.0e}) val acc {:.4}, final train loss {:.4}",
                c.method.name(),
                c.lr,
                best_val(c),
                tail(c)
            )
        })
        .collect();
    v += &items.join("; ");
    let failed: Vec<String> = curves
        .iter()
        .filter(|c| c.error.is_some())
        .map(|c| format!("{} (lr {:.0e})", c.method.name(), c.lr))
        .collect();
    if !failed.is_empty() {
        v += &format!("; diverged: {}", failed.join(", "));
    }
    v.push('.');
    v
}
