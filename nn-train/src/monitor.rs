//! [`Monitor`]: a [`Callback`] that records what the lecture says to watch while babysitting a
//! training run: the loss and learning rate of every step, the train/val metrics of every
//! epoch, and every `ratio_every` steps, per named parameter, the gradient norm and the
//! **ratio of the update's norm to the weights' norm**
//!
//! ```text
//! ratio = ‖W_after − W_before‖₂ / ‖W_before‖₂      (≈ lr · ‖∇W‖ / ‖W‖ for plain SGD)
//! ```
//!
//! which "should be somewhere around 1e-3" (CS231n, "Babysitting the learning process"; A.
//! Karpathy's CS231n notes, "Ratio of weights:updates"): much smaller and the learning rate is
//! probably too low, much larger and it is probably too high. A ratio below
//! [`MonitorConfig::low`] (default 1e-4) or above [`MonitorConfig::high`] (default 1e-2), i.e.
//! more than ten times off, is flagged.
//!
//! The weights are captured (a cheap shared copy-on-write handle) in `after_backward`, and
//! compared with the updated weights in `on_step`; sampling only every `ratio_every` steps
//! keeps the cost to one extra copy of the parameters per sampled step.
//!
//! ```
//! use nn_train::{MonitorConfig, TrainConfig, train_with};
//!
//! let job = TrainConfig { epochs: 1, ..TrainConfig::default() };
//! let mut monitor = MonitorConfig::default().init().unwrap();
//! train_with(&job, &mut [&mut monitor]).unwrap();
//! for (param, median, low, high) in monitor.ratio_summary() {
//!     println!("{param}: median update/weight {median:.1e} ({low} low, {high} high)");
//! }
//! assert_eq!(monitor.steps.len(), monitor.epochs.len() * 20); // 1,257 images / 64 per batch
//! ```

use std::path::Path;

use nn_core::{Array, Data, Module};
use serde::{Deserialize, Serialize};

use crate::callback::{Callback, Control, StepInfo};
use crate::error::{Result, invalid};
use crate::trainer::EpochRecord;
use crate::write_atomic;

/// Settings of a [`Monitor`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorConfig {
    /// Measure update/weight ratios every this many steps (step 0, k, 2k, …); 0 disables them
    /// (loss, lr and epochs are still recorded). Default 10.
    pub ratio_every: u64,
    /// Ratios below this are flagged `low` (learning rate probably too low). Default 1e-4.
    pub low: f64,
    /// Ratios above this are flagged `high` (learning rate probably too high). Default 1e-2.
    pub high: f64,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            ratio_every: 10,
            low: 1e-4,
            high: 1e-2,
        }
    }
}

impl MonitorConfig {
    /// Checks 0 < `low` < `high` (finite) and builds the monitor.
    pub fn init(self) -> Result<Monitor> {
        if !(self.low.is_finite() && self.low > 0.0) {
            return Err(invalid("monitor.low", self.low, "a finite number > 0"));
        }
        if !(self.high.is_finite() && self.high > self.low) {
            return Err(invalid("monitor.high", self.high, "a finite number > low"));
        }
        Ok(Monitor {
            config: self,
            steps: Vec::new(),
            ratios: Vec::new(),
            epochs: Vec::new(),
            captured: None,
        })
    }
}

/// One optimisation step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Global step (0-based).
    pub step: u64,
    /// Epoch (0-based).
    pub epoch: usize,
    /// Mini-batch loss before the update.
    pub loss: f32,
    /// Learning rate of the first parameter group.
    pub lr: f64,
}

/// Whether an update/weight ratio is far from 1e-3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatioFlag {
    /// Within [low, high].
    Ok,
    /// Below `low`: the learning rate may be too low (or the parameter gets no gradient).
    Low,
    /// Above `high`: the learning rate may be too high.
    High,
}

/// The update of one parameter at one sampled step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatioRecord {
    /// Global step.
    pub step: u64,
    /// Parameter name (as in the state dict).
    pub param: String,
    /// ‖W‖₂ before the update.
    pub weight_norm: f64,
    /// ‖∇W‖₂ of the step.
    pub grad_norm: f64,
    /// ‖ΔW‖₂ of the update.
    pub update_norm: f64,
    /// ‖ΔW‖₂ / ‖W‖₂ (∞ if ‖W‖ = 0 and ΔW ≠ 0, 0 if both are 0).
    pub ratio: f64,
    /// The ratio against the thresholds.
    pub flag: RatioFlag,
}

/// The recording callback (see the module documentation).
#[derive(Debug, Clone, Serialize)]
pub struct Monitor {
    /// The settings.
    pub config: MonitorConfig,
    /// Every step.
    pub steps: Vec<StepRecord>,
    /// Every parameter at every sampled step.
    pub ratios: Vec<RatioRecord>,
    /// Every epoch.
    pub epochs: Vec<EpochRecord>,
    #[serde(skip)]
    captured: Option<(u64, Vec<Captured>)>,
}

#[derive(Debug, Clone)]
struct Captured {
    name: String,
    before: Data,
    grad_norm: f64,
}

fn norm<'a>(values: impl IntoIterator<Item = &'a f32>) -> f64 {
    values
        .into_iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt()
}

impl Monitor {
    fn flag(&self, ratio: f64) -> RatioFlag {
        if ratio < self.config.low {
            RatioFlag::Low
        } else if ratio > self.config.high {
            RatioFlag::High
        } else {
            RatioFlag::Ok
        }
    }

    /// Every step as CSV: `step,epoch,loss,lr`.
    pub fn steps_csv(&self) -> String {
        let mut s = String::from("step,epoch,loss,lr\n");
        for r in &self.steps {
            s.push_str(&format!("{},{},{},{:e}\n", r.step, r.epoch, r.loss, r.lr));
        }
        s
    }

    /// The sampled updates as CSV:
    /// `step,param,weight_norm,grad_norm,update_norm,ratio,flag`.
    pub fn ratios_csv(&self) -> String {
        let mut s = String::from("step,param,weight_norm,grad_norm,update_norm,ratio,flag\n");
        for r in &self.ratios {
            let flag = match r.flag {
                RatioFlag::Ok => "ok",
                RatioFlag::Low => "low",
                RatioFlag::High => "high",
            };
            s.push_str(&format!(
                "{},{},{:e},{:e},{:e},{:e},{flag}\n",
                r.step, r.param, r.weight_norm, r.grad_norm, r.update_norm, r.ratio
            ));
        }
        s
    }

    /// Writes, atomically, `monitor.csv` (the ratios), `steps.csv` (loss and lr per step) and
    /// `monitor.json` (everything, with the settings) into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        for (name, text) in self.files() {
            write_atomic(&dir.join(name), text.as_bytes())?;
        }
        Ok(())
    }

    /// The files [`Monitor::write`] writes: (name, contents).
    pub fn files(&self) -> [(&'static str, String); 3] {
        let json = serde_json::to_string_pretty(self).expect("records serialise");
        [
            ("monitor.csv", self.ratios_csv()),
            ("steps.csv", self.steps_csv()),
            ("monitor.json", json),
        ]
    }

    /// Per parameter (in first-seen order): the median ratio over the sampled steps and how
    /// many samples were flagged low or high.
    pub fn ratio_summary(&self) -> Vec<(String, f64, usize, usize)> {
        let mut names: Vec<&str> = Vec::new();
        for r in &self.ratios {
            if !names.contains(&r.param.as_str()) {
                names.push(&r.param);
            }
        }
        names
            .into_iter()
            .map(|n| {
                let rs: Vec<&RatioRecord> = self.ratios.iter().filter(|r| r.param == n).collect();
                let mut v: Vec<f64> = rs.iter().map(|r| r.ratio).collect();
                v.sort_by(f64::total_cmp);
                let low = rs.iter().filter(|r| r.flag == RatioFlag::Low).count();
                let high = rs.iter().filter(|r| r.flag == RatioFlag::High).count();
                (n.to_string(), v[v.len() / 2], low, high)
            })
            .collect()
    }
}

/// What a checkpoint keeps of a [`Monitor`] (everything but the transient capture).
#[derive(Serialize, Deserialize)]
struct MonitorState {
    config: MonitorConfig,
    steps: Vec<StepRecord>,
    ratios: Vec<RatioRecord>,
    epochs: Vec<EpochRecord>,
}

impl Callback for Monitor {
    fn save_state(&self) -> Option<Vec<u8>> {
        #[derive(Serialize)]
        struct Ref<'a> {
            config: MonitorConfig,
            steps: &'a [StepRecord],
            ratios: &'a [RatioRecord],
            epochs: &'a [EpochRecord],
        }
        Some(crate::checkpoint::encode(&Ref {
            config: self.config,
            steps: &self.steps,
            ratios: &self.ratios,
            epochs: &self.epochs,
        }))
    }

    fn load_state(&mut self, state: &[u8]) -> Result<()> {
        let s: MonitorState = crate::checkpoint::decode(state, "the monitor's state")?;
        (self.config, self.steps, self.ratios, self.epochs) =
            (s.config, s.steps, s.ratios, s.epochs);
        self.captured = None;
        Ok(())
    }

    fn after_backward(&mut self, model: &dyn Module, step: u64) {
        let k = self.config.ratio_every;
        if k == 0 || !step.is_multiple_of(k) {
            return;
        }
        let params = model
            .named_parameters()
            .into_iter()
            .filter(|(_, p)| !p.is_frozen())
            .filter_map(|(name, p)| {
                let g: Array = p.grad()?;
                Some(Captured {
                    name,
                    before: p.value(),
                    grad_norm: norm(g.iter()),
                })
            })
            .collect();
        self.captured = Some((step, params));
    }

    fn on_step(&mut self, info: &StepInfo<'_>) -> Control {
        self.steps.push(StepRecord {
            step: info.step,
            epoch: info.epoch,
            loss: info.loss,
            lr: info.lr,
        });
        let Some((step, captured)) = self.captured.take() else {
            return Control::Continue;
        };
        if step != info.step {
            return Control::Continue;
        }
        let now: std::collections::HashMap<String, Data> = info
            .model
            .named_parameters()
            .into_iter()
            .map(|(n, p)| (n, p.value()))
            .collect();
        for c in captured {
            let Some(after) = now.get(&c.name) else {
                continue;
            };
            let weight_norm = norm(c.before.iter());
            let update_norm = c
                .before
                .iter()
                .zip(after.iter())
                .map(|(&b, &a)| (f64::from(a) - f64::from(b)).powi(2))
                .sum::<f64>()
                .sqrt();
            let ratio = match (update_norm == 0.0, weight_norm == 0.0) {
                (true, _) => 0.0,
                (false, true) => f64::INFINITY,
                (false, false) => update_norm / weight_norm,
            };
            let flag = self.flag(ratio);
            self.ratios.push(RatioRecord {
                step,
                param: c.name,
                weight_norm,
                grad_norm: c.grad_norm,
                update_norm,
                ratio,
                flag,
            });
        }
        Control::Continue
    }

    fn on_epoch(&mut self, record: &EpochRecord, _model: &dyn Module) -> Control {
        self.epochs.push(record.clone());
        Control::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_validated_and_applied() {
        assert!(
            MonitorConfig {
                low: 0.0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
        let e = MonitorConfig {
            high: 1e-5,
            ..Default::default()
        }
        .init()
        .unwrap_err();
        assert!(e.to_string().contains("monitor.high"), "{e}");
        let m = MonitorConfig::default().init().unwrap();
        assert_eq!(m.flag(1e-3), RatioFlag::Ok);
        assert_eq!(m.flag(5e-5), RatioFlag::Low);
        assert_eq!(m.flag(0.05), RatioFlag::High);
    }
}
