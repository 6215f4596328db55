//! [`search`]: coarse-to-fine hyperparameter search (CS231n "Choosing hyperparameters", steps
//! 4–5): stage 1 trains many sampled configs for a few epochs; each later stage narrows every
//! dimension to the range of the top-k trials of the stage before, re-runs those top-k configs
//! and new samples of the narrowed space for longer. Trials run in `parallel` threads; the
//! results do not depend on it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use serde::{Deserialize, Serialize};

use super::apply::apply_sample;
use super::error::{TuneError, invalid_setting};
use super::sampler::{grid_samples, narrow, random_samples};
use super::space::{Sample, SearchSpace};
use super::trial::{TrialRecord, TrialStatus, run_trial};
use crate::config::TrainConfig;
use crate::dist::Dist;
use crate::error::TrainError;

/// How the points of a stage are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// `trials` random points per stage (the default: Bergstra & Bengio 2012).
    Random,
    /// The full grid with this many points per dimension (every value of a choice).
    Grid {
        /// Points per continuous or integer dimension.
        points: usize,
    },
}

/// The settings of a search. Defaults in [`SearchSettings::default`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchSettings {
    /// Random or grid. Default random.
    pub strategy: Strategy,
    /// New random trials per stage. Default 20.
    pub trials: usize,
    /// Epochs of a stage-1 (coarse) trial. Default 3 (the lecture: "~1-5 epochs").
    pub epochs: usize,
    /// Epochs of a trial in later stages; `None`: the job's `epochs` ("train longer").
    pub refine_epochs: Option<usize>,
    /// Number of stages (1 = a plain search). Default 2.
    pub stages: usize,
    /// Trials of a stage that define the next stage's ranges and are re-run in it. Default 3.
    pub top_k: usize,
    /// Margin added on each side of a narrowed range, as a fraction of the original range's
    /// width (in log space for log dimensions). Default 0.1.
    pub widen: f64,
    /// A trial stops when its loss exceeds this × its first loss. Default 3.
    pub explode_factor: f32,
    /// Trials run at once. Default 1. Results do not depend on it.
    pub parallel: usize,
    /// Seed of the sampling (each trial trains with the job's own `seed`). Default 0.
    pub seed: u64,
}

impl Default for SearchSettings {
    fn default() -> Self {
        SearchSettings {
            strategy: Strategy::Random,
            trials: 20,
            epochs: 3,
            refine_epochs: None,
            stages: 2,
            top_k: 3,
            widen: 0.1,
            explode_factor: 3.0,
            parallel: 1,
            seed: 0,
        }
    }
}

impl SearchSettings {
    /// Checks every setting.
    pub fn validate(&self) -> Result<(), TuneError> {
        let at_least_1 = |name: &str, v: usize| {
            if v == 0 {
                Err(invalid_setting(name, v, "at least 1"))
            } else {
                Ok(())
            }
        };
        match self.strategy {
            Strategy::Random => at_least_1("trials", self.trials)?,
            Strategy::Grid { points } => at_least_1("grid points", points)?,
        }
        at_least_1("epochs", self.epochs)?;
        if let Some(e) = self.refine_epochs {
            at_least_1("refine_epochs", e)?;
        }
        at_least_1("stages", self.stages)?;
        at_least_1("top_k", self.top_k)?;
        at_least_1("parallel", self.parallel)?;
        if !(self.widen.is_finite() && self.widen > 0.0 && self.widen <= 1.0) {
            return Err(invalid_setting("widen", self.widen, "a fraction in (0, 1]"));
        }
        if !(self.explode_factor.is_finite() && self.explode_factor > 1.0) {
            return Err(invalid_setting(
                "explode_factor",
                self.explode_factor,
                "a finite factor > 1",
            ));
        }
        Ok(())
    }
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResult {
    /// Every trial, best first ([`rank`]).
    pub trials: Vec<TrialRecord>,
    /// The space searched in each stage that ran (stage 1 = the given space).
    pub spaces: Vec<SearchSpace>,
    /// The job of the best trial, with the epochs it was trained for: the highest validation
    /// accuracy among the trials that ended ok in the last stage that has any.
    pub best_config: Option<TrainConfig>,
}

impl SearchResult {
    /// The best trial (the first of [`SearchResult::trials`] if it ended ok).
    pub fn best(&self) -> Option<&TrialRecord> {
        self.trials.first().filter(|t| t.status == TrialStatus::Ok)
    }
}

/// Sorts trials best first (within [`search`], the best trial of the last stage is then moved
/// to the front): ended ok first, then by validation accuracy (descending), then
/// validation loss (ascending), later stage first (trained longer), then trial id.
pub fn rank(trials: &mut [TrialRecord]) {
    let key = |t: &TrialRecord| {
        (
            t.status != TrialStatus::Ok,
            -t.val_acc.unwrap_or(f32::NEG_INFINITY),
            t.val_loss.unwrap_or(f32::INFINITY),
            std::cmp::Reverse(t.stage),
            t.trial,
        )
    };
    trials.sort_by(|a, b| {
        key(a)
            .partial_cmp(&key(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
}

/// Runs the search of `space` around the job `base` (see the module docs), calling `on_trial`
/// (in the calling thread, in completion order) after every trial. The same as
/// [`search_on`] with one process.
///
/// Before any training, every dimension's bounds (or choices) are applied to `base`, so an
/// unknown path, a value of the wrong type or an out-of-range bound fails the search at once.
/// Trials that explode, diverge or fail are recorded and the search goes on; a stage in which
/// no trial ended ok ends the search.
pub fn search(
    base: &TrainConfig,
    space: &SearchSpace,
    settings: &SearchSettings,
    on_trial: &mut dyn FnMut(&TrialRecord),
) -> Result<SearchResult, TuneError> {
    search_resumed(base, space, settings, &[], on_trial)
}

/// [`search`] continuing an interrupted search of the same job, space and settings: a trial
/// found in `done` (the records an earlier run reported, e.g. its trials.json) with the same
/// stage, number, values and epochs is taken as it is instead of being trained again (and
/// reported to `on_trial` again). The samples are drawn from the seed exactly as before, so
/// the search, and its result, is the one the interrupted run would have finished.
pub fn search_resumed(
    base: &TrainConfig,
    space: &SearchSpace,
    settings: &SearchSettings,
    done: &[TrialRecord],
    on_trial: &mut dyn FnMut(&TrialRecord),
) -> Result<SearchResult, TuneError> {
    search_on(&Dist::single(), base, space, settings, done, on_trial)
}

/// [`search_resumed`] spread over the ranks of `dist` (`mpirun -np N nn-train tune ...`): trial
/// `i` of a stage (in plan order) runs on rank `i mod N` (in `settings.parallel` threads there),
/// and at the end of each stage every rank receives every record, so all ranks rank, narrow and
/// plan the next stage identically. Trials are seeded by their id and the job's seed alone,
/// so the result equals the sequential search's (only [`TrialRecord::seconds`] differs).
/// `on_trial` sees this rank's trials as they end and the other ranks' at the end of the stage.
/// Every rank must be given the same `done`.
pub fn search_on(
    dist: &Dist,
    base: &TrainConfig,
    space: &SearchSpace,
    settings: &SearchSettings,
    done: &[TrialRecord],
    on_trial: &mut dyn FnMut(&TrialRecord),
) -> Result<SearchResult, TuneError> {
    settings.validate()?;
    space.validate()?;
    base.validate()?;
    if base.data.no_validation {
        return Err(crate::error::TrainError::Invalid {
            field: "data.no_validation".into(),
            value: "true".into(),
            expected: "false for tune (trials are ranked by validation accuracy)".into(),
        }
        .into());
    }
    preflight(base, space)?;
    let mut result = SearchResult {
        trials: Vec::new(),
        spaces: vec![space.clone()],
        best_config: None,
    };
    let mut carried: Vec<Sample> = Vec::new();
    let mut next_id = 0;
    for stage in 1..=settings.stages {
        let stage_space = result.spaces.last().expect("one space per stage").clone();
        let epochs = if stage == 1 {
            settings.epochs
        } else {
            settings.refine_epochs.unwrap_or(base.epochs)
        };
        let fresh = match settings.strategy {
            Strategy::Random => random_samples(&stage_space, settings.trials, settings.seed, stage),
            Strategy::Grid { points } => grid_samples(&stage_space, points),
        };
        let samples: Vec<Sample> = carried.drain(..).chain(fresh).collect();
        let first_id = next_id;
        next_id += samples.len();
        let mut records = run_stage(dist, settings.parallel, samples.len(), on_trial, |i| {
            let kept = done.iter().find(|r| {
                r.stage == stage
                    && r.trial == first_id + i
                    && r.values == samples[i]
                    && r.epochs == epochs
            });
            match kept {
                Some(r) => r.clone(),
                None => run_trial(
                    base,
                    &samples[i],
                    stage,
                    first_id + i,
                    epochs,
                    settings.explode_factor,
                ),
            }
        })?;
        rank(&mut records);
        let top: Vec<&TrialRecord> = records
            .iter()
            .filter(|t| t.status == TrialStatus::Ok)
            .take(settings.top_k)
            .collect();
        let stop = top.is_empty();
        if stage < settings.stages && !stop {
            let values: Vec<&Sample> = top.iter().map(|t| &t.values).collect();
            result
                .spaces
                .push(narrow(&stage_space, &values, settings.widen));
            carried = values.into_iter().cloned().collect();
        }
        result.trials.extend(records);
        if stop {
            break;
        }
    }
    rank(&mut result.trials);
    // The best is judged among the trials of the last stage with a trial that ended ok: they
    // trained longest, and include the re-runs of the previous stage's top-k.
    let last_ok = result
        .trials
        .iter()
        .filter(|t| t.status == TrialStatus::Ok)
        .map(|t| t.stage)
        .max();
    if let Some(stage) = last_ok {
        let pos = result
            .trials
            .iter()
            .position(|t| t.stage == stage && t.status == TrialStatus::Ok)
            .expect("the stage has a trial that ended ok");
        let best = result.trials.remove(pos);
        let job = TrainConfig {
            epochs: best.epochs,
            ..base.clone()
        };
        result.best_config = Some(apply_sample(&job, &best.values)?);
        result.trials.insert(0, best);
    }
    Ok(result)
}

/// Applies each dimension's extreme values (every choice) to `base` alone.
fn preflight(base: &TrainConfig, space: &SearchSpace) -> Result<(), TuneError> {
    for (name, dim) in &space.dimensions {
        for value in dim.grid(2) {
            let sample = Sample::from([(name.clone(), value)]);
            apply_sample(base, &sample)?;
        }
    }
    Ok(())
}

/// Runs this rank's share of `job(0..n)` (indices `i` with `i mod N = rank`) on `parallel`
/// threads, calls `on_done` in this thread as results arrive, exchanges the records with the
/// other ranks and returns all of them in index order.
fn run_stage<F>(
    dist: &Dist,
    parallel: usize,
    n: usize,
    on_done: &mut dyn FnMut(&TrialRecord),
    job: F,
) -> Result<Vec<TrialRecord>, TuneError>
where
    F: Fn(usize) -> TrialRecord + Sync,
{
    let (rank, size) = (dist.rank(), dist.size());
    let mine: Vec<usize> = (0..n).filter(|i| i % size == rank).collect();
    let done = run_parallel(parallel, mine.len(), on_done, |k| job(mine[k]));
    let mut slots: Vec<Option<TrialRecord>> = vec![None; n];
    for (&i, record) in mine.iter().zip(done) {
        slots[i] = Some(record);
    }
    for r in (0..size).filter(|_| size > 1) {
        let bytes = if r == rank {
            // TOML keeps NaN losses and every f32 bit (JSON would turn NaN into null).
            let records = mine.iter().filter_map(|&i| slots[i].clone()).collect();
            toml::to_string(&Records { records })
                .expect("trial records serialise")
                .into_bytes()
        } else {
            Vec::new()
        };
        let bytes = dist.comm().broadcast(r, bytes)?;
        if r != rank {
            let theirs: Records = std::str::from_utf8(&bytes)
                .map_err(|e| e.to_string())
                .and_then(|t| toml::from_str(t).map_err(|e| e.to_string()))
                .map_err(|e| TrainError::Collective(format!("trial records from rank {r}: {e}")))?;
            for (i, record) in (0..n).filter(|i| i % size == r).zip(theirs.records) {
                on_done(&record);
                slots[i] = Some(record);
            }
        }
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.ok_or_else(|| {
                TuneError::Train(TrainError::Collective(format!(
                    "no record of trial {i} came back from rank {}",
                    i % size
                )))
            })
        })
        .collect()
}

/// One rank's trial records, as sent to the others.
#[derive(Serialize, Deserialize)]
struct Records {
    records: Vec<TrialRecord>,
}

/// Runs `job(0..n)` on `parallel` threads, calls `on_done` in this thread as results arrive,
/// and returns the results in index order.
fn run_parallel<F>(
    parallel: usize,
    n: usize,
    on_done: &mut dyn FnMut(&TrialRecord),
    job: F,
) -> Vec<TrialRecord>
where
    F: Fn(usize) -> TrialRecord + Sync,
{
    let mut slots: Vec<Option<TrialRecord>> = vec![None; n];
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        for _ in 0..parallel.min(n) {
            let (tx, next, job) = (tx.clone(), &next, &job);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n || tx.send((i, job(i))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (i, record) in rx {
            on_done(&record);
            slots[i] = Some(record);
        }
    });
    slots
        .into_iter()
        .map(|r| r.expect("every trial reports"))
        .collect()
}
