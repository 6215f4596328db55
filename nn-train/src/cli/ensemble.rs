//! `nn-train ensemble`: train N members of a job that differ only in their seed, report each
//! member's and the ensemble's test accuracy (averaged probabilities), optionally with
//! test-time augmentation; or, with `--snapshot-every K`, a snapshot ensemble of one run.

use std::path::PathBuf;

use nn_train::{
    EnsembleReport, EnsembleSettings, SnapshotSchedule, Tta, TtaMode, train_ensemble,
    train_snapshot_ensemble, write_atomic,
};

use nn_train::metrics::plot_confusion;
use nn_train::saved_run::write_class_names;

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
    /// model.safetensors} (each loadable by `nn-train eval --run`) into this directory.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    let mut config = load_config(args.config.as_deref())?;
    args.overrides.apply(&mut config)?;
    let tta = Tta {
        mode: args.tta,
        pad: args.tta_pad,
    };
    let report = if let Some(k) = args.snapshot_every {
        let ens = train_snapshot_ensemble(&config, &SnapshotSchedule::Every(k), &tta)?;
        print_members(&ens.report);
        if let Some(dir) = &args.out {
            for (m, model) in ens.report.members.iter().zip(&ens.models) {
                let sub = dir.join(format!("snapshot-{}", m.snapshot_epoch.unwrap_or(0)));
                write_atomic(&sub.join("config.toml"), config.to_toml().as_bytes())?;
                write_class_names(&sub, &ens.data.class_names)?;
                nn_core::checkpoint::save(model.as_ref(), sub.join("model.safetensors"))?;
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
        if let Some(dir) = &args.out {
            let parts = ens.configs.iter().zip(&ens.models);
            for (i, ((c, model), r)) in parts.zip(&ens.report.train_reports).enumerate() {
                let sub = dir.join(format!("member-{i}"));
                write_atomic(&sub.join("config.toml"), c.to_toml().as_bytes())?;
                write_class_names(&sub, &ens.data.class_names)?;
                let json = serde_json::to_string_pretty(r).expect("reports serialise");
                write_atomic(&sub.join("report.json"), json.as_bytes())?;
                nn_core::checkpoint::save(model.as_ref(), sub.join("model.safetensors"))?;
            }
        }
        ens.report
    };
    let json = serde_json::to_string_pretty(&report).expect("reports serialise");
    if let Some(m) = &report.ensemble_metrics {
        super::eval::print_metrics(m);
    }
    if let Some(dir) = &args.out {
        write_atomic(&dir.join("ensemble.json"), json.as_bytes())?;
        if let Some(m) = &report.ensemble_metrics {
            let title = format!("ensemble of {}, test split", report.members.len());
            plot_confusion(&dir.join("confusion.png"), m, &title)?;
        }
        println!(
            "wrote {}/{{ensemble.json, confusion.png}} and the members",
            dir.display()
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
