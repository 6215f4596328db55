//! `nn-train tune`: hyperparameter search (random or grid, coarse-to-fine), progress per trial,
//! a final table, and the results written to a directory.

use std::path::PathBuf;

use nn_train::dist::Dist;
use nn_train::tune::{
    EXAMPLE_SPACE, SearchSettings, SearchSpace, Strategy, TrialRecord, format_table, progress_line,
    rank, search_on, to_csv, write_results,
};
use nn_train::{TrainError, write_atomic};

use super::{CliResult, load_config};

/// Search hyperparameters: stage 1 trains `--trials` random configs of the space for
/// `--epochs` epochs; each later stage narrows every dimension to the range of the `--top-k`
/// best (by validation accuracy) and trains those and `--trials` new samples for
/// `--refine-epochs` (default: the job's epochs). Trials whose loss explodes past
/// `--explode-factor` × their first loss are stopped. Writes trials.json, trials.csv,
/// spaces.toml and best.toml (the best job) into `--out` (trials.json/csv are also rewritten
/// after every trial, so an interrupted search keeps its results).
#[derive(clap::Args)]
pub struct Args {
    /// The base job as a TOML file (`nn-train config` prints the defaults); omitted: the
    /// default job.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The search space (TOML; `nn-train tune --example-space` prints one).
    #[arg(long, required_unless_present = "example_space")]
    space: Option<PathBuf>,
    /// Output directory.
    #[arg(long, required_unless_present = "example_space")]
    out: Option<PathBuf>,
    /// Print an example search-space file and exit.
    #[arg(long)]
    example_space: bool,
    /// New random trials per stage.
    #[arg(long, default_value_t = 20)]
    trials: usize,
    /// Epochs of a stage-1 (coarse) trial.
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Epochs of a trial in later stages [default: the job's epochs].
    #[arg(long)]
    refine_epochs: Option<usize>,
    /// Number of stages (1: a plain search; 2: coarse, then fine).
    #[arg(long, default_value_t = 2)]
    stages: usize,
    /// Best trials of a stage that define (and are re-run in) the next stage.
    #[arg(long, default_value_t = 3)]
    top_k: usize,
    /// Grid search with this many points per dimension instead of random search.
    #[arg(long)]
    grid: Option<usize>,
    /// Margin of a narrowed range on each side, as a fraction of the original width.
    #[arg(long, default_value_t = 0.1)]
    widen: f64,
    /// Stop a trial when its loss exceeds this × its first loss.
    #[arg(long, default_value_t = 3.0)]
    explode_factor: f32,
    /// Trials run at once (results do not depend on it).
    #[arg(long, default_value_t = 1)]
    parallel: usize,
    /// Seed of the sampling (trials train with the job's seed).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Continue the interrupted search in --out (run the same command with --resume added):
    /// the trials in its trials.json are kept, the rest are trained; the job must be the one
    /// it started with (--out/job.toml).
    #[arg(long)]
    resume: bool,
}

/// Runs the subcommand; under `mpirun` (feature `mpi`) the trials are spread over the ranks
/// and rank 0 prints and writes `--out`.
pub fn run(args: Args, dist: &Dist) -> CliResult {
    if args.example_space {
        print!("{EXAMPLE_SPACE}");
        return Ok(());
    }
    let (Some(space_path), Some(out)) = (args.space, args.out) else {
        return Err("--space and --out are required".into());
    };
    let loaded = load_config(args.config.as_deref()).and_then(|base| {
        let space = SearchSpace::load(&space_path).map_err(|e| TrainError::Input(e.to_string()))?;
        Ok((base, space))
    });
    let (base, space) = dist.agree(loaded)?;
    let root = dist.is_root();
    // The job is kept beside the trials, so that --resume continues the same search only.
    // Rank 0 reads what an interrupted search left and sends it to every rank.
    let job_file = out.join("job.toml");
    let done = dist.agree(match (root, args.resume) {
        (true, true) => trials_to_resume(&out, &base),
        (true, false) => write_atomic(&job_file, base.to_toml().as_bytes())
            .map(|()| Vec::new())
            .map_err(|e| TrainError::Input(e.to_string())),
        (false, _) => Ok(Vec::new()),
    })?;
    let done: Vec<TrialRecord> = if dist.size() > 1 {
        let json = serde_json::to_vec(&done).expect("trial records serialise");
        let json = dist.comm().broadcast(0, json)?;
        serde_json::from_slice(&json).map_err(|e| TrainError::Collective(e.to_string()))?
    } else {
        done
    };
    if root && !done.is_empty() {
        println!("resuming: {} trial(s) already done are kept", done.len());
    }
    let settings = SearchSettings {
        strategy: match args.grid {
            Some(points) => Strategy::Grid { points },
            None => Strategy::Random,
        },
        trials: args.trials,
        epochs: args.epochs,
        refine_epochs: args.refine_epochs,
        stages: args.stages,
        top_k: args.top_k,
        widen: args.widen,
        explode_factor: args.explode_factor,
        parallel: args.parallel,
        seed: args.seed,
    };
    let epochs = if settings.stages == 1 {
        format!("{} epoch(s) per trial", settings.epochs)
    } else {
        format!(
            "{} epoch(s) per trial in stage 1, {} in later stages",
            settings.epochs,
            settings.refine_epochs.unwrap_or(base.epochs)
        )
    };
    if root {
        println!(
            "searching {} dimension(s) in {} stage(s): {epochs}{}",
            space.dimensions.len(),
            settings.stages,
            if dist.size() > 1 {
                format!(", trials spread over {} ranks", dist.size())
            } else {
                String::new()
            }
        );
    }
    // The trials so far are rewritten after each one, so an interrupted search keeps them.
    let mut so_far: Vec<TrialRecord> = Vec::new();
    let result = search_on(dist, &base, &space, &settings, &done, &mut |t| {
        if !root {
            return;
        }
        if done.contains(t) {
            println!("{} (kept)", progress_line(t));
        } else {
            println!("{}", progress_line(t));
        }
        so_far.push(t.clone());
        rank(&mut so_far);
        let json = serde_json::to_string_pretty(&so_far).expect("trial records serialise");
        let written = write_atomic(&out.join("trials.json"), json.as_bytes())
            .and_then(|()| write_atomic(&out.join("trials.csv"), to_csv(&so_far).as_bytes()));
        if let Err(e) = written {
            eprintln!("warning: {e}");
        }
    })?;
    if !root {
        return Ok(dist.agree(Ok(()))?);
    }
    let written = report(&result, &out);
    let shared = written
        .as_ref()
        .map(|_| ())
        .map_err(|e| TrainError::Collective(e.to_string()));
    match dist.agree(shared) {
        Ok(()) => Ok(()),
        Err(_) => written,
    }
}

/// The trials an interrupted search in `out` finished (its trials.json; none if it has none
/// yet), after checking that it was started with the same job (`out/job.toml`).
fn trials_to_resume(
    out: &std::path::Path,
    base: &nn_train::TrainConfig,
) -> Result<Vec<TrialRecord>, TrainError> {
    let job_file = out.join("job.toml");
    let started = std::fs::read_to_string(&job_file).map_err(|e| {
        TrainError::Input(format!("{}: {e} (nothing to resume)", job_file.display()))
    })?;
    if started != base.to_toml() {
        return Err(TrainError::Input(format!(
            "{}: the search in {} was started with another job; resume it with the same \
             --config (or search into a new --out)",
            job_file.display(),
            out.display()
        )));
    }
    let path = out.join("trials.json");
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            TrainError::Input(format!("{}: not a list of trials: {e}", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(TrainError::Input(format!("{}: {e}", path.display()))),
    }
}

/// Prints the stages' spaces, the table and the best trial, and writes the results (rank 0).
fn report(result: &nn_train::tune::SearchResult, out: &std::path::Path) -> CliResult {
    for (i, s) in result.spaces.iter().enumerate().skip(1) {
        println!("stage {} space:", i + 1);
        for (name, dim) in &s.dimensions {
            println!("  {name} = {dim}");
        }
    }
    println!("\n{}", format_table(&result.trials, 20));
    write_results(out, result)?;
    match result.best() {
        Some(best) => {
            let values: Vec<String> = best
                .values
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect();
            println!(
                "best: stage {} trial {}, val acc {:.4}: {}",
                best.stage,
                best.trial,
                best.val_acc.unwrap_or(f32::NAN),
                values.join(", ")
            );
            println!(
                "wrote {0}/{{trials.json, trials.csv, spaces.toml, best.toml}}; train the best job \
                 with `nn-train train --config {0}/best.toml`",
                out.display()
            );
        }
        None => println!(
            "no trial ended ok (see the messages in {}/trials.csv)",
            out.display()
        ),
    }
    Ok(())
}
