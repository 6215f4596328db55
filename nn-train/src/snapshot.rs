//! Snapshot ensembles: one training run, several models. A [`SnapshotCollector`] callback
//! keeps the weights at chosen epochs — typically the end of each SGDR cycle, where the
//! learning rate is lowest and the model sits in a local minimum — and the snapshots are
//! ensembled like independently trained members ([`crate::ensemble`]).
//!
//! Huang et al., "Snapshot Ensembles: Train 1, get M for free", ICLR 2017; cycles from
//! Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", ICLR 2017
//! (nn-optim's `Schedule::CosineWarmRestarts`).
//!
//! ```no_run
//! use nn_optim::{Interval, Schedule, schedule::CosineWarmRestarts};
//! use nn_train::snapshot::{SnapshotSchedule, train_snapshot_ensemble};
//! use nn_train::TrainConfig;
//!
//! // 3 SGDR cycles of 5 epochs; one snapshot at the end of each.
//! let config = TrainConfig {
//!     epochs: 15,
//!     schedule: Some(Schedule::CosineWarmRestarts(CosineWarmRestarts { t_0: 5, t_mult: 1, eta_min: 0.0 })),
//!     schedule_interval: Interval::Epoch,
//!     ..TrainConfig::default()
//! };
//! let schedule = SnapshotSchedule::CycleEnds { t_0: 5, t_mult: 1 };
//! let ens = train_snapshot_ensemble(&config, &schedule, &Default::default()).unwrap();
//! println!("{} snapshots: ensemble {:.4}", ens.models.len(), ens.report.ensemble_acc);
//! ```

use nn_core::checkpoint::{LoadMode, apply_state_dict};
use nn_core::{Array, Module};
use serde::{Deserialize, Serialize};

use crate::callback::{Callback, Control};
use crate::config::TrainConfig;
use crate::data::PreparedData;
use crate::ensemble::{EnsembleReport, evaluate_ensemble};
use crate::error::{Result, invalid};
use crate::trainer::{EpochRecord, TrainReport, train_with};
use crate::tta_eval::Tta;

/// The epochs (1-based, at their end) whose weights are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotSchedule {
    /// Every `k` epochs: epochs k, 2k, 3k, …
    Every(usize),
    /// These epochs.
    Epochs(Vec<usize>),
    /// The end of each SGDR cycle of `t_0`, `t_0·t_mult`, … epochs: epochs t₀, t₀ + t₀·t_mult, …
    CycleEnds {
        /// Length of the first cycle, in epochs.
        t_0: usize,
        /// Growth factor of the cycle length.
        t_mult: usize,
    },
}

impl SnapshotSchedule {
    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        match self {
            SnapshotSchedule::Every(0) => Err(invalid("snapshots.every", 0, "at least 1 epoch")),
            SnapshotSchedule::Epochs(e) if e.is_empty() || e.contains(&0) => Err(invalid(
                "snapshots.epochs",
                format!("{e:?}"),
                "a non-empty list of 1-based epochs",
            )),
            SnapshotSchedule::CycleEnds { t_0: 0, .. } => {
                Err(invalid("snapshots.t_0", 0, "at least 1 epoch"))
            }
            SnapshotSchedule::CycleEnds { t_mult: 0, .. } => {
                Err(invalid("snapshots.t_mult", 0, "at least 1"))
            }
            _ => Ok(()),
        }
    }

    /// Whether the weights at the end of `epoch` (1-based) are kept.
    pub fn takes(&self, epoch: usize) -> bool {
        match self {
            SnapshotSchedule::Every(k) => *k > 0 && epoch.is_multiple_of(*k),
            SnapshotSchedule::Epochs(e) => e.contains(&epoch),
            SnapshotSchedule::CycleEnds { t_0, t_mult } => {
                let (mut end, mut len) = (*t_0, *t_0);
                while len > 0 && end < epoch {
                    len = len.saturating_mul((*t_mult).max(1));
                    end = end.saturating_add(len);
                }
                end == epoch
            }
        }
    }
}

/// A [`Callback`] keeping the state dict at the epochs of a [`SnapshotSchedule`].
#[derive(Debug, Clone)]
pub struct SnapshotCollector {
    schedule: SnapshotSchedule,
    /// `(epoch, state dict)` of every snapshot so far, in epoch order.
    pub snapshots: Vec<(usize, Vec<(String, Array)>)>,
}

impl SnapshotCollector {
    /// A collector for `schedule`.
    pub fn new(schedule: SnapshotSchedule) -> Result<SnapshotCollector> {
        schedule.validate()?;
        Ok(SnapshotCollector {
            schedule,
            snapshots: Vec::new(),
        })
    }
}

impl Callback for SnapshotCollector {
    fn on_epoch(&mut self, record: &EpochRecord, model: &dyn Module) -> Control {
        if self.schedule.takes(record.epoch) {
            self.snapshots.push((record.epoch, model.state_dict()));
        }
        Control::Continue
    }
}

/// A snapshot ensemble and the run it came from.
pub struct SnapshotEnsemble {
    /// One model per snapshot, in epoch order.
    pub models: Vec<Box<dyn Module>>,
    /// Snapshot and ensemble figures on the test split (members labelled by epoch).
    pub report: EnsembleReport,
    /// The report of the training run.
    pub train_report: TrainReport,
    /// The data.
    pub data: PreparedData,
}

/// Rebuilds one model per collected snapshot (architecture of `config`).
pub fn snapshot_models(
    config: &TrainConfig,
    data: &PreparedData,
    collector: &SnapshotCollector,
) -> Result<Vec<Box<dyn Module>>> {
    collector
        .snapshots
        .iter()
        .map(|(epoch, state)| {
            let model = config.model.build(
                data.input_shape,
                data.num_classes,
                &mut nn_core::rng::stream(config.seed, 1),
            )?;
            let name = format!("<snapshot of epoch {epoch}>");
            apply_state_dict(
                model.as_ref(),
                state.clone(),
                LoadMode::Strict,
                std::path::Path::new(&name),
            )?;
            Ok(model)
        })
        .collect()
}

/// Trains `config` once, keeps the weights at the epochs of `schedule` and evaluates the
/// snapshots alone and as an ensemble on the test split (with `tta`).
///
/// Errors if no snapshot was taken (e.g. every snapshot epoch lies beyond `config.epochs`).
pub fn train_snapshot_ensemble(
    config: &TrainConfig,
    schedule: &SnapshotSchedule,
    tta: &Tta,
) -> Result<SnapshotEnsemble> {
    let mut collector = SnapshotCollector::new(schedule.clone())?;
    let trained = train_with(config, &mut [&mut collector])?;
    if collector.snapshots.is_empty() {
        return Err(invalid(
            "snapshots",
            format!("{schedule:?}"),
            &format!(
                "at least one snapshot epoch within the {} epochs trained",
                trained.report.history.len()
            ),
        ));
    }
    let models = snapshot_models(config, &trained.data, &collector)?;
    let refs: Vec<&dyn Module> = models.iter().map(|m| m.as_ref()).collect();
    let labels: Vec<(u64, Option<usize>)> = collector
        .snapshots
        .iter()
        .map(|(e, _)| (config.seed, Some(*e)))
        .collect();
    let report = evaluate_ensemble(&refs, &trained.data, tta, &labels)?;
    Ok(SnapshotEnsemble {
        models,
        report,
        train_report: trained.report,
        data: trained.data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_pick_the_right_epochs() {
        let picked = |s: SnapshotSchedule| (1..=30).filter(|&e| s.takes(e)).collect::<Vec<_>>();
        assert_eq!(picked(SnapshotSchedule::Every(10)), vec![10, 20, 30]);
        assert_eq!(picked(SnapshotSchedule::Epochs(vec![3, 7])), vec![3, 7]);
        assert_eq!(
            picked(SnapshotSchedule::CycleEnds { t_0: 2, t_mult: 2 }),
            vec![2, 6, 14, 30]
        );
        assert_eq!(
            picked(SnapshotSchedule::CycleEnds { t_0: 5, t_mult: 1 }),
            vec![5, 10, 15, 20, 25, 30]
        );
        assert!(SnapshotSchedule::Every(0).validate().is_err());
        assert!(SnapshotSchedule::Epochs(vec![]).validate().is_err());
        assert!(
            SnapshotSchedule::CycleEnds { t_0: 1, t_mult: 0 }
                .validate()
                .is_err()
        );
    }
}
