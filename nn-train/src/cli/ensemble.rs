//! `nn-train ensemble`: train N members of a job that differ only in their seed, report each
//! member's and the ensemble's test accuracy (averaged probabilities), optionally with
//! test-time augmentation; or, with `--snapshot-every K`, a snapshot ensemble of one run.

use std::path::PathBuf;

use nn_train::ensemble::write_member;
use nn_train::interrupt::Interrupt;
use nn_train::run_dir::{OpenMode, RunDir};
use nn_train::{
    EnsembleReport, EnsembleSettings, MemberStore, RunDirMembers, SnapshotSchedule, TrainConfig,
    TrainError, TrainReport, Tta, TtaMode, train_ensemble_in, train_snapshot_ensemble,
    write_atomic,
};

use nn_train::metrics::plot_confusion;

use super::{CliResult, Overrides, load_config};

/// Train an ensemble (members differing only in seed; the data split stays the job's) and
/// report members, mean member and ensemble test accuracy.
#[derive(clap::Args)]
pub struct Args {
    /// The job as a TOML file; omitted: the default job.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Number of members (seeds seed, seed+1, …).
    #[arg(long, default_value_t = 5)]
    members: usize,
    /// Members trained at the same time (threads). Results do not depend on it.
    #[arg(long, default_value_t = 1)]
    parallel: usize,
    /// Test-time augmentation of every prediction: none, flip, five-crop, ten-crop or
    /// multi-scale.
    #[arg(long, default_value = "none")]
    tta: TtaMode,
    /// Padding in pixels before the TTA crops (default: max(1, side/8)).
    #[arg(long)]
    tta_pad: Option<usize>,
    /// Instead of N members: train once and ensemble the snapshots taken every K epochs
    /// (Huang et al. 2017; pair with an SGDR schedule whose cycles last K epochs).
    #[arg(long, conflicts_with_all = ["members", "parallel"])]
    snapshot_every: Option<usize>,
    #[command(flatten)]
    overrides: Overrides,
    /// Write the JSON report to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Write ensemble.json and, per member, member-<i>/{config.toml, report.json,
    /// model.safetensors} (each a run folder loadable by `nn-train eval --run`) into this run
    /// folder. Must be new or empty unless --overwrite. Members are written as they finish;
    /// SIGINT/SIGTERM checkpoint the members in training (continue with --resume).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace the run in --out.
    #[arg(long, requires = "out")]
    overwrite: bool,
    /// Continue the interrupted ensemble in this run folder (written by `--out`): finished
    /// members are kept, the member in training continues from its checkpoint, the rest are
    /// trained; the job is the folder's config.toml. Give the same --members (and --tta).
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = ["config", "out", "overwrite", "epochs", "seed", "snapshot_every"]
    )]
    resume: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    // Before any data is loaded: a signal during start-up is seen at the first step.
    Interrupt::install()?;
    let (config, run) = match &args.resume {
        Some(dir) => {
            let run = RunDir::open(dir, OpenMode::Resume)?;
            if run.is_complete() {
                println!(
                    "{}: the ensemble is complete; nothing to resume",
                    dir.display()
                );
                return Ok(());
            }
            let config = TrainConfig::load(&run.file("config.toml")?)?;
            (config, Some(run))
        }
        None => {
            let mut config = load_config(args.config.as_deref())?;
            args.overrides.apply(&mut config)?;
            let mode = if args.overwrite {
                OpenMode::Overwrite
            } else {
                OpenMode::New
            };
            let run = args
                .out
                .as_deref()
                .map(|o| RunDir::open(o, mode))
                .transpose()?;
            (config, run)
        }
    };
    let tta = Tta {
        mode: args.tta,
        pad: args.tta_pad,
    };
    tta.validate()?;
    let report = if let Some(k) = args.snapshot_every {
        let ens = train_snapshot_ensemble(&config, &SnapshotSchedule::Every(k), &tta)?;
        print_members(&ens.report);
        if let Some(run) = &run {
            run.clear()?;
            for (m, model) in ens.report.members.iter().zip(&ens.models) {
                let sub = format!("snapshot-{}", m.snapshot_epoch.unwrap_or(0));
                let names = &ens.data.class_names;
                write_member(run, &sub, &config, None, model.as_ref(), names)?;
            }
        }
        ens.report
    } else {
        let settings = EnsembleSettings {
            members: args.members,
            parallel: args.parallel,
            tta,
        };
        settings.validate()?;
        config.validate()?;
        // Members are written as they finish and checkpoint while they train, so that an
        // interrupted ensemble continues with `--resume` (the job is kept in config.toml).
        let store = match &run {
            Some(run) => {
                if args.resume.is_none() {
                    run.clear()?;
                    run.write("config.toml", config.to_toml().as_bytes())?;
                }
                Some(RunDirMembers {
                    run,
                    interrupt: Some(Interrupt::install()?),
                })
            }
            None => None,
        };
        let on_member = |i: usize, r: &TrainReport| {
            println!(
                "member {i} trained: best epoch {}, val acc {:.4}",
                r.best_epoch, r.best_val_acc
            )
        };
        let store_ref = store.as_ref().map(|s| s as &dyn MemberStore);
        let ens = match train_ensemble_in(&config, &settings, store_ref, &on_member) {
            Err(e @ TrainError::Interrupted { .. }) => {
                if let Some(run) = &run {
                    eprintln!(
                        "the ensemble can be continued with: nn-train ensemble --resume {} --members {}",
                        run.path().display(),
                        args.members
                    );
                }
                return Err(e.into());
            }
            r => r?,
        };
        print_members(&ens.report);
        ens.report
    };
    let json = serde_json::to_string_pretty(&report).expect("reports serialise");
    if let Some(m) = &report.ensemble_metrics {
        super::eval::print_metrics(m);
    }
    if let Some(run) = &run {
        run.write("ensemble.json", json.as_bytes())?;
        if let Some(m) = &report.ensemble_metrics {
            let title = format!("ensemble of {}, test split", report.members.len());
            run.write_with("confusion.png", |p| plot_confusion(p, m, &title))?;
        }
        run.commit()?;
        println!(
            "wrote {}/{{ensemble.json, confusion.png}} and the members",
            run.path().display()
        );
    }
    if let Some(path) = &args.report {
        write_atomic(path, json.as_bytes())?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn print_members(r: &EnsembleReport) {
    println!(
        "{:>8} {:>6} {:>10} {:>9}",
        "member", "epoch", "test loss", "test acc"
    );
    for (i, m) in r.members.iter().enumerate() {
        let epoch = m.snapshot_epoch.map_or("-".to_string(), |e| e.to_string());
        println!(
            "{i:>8} {epoch:>6} {:>10.4} {:>9.4}",
            m.test_loss, m.test_acc
        );
    }
    println!(
        "mean member: test loss {:.4}, test acc {:.4}",
        r.mean_member_loss, r.mean_member_acc
    );
    println!(
        "ensemble of {} (tta {}): test loss {:.4}, test acc {:.4}",
        r.members.len(),
        r.tta,
        r.ensemble_loss,
        r.ensemble_acc
    );
}
