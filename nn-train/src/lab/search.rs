//! `nn-train lab search`: random against grid search on the same budget (Bergstra & Bengio,
//! "Random Search for Hyper-Parameter Optimization", JMLR 2012; the lecture's figure).
//!
//! A grid of g points per dimension costs gᵈ trials and tries only g distinct values of each
//! hyperparameter; the same number of random trials tries gᵈ distinct values of every one.
//! When one hyperparameter matters much more than the others (the learning rate), random search
//! samples it more densely and tends to find a better value.
//!
//! Both searches are [`crate::tune::search()`] with one stage: [`Strategy::Grid`] with
//! `grid_points` points per dimension, and [`Strategy::Random`] with as many trials as the grid
//! has points; every trial trains the job for `epochs` epochs and is judged on validation
//! accuracy (never the test split). With `repeats` > 1 the comparison is repeated with search
//! seed `seed + r` and job seed `job.seed + r` (so the grid's trials differ only by training
//! noise, and the random trials by their draws too), and the wins are counted.

use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::tune::{
    SearchSettings, SearchSpace, Strategy, TrialRecord, TrialStatus, TuneError, grid_samples,
    search,
};

/// The default space: the learning rate (which matters) and the weight decay (which matters
/// much less over a few epochs), both in log space, over the lecture's ranges ("good learning
/// rates to try: 1e-1, 1e-2, 1e-3, 1e-4"; "good weight decay to try: 1e-4, 1e-5, 0").
pub const DEFAULT_SPACE: &str = r#"[dimensions]
"optimizer.lr" = { log_uniform = { low = 1e-4, high = 1.0 } }
"optimizer.weight_decay" = { log_uniform = { low = 1e-6, high = 1e-2 } }
"#;

/// Settings of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchLabConfig {
    /// The space (default [`DEFAULT_SPACE`]).
    pub space: SearchSpace,
    /// Grid points per dimension (the budget is the grid's size). Default 3.
    pub grid_points: usize,
    /// Epochs per trial. Default 3.
    pub epochs: usize,
    /// Number of comparisons. Default 1.
    pub repeats: usize,
    /// Seed of the first comparison's random draws. Default 0.
    pub seed: u64,
    /// Trials run at once (results do not depend on it). Default 1.
    pub parallel: usize,
}

impl Default for SearchLabConfig {
    fn default() -> Self {
        SearchLabConfig {
            space: SearchSpace::from_toml(DEFAULT_SPACE, "default space".as_ref())
                .expect("the default space parses"),
            grid_points: 3,
            epochs: 3,
            repeats: 1,
            seed: 0,
            parallel: 1,
        }
    }
}

/// One comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchRun {
    /// Repeat index (0-based).
    pub repeat: usize,
    /// Seed of the random draws.
    pub seed: u64,
    /// Seed the jobs trained with.
    pub job_seed: u64,
    /// The grid's trials, best first.
    pub grid: Vec<TrialRecord>,
    /// The random trials, best first.
    pub random: Vec<TrialRecord>,
}

/// Who won a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Winner {
    /// Random search found the higher validation accuracy.
    Random,
    /// Grid search did.
    Grid,
    /// Equal.
    Tie,
}

/// The best validation accuracy among trials that ended ok (−∞ if none).
pub fn best_acc(trials: &[TrialRecord]) -> f32 {
    trials
        .iter()
        .filter(|t| t.status == TrialStatus::Ok)
        .filter_map(|t| t.val_acc)
        .fold(f32::NEG_INFINITY, f32::max)
}

impl SearchRun {
    /// The winner of this comparison (by best validation accuracy).
    pub fn winner(&self) -> Winner {
        let (g, r) = (best_acc(&self.grid), best_acc(&self.random));
        if r > g {
            Winner::Random
        } else if g > r {
            Winner::Grid
        } else {
            Winner::Tie
        }
    }
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchLabReport {
    /// Trials per search.
    pub budget: usize,
    /// Epochs per trial.
    pub epochs: usize,
    /// One entry per repeat.
    pub runs: Vec<SearchRun>,
    /// Repeats random search won.
    pub random_wins: usize,
    /// Repeats grid search won.
    pub grid_wins: usize,
    /// The verdict in words.
    pub verdict: String,
}

/// Distinct values of `dim` among `trials`.
fn distinct(trials: &[TrialRecord], dim: &str) -> usize {
    let mut v: Vec<String> = trials
        .iter()
        .filter_map(|t| t.values.get(dim).map(|x| x.to_string()))
        .collect();
    v.sort();
    v.dedup();
    v.len()
}

impl SearchLabConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), TuneError> {
        self.space.validate()?;
        for (name, v) in [
            ("grid_points", self.grid_points),
            ("epochs", self.epochs),
            ("repeats", self.repeats),
            ("parallel", self.parallel),
        ] {
            if v == 0 {
                return Err(crate::tune::error::invalid_setting(name, v, "at least 1"));
            }
        }
        Ok(())
    }

    /// The budget: the number of points of the grid.
    pub fn budget(&self) -> usize {
        grid_samples(&self.space, self.grid_points).len()
    }

    /// Runs the comparison on `job`, calling `on_trial(strategy, repeat, trial)` after every
    /// trial.
    pub fn run(
        &self,
        job: &TrainConfig,
        on_trial: &mut dyn FnMut(&str, usize, &TrialRecord),
    ) -> Result<SearchLabReport, TuneError> {
        self.validate()?;
        let budget = self.budget();
        let mut runs = Vec::with_capacity(self.repeats);
        for r in 0..self.repeats {
            let seed = self.seed.wrapping_add(r as u64);
            let base = TrainConfig {
                seed: job.seed.wrapping_add(r as u64),
                ..job.clone()
            };
            let settings = |strategy| SearchSettings {
                strategy,
                trials: budget,
                epochs: self.epochs,
                stages: 1,
                parallel: self.parallel,
                seed,
                ..SearchSettings::default()
            };
            let grid = search(
                &base,
                &self.space,
                &settings(Strategy::Grid {
                    points: self.grid_points,
                }),
                &mut |t| on_trial("grid", r, t),
            )?;
            let random = search(&base, &self.space, &settings(Strategy::Random), &mut |t| {
                on_trial("random", r, t)
            })?;
            runs.push(SearchRun {
                repeat: r,
                seed,
                job_seed: base.seed,
                grid: grid.trials,
                random: random.trials,
            });
        }
        let count = |w| runs.iter().filter(|r| r.winner() == w).count();
        let (random_wins, grid_wins) = (count(Winner::Random), count(Winner::Grid));
        let verdict = self.verdict(&runs, budget, random_wins, grid_wins);
        Ok(SearchLabReport {
            budget,
            epochs: self.epochs,
            runs,
            random_wins,
            grid_wins,
            verdict,
        })
    }

    fn verdict(&self, runs: &[SearchRun], budget: usize, rw: usize, gw: usize) -> String {
        let first = &runs[0];
        let dims: Vec<String> = self
            .space
            .dimensions
            .keys()
            .map(|d| {
                format!(
                    "{d}: grid {} distinct values, random {}",
                    distinct(&first.grid, d),
                    distinct(&first.random, d)
                )
            })
            .collect();
        let best = |t: &[TrialRecord]| -> String {
            match t.first().filter(|t| t.status == TrialStatus::Ok) {
                Some(b) => {
                    let vals: Vec<String> =
                        b.values.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                    format!(
                        "{:.4} at {}",
                        b.val_acc.unwrap_or(f32::NAN),
                        vals.join(", ")
                    )
                }
                None => "no trial ended ok".into(),
            }
        };
        let n = runs.len();
        let head = if n == 1 {
            match first.winner() {
                Winner::Random => "random search found the better configuration".to_string(),
                Winner::Grid => "grid search found the better configuration".to_string(),
                Winner::Tie => "both found the same validation accuracy".to_string(),
            }
        } else {
            format!(
                "random search won {rw} of {n} repeats, grid search {gw}, {} ties",
                n - rw - gw
            )
        };
        format!(
            "{head} (budget {budget} trials x {} epochs each; {}). Repeat 0: best grid trial {}; \
             best random trial {}.",
            self.epochs,
            dims.join("; "),
            best(&first.grid),
            best(&first.random)
        )
    }
}
