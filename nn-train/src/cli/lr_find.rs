//! `nn-train lr-find`: the learning-rate range test (Smith 2017), printed and plotted.

use std::path::PathBuf;

use nn_train::plot::plot_lr_finder;
use nn_train::{LrFinderConfig, write_atomic};

use super::{CliResult, load_config};

/// Find a learning rate: train for --steps steps with the lr growing exponentially from
/// --start-lr to --end-lr (on a fresh model), print the loss curve and the suggested lr, and
/// write lr_find.csv, lr_find.json and lr_find.png into --out (default: the current directory).
#[derive(clap::Args)]
pub struct Args {
    /// The job as a TOML file; omitted: the default job.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Number of steps (default 100).
    #[arg(long)]
    steps: Option<usize>,
    /// Learning rate of the first step (default 1e-7).
    #[arg(long)]
    start_lr: Option<f64>,
    /// Learning rate of the last step (default 10).
    #[arg(long)]
    end_lr: Option<f64>,
    /// Directory for lr_find.csv, lr_find.json (curve, settings, suggestions) and lr_find.png.
    #[arg(long, default_value = ".")]
    out: PathBuf,
}

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    let job = load_config(args.config.as_deref())?;
    let d = LrFinderConfig::default();
    let finder = LrFinderConfig {
        num_steps: args.steps.unwrap_or(d.num_steps),
        start_lr: args.start_lr.unwrap_or(d.start_lr),
        end_lr: args.end_lr.unwrap_or(d.end_lr),
        ..d
    };
    let result = finder.run(&job)?;
    // The curve, about ten rows.
    println!(
        "{:>5} {:>10} {:>10} {:>10}",
        "step", "lr", "loss", "smoothed"
    );
    let every = result.points.len().div_ceil(10).max(1);
    for (i, p) in result.points.iter().enumerate() {
        if i % every == 0 || i + 1 == result.points.len() {
            println!(
                "{:>5} {:>10.2e} {:>10.4} {:>10.4}",
                p.step, p.lr, p.loss, p.smoothed
            );
        }
    }
    print!("{}", result.summary());
    write_atomic(&args.out.join("lr_find.csv"), result.to_csv().as_bytes())?;
    let json = serde_json::to_string_pretty(&result).expect("results serialise");
    write_atomic(&args.out.join("lr_find.json"), json.as_bytes())?;
    plot_lr_finder(&args.out.join("lr_find.png"), &result)?;
    println!(
        "wrote {}/{{lr_find.csv, lr_find.json, lr_find.png}}",
        args.out.display()
    );
    Ok(())
}
