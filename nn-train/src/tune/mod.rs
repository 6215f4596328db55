//! Hyperparameter search: the lecture's "Choosing hyperparameters" steps 4–5 (CS231n,
//! "Training Neural Networks"): a coarse search with short trials (~1–5 epochs), then a
//! refined search around the best trials, trained longer.
//!
//! - Random search rather than grid search: with n trials it tries n distinct values of every
//!   dimension, which matters when only a few dimensions do (Bergstra & Bengio, "Random Search
//!   for Hyper-Parameter Optimization", JMLR 13, 2012). Grid search is there too.
//! - Learning rate and weight decay are searched in log space ([`Dimension::LogUniform`]).
//! - A trial whose training loss exceeds 3 × its first loss (or is not finite) is stopped at
//!   once ([`ExplodeGuard`]) and recorded as exploded/diverged; the search goes on.
//! - Selection uses validation accuracy only; the test split is never looked at.
//! - Every trial samples from its own ChaCha8 stream and trains with the job's seed, so the
//!   same search seed gives the same trials and results with 1 or many parallel trials, and
//!   spread over MPI ranks ([`search_on`], `mpirun -np N nn-train tune ...`).
//!
//! ```
//! use nn_train::TrainConfig;
//! use nn_train::tune::{SearchSettings, SearchSpace, search};
//!
//! let space = SearchSpace::from_toml(
//!     r#"dimensions."optimizer.lr" = { log_uniform = { low = 1e-2, high = 0.3 } }"#,
//!     "space.toml".as_ref(),
//! ).unwrap();
//! let mut job = TrainConfig { epochs: 2, ..TrainConfig::default() };
//! job.data.limit_train = Some(256);
//! let settings = SearchSettings { trials: 2, epochs: 1, stages: 2, top_k: 1, ..Default::default() };
//! let result = search(&job, &space, &settings, &mut |t| println!("{t:?}")).unwrap();
//! assert_eq!(result.trials.len(), 2 + (1 + 2)); // stage 2 re-runs the top 1 + 2 new trials
//! let best = result.best().unwrap();
//! assert_eq!(best.stage, 2);
//! println!("best lr {} val acc {:?}", best.values["optimizer.lr"], best.val_acc);
//! ```
//!
//! | file | what |
//! |---|---|
//! | [`space`] | [`SearchSpace`], [`Dimension`]: the TOML space file, sampling, grids |
//! | [`apply`] | [`apply_sample`]: set dotted config paths generically |
//! | [`sampler`] | random and grid samples, per-trial streams, coarse-to-fine [`narrow`] |
//! | [`kill`] | [`ExplodeGuard`]: stop a trial whose loss explodes |
//! | [`trial`] | [`run_trial`], [`TrialRecord`], [`TrialStatus`] |
//! | [`search`](mod@search) | [`search`](fn@search), [`search_resumed`], [`SearchSettings`], [`SearchResult`] |
//! | [`output`] | `trials.json`, `trials.csv`, `best.toml`; the terminal table |
//! | [`error`] | [`TuneError`] |

pub mod apply;
pub mod error;
pub mod kill;
pub mod output;
pub mod sampler;
pub mod search;
pub mod space;
pub mod trial;

pub use apply::{apply_sample, get_path, set_path};
pub use error::TuneError;
pub use kill::{ExplodeGuard, Explosion};
pub use output::{format_table, progress_line, to_csv, write_results};
pub use sampler::{grid_samples, narrow, narrow_dimension, random_samples, trial_rng};
pub use search::{SearchResult, SearchSettings, Strategy, rank, search, search_on, search_resumed};
pub use space::{Dimension, EXAMPLE_SPACE, Sample, SearchSpace};
pub use trial::{CurvePoint, TrialRecord, TrialStatus, run_trial};
