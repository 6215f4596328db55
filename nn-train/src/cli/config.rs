//! `nn-train config`: print a job as TOML.

use std::path::PathBuf;

use super::{CliResult, load_config};

/// Print a job config as TOML (the default job, or a file after validation and defaults).
#[derive(clap::Args)]
pub struct Args {
    /// A TOML job file to complete with defaults.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    print!("{}", load_config(args.config.as_deref())?.to_toml());
    Ok(())
}
