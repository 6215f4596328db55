//! `nn-train schedule`: the learning rate of every step of a job, before training.

use std::path::PathBuf;

use nn_train::lab::schedule::{lr_trace, plot_lr_trace};

use super::{CliResult, Overrides, load_config};

/// Show the job's learning-rate schedule before training: the session is built as training
/// builds it and its scheduler driven step by step (no gradient is computed), so the rates are
/// exactly those training will use. Prints about a dozen values; --plot writes lr(t) as a PNG.
#[derive(clap::Args)]
pub struct Args {
    /// The job as a TOML file; omitted: the default job.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    overrides: Overrides,
    /// Write lr(t) as a PNG (default file: schedule.png).
    #[arg(long, num_args = 0..=1, default_missing_value = "schedule.png", value_name = "PNG")]
    plot: Option<PathBuf>,
    /// Logarithmic rate axis in the plot.
    #[arg(long)]
    log: bool,
    /// Number of values printed.
    #[arg(long, default_value_t = 12)]
    values: usize,
}

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    let mut config = load_config(args.config.as_deref())?;
    args.overrides.apply(&mut config)?;
    let trace = lr_trace(&config)?;
    println!(
        "{} epochs x {} steps = {} steps; schedule advances per {}; groups: {}",
        trace.epochs,
        trace.steps_per_epoch,
        trace.lrs.len(),
        match trace.interval {
            nn_optim::Interval::Step => "step",
            nn_optim::Interval::Epoch => "epoch",
        },
        trace.groups.join(", ")
    );
    println!(
        "schedule: {}",
        serde_json::to_string(&trace.schedule).expect("schedules serialise")
    );
    println!("{:>8} {:>8} {:>12}", "step", "epoch", "lr");
    for (t, e, lr) in trace.samples(args.values) {
        println!("{t:>8} {e:>8.2} {lr:>12.4e}");
    }
    let (lo, hi) = trace.bounds();
    println!("max lr {hi:.4e}, min lr {lo:.4e}");
    if let Some(path) = args.plot {
        plot_lr_trace(&path, &trace, args.log)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
