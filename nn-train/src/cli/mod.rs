//! The subcommands of `nn-train`, one file each: its clap arguments (`Args`) and its `run`.

pub mod augment_grid;
pub mod config;
pub mod digits_folder;
pub mod doctor;
pub mod ensemble;
pub mod eval;
pub mod export;
pub mod finetune;
pub mod lab;
pub mod lab_init;
pub mod lab_optimizers;
pub mod lab_regularize;
pub mod lab_search;
pub mod lr_find;
pub mod overfit;
pub mod predict;
pub mod progress;
pub mod schedule;
pub mod summary;
pub mod train;
pub mod tune;
pub mod world;

use std::path::Path;

use nn_train::{TrainConfig, TrainError};

/// The result of a subcommand; any error is printed as `error: …` with exit status 1.
pub type CliResult = Result<(), Box<dyn std::error::Error>>;

/// The overrides every job-running subcommand accepts (`#[command(flatten)]`).
#[derive(clap::Args)]
pub struct Overrides {
    /// Override the number of epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Override the seed.
    #[arg(long)]
    pub seed: Option<u64>,
}

impl Overrides {
    /// Applies the overrides to `config` and validates the result.
    pub fn apply(&self, config: &mut TrainConfig) -> Result<(), TrainError> {
        if let Some(e) = self.epochs {
            config.epochs = e;
        }
        if let Some(s) = self.seed {
            config.seed = s;
        }
        config.validate()
    }
}

/// The job in `path`, or the default job.
pub fn load_config(path: Option<&Path>) -> Result<TrainConfig, TrainError> {
    match path {
        Some(p) => TrainConfig::load(p),
        None => Ok(TrainConfig::default()),
    }
}
