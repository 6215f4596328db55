//! `nn-train train`: run a job, print per-epoch metrics, write the run folder; `--resume DIR`
//! continues an interrupted run exactly.

use std::path::PathBuf;

use nn_train::checkpoint::Checkpoint;
use nn_train::dist::Dist;
use nn_train::interrupt::Interrupt;
use nn_train::metrics::plot_confusion;
use nn_train::plot::{default_window, plot_curves, plot_ratios};
use nn_train::preprocess::PREPROCESS_FILE;
use nn_train::report_html::{RunReport, figures_from, sample_predictions};
use nn_train::run_dir::{OpenMode, RunDir};
use nn_train::saved_run::CLASSES_FILE;
use nn_train::{
    Callback, Checkpointing, EpochRecord, Monitor, MonitorConfig, OnEpoch, Session, TrainConfig,
    TrainError, Trained, train_checkpointed,
};

use super::{CliResult, Overrides, load_config};

/// Train a model (default: an MLP on the embedded UCI digits) and report test accuracy.
#[derive(clap::Args)]
pub struct Args {
    /// The job as a TOML file (`nn-train config` prints the defaults); omitted: the default job.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    overrides: Overrides,
    /// The run folder: config.toml at the start, checkpoint.safetensors during training
    /// (every epoch and `[checkpoint] every_steps`), then report.json (with the test confusion
    /// matrix and per-class accuracy), model.safetensors (best snapshot), preprocess.json (the
    /// preprocessing fitted on the training split, reused by eval, predict and finetune),
    /// classes.json, curves.png (loss per step + moving average, train/val accuracy),
    /// confusion.png, report.html, timings.json and manifest.json (written last: the run is
    /// complete). Must be new or empty unless --overwrite.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace the run in --out (a folder that is not a run folder is never overwritten).
    #[arg(long, requires = "out")]
    overwrite: bool,
    /// Continue the interrupted run in DIR from its checkpoint, with its config.toml; the
    /// result is byte-identical to an uninterrupted run.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = ["config", "out", "overwrite", "epochs", "seed", "monitor"]
    )]
    resume: Option<PathBuf>,
    /// Also record update/weight ratios and gradient norms every N steps (default 10) and
    /// write monitor.csv, steps.csv, monitor.json and ratios.png into --out.
    #[arg(long, num_args = 0..=1, default_missing_value = "10", value_name = "N")]
    monitor: Option<u64>,
}

/// Runs the subcommand; under `mpirun` (feature `mpi`), as one rank of a data-parallel job:
/// every rank trains its shard of each global batch; rank 0 alone opens (and locks) the run
/// folder, prints and writes, and sends the job and the checkpoint of a resumed run to the
/// others.
pub fn run(args: Args, dist: &Dist) -> CliResult {
    // Before any data is loaded: a signal during start-up is seen at the first step.
    Interrupt::install()?;
    let root = dist.is_root();
    // Rank 0 checks and locks the run folder before any data is loaded.
    let run = dist.agree(if root { open_run(&args) } else { Ok(None) })?;
    let config = match &args.resume {
        Some(dir) => {
            // The job of a resumed run is its config.toml, read by rank 0 ("" if complete).
            let text = dist.agree(match &run {
                Some(run) if run.is_complete() && !run.has_checkpoint() => Ok(String::new()),
                Some(run) => run
                    .file("config.toml")
                    .map_err(TrainError::from)
                    .and_then(|p| {
                        std::fs::read_to_string(&p)
                            .map_err(|source| TrainError::ConfigRead { path: p, source })
                    }),
                None => Ok(String::new()),
            })?;
            let text = broadcast_from_root(dist, text.into_bytes())?;
            if text.is_empty() {
                if root {
                    println!("{}: the run is complete; nothing to resume", dir.display());
                }
                return Ok(());
            }
            let path = dir.join("config.toml");
            dist.agree(TrainConfig::from_toml(
                &String::from_utf8_lossy(&text),
                &path,
            ))?
        }
        None => dist.agree(load_config(args.config.as_deref()).and_then(|mut config| {
            args.overrides.apply(&mut config)?;
            Ok(config)
        }))?,
    };
    run_session(
        Session::distributed(&config, dist.clone())?,
        run,
        args.monitor,
    )
}

/// Rank 0's run folder: `--resume DIR`, or `--out DIR` (new, or replaced with --overwrite).
fn open_run(args: &Args) -> Result<Option<RunDir>, TrainError> {
    if let Some(dir) = &args.resume {
        return Ok(Some(RunDir::open(dir, OpenMode::Resume)?));
    }
    let mode = if args.overwrite {
        OpenMode::Overwrite
    } else {
        OpenMode::New
    };
    Ok(args
        .out
        .as_deref()
        .map(|o| RunDir::open(o, mode))
        .transpose()?)
}

/// `bytes` of rank 0 on every rank.
fn broadcast_from_root(dist: &Dist, bytes: Vec<u8>) -> Result<Vec<u8>, TrainError> {
    if dist.size() == 1 {
        return Ok(bytes);
    }
    dist.comm().broadcast(0, bytes)
}

/// Rank 0 prepares the run folder: a resumed run's checkpoint bytes (empty: none), or a new
/// run's cleared folder with its config.toml.
fn prepare_run(run: &Option<RunDir>, config: &TrainConfig) -> Result<Vec<u8>, TrainError> {
    match run {
        Some(run) if run.mode() == OpenMode::Resume => {
            run.invalidate()?;
            if !run.has_checkpoint() {
                return Ok(Vec::new());
            }
            let path = run.checkpoint_path();
            std::fs::read(&path).map_err(|source| {
                TrainError::Checkpoint(nn_core::checkpoint::CheckpointError::Read { path, source })
            })
        }
        Some(run) => {
            run.clear()?;
            run.write("config.toml", config.to_toml().as_bytes())?;
            Ok(Vec::new())
        }
        None => Ok(Vec::new()),
    }
}

/// Trains a built session (printing its transfer load report first, if any), prints the
/// per-epoch table and the summary, and writes the run folder `run` (with `monitor_every`: the
/// update/weight-ratio files too). A run opened with [`OpenMode::Resume`] continues from its
/// checkpoint (if any). Shared by `train` and `finetune`. In a data-parallel session, rank 0
/// (which alone has `run`) does the printing and writing, and the ranks agree on the outcome.
pub fn run_session(session: Session, run: Option<RunDir>, monitor_every: Option<u64>) -> CliResult {
    let dist = session.dist.clone();
    let root = dist.is_root();
    let config = session.config.clone();
    // The checkpoint to resume from: rank 0's file, sent to every rank.
    let bytes = dist.agree(match root {
        true => prepare_run(&run, &config),
        false => Ok(Vec::new()),
    })?;
    let bytes = broadcast_from_root(&dist, bytes)?;
    let checkpoint_path = run
        .as_ref()
        .map_or_else(|| "checkpoint.safetensors".into(), RunDir::checkpoint_path);
    let resume = match bytes.is_empty() {
        true => None,
        false => Some(dist.agree(Checkpoint::from_bytes(&bytes, &checkpoint_path))?),
    };
    let plan = Checkpointing {
        path: run.as_ref().map(RunDir::checkpoint_path),
        interrupt: Some(Interrupt::install()?),
        resume,
    };
    if !root {
        match train_checkpointed(session, &mut [], plan) {
            Err(e @ TrainError::Interrupted { .. }) => return Err(e.into()),
            r => r?,
        };
        // Wait for rank 0's outputs: if writing them fails, every rank fails.
        dist.agree(Ok(()))?;
        return Ok(());
    }
    let config = session.config.clone();
    // Errors of the training itself are every rank's already; a failed write is news to them.
    let (trained, monitor) = train_printing(session, &run, monitor_every, plan)?;
    let written = write_outputs(&trained, &monitor, &config, run, monitor_every);
    if dist.size() == 1 {
        return written;
    }
    let shared = written
        .as_ref()
        .map(|_| ())
        .map_err(|e| TrainError::Collective(e.to_string()));
    match dist.agree(shared) {
        Ok(()) => Ok(()),
        Err(_) => written,
    }
}

/// Rank 0's training: the load and scaling reports, the per-epoch table.
fn train_printing(
    session: Session,
    run: &Option<RunDir>,
    monitor_every: Option<u64>,
    plan: Checkpointing,
) -> Result<(Trained, Monitor), Box<dyn std::error::Error>> {
    let dist = session.dist.clone();
    if let Some(report) = &session.transfer {
        print!("{report}");
    }
    let config = session.config.clone();
    if dist.size() > 1 {
        println!(
            "data-parallel: {} ranks share each global batch of {} ({} per rank){}",
            dist.size(),
            config.batch_size,
            config.batch_size / dist.size(),
            if config.distributed.sync_batch_norm {
                ", synchronised batch norm"
            } else {
                ""
            }
        );
    }
    if let Some(scaling) = &config.lr_scaling {
        let images = config.batch_size * config.grad_accumulation;
        println!(
            "lr scaling ({} rule): optimizer.lr {} at {} images per step -> {} at {images}",
            match scaling.rule {
                nn_optim::ScalingRule::Linear => "linear",
                nn_optim::ScalingRule::Sqrt => "sqrt",
            },
            config.optimizer.lr(),
            scaling.base_batch,
            session.scheduler.base_lrs()[0]
        );
    }
    if let (Some(ckpt), Some(run)) = (&plan.resume, run) {
        println!(
            "resuming {} at epoch {}, step {}",
            run.path().display(),
            ckpt.state.epoch + 1,
            ckpt.state.step
        );
    }
    println!(
        "{:>5} {:>10} {:>10} {:>9} {:>10} {:>9} {:>7}",
        "epoch", "lr", "train loss", "train acc", "val loss", "val acc", "s"
    );
    let mut monitor = MonitorConfig {
        ratio_every: monitor_every.unwrap_or(0),
        ..MonitorConfig::default()
    }
    .init()?;
    let mut progress = OnEpoch(|e: &EpochRecord| {
        println!(
            "{:>5} {:>10.5} {:>10.4} {:>9.4} {:>10.4} {:>9.4} {:>7.2}",
            e.epoch, e.lr, e.train_loss, e.train_acc, e.val_loss, e.val_acc, e.seconds
        );
    });
    let steps_per_epoch = session
        .train_loader
        .num_batches()
        .div_ceil(config.grad_accumulation.max(1)) as u64;
    let mut bar = super::progress::Progress::new(steps_per_epoch);
    let callbacks: &mut [&mut dyn Callback] = &mut [&mut bar, &mut progress, &mut monitor];
    let trained = match train_checkpointed(session, callbacks, plan) {
        Err(e @ TrainError::Interrupted { .. }) => {
            if let Some(run) = run {
                eprintln!(
                    "the run can be continued with: nn-train train --resume {}",
                    run.path().display()
                );
            }
            return Err(e.into());
        }
        r => r?,
    };
    Ok((trained, monitor))
}

/// Rank 0's summary and run folder.
fn write_outputs(
    trained: &Trained,
    monitor: &Monitor,
    config: &TrainConfig,
    run: Option<RunDir>,
    monitor_every: Option<u64>,
) -> CliResult {
    let write_monitor = monitor_every.is_some() || monitor.config.ratio_every > 0;
    let r = &trained.report;
    println!(
        "model: {} parameters; initial val loss {:.4} (log C = {:.4})",
        r.parameters, r.initial_val_loss, r.expected_initial_loss
    );
    println!(
        "best epoch {} (val acc {:.4}){}; test loss {:.4}, test accuracy {:.4}",
        r.best_epoch,
        r.best_val_acc,
        if r.stopped_early {
            ", stopped early"
        } else {
            ""
        },
        r.test_loss,
        r.test_acc
    );
    if config.data.no_validation {
        println!(
            "no validation (data.no_validation): no model selection, the last epoch's weights are kept"
        );
    }
    if let (Some(ema_val), Some(ema_test)) = (r.ema_best_val_acc, r.ema_test_acc) {
        println!(
            "EMA weights: best val acc {ema_val:.4} (raw {:.4}); kept {:?} (test acc raw {:.4}, EMA {ema_test:.4})",
            r.raw_best_val_acc, r.kept, r.raw_test_acc
        );
    }
    if let Some(m) = &r.test_metrics {
        super::eval::print_metrics(m);
    }
    // Wall time of the epochs (training and validation; an interrupted and resumed run counts
    // each finished epoch once), as in timings.json.
    let seconds: f64 = r.history.iter().map(|e| f64::from(e.seconds)).sum();
    println!(
        "training time {} ({} epochs, {} per epoch)",
        duration(seconds),
        r.history.len(),
        seconds_or_ms(seconds / r.history.len().max(1) as f64)
    );
    if write_monitor {
        println!(
            "update/weight ratios (median over sampled steps; target ~1e-3, flagged < 1e-4 or > 1e-2):"
        );
        for (name, median, low, high) in monitor.ratio_summary() {
            println!("  {name:<24} {median:.2e}  ({low} low, {high} high)");
        }
    }
    if let Some(run) = run {
        let json = serde_json::to_string_pretty(r).expect("reports serialise");
        run.write("report.json", json.as_bytes())?;
        run.write_with("model.safetensors", |p| -> Result<(), TrainError> {
            Ok(nn_core::checkpoint::save(trained.model.as_ref(), p)?)
        })?;
        let fitted = serde_json::to_vec_pretty(&trained.data.fitted()).expect("fits serialise");
        run.write(PREPROCESS_FILE, &fitted)?;
        let timings: Vec<serde_json::Value> = r
            .history
            .iter()
            .map(|e| serde_json::json!({"epoch": e.epoch, "seconds": e.seconds}))
            .collect();
        let timings = serde_json::to_string_pretty(&timings).expect("timings serialise");
        run.write("timings.json", timings.as_bytes())?;
        let steps: Vec<(u64, f32)> = monitor.steps.iter().map(|s| (s.step, s.loss)).collect();
        run.write_with("curves.png", |p| {
            plot_curves(p, &steps, &monitor.epochs, default_window(steps.len()))
        })?;
        let names = serde_json::to_string_pretty(&trained.data.class_names).expect("names");
        run.write(CLASSES_FILE, names.as_bytes())?;
        let mut written = vec![
            "config.toml",
            "report.json",
            "model.safetensors",
            PREPROCESS_FILE,
            "classes.json",
            "curves.png",
            "timings.json",
        ];
        if let Some(m) = &r.test_metrics {
            run.write_with("confusion.png", |p| plot_confusion(p, m, "test split"))?;
            written.push("confusion.png");
        }
        if write_monitor {
            for (name, text) in monitor.files() {
                run.write(name, text.as_bytes())?;
                written.push(name);
            }
            run.write_with("ratios.png", |p| {
                plot_ratios(p, &monitor.ratios, &monitor.config)
            })?;
            written.push("ratios.png");
        }
        let dir = run.path();
        let data = &trained.data;
        let page = RunReport {
            title: format!("nn-train run {}", dir.display()),
            config_toml: config.to_toml(),
            report: Some(r),
            class_names: data.class_names.clone(),
            figures: figures_from(
                dir,
                &[
                    ("curves.png", "Loss per step and accuracy per epoch"),
                    ("confusion.png", "Confusion matrix on the test split"),
                    ("ratios.png", "Update / weight ratios per parameter"),
                ],
            ),
            ratios: if write_monitor {
                monitor.ratio_summary()
            } else {
                Vec::new()
            },
            samples: sample_predictions(
                trained.model.as_ref(),
                data.test.as_ref(),
                data.preprocess.as_ref(),
                256,
                16,
            )?,
        };
        run.write_with("report.html", |p| page.write(p))?;
        written.push("report.html");
        run.commit()?;
        written.push("manifest.json");
        println!("wrote {}/{{{}}}", dir.display(), written.join(", "));
    }
    Ok(())
}

/// A wall time for the console: minutes from 1 min on (`39.6 min`), then seconds
/// (`61.0 s`), milliseconds below 1 s (`23 ms`), so that short runs do not read `0.0 min`.
fn duration(seconds: f64) -> String {
    if seconds >= 60.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        seconds_or_ms(seconds)
    }
}

/// Seconds (`130.7 s`), or milliseconds below 1 s (`23 ms`).
fn seconds_or_ms(seconds: f64) -> String {
    if seconds >= 1.0 {
        format!("{seconds:.1} s")
    } else {
        format!("{:.0} ms", seconds * 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::{duration, seconds_or_ms};

    #[test]
    fn wall_times_read_in_a_unit_that_shows_them() {
        assert_eq!(duration(3918.0), "65.3 min");
        assert_eq!(duration(59.94), "59.9 s");
        assert_eq!(duration(0.972), "972 ms");
        assert_eq!(seconds_or_ms(130.7), "130.7 s");
        assert_eq!(seconds_or_ms(0.0324), "32 ms");
    }
}
