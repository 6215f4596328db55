//! [`DoctorConfig::run`]: the lecture's "Choosing hyperparameters" steps, in order, on a job,
//! each with a verdict (CS231n, "Training Neural Networks"):
//!
//! 1. **Check the initial loss** against log C, before any training (the untrained model's
//!    validation loss; uniform predictions give log C whatever the label smoothing or class
//!    weights). OK within 10 %, a warning within 50 %, else a failure.
//! 2. **Overfit a small sample** ([`crate::overfit`]): 100 % training accuracy on a few images
//!    with regularisation off, or the advice on what to fiddle with.
//! 3. **Find a learning rate that makes the loss go down** ([`crate::lr_finder`], the LR range
//!    test): the suggestion, compared with the job's own rate.
//! 4. **Coarse search**, a few epochs per trial ([`crate::tune`], random): the learning rate
//!    log-uniform within 10x either side of step 3's suggestion (the lecture: "choose a few
//!    values of learning rate and weight decay around what worked from step 3"), the weight
//!    decay among the lecture's 0, 1e-5 and 1e-4 (if the job's optimizer has one).
//! 5. **Refine**, training longer: the same search's second stage, narrowed to the coarse
//!    stage's best trials; the best configuration is compared with the job's own learning rate
//!    and weight decay trained just as long.
//!
//! A failed step stops the sequence (the later steps would be meaningless: a model that
//! cannot overfit 64 images will not be tuned into shape) unless `keep_going` is set. Every
//! search trial trains with the job's schedule over its own epochs.

use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::error::Result;
use crate::lr_finder::{LrFinderConfig, LrFinderResult};
use crate::overfit::{OverfitConfig, OverfitReport};
use crate::session::Session;
use crate::trainer::evaluate;
use crate::tune::{
    Dimension, Sample, SearchResult, SearchSettings, SearchSpace, TrialRecord, TuneError,
    run_trial, search,
};

/// The outcome of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// As expected.
    Ok,
    /// Worth a look, not blocking.
    Warn,
    /// Wrong: fix this before going on.
    Fail,
    /// Not run (an earlier step failed).
    Skipped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skipped => "SKIPPED",
        })
    }
}

/// One step's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepVerdict {
    /// Step number (1-based, the lecture's numbering).
    pub step: usize,
    /// The lecture's name of the step.
    pub name: String,
    /// The outcome.
    pub status: Status,
    /// What was measured and what it means.
    pub words: String,
}

/// Budgets of the steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoctorConfig {
    /// Step 2's settings.
    pub overfit: OverfitConfig,
    /// Step 3's settings.
    pub lr_finder: LrFinderConfig,
    /// New random trials per stage (the fine stage also re-runs the coarse stage's best 3).
    /// Default 6.
    pub trials: usize,
    /// Epochs per coarse trial. Default 2 (the lecture: "~1-5 epochs").
    pub coarse_epochs: usize,
    /// Epochs per fine trial. Default: the job's epochs, at most 10.
    pub fine_epochs: Option<usize>,
    /// Trials run at once (results do not depend on it). Default 1.
    pub parallel: usize,
    /// Seed of the searches' draws. Default 0.
    pub seed: u64,
    /// Run every step even after a failure. Default false.
    pub keep_going: bool,
}

impl Default for DoctorConfig {
    fn default() -> Self {
        DoctorConfig {
            overfit: OverfitConfig::default(),
            lr_finder: LrFinderConfig::default(),
            trials: 6,
            coarse_epochs: 2,
            fine_epochs: None,
            parallel: 1,
            seed: 0,
            keep_going: false,
        }
    }
}

/// Everything the doctor measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoctorReport {
    /// The verdicts, steps 1-5.
    pub steps: Vec<StepVerdict>,
    /// Step 1: the untrained model's validation loss.
    pub initial_loss: f32,
    /// Step 1: log C.
    pub expected_loss: f32,
    /// Validation images (one of them is 100 / this percentage points of accuracy).
    pub val_images: usize,
    /// Step 2.
    pub overfit: Option<OverfitReport>,
    /// Step 3.
    pub lr_finder: Option<LrFinderResult>,
    /// Steps 4-5: the search's space of stage 1 (stage 2's is in the result).
    pub space: Option<SearchSpace>,
    /// Steps 4-5.
    pub search: Option<SearchResult>,
    /// Step 5: the job's own learning rate and weight decay, trained as long as the fine
    /// trials.
    pub baseline: Option<TrialRecord>,
}

impl DoctorReport {
    /// Whether no step failed.
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|s| s.status != Status::Fail)
    }
}

/// The job's optimizer weight decay, if its optimizer has the field.
fn weight_decay(job: &TrainConfig) -> Option<f64> {
    toml::Value::try_from(&job.optimizer)
        .ok()?
        .get("weight_decay")?
        .as_float()
}

/// Step 1's verdict.
fn initial_verdict(loss: f32, expected: f32) -> (Status, String) {
    let rel = (loss / expected - 1.0).abs();
    let status = if !loss.is_finite() || rel > 0.5 {
        Status::Fail
    } else if rel > 0.1 {
        Status::Warn
    } else {
        Status::Ok
    };
    let what = match status {
        Status::Ok => "as expected for a freshly initialised softmax classifier".to_string(),
        _ if loss > expected || !loss.is_finite() => {
            "too high: the initial logits are too large (weights initialised too big? a missing \
             normalisation of the inputs?)"
                .to_string()
        }
        _ => "too low for an untrained model: are labels leaking into the inputs, or is the \
              validation split unlike the training one?"
            .to_string(),
    };
    (
        status,
        format!(
            "initial validation loss {loss:.4} vs log C = {expected:.4} ({:+.1} %): {what}",
            100.0 * (loss / expected - 1.0)
        ),
    )
}

/// Step 3's verdict: the suggestion against the job's rate.
fn lr_verdict(r: &LrFinderResult, job_lr: f64) -> (Status, String) {
    let first = r.points.first().map_or(f32::NAN, |p| p.smoothed);
    let low = r
        .points
        .iter()
        .map(|p| p.smoothed)
        .fold(f32::INFINITY, f32::min);
    let Some(s) = r.suggested else {
        return (
            Status::Fail,
            "the range test took fewer than 3 steps: no suggestion".into(),
        );
    };
    if low.is_nan() || first.is_nan() || low >= 0.9 * first {
        return (
            Status::Fail,
            format!(
                "the loss did not go down at any learning rate from {:.0e} to {:.0e} (smoothed \
                 {first:.3} -> lowest {low:.3}): check the data, the labels and the model",
                r.config.start_lr, r.config.end_lr
            ),
        );
    }
    let ratio = job_lr / s;
    let status = if (0.1..=10.0).contains(&ratio) {
        Status::Ok
    } else {
        Status::Warn
    };
    (
        status,
        format!(
            "the loss falls fastest at lr {s:.2e} (smoothed loss {first:.3} -> lowest {low:.3}); \
             the job uses {job_lr:.2e}, {}",
            if status == Status::Ok {
                format!("{ratio:.2}x the suggestion: in range")
            } else {
                format!("{ratio:.2}x the suggestion: consider a rate nearer it")
            }
        ),
    )
}

impl DoctorConfig {
    /// The search space of steps 4-5 around the suggested rate `lr`.
    pub fn space(&self, job: &TrainConfig, lr: f64) -> SearchSpace {
        let mut space = SearchSpace::default();
        space.dimensions.insert(
            "optimizer.lr".into(),
            Dimension::LogUniform {
                low: lr / 10.0,
                high: lr * 10.0,
            },
        );
        if weight_decay(job).is_some() {
            space.dimensions.insert(
                "optimizer.weight_decay".into(),
                Dimension::Choice(vec![0.0.into(), 1e-5.into(), 1e-4.into()]),
            );
        }
        space
    }

    /// Runs the steps on `job`, calling `on_step` with each verdict as it is reached and
    /// `on_trial` after every search trial.
    pub fn run(
        &self,
        job: &TrainConfig,
        on_step: &mut dyn FnMut(&StepVerdict),
        on_trial: &mut dyn FnMut(&TrialRecord),
    ) -> Result<DoctorReport, TuneError> {
        job.validate()?;
        let names = [
            "check the initial loss",
            "overfit a small sample",
            "find a learning rate that makes the loss go down",
            "coarse search, a few epochs per trial",
            "refine the search, train longer",
        ];
        let mut steps: Vec<StepVerdict> = Vec::new();
        let mut push = |steps: &mut Vec<StepVerdict>, status, words: String| {
            let v = StepVerdict {
                step: steps.len() + 1,
                name: names[steps.len()].into(),
                status,
                words,
            };
            on_step(&v);
            steps.push(v);
        };
        // 1. Initial loss.
        let session = Session::new(job)?;
        let (initial_loss, _) = evaluate(session.model.as_ref(), &session.val_loader)?;
        let expected_loss = (session.data.num_classes as f32).ln();
        let val_images = session.data.val.len().max(1);
        drop(session);
        let (status, words) = initial_verdict(initial_loss, expected_loss);
        push(&mut steps, status, words);
        let mut report = DoctorReport {
            steps: Vec::new(),
            initial_loss,
            expected_loss,
            val_images,
            overfit: None,
            lr_finder: None,
            space: None,
            search: None,
            baseline: None,
        };
        let stop = |steps: &Vec<StepVerdict>| {
            !self.keep_going && steps.iter().any(|s| s.status == Status::Fail)
        };
        // 2. Overfit.
        if !stop(&steps) {
            let r = self.overfit.run(job)?;
            let (status, words) = match r.reached_at {
                Some(e) => (
                    Status::Ok,
                    format!(
                        "{} images memorised (100 % training accuracy) after {e} epochs, loss \
                         {:.3} -> {:.4}",
                        r.job.data.limit_train.unwrap_or(0),
                        r.initial_loss,
                        r.history.last().map_or(f32::NAN, |h| h.0)
                    ),
                ),
                None => (
                    Status::Fail,
                    format!(
                        "could not memorise {} images in {} epochs: {}",
                        r.job.data.limit_train.unwrap_or(0),
                        r.history.len(),
                        r.advice.join("; ")
                    ),
                ),
            };
            push(&mut steps, status, words);
            report.overfit = Some(r);
        }
        // 3. LR range test.
        if !stop(&steps) && steps.len() == 2 {
            let r = self.lr_finder.run(job)?;
            let (status, words) = lr_verdict(&r, job.optimizer.lr());
            push(&mut steps, status, words);
            report.lr_finder = Some(r);
        }
        // 4-5. Coarse-to-fine search.
        let suggested = report.lr_finder.as_ref().and_then(|r| r.suggested);
        if let (false, 3, Some(lr)) = (stop(&steps), steps.len(), suggested) {
            let space = self.space(job, lr);
            let fine_epochs = self.fine_epochs.unwrap_or(job.epochs.min(10));
            let settings = SearchSettings {
                trials: self.trials,
                epochs: self.coarse_epochs,
                refine_epochs: Some(fine_epochs),
                stages: 2,
                top_k: 3,
                parallel: self.parallel,
                seed: self.seed,
                ..SearchSettings::default()
            };
            // The coarse trials come first in the callback; the fine ones follow.
            let result = search(job, &space, &settings, on_trial)?;
            let coarse: Vec<&TrialRecord> = result.trials.iter().filter(|t| t.stage == 1).collect();
            let ok = |t: &&&TrialRecord| t.status == crate::tune::TrialStatus::Ok;
            let best_coarse = coarse.iter().filter(ok).max_by(|a, b| {
                a.val_acc
                    .unwrap_or(0.0)
                    .total_cmp(&b.val_acc.unwrap_or(0.0))
            });
            let failed = coarse.iter().filter(|t| !ok(t)).count();
            let (status, words) = match best_coarse {
                Some(b) => (
                    if failed * 2 > coarse.len() {
                        Status::Warn
                    } else {
                        Status::Ok
                    },
                    format!(
                        "{} trials x {} epochs over {}: best val acc {:.4} at {}; {failed} \
                         exploded or diverged; next stage: {}",
                        coarse.len(),
                        self.coarse_epochs,
                        describe_space(&space),
                        b.val_acc.unwrap_or(f32::NAN),
                        describe_sample(&b.values),
                        result.spaces.get(1).map_or("none".into(), describe_space)
                    ),
                ),
                None => (
                    Status::Fail,
                    format!("every one of the {} coarse trials failed", coarse.len()),
                ),
            };
            push(&mut steps, status, words);
            // The baseline: the job's own lr and weight decay, trained as long.
            let mut own = Sample::new();
            own.insert("optimizer.lr".into(), job.optimizer.lr().into());
            if let Some(wd) = weight_decay(job) {
                own.insert("optimizer.weight_decay".into(), wd.into());
            }
            let baseline = run_trial(job, &own, 2, result.trials.len(), fine_epochs, 3.0);
            let (status, words) = match result.best().filter(|b| b.stage == 2) {
                Some(b) => {
                    let (bv, jv) = (b.val_acc.unwrap_or(0.0), baseline.val_acc.unwrap_or(0.0));
                    // Differences of one validation image are noise.
                    let images = ((bv - jv) * val_images as f32).round() as i64;
                    (
                        Status::Ok,
                        format!(
                            "{} trials x {fine_epochs} epochs: best val acc {bv:.4} at {}; the \
                             job's own {} gives {jv:.4} ({images:+} of {val_images} validation \
                             images){}",
                            result.trials.iter().filter(|t| t.stage == 2).count(),
                            describe_sample(&b.values),
                            describe_sample(&own),
                            if images >= 2 {
                                ": train the best job (best.toml)"
                            } else {
                                ": within noise, the job's settings are as good"
                            }
                        ),
                    )
                }
                None => (Status::Fail, "no fine trial ended ok".into()),
            };
            push(&mut steps, status, words);
            report.space = Some(space);
            report.search = Some(result);
            report.baseline = Some(baseline);
        }
        while steps.len() < names.len() {
            let words = "not run: an earlier step failed (--keep-going runs it anyway)".into();
            push(&mut steps, Status::Skipped, words);
        }
        report.steps = steps;
        Ok(report)
    }
}

/// `a = v, b = w` with floats in short form.
pub fn describe_sample(s: &Sample) -> String {
    s.iter()
        .map(|(k, v)| match v.as_float() {
            Some(f) => format!("{k} = {f:.3e}"),
            None => format!("{k} = {v}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `a in […], b in {…}` with floats in short form.
pub fn describe_space(s: &SearchSpace) -> String {
    s.dimensions
        .iter()
        .map(|(k, d)| match d {
            Dimension::LogUniform { low, high } => {
                format!("{k} log-uniform in [{low:.2e}, {high:.2e}]")
            }
            Dimension::Uniform { low, high } => format!("{k} uniform in [{low:.3}, {high:.3}]"),
            Dimension::Choice(v) => {
                let v: Vec<String> = v
                    .iter()
                    .map(|x| match x.as_float() {
                        Some(f) => format!("{f:e}"),
                        None => x.to_string(),
                    })
                    .collect();
                format!("{k} in {{{}}}", v.join(", "))
            }
            other => format!("{k} in {other}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_loss_thresholds() {
        let ln10 = 10f32.ln();
        assert_eq!(initial_verdict(2.31, ln10).0, Status::Ok);
        assert_eq!(initial_verdict(2.9, ln10).0, Status::Warn);
        let (s, w) = initial_verdict(9.0, ln10);
        assert!(s == Status::Fail && w.contains("too high"), "{w}");
        let (s, w) = initial_verdict(0.5, ln10);
        assert!(s == Status::Fail && w.contains("too low"), "{w}");
        assert_eq!(initial_verdict(f32::NAN, ln10).0, Status::Fail);
    }
}
