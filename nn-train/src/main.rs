//! `nn-train`: train, configure and inspect from the command line.
//!
//! ```text
//! nn-train train [--config job.toml] [--epochs N] [--seed S] [--out DIR [--overwrite]]
//! nn-train train --resume DIR          # continue an interrupted run exactly
//! nn-train config                       # print the default job as TOML
//! nn-train summary [--config job.toml] [--input C,H,W --classes N] [--batch B]  # layers, memory
//! nn-train finetune --from RUN_DIR [--config job.toml] [--freeze PREFIX]... [--freeze-backbone]
//! nn-train augment-grid --out grid.png [--pipeline p.json] [--image img.png]
//! nn-train eval --run DIR [--tta none|flip|five-crop|ten-crop|multi-scale] [--fold-bn] [--out DIR]
//! nn-train export --run DIR [--out FILE]   # the inference model, BatchNorm folded
//! nn-train predict --run DIR IMAGE... [--top-k 5] [--tta MODE] [--json]
//! nn-train digits-folder [--out target/digits-folder]   # the digits as PNG files per class
//! nn-train ensemble [--config job.toml] [--members 5] [--parallel P] [--tta ...] [--out DIR]
//! nn-train lr-find [--config job.toml] [--steps N] [--out DIR]   # learning-rate range test
//! nn-train overfit [--config job.toml] [--samples 64]            # can it memorise 64 images?
//! nn-train schedule [--config job.toml] [--plot lr.png]          # lr(t) before training
//! nn-train lab init [--width 4096 --depth 6] [--config job.toml] # activation statistics
//! nn-train lab optimizers [--config job.toml]                     # paths on 2-D functions, job curves
//! nn-train lab regularize [--config job.toml]                     # each regulariser's gap, MC vs scaling
//! nn-train lab search [--config job.toml] [--repeats 5]           # random vs grid search
//! nn-train doctor [--config job.toml]                            # the babysitting steps, with verdicts
//! nn-train tune --space space.toml --out DIR [--config job.toml] [--trials N] [--parallel P]
//!
//! # built with `--features mpi`: data-parallel training and distributed tuning
//! mpirun -np N nn-train train --config job.toml --out DIR
//! mpirun -np N nn-train tune --space space.toml --out DIR
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
    let command = Cli::parse().command;
    let dist = match cli::world::world() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(command, &dist)))
        .unwrap_or_else(|panic| {
            cli::world::abort_others(&dist);
            std::panic::resume_unwind(panic)
        });
    let code = match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let train_error = e.downcast_ref::<nn_train::TrainError>();
            // Rank 0 reports every error (other ranks' reach it through the agreement);
            // another rank reports only its own.
            if dist.is_root() {
                eprintln!("error: {e}");
            } else if !matches!(train_error, Some(nn_train::TrainError::Rank { .. })) {
                eprintln!("error (rank {}): {e}", dist.rank());
            }
            match train_error {
                // 128 + signal, as a shell reports a process ended by the signal.
                Some(nn_train::TrainError::Interrupted { signal, .. }) => {
                    ExitCode::from((128 + signal) as u8)
                }
                _ => ExitCode::FAILURE,
            }
        }
    };
    drop(dist); // MPI_Finalize, if MPI was initialised
    code
}

fn run(command: Command, dist: &nn_train::dist::Dist) -> cli::CliResult {
    let single = |name: &str| cli::world::single_only(dist, name);
    match command {
        Command::Train(args) => cli::train::run(args, dist),
        Command::Tune(args) => cli::tune::run(args, dist),
        Command::Config(args) => cli::config::run(args),
        Command::Summary(args) => cli::summary::run(args),
        Command::Finetune(args) => {
            single("finetune")?;
            cli::finetune::run(args)
        }
        Command::AugmentGrid(args) => {
            single("augment-grid")?;
            cli::augment_grid::run(args)
        }
        Command::Eval(args) => {
            single("eval")?;
            cli::eval::run(args)
        }
        Command::Export(args) => {
            single("export")?;
            cli::export::run(args)
        }
        Command::Predict(args) => {
            single("predict")?;
            cli::predict::run(args)
        }
        Command::DigitsFolder(args) => {
            single("digits-folder")?;
            cli::digits_folder::run(args)
        }
        Command::Ensemble(args) => {
            single("ensemble")?;
            cli::ensemble::run(args)
        }
        Command::LrFind(args) => {
            single("lr-find")?;
            cli::lr_find::run(args)
        }
        Command::Overfit(args) => {
            single("overfit")?;
            cli::overfit::run(args)
        }
        Command::Schedule(args) => {
            single("schedule")?;
            cli::schedule::run(args)
        }
        Command::Lab(args) => {
            single("lab")?;
            cli::lab::run(args)
        }
        Command::Doctor(args) => {
            single("doctor")?;
            cli::doctor::run(args)
        }
    }
}
