//! [`lr_trace`]: the learning rate of every step of a job, before training (`nn-train schedule
//! --plot`), and [`plot_lr_trace`].
//!
//! The trace is not recomputed from the schedule's formula: the job's [`Session`] is built
//! (data, model, optimizer, scheduler exactly as training builds them) and its scheduler is
//! driven as the training loop drives it — the rate of step t is read before the step, then
//! `on_step` after every step and `on_epoch` after every epoch — without computing a single
//! gradient. So what is drawn is what training will use: the default warm-up + cosine, the
//! interval (steps or epochs), every parameter group's rate (a transfer job's slower
//! backbone).

use std::path::Path;

use nn_optim::{Interval, Schedule};
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::error::Result;
use crate::plot::{Panel, Series, Style, plot_panels};
use crate::session::Session;

/// The learning rate of every step of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrTrace {
    /// The schedule (the job's, or the default it resolves to).
    pub schedule: Schedule,
    /// Whether it advances per step or per epoch.
    pub interval: Interval,
    /// Optimizer steps per epoch.
    pub steps_per_epoch: u64,
    /// Epochs.
    pub epochs: usize,
    /// The label of each parameter group.
    pub groups: Vec<String>,
    /// `lrs[t][g]`: the rate of group g at global step t (t = 0 … epochs·steps_per_epoch − 1).
    pub lrs: Vec<Vec<f64>>,
}

/// Traces the job's schedule (see the module docs).
pub fn lr_trace(job: &TrainConfig) -> Result<LrTrace> {
    let mut s = Session::new(job)?;
    // One optimizer step per `grad_accumulation` batches (fewer at the end of an epoch), as
    // the training loop groups them.
    let steps_per_epoch = s.train_loader.num_batches().div_ceil(job.grad_accumulation) as u64;
    let groups = s.optimizer.group_labels();
    let n = s.optimizer.num_groups();
    let mut lrs = Vec::with_capacity(job.epochs * steps_per_epoch as usize);
    for _ in 0..job.epochs {
        for _ in 0..steps_per_epoch {
            lrs.push((0..n).map(|g| s.optimizer.lr(g)).collect());
            s.scheduler.on_step(&mut s.optimizer);
        }
        s.scheduler.on_epoch(&mut s.optimizer);
    }
    Ok(LrTrace {
        schedule: s.scheduler.schedule().clone(),
        interval: job.schedule_interval,
        steps_per_epoch,
        epochs: job.epochs,
        groups,
        lrs,
    })
}

impl LrTrace {
    /// (step, epoch as a fraction, rate of group 0) at about `n` evenly spaced steps, the first
    /// and the last step included.
    pub fn samples(&self, n: usize) -> Vec<(usize, f64, f64)> {
        let len = self.lrs.len();
        if len == 0 {
            return Vec::new();
        }
        let n = n.clamp(2, len.max(2));
        let mut idx: Vec<usize> = (0..n)
            .map(|k| (k as f64 * (len - 1) as f64 / (n - 1) as f64).round() as usize)
            .collect();
        idx.dedup();
        idx.into_iter()
            .map(|t| (t, self.epoch_of(t), self.lrs[t][0]))
            .collect()
    }

    /// Step `t` in epochs.
    pub fn epoch_of(&self, t: usize) -> f64 {
        t as f64 / self.steps_per_epoch.max(1) as f64
    }

    /// (minimum, maximum) rate of group 0.
    pub fn bounds(&self) -> (f64, f64) {
        self.lrs.iter().fold((f64::INFINITY, 0.0f64), |(a, b), r| {
            (a.min(r[0]), b.max(r[0]))
        })
    }
}

/// Draws lr(t) against the epoch (as a fraction: step / steps per epoch), one line per group
/// with a distinct base ratio; `log_y` for a logarithmic rate axis.
pub fn plot_lr_trace(path: &Path, trace: &LrTrace, log_y: bool) -> Result<()> {
    let ngroups = trace.groups.len();
    let mut series = Vec::new();
    let mut seen: Vec<Vec<f64>> = Vec::new();
    for g in 0..ngroups {
        let col: Vec<f64> = trace.lrs.iter().map(|r| r[g]).collect();
        // Groups that only differ in weight decay have the same rates: draw them once.
        if seen.contains(&col) {
            continue;
        }
        let stride = col.len().div_ceil(4000).max(1);
        let pts = col
            .iter()
            .enumerate()
            .step_by(stride)
            .chain(col.iter().enumerate().next_back())
            .map(|(t, &lr)| (trace.epoch_of(t), lr))
            .collect();
        series.push(Series::new(
            format!("group {}", trace.groups[g]),
            pts,
            Style::Line,
            series.len(),
        ));
        seen.push(col);
    }
    let (lo, hi) = trace.bounds();
    let mut panel = Panel::new(
        format!(
            "learning rate per step ({} steps/epoch, schedule per {}; max {hi:.3e}, min {lo:.3e})",
            trace.steps_per_epoch,
            match trace.interval {
                Interval::Step => "step",
                Interval::Epoch => "epoch",
            }
        ),
        "epoch",
        if log_y { "lr (log)" } else { "lr" },
    );
    panel.y_log = log_y;
    if !log_y {
        panel.y_range = Some((0.0, hi * 1.05 + f64::MIN_POSITIVE));
    }
    panel.series = series;
    plot_panels(path, &[panel], 1, (800, 420))
}
