//! Model ensembles: train N members that differ only in their seed (initialisation,
//! shuffling, augmentation, dropout — the data split stays the base job's), then average
//! their predicted probability distributions on the test split and take the arg-max.
//!
//! ```text
//! p̄(y | x) = (1/N) Σᵢ softmax(fᵢ(x))      ŷ = argmax_y p̄(y | x)
//! ```
//!
//! The lecture: "Model ensembles: train multiple independent models, at test time average
//! their results; enjoy 2 % extra performance" (the ensembles of Krizhevsky et al. 2012 and
//! He et al. 2016). Members train in `parallel` threads; each member's result depends only on
//! its seed, so the ensemble is bit-identical whatever `parallel` is. Evaluation accepts
//! test-time augmentation ([`crate::tta_eval`]). Snapshots of a single run ensembled the same
//! way are in [`crate::snapshot`].
//!
//! ```no_run
//! use nn_train::ensemble::{EnsembleSettings, train_ensemble};
//! use nn_train::TrainConfig;
//!
//! let config = TrainConfig { epochs: 10, ..TrainConfig::default() };
//! let settings = EnsembleSettings { members: 3, ..EnsembleSettings::default() };
//! let ens = train_ensemble(&config, &settings, &|i, r| println!("member {i}: {:.3}", r.test_acc)).unwrap();
//! println!("ensemble {:.4} vs mean member {:.4}", ens.report.ensemble_acc, ens.report.mean_member_acc);
//! ```

pub mod store;

pub use store::{MemberStore, RunDirMembers, member_folder, write_member};

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use nn_core::Module;
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::data::{PreparedData, prepare};
use crate::error::{Result, invalid};
use crate::metrics::ClassMetrics;
use crate::session::Session;
use crate::trainer::{TrainReport, Trained, train_checkpointed, train_with};
use crate::tta_eval::{Predictions, Tta, TtaMode, predict_dataset};

/// How to build and evaluate an ensemble.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnsembleSettings {
    /// Number of members (≥ 1). Default 5.
    pub members: usize,
    /// Members trained at the same time (threads, ≥ 1). Results do not depend on it.
    /// Default 1.
    pub parallel: usize,
    /// Test-time augmentation of every member's test predictions. Default none.
    pub tta: Tta,
}

impl Default for EnsembleSettings {
    fn default() -> Self {
        EnsembleSettings {
            members: 5,
            parallel: 1,
            tta: Tta::default(),
        }
    }
}

impl EnsembleSettings {
    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        if self.members == 0 {
            return Err(invalid("members", 0, "at least 1"));
        }
        if self.parallel == 0 {
            return Err(invalid("parallel", 0, "at least 1 thread"));
        }
        Ok(())
    }
}

/// One member (or snapshot) of an ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberSummary {
    /// The member's job seed.
    pub seed: u64,
    /// For a snapshot ensemble: the epoch (1-based) the snapshot was taken at.
    #[serde(default)]
    pub snapshot_epoch: Option<usize>,
    /// Test loss of the member alone (NLL of its probabilities, with the ensemble's TTA).
    pub test_loss: f32,
    /// Test accuracy of the member alone (with the ensemble's TTA).
    pub test_acc: f32,
}

/// Member and ensemble figures on the test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleReport {
    /// Test-time augmentation used for every prediction.
    pub tta: TtaMode,
    /// Per-member figures.
    pub members: Vec<MemberSummary>,
    /// Mean of the members' test accuracies.
    pub mean_member_acc: f32,
    /// Mean of the members' test losses.
    pub mean_member_loss: f32,
    /// Test loss of the ensemble (NLL of the averaged probabilities).
    pub ensemble_loss: f32,
    /// Test accuracy of the ensemble (arg-max of the averaged probabilities).
    pub ensemble_acc: f32,
    /// The members' training reports (empty for a snapshot ensemble, whose one run is
    /// reported by [`crate::snapshot::SnapshotEnsemble::train_report`]).
    #[serde(default)]
    pub train_reports: Vec<TrainReport>,
    /// Confusion matrix and per-class accuracy of the ensemble on the test split.
    #[serde(default)]
    pub ensemble_metrics: Option<ClassMetrics>,
}

/// A trained ensemble.
pub struct Ensemble {
    /// The members' models, in member order.
    pub models: Vec<Box<dyn Module>>,
    /// The members' jobs (seed `base + i`, split seed = the base job's).
    pub configs: Vec<TrainConfig>,
    /// Member and ensemble figures.
    pub report: EnsembleReport,
    /// The data (the same splits and preprocessing for every member).
    pub data: PreparedData,
}

/// The job of member `i`: the base job with seed `base.seed + i` (wrapping) and the data split
/// pinned to the base job's (`data.split_seed`), so members differ in nothing but the seed of
/// their random choices. Member 0 is the base job itself.
pub fn member_config(base: &TrainConfig, i: usize) -> TrainConfig {
    let mut c = base.clone();
    c.seed = base.seed.wrapping_add(i as u64);
    c.data.split_seed = Some(base.data.split_seed.unwrap_or(base.seed));
    c
}

/// Evaluates `models` alone and as an ensemble on the test split of `data`, with `tta`.
/// `labels` names the members: `(seed, snapshot epoch)`, one per model.
pub fn evaluate_ensemble(
    models: &[&dyn Module],
    data: &PreparedData,
    tta: &Tta,
    labels: &[(u64, Option<usize>)],
) -> Result<EnsembleReport> {
    assert_eq!(
        models.len(),
        labels.len(),
        "evaluate_ensemble: {} models but {} labels",
        models.len(),
        labels.len()
    );
    let mut sets = Vec::with_capacity(models.len());
    let mut members = Vec::with_capacity(models.len());
    for (model, &(seed, snapshot_epoch)) in models.iter().zip(labels) {
        let p = predict_dataset(&[*model], data.test.as_ref(), data.preprocess.as_ref(), tta)?;
        let (test_loss, test_acc) = p.loss_and_accuracy();
        members.push(MemberSummary {
            seed,
            snapshot_epoch,
            test_loss,
            test_acc,
        });
        sets.push(p);
    }
    let mean = Predictions::mean(&sets);
    let (ensemble_loss, ensemble_acc) = mean.loss_and_accuracy();
    let ensemble_metrics = Some(mean.metrics(data.class_names.clone()));
    let n = members.len().max(1) as f32;
    Ok(EnsembleReport {
        tta: tta.mode,
        mean_member_acc: members.iter().map(|m| m.test_acc).sum::<f32>() / n,
        mean_member_loss: members.iter().map(|m| m.test_loss).sum::<f32>() / n,
        members,
        ensemble_loss,
        ensemble_acc,
        train_reports: Vec::new(),
        ensemble_metrics,
    })
}

/// Trains `settings.members` members of the job `base` ([`member_config`]), `settings.parallel`
/// at a time, and evaluates them alone and as an ensemble on the test split.
/// `on_member(i, report)` is called as each member finishes (from the thread that trained it).
///
/// The result is the same for every `parallel`: members are independent jobs, collected in
/// member order. On failure, the error of the first failing member (by index) is returned.
pub fn train_ensemble(
    base: &TrainConfig,
    settings: &EnsembleSettings,
    on_member: &(dyn Fn(usize, &TrainReport) + Sync),
) -> Result<Ensemble> {
    train_ensemble_in(base, settings, None, on_member)
}

/// [`train_ensemble`] keeping the members in `store` (if any) as they finish: members that
/// `store` already holds are read back instead of trained, members in training checkpoint
/// into it and continue from their checkpoint, so an interrupted ensemble resumes where it
/// stopped, with the same result as an uninterrupted one ([`store`]).
/// `on_member` is called for the members trained now, not for those read back.
pub fn train_ensemble_in(
    base: &TrainConfig,
    settings: &EnsembleSettings,
    store: Option<&dyn MemberStore>,
    on_member: &(dyn Fn(usize, &TrainReport) + Sync),
) -> Result<Ensemble> {
    settings.validate()?;
    settings.tta.validate()?;
    base.validate()?;
    let configs: Vec<TrainConfig> = (0..settings.members)
        .map(|i| member_config(base, i))
        .collect();
    // Members finished earlier, read back (the data is prepared once for them).
    let mut data: Option<PreparedData> = None;
    let mut kept: Vec<Option<(Box<dyn Module>, TrainReport)>> = Vec::new();
    for (i, config) in configs.iter().enumerate() {
        let member = match store {
            Some(st) if st.is_finished(i) => {
                if data.is_none() {
                    data = Some(prepare(&config.data, config.seed)?);
                }
                Some(st.load(i, config, data.as_ref().expect("prepared above"))?)
            }
            _ => None,
        };
        kept.push(member);
    }
    let todo: Vec<usize> = (0..configs.len()).filter(|&i| kept[i].is_none()).collect();
    let results: Vec<Mutex<Option<Result<Trained>>>> =
        configs.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..settings.parallel.min(todo.len()) {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&i) = todo.get(k) else {
                        break;
                    };
                    let result = match store {
                        Some(st) => st.plan(i).and_then(|plan| {
                            let trained =
                                train_checkpointed(Session::new(&configs[i])?, &mut [], plan)?;
                            st.store(i, &configs[i], &trained)?;
                            Ok(trained)
                        }),
                        None => train_with(&configs[i], &mut []),
                    };
                    if let Ok(t) = &result {
                        on_member(i, &t.report);
                    }
                    *results[i].lock().expect("member slot") = Some(result);
                }
            });
        }
    });
    let mut models = Vec::with_capacity(configs.len());
    let mut train_reports = Vec::with_capacity(configs.len());
    for (slot, member) in results.into_iter().zip(kept) {
        let (model, report) = match member {
            Some(m) => m,
            None => {
                let trained = slot
                    .into_inner()
                    .expect("member slot")
                    .expect("every member index was taken by a worker")?;
                // All members share the split; keep the first member's data.
                data.get_or_insert(trained.data);
                (trained.model, trained.report)
            }
        };
        models.push(model);
        train_reports.push(report);
    }
    let data = data.expect("at least one member");
    let refs: Vec<&dyn Module> = models.iter().map(|m| m.as_ref()).collect();
    let labels: Vec<(u64, Option<usize>)> = configs.iter().map(|c| (c.seed, None)).collect();
    let mut report = evaluate_ensemble(&refs, &data, &settings.tta, &labels)?;
    report.train_reports = train_reports;
    Ok(Ensemble {
        models,
        configs,
        report,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_differ_in_seed_only() {
        let base = TrainConfig {
            seed: 7,
            ..TrainConfig::default()
        };
        let m2 = member_config(&base, 2);
        assert_eq!(m2.seed, 9);
        assert_eq!(m2.data.split_seed, Some(7));
        assert_eq!(member_config(&m2, 1).data.split_seed, Some(7));
        let mut back = m2.clone();
        back.seed = 7;
        back.data.split_seed = None;
        assert_eq!(back, base);
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let bad = EnsembleSettings {
            members: 0,
            ..EnsembleSettings::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("members"));
        let bad = EnsembleSettings {
            parallel: 0,
            ..EnsembleSettings::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("parallel"));
    }
}
