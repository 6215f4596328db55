//! `nn-train train`: run a job, print per-epoch metrics, write the outputs.

use std::path::PathBuf;

use nn_train::metrics::plot_confusion;
use nn_train::plot::{default_window, plot_curves, plot_ratios};
use nn_train::report_html::{RunReport, figures_from, sample_predictions};
use nn_train::saved_run::write_class_names;
use nn_train::{EpochRecord, MonitorConfig, OnEpoch, Session, train_session, write_atomic};

use super::{CliResult, Overrides, load_config};

/// Train a model (default: an MLP on the embedded UCI digits) and report test accuracy.
#[derive(clap::Args)]
pub struct Args {
    /// The job as a TOML file (`nn-train config` prints the defaults); omitted: the default job.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    overrides: Overrides,
    /// Write config.toml, report.json (with the test confusion matrix and per-class accuracy),
    /// model.safetensors (best snapshot) and classes.json into this directory, with curves.png
    /// (loss per step + moving average, train/val accuracy) and confusion.png.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also record update/weight ratios and gradient norms every N steps (default 10) and
    /// write monitor.csv, steps.csv, monitor.json and ratios.png into --out.
    #[arg(long, num_args = 0..=1, default_missing_value = "10", value_name = "N")]
    monitor: Option<u64>,
}

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    let mut config = load_config(args.config.as_deref())?;
    args.overrides.apply(&mut config)?;
    run_session(Session::new(&config)?, args.out, args.monitor)
}

/// Trains a built session (printing its transfer load report first, if any), prints the
/// per-epoch table and the summary, and writes the outputs into `out` (with `monitor`: the
/// update/weight-ratio files too). Shared by `train` and `finetune`.
pub fn run_session(
    session: Session,
    out: Option<PathBuf>,
    monitor_every: Option<u64>,
) -> CliResult {
    if let Some(report) = &session.transfer {
        print!("{report}");
    }
    let config = session.config.clone();
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
    let trained = train_session(session, &mut [&mut progress, &mut monitor])?;
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
    if let (Some(ema_val), Some(ema_test)) = (r.ema_best_val_acc, r.ema_test_acc) {
        println!(
            "EMA weights: best val acc {ema_val:.4} (raw {:.4}); kept {:?} (test acc raw {:.4}, EMA {ema_test:.4})",
            r.raw_best_val_acc, r.kept, r.raw_test_acc
        );
    }
    if let Some(m) = &r.test_metrics {
        super::eval::print_metrics(m);
    }
    if monitor_every.is_some() {
        println!(
            "update/weight ratios (median over sampled steps; target ~1e-3, flagged < 1e-4 or > 1e-2):"
        );
        for (name, median, low, high) in monitor.ratio_summary() {
            println!("  {name:<24} {median:.2e}  ({low} low, {high} high)");
        }
    }
    if let Some(dir) = out {
        write_atomic(&dir.join("config.toml"), config.to_toml().as_bytes())?;
        let json = serde_json::to_string_pretty(r).expect("reports serialise");
        write_atomic(&dir.join("report.json"), json.as_bytes())?;
        nn_core::checkpoint::save(trained.model.as_ref(), dir.join("model.safetensors"))?;
        let steps: Vec<(u64, f32)> = monitor.steps.iter().map(|s| (s.step, s.loss)).collect();
        plot_curves(
            &dir.join("curves.png"),
            &steps,
            &monitor.epochs,
            default_window(steps.len()),
        )?;
        write_class_names(&dir, &trained.data.class_names)?;
        if let Some(m) = &r.test_metrics {
            plot_confusion(&dir.join("confusion.png"), m, "test split")?;
        }
        println!(
            "wrote {}/{{config.toml, report.json, model.safetensors, classes.json, curves.png, confusion.png}}",
            dir.display()
        );
        if monitor_every.is_some() {
            monitor.write(&dir)?;
            plot_ratios(&dir.join("ratios.png"), &monitor.ratios, &monitor.config)?;
            println!(
                "wrote {}/{{monitor.csv, steps.csv, monitor.json, ratios.png}}",
                dir.display()
            );
        }
        let data = &trained.data;
        let page = RunReport {
            title: format!("nn-train run {}", dir.display()),
            config_toml: config.to_toml(),
            report: Some(r),
            class_names: data.class_names.clone(),
            figures: figures_from(
                &dir,
                &[
                    ("curves.png", "Loss per step and accuracy per epoch"),
                    ("confusion.png", "Confusion matrix on the test split"),
                    ("ratios.png", "Update / weight ratios per parameter"),
                ],
            ),
            ratios: if monitor_every.is_some() {
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
        page.write(&dir.join("report.html"))?;
        println!("wrote {}/report.html", dir.display());
    }
    Ok(())
}
