//! `nn-train doctor`: the lecture's babysitting steps in order, with a verdict for each.

use std::path::PathBuf;

use nn_train::doctor::{DoctorConfig, Status};
use nn_train::doctor_plot::plot_doctor;
use nn_train::overfit::OverfitConfig;
use nn_train::tune::{progress_line, write_results};
use nn_train::{LrFinderConfig, write_atomic};

use super::{CliResult, Overrides, load_config};

/// Run the lecture's steps for choosing hyperparameters on a job, in order, each with a
/// verdict: (1) the initial loss against log C before training, (2) overfitting a small
/// sample, (3) the LR range test, (4) a coarse random search around its suggestion, a few
/// epochs per trial, (5) a finer search around the best coarse trials, trained longer, against
/// the job's own settings. A failing step stops the sequence (unless --keep-going). Writes
/// doctor.json, doctor_overfit.png, lr_find.png, doctor_search.png and the search's
/// trials.csv/json, spaces.toml and best.toml into --out. Exit status 1 if a step failed.
#[derive(clap::Args)]
pub struct Args {
    /// The job as a TOML file; omitted: the default job.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    overrides: Overrides,
    /// Images of step 2.
    #[arg(long, default_value_t = 64)]
    samples: usize,
    /// New random trials of steps 4 and 5 each (step 5 also re-runs step 4's best 3).
    #[arg(long, default_value_t = 6)]
    trials: usize,
    /// Epochs per trial in step 4.
    #[arg(long, default_value_t = 2)]
    coarse_epochs: usize,
    /// Epochs per trial in step 5 [default: the job's epochs, at most 10].
    #[arg(long)]
    fine_epochs: Option<usize>,
    /// Trials run at once (results do not depend on it).
    #[arg(long, default_value_t = 1)]
    parallel: usize,
    /// Run every step even after a failure.
    #[arg(long)]
    keep_going: bool,
    /// Output directory.
    #[arg(long, default_value = "doctor")]
    out: PathBuf,
}

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    let mut job = load_config(args.config.as_deref())?;
    args.overrides.apply(&mut job)?;
    let doctor = DoctorConfig {
        overfit: OverfitConfig {
            samples: args.samples,
            ..OverfitConfig::default()
        },
        lr_finder: LrFinderConfig::default(),
        trials: args.trials,
        coarse_epochs: args.coarse_epochs,
        fine_epochs: args.fine_epochs,
        parallel: args.parallel,
        seed: 0,
        keep_going: args.keep_going,
    };
    let report = doctor.run(
        &job,
        &mut |v| println!("step {} ({}): {}: {}", v.step, v.name, v.status, v.words),
        &mut |t| println!("    {}", progress_line(t)),
    )?;
    for p in plot_doctor(&args.out, &report, job.optimizer.lr())? {
        println!("wrote {}", p.display());
    }
    if let Some(result) = &report.search {
        write_results(&args.out, result)?;
        println!(
            "wrote {0}/{{trials.json, trials.csv, spaces.toml, best.toml}}",
            args.out.display()
        );
    }
    let json = serde_json::to_string_pretty(&report)?;
    write_atomic(&args.out.join("doctor.json"), json.as_bytes())?;
    println!("wrote {}/doctor.json", args.out.display());
    println!("\nsummary:");
    for s in &report.steps {
        println!("  {}. {:<50} {}", s.step, s.name, s.status);
    }
    if report.steps.iter().any(|s| s.status == Status::Fail) {
        return Err("a step failed (see its verdict above)".into());
    }
    Ok(())
}
