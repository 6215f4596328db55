//! `nn-train ensemble`: train N members of a job that differ only in their seed, report each
//! member's and the ensemble's test accuracy (averaged probabilities), optionally with
//! test-time augmentation; or, with `--snapshot-every K`, a snapshot ensemble of one run.

use std::path::PathBuf;

use nn_train::run_dir::{OpenMode, RunDir};
use nn_train::{
    EnsembleReport, EnsembleSettings, SnapshotSchedule, TrainConfig, TrainError, TrainReport, Tta,
    TtaMode, train_ensemble, train_snapshot_ensemble, write_atomic,
};

use nn_train::metrics::plot_confusion;
use nn_train::saved_run::CLASSES_FILE;

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
    /// Test-time augmentation of every prediction: none, flip, five-crop or ten-crop.
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
    /// folder. Must be new or empty unless --overwrite.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace the run in --out.
    #[arg(long, requires = "out")]
    overwrite: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
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
    let tta = Tta {
        mode: args.tta,
        pad: args.tta_pad,
    };
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
        let ens = train_ensemble(&config, &settings, &|i, r| {
            println!(
                "member {i} trained: best epoch {}, val acc {:.4}",
                r.best_epoch, r.best_val_acc
            )
        })?;
        print_members(&ens.report);
        if let Some(run) = &run {
            run.clear()?;
            let parts = ens.configs.iter().zip(&ens.models);
            for (i, ((c, model), r)) in parts.zip(&ens.report.train_reports).enumerate() {
                let names = &ens.data.class_names;
                write_member(
                    run,
                    &format!("member-{i}"),
                    c,
                    Some(r),
                    model.as_ref(),
                    names,
                )?;
            }
        }
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

/// Writes one member's run folder `sub` inside `run` and marks it complete.
fn write_member(
    run: &RunDir,
    sub: &str,
    config: &TrainConfig,
    report: Option<&TrainReport>,
    model: &dyn nn_core::Module,
    class_names: &[String],
) -> Result<(), TrainError> {
    run.write(&format!("{sub}/config.toml"), config.to_toml().as_bytes())?;
    let names = serde_json::to_string_pretty(class_names).expect("strings serialise");
    run.write(&format!("{sub}/{CLASSES_FILE}"), names.as_bytes())?;
    if let Some(r) = report {
        let json = serde_json::to_string_pretty(r).expect("reports serialise");
        run.write(&format!("{sub}/report.json"), json.as_bytes())?;
    }
    run.write_with(
        &format!("{sub}/model.safetensors"),
        |p| -> Result<(), TrainError> { Ok(nn_core::checkpoint::save(model, p)?) },
    )?;
    run.commit_sub(sub)?;
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
