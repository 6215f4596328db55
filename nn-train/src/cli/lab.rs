//! `nn-train lab …`: the lecture's experiments, one subcommand each (files `cli/lab_*.rs`).

use super::CliResult;

/// Run one of the lecture's experiments; each writes PNGs and prints a verdict in words.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Lab,
}

#[derive(clap::Subcommand)]
enum Lab {
    Init(super::lab_init::Args),
    Optimizers(super::lab_optimizers::Args),
    Search(super::lab_search::Args),
    Regularize(super::lab_regularize::Args),
}

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    match args.command {
        Lab::Init(a) => super::lab_init::run(a),
        Lab::Optimizers(a) => super::lab_optimizers::run(a),
        Lab::Search(a) => super::lab_search::run(a),
        Lab::Regularize(a) => super::lab_regularize::run(a),
    }
}
