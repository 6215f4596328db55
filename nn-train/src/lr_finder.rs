//! The learning-rate range test ("LR finder"): train for a few steps while the learning rate
//! grows exponentially from tiny to huge, and read a good learning rate off the loss curve.
//!
//! This is the lecture's babysitting step 3, "find a learning rate that makes the loss drop
//! significantly within ~100 iterations", done systematically as in L. N. Smith, *Cyclical
//! Learning Rates for Training Neural Networks* (WACV 2017, section 3.3, "LR range test") and
//! fastai's `lr_find`:
//!
//! * step i of n (0-based) uses lr_i = start · (end / start)^(i / (n − 1)), so the rates are
//!   exponentially spaced, the first is `start_lr` and the last `end_lr`;
//! * the loss is smoothed with a bias-corrected exponential moving average
//!   m_i = β·m_{i−1} + (1 − β)·loss_i, smoothed_i = m_i / (1 − β^{i+1}) (β = 0.98, as fastai);
//! * the test stops early when the smoothed loss exceeds 4× the best smoothed loss so far, or the
//!   loss is not finite (divergence);
//! * it suggests the rate of steepest descent of the smoothed loss against log lr (Smith's
//!   choice and fastai v1's `suggestion`; **this is [`LrFinderResult::suggested`]**) and, as a
//!   cross-check, the rate of minimum smoothed loss divided by 10 (fastai's `lr_min`).
//!
//! The test runs on a fresh [`Session`] built from the job, so it never touches a caller's
//! model or optimizer state. The job's schedule is ignored during the test; the test's rate is
//! group 0's, and every other parameter group keeps its ratio to group 0 (a transfer job's
//! slower backbone stays slower).
//!
//! ```
//! use nn_train::{LrFinderConfig, TrainConfig};
//!
//! let job = TrainConfig::default(); // an MLP on the embedded digits
//! let result = LrFinderConfig { num_steps: 40, ..Default::default() }.run(&job).unwrap();
//! let lr = result.suggested.unwrap();
//! assert!((1e-7..=10.0).contains(&lr));
//! print!("{}", result.summary());
//! ```

use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::error::{Result, TrainError, invalid};
use crate::session::Session;

/// Settings of the range test (defaults: fastai's `lr_find`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LrFinderConfig {
    /// Learning rate of the first step. Default 1e-7.
    pub start_lr: f64,
    /// Learning rate of the last step. Default 10.
    pub end_lr: f64,
    /// Number of steps (at least 2). Default 100.
    pub num_steps: usize,
    /// β of the loss's exponential moving average, in [0, 1). Default 0.98.
    pub smoothing: f64,
    /// Stop when the smoothed loss exceeds this multiple of the best smoothed loss (> 1).
    /// Default 4.
    pub diverge_factor: f64,
}

impl Default for LrFinderConfig {
    fn default() -> Self {
        LrFinderConfig {
            start_lr: 1e-7,
            end_lr: 10.0,
            num_steps: 100,
            smoothing: 0.98,
            diverge_factor: 4.0,
        }
    }
}

/// One step of the range test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LrFinderPoint {
    /// Step (0-based).
    pub step: usize,
    /// Learning rate used for the step.
    pub lr: f64,
    /// Mini-batch loss before the update.
    pub loss: f32,
    /// Bias-corrected exponential moving average of the losses so far.
    pub smoothed: f32,
}

/// What the range test found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrFinderResult {
    /// The settings used.
    pub config: LrFinderConfig,
    /// One point per step taken (the step whose loss was not finite is not recorded).
    pub points: Vec<LrFinderPoint>,
    /// Whether the test stopped before `num_steps` because the loss diverged.
    pub stopped_early: bool,
    /// The suggestion: the rate where the smoothed loss falls fastest against log lr (`None` if
    /// fewer than 3 points were recorded).
    pub suggested: Option<f64>,
    /// The rate of minimum smoothed loss, divided by 10 (`None` if no point was recorded).
    pub min_loss_lr_div10: Option<f64>,
}

impl LrFinderConfig {
    /// Checks the settings: 0 < `start_lr` < `end_lr`, both finite; `num_steps` ≥ 2;
    /// 0 ≤ `smoothing` < 1; `diverge_factor` > 1.
    pub fn validate(&self) -> Result<()> {
        if !(self.start_lr.is_finite() && self.start_lr > 0.0) {
            return Err(invalid(
                "lr_find.start_lr",
                self.start_lr,
                "a finite number > 0",
            ));
        }
        if !(self.end_lr.is_finite() && self.end_lr > self.start_lr) {
            return Err(invalid(
                "lr_find.end_lr",
                self.end_lr,
                "a finite number > start_lr",
            ));
        }
        if self.num_steps < 2 {
            return Err(invalid("lr_find.num_steps", self.num_steps, "at least 2"));
        }
        if !(0.0..1.0).contains(&self.smoothing) {
            return Err(invalid("lr_find.smoothing", self.smoothing, "0 <= β < 1"));
        }
        if !(self.diverge_factor.is_finite() && self.diverge_factor > 1.0) {
            return Err(invalid(
                "lr_find.diverge_factor",
                self.diverge_factor,
                "a finite number > 1",
            ));
        }
        Ok(())
    }

    /// The learning rate of step `i`: start · (end / start)^(i / (n − 1)).
    pub fn lr_at(&self, i: usize) -> f64 {
        let t = i as f64 / (self.num_steps - 1) as f64;
        self.start_lr * (self.end_lr / self.start_lr).powf(t)
    }

    /// Runs the range test on the training data of `job` with a fresh [`Session`] (a model
    /// initialised from `job.seed`, the job's optimizer, loss, augmentation and mixup), cycling
    /// through epochs if the training set has fewer than `num_steps` batches.
    pub fn run(&self, job: &TrainConfig) -> Result<LrFinderResult> {
        self.validate()?;
        self.run_on(Session::new(job)?)
    }

    /// Runs the range test on `session` (for sessions built or adjusted by hand; taking it by
    /// value makes sure the trained-on model is not used afterwards). Its schedule is ignored;
    /// its optimizer state, model and loaders are used as they are.
    pub fn run_on(&self, mut session: Session) -> Result<LrFinderResult> {
        self.validate()?;
        let scale = group_scales(session.scheduler.base_lrs());
        let mut smoother = Smoother::new(self.smoothing);
        let mut points = Vec::with_capacity(self.num_steps);
        let mut best = f32::INFINITY;
        let mut stopped_early = false;
        let mut epoch = 0usize;
        'outer: while points.len() < self.num_steps {
            let mut any = false;
            for batch in session.train_loader.epoch(epoch as u64) {
                let batch = batch?;
                any = true;
                let step = points.len();
                let lr = self.lr_at(step);
                for (g, &k) in scale.iter().enumerate() {
                    session.optimizer.set_lr(g, lr * k);
                }
                let loss = match session.train_step(batch, epoch, step as u64, &mut []) {
                    Ok(stats) => stats.loss,
                    Err(TrainError::Diverged { .. }) => {
                        stopped_early = true;
                        break 'outer;
                    }
                    Err(e) => return Err(e),
                };
                let smoothed = smoother.push(loss);
                points.push(LrFinderPoint {
                    step,
                    lr,
                    loss,
                    smoothed,
                });
                best = best.min(smoothed);
                if step > 0 && f64::from(smoothed) > self.diverge_factor * f64::from(best) {
                    stopped_early = points.len() < self.num_steps;
                    break 'outer;
                }
                if points.len() == self.num_steps {
                    break 'outer;
                }
            }
            if !any {
                return Err(invalid(
                    "data.limit_train",
                    "0 batches",
                    "a training split with at least one batch",
                ));
            }
            epoch += 1;
        }
        Ok(LrFinderResult {
            config: *self,
            suggested: steepest(&points),
            min_loss_lr_div10: min_loss_lr(&points).map(|lr| lr / 10.0),
            points,
            stopped_early,
        })
    }
}

/// Each group's base rate relative to group 0's (all 1 if group 0's is 0).
fn group_scales(base: &[f64]) -> Vec<f64> {
    base.iter()
        .map(|&b| if base[0] > 0.0 { b / base[0] } else { 1.0 })
        .collect()
}

/// Bias-corrected exponential moving average (Adam's correction, fastai's `smooth_loss`).
struct Smoother {
    beta: f64,
    avg: f64,
    n: i32,
}

impl Smoother {
    fn new(beta: f64) -> Self {
        Smoother {
            beta,
            avg: 0.0,
            n: 0,
        }
    }
    fn push(&mut self, x: f32) -> f32 {
        self.n += 1;
        self.avg = self.beta * self.avg + (1.0 - self.beta) * f64::from(x);
        (self.avg / (1.0 - self.beta.powi(self.n))) as f32
    }
}

/// The lr of the point where the smoothed loss falls fastest against ln lr (central
/// differences; fastai skips the first 10 and last 5 points where there are enough, because
/// the average is still warming up at the start and blowing up at the end).
fn steepest(points: &[LrFinderPoint]) -> Option<f64> {
    if points.len() < 3 {
        return None;
    }
    let (lo, hi) = if points.len() > 30 {
        (10, points.len() - 5)
    } else {
        (0, points.len())
    };
    let p = &points[lo..hi];
    let slope = |i: usize| {
        let (a, b) = (p[i.saturating_sub(1)], p[(i + 1).min(p.len() - 1)]);
        (f64::from(b.smoothed) - f64::from(a.smoothed)) / (b.lr.ln() - a.lr.ln())
    };
    (0..p.len())
        .min_by(|&i, &j| slope(i).total_cmp(&slope(j)))
        .map(|i| p[i].lr)
}

/// The lr of the point of minimum smoothed loss.
fn min_loss_lr(points: &[LrFinderPoint]) -> Option<f64> {
    points
        .iter()
        .min_by(|a, b| a.smoothed.total_cmp(&b.smoothed))
        .map(|p| p.lr)
}

impl LrFinderResult {
    /// The curve as CSV: `step,lr,loss,smoothed_loss`, one line per step.
    pub fn to_csv(&self) -> String {
        let mut s = String::from("step,lr,loss,smoothed_loss\n");
        for p in &self.points {
            s.push_str(&format!(
                "{},{:e},{},{}\n",
                p.step, p.lr, p.loss, p.smoothed
            ));
        }
        s
    }

    /// A few lines for a terminal: range, points, where the loss was lowest, the suggestions.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "lr range test: {} steps from {:e} to {:e}{}\n",
            self.points.len(),
            self.config.start_lr,
            self.config.end_lr,
            if self.stopped_early {
                " (stopped early: the loss diverged)"
            } else {
                ""
            }
        );
        if let (Some(first), Some(min)) = (
            self.points.first(),
            self.points
                .iter()
                .min_by(|a, b| a.smoothed.total_cmp(&b.smoothed)),
        ) {
            s.push_str(&format!(
                "smoothed loss {:.4} at lr {:.2e}, lowest {:.4} at lr {:.2e}\n",
                first.smoothed, first.lr, min.smoothed, min.lr
            ));
        }
        match self.suggested {
            Some(lr) => s.push_str(&format!(
                "suggested lr (steepest descent of the smoothed loss): {lr:.3e}\n"
            )),
            None => s.push_str("no suggestion: fewer than 3 steps were taken\n"),
        }
        if let Some(lr) = self.min_loss_lr_div10 {
            s.push_str(&format!("lr of minimum loss / 10: {lr:.3e}\n"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(losses: &[f32]) -> Vec<LrFinderPoint> {
        let cfg = LrFinderConfig {
            num_steps: losses.len(),
            ..Default::default()
        };
        losses
            .iter()
            .enumerate()
            .map(|(i, &l)| LrFinderPoint {
                step: i,
                lr: cfg.lr_at(i),
                loss: l,
                smoothed: l,
            })
            .collect()
    }

    #[test]
    fn rates_are_exponentially_spaced_from_start_to_end() {
        let c = LrFinderConfig::default();
        assert!((c.lr_at(0) - 1e-7).abs() < 1e-20);
        assert!((c.lr_at(99) - 10.0).abs() < 1e-9);
        let r = c.lr_at(1) / c.lr_at(0);
        for i in 1..99 {
            assert!((c.lr_at(i + 1) / c.lr_at(i) - r).abs() < 1e-9);
        }
    }

    #[test]
    fn groups_keep_their_ratio_to_group_0() {
        assert_eq!(group_scales(&[0.2, 0.05, 0.2]), vec![1.0, 0.25, 1.0]);
        assert_eq!(group_scales(&[0.0, 0.5]), vec![1.0, 1.0]);
    }

    #[test]
    fn smoother_is_bias_corrected() {
        let mut s = Smoother::new(0.98);
        // A constant series is its own average from the first value on.
        for _ in 0..5 {
            assert!((s.push(2.5) - 2.5).abs() < 1e-5);
        }
        let mut s = Smoother::new(0.5);
        s.push(1.0);
        // m = 0.5·0.5 + 0.5·3 = 1.75; / (1 − 0.25) = 2.333…
        assert!((s.push(3.0) - 7.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn steepest_descent_and_minimum() {
        let losses = [2.3, 2.3, 2.2, 1.6, 1.0, 0.9, 0.8, 1.5, 4.0];
        let p = pts(&losses);
        // Largest drop is around step 3-4 (2.2 → 1.6 → 1.0).
        let s = steepest(&p).unwrap();
        assert!(s == p[3].lr || s == p[4].lr, "{s}");
        assert_eq!(min_loss_lr(&p), Some(p[6].lr));
        assert_eq!(steepest(&p[..2]), None);
    }

    #[test]
    fn bad_settings_are_named() {
        let bad = [
            LrFinderConfig {
                start_lr: 0.0,
                ..Default::default()
            },
            LrFinderConfig {
                end_lr: 1e-8,
                ..Default::default()
            },
            LrFinderConfig {
                num_steps: 1,
                ..Default::default()
            },
            LrFinderConfig {
                smoothing: 1.0,
                ..Default::default()
            },
            LrFinderConfig {
                diverge_factor: 1.0,
                ..Default::default()
            },
        ];
        let fields = [
            "start_lr",
            "end_lr",
            "num_steps",
            "smoothing",
            "diverge_factor",
        ];
        for (c, f) in bad.iter().zip(fields) {
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(f), "{e}");
        }
        LrFinderConfig::default().validate().unwrap();
    }
}
