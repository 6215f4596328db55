//! `nn-train lab search`: random against grid search on the same budget.

use std::path::PathBuf;

use nn_train::lab::search::SearchLabConfig;
use nn_train::lab::search_plot::plot_search;
use nn_train::tune::{SearchSpace, progress_line};
use nn_train::write_atomic;

use super::{CliResult, load_config};

/// Random against grid search on the same budget (Bergstra & Bengio 2012): a grid of
/// --grid-points points per dimension, and as many random trials, each training the job
/// (default: the digits job) for --epochs epochs. Draws the lecture's figure (validation
/// accuracy against each hyperparameter, grid points as squares: search_random_vs_grid.png),
/// every trial's curve (search_curves.png) and, with --repeats, the best accuracy per repeat
/// (search_repeats.png); writes search.json; prints the verdict.
#[derive(clap::Args)]
pub struct Args {
    /// The job (TOML); omitted: the default digits job.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override the job's seed (the seed every trial trains with).
    #[arg(long)]
    seed: Option<u64>,
    /// The search space (`nn-train tune --example-space` format); omitted: the learning rate in
    /// [1e-4, 1] and the weight decay in [1e-6, 1e-2], both log-uniform.
    #[arg(long)]
    space: Option<PathBuf>,
    /// Grid points per dimension (the budget of both searches is the grid's size).
    #[arg(long, default_value_t = 3)]
    grid_points: usize,
    /// Epochs per trial.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Repeat the comparison with seeds seed, seed + 1, ... and count the wins.
    #[arg(long, default_value_t = 1)]
    repeats: usize,
    /// Seed of the random draws.
    #[arg(long = "search-seed", default_value_t = 0)]
    search_seed: u64,
    /// Trials run at once (results do not depend on it).
    #[arg(long, default_value_t = 1)]
    parallel: usize,
    /// Output directory.
    #[arg(long, default_value = "lab-search")]
    out: PathBuf,
}

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    let mut job = load_config(args.config.as_deref())?;
    if let Some(s) = args.seed {
        job.seed = s;
    }
    let mut lab = SearchLabConfig {
        grid_points: args.grid_points,
        epochs: args.epochs,
        repeats: args.repeats,
        seed: args.search_seed,
        parallel: args.parallel,
        ..SearchLabConfig::default()
    };
    if let Some(p) = &args.space {
        lab.space = SearchSpace::load(p)?;
    }
    lab.validate()?;
    println!(
        "grid ({} points per dimension) vs random search, {} trials each, {} epochs per trial, {} repeat(s)",
        lab.grid_points,
        lab.budget(),
        lab.epochs,
        lab.repeats
    );
    let report = lab.run(&job, &mut |strategy, repeat, t| {
        println!("repeat {repeat} {strategy:<6} {}", progress_line(t));
    })?;
    for r in &report.runs {
        println!(
            "repeat {}: best val acc grid {:.4}, random {:.4} -> {:?}",
            r.repeat,
            nn_train::lab::search::best_acc(&r.grid),
            nn_train::lab::search::best_acc(&r.random),
            r.winner()
        );
    }
    println!("{}", report.verdict);
    for p in plot_search(&args.out, &lab.space, &report)? {
        println!("wrote {}", p.display());
    }
    let json = serde_json::to_string_pretty(&report)?;
    write_atomic(&args.out.join("search.json"), json.as_bytes())?;
    println!("wrote {}/search.json", args.out.display());
    Ok(())
}
