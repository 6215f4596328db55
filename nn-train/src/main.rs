//! `nn-train`: train, configure and inspect from the command line.
//!
//! ```text
//! nn-train train [--config job.toml] [--epochs N] [--seed S] [--out DIR [--overwrite]]
//! nn-train train --resume DIR          # continue an interrupted run exactly
//! nn-train config                       # print the default job as TOML
//! nn-train summary [--config job.toml] [--input C,H,W --classes N] [--batch B]  # layers, memory
//! nn-train finetune --from RUN_DIR [--config job.toml] [--freeze PREFIX]... [--freeze-backbone]
//! nn-train augment-grid --out grid.png [--pipeline p.json] [--image img.png]
//! nn-train eval --run DIR [--tta none|flip|five-crop|ten-crop] [--fold-bn] [--out DIR]
//! nn-train export --run DIR [--out FILE]   # the inference model, BatchNorm folded
//! nn-train predict --run DIR IMAGE... [--top-k 5] [--tta MODE] [--json]
//! nn-train digits-folder [--out target/digits-folder]   # the digits as PNG files per class
//! nn-train ensemble [--config job.toml] [--members 5] [--parallel P] [--tta ...] [--out DIR]
//! nn-train lr-find [--config job.toml] [--steps N] [--out DIR]   # learning-rate range test
//! nn-train overfit [--config job.toml] [--samples 64]            # can it memorise 64 images?
//! nn-train schedule [--config job.toml] [--plot lr.png]          # lr(t) before training
//! nn-train lab init [--width 4096 --depth 6] [--config job.toml] # activation statistics
//! nn-train lab optimizers [--config job.toml]                     # paths on 2-D functions, job curves
//! nn-train lab search [--config job.toml] [--repeats 5]           # random vs grid search
//! nn-train doctor [--config job.toml]                            # the babysitting steps, with verdicts
//! nn-train tune --space space.toml --out DIR [--config job.toml] [--trials N] [--parallel P]
//! ```
//!
//! Each subcommand lives in its own file under `src/cli/`.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "nn-train",
    version,
    about = "Train neural networks on the CPU (nn workspace)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Train(cli::train::Args),
    Finetune(cli::finetune::Args),
    Config(cli::config::Args),
    Summary(cli::summary::Args),
    AugmentGrid(cli::augment_grid::Args),
    Tune(cli::tune::Args),
    Eval(cli::eval::Args),
    Export(cli::export::Args),
    Predict(cli::predict::Args),
    DigitsFolder(cli::digits_folder::Args),
    Ensemble(cli::ensemble::Args),
    LrFind(cli::lr_find::Args),
    Overfit(cli::overfit::Args),
    Schedule(cli::schedule::Args),
    Lab(cli::lab::Args),
    Doctor(cli::doctor::Args),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Train(args) => cli::train::run(args),
        Command::Finetune(args) => cli::finetune::run(args),
        Command::Config(args) => cli::config::run(args),
        Command::Summary(args) => cli::summary::run(args),
        Command::AugmentGrid(args) => cli::augment_grid::run(args),
        Command::Tune(args) => cli::tune::run(args),
        Command::Eval(args) => cli::eval::run(args),
        Command::Export(args) => cli::export::run(args),
        Command::Predict(args) => cli::predict::run(args),
        Command::DigitsFolder(args) => cli::digits_folder::run(args),
        Command::Ensemble(args) => cli::ensemble::run(args),
        Command::LrFind(args) => cli::lr_find::run(args),
        Command::Overfit(args) => cli::overfit::run(args),
        Command::Schedule(args) => cli::schedule::run(args),
        Command::Lab(args) => cli::lab::run(args),
        Command::Doctor(args) => cli::doctor::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            match e.downcast_ref::<nn_train::TrainError>() {
                // 128 + signal, as a shell reports a process ended by the signal.
                Some(nn_train::TrainError::Interrupted { signal, .. }) => {
                    ExitCode::from((128 + signal) as u8)
                }
                _ => ExitCode::FAILURE,
            }
        }
    }
}
