//! `nn-train lab init`: activation statistics under different initialisations.

use std::path::PathBuf;

use nn_train::lab::init_plot::{plot_case, plot_summary, table};
use nn_train::lab::{InitLabConfig, init_job};
use nn_train::write_atomic;

use super::{CliResult, load_config};

/// The lecture's activation-statistics experiment: deep, wide tanh and ReLU nets with weights
/// N(0, 0.01^2), N(0, 0.05^2), Xavier and Kaiming, fed a batch of N(0, 1) inputs. Writes, into
/// --out, init_<case>.png (a histogram of the activations and of the gradients per layer),
/// init_summary.png (std per layer, saturated/dead fractions) and init.json; prints a table per
/// net and a verdict. With --config, also the statistics of your job's model at initialisation
/// on a batch of its training images (init_job.png).
#[derive(clap::Args)]
pub struct Args {
    /// Width D of every layer (the lecture: 4096).
    #[arg(long, default_value_t = 4096)]
    width: usize,
    /// Number of layers (the lecture: 6).
    #[arg(long, default_value_t = 6)]
    depth: usize,
    /// Batch size (the lecture: 16).
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Seed of inputs, weights and labels.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Histogram bins.
    #[arg(long, default_value_t = 40)]
    bins: usize,
    /// Also (or, with --only-job, only) look at this job's model.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Skip the lecture's nets: only the job's model (--config; the default job if omitted).
    #[arg(long)]
    only_job: bool,
    /// Images of the job's batch.
    #[arg(long, default_value_t = 256)]
    job_batch: usize,
    /// Output directory.
    #[arg(long, default_value = "lab-init")]
    out: PathBuf,
}

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    let lab = InitLabConfig {
        width: args.width,
        depth: args.depth,
        batch: args.batch,
        bins: args.bins,
        seed: args.seed,
        ..InitLabConfig::default()
    };
    lab.validate()?;
    let mut reports = Vec::new();
    if !args.only_job {
        println!(
            "{} layers of {} units, batch {} of N(0, 1) inputs, seed {}",
            lab.depth, lab.width, lab.batch, lab.seed
        );
        for case in &lab.cases {
            let r = lab.run_case(case)?;
            print!("\n{}", table(&r));
            let png = plot_case(&args.out, &r)?;
            println!("  wrote {}", png.display());
            reports.push(r);
        }
        let png = plot_summary(&args.out, &reports)?;
        println!("\nwrote {}", png.display());
    }
    if args.config.is_some() || args.only_job {
        let job = load_config(args.config.as_deref())?;
        let r = init_job(&job, args.job_batch, args.bins)?;
        print!("\n{}", table(&r));
        let png = plot_case(&args.out, &r)?;
        println!("  wrote {}", png.display());
        reports.push(r);
    }
    let json = serde_json::to_string_pretty(&reports).expect("reports serialise");
    write_atomic(&args.out.join("init.json"), json.as_bytes())?;
    println!("\nverdicts:");
    for r in &reports {
        println!("  {}", r.diagnosis.words);
    }
    println!("wrote {}/init.json", args.out.display());
    Ok(())
}
