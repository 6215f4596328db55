//! `nn-train eval`: evaluate a trained run (`nn-train train --out DIR`) on its test split,
//! optionally with test-time augmentation (checked on the validation split first) or with its
//! batch norms folded; several `--run`s are evaluated alone and as an ensemble (averaged
//! probabilities). Prints per-class accuracy; `--out` writes report.json and confusion.png.

use std::path::{Path, PathBuf};

use ndarray::Array4;
use nn_augment::tta::stack_views;
use nn_core::Module;
use nn_data::{Dataset, ImagePreprocessor};
use nn_train::fold_bn::{FoldReport, compare_folded};
use nn_train::metrics::plot_confusion;
use nn_train::{
    ClassMetrics, Predictions, SavedRun, Tta, TtaCheck, TtaMode, predict_dataset, tta_self_check,
    write_atomic,
};
use serde::Serialize;

use super::CliResult;

/// Evaluate run directories (config.toml + model.safetensors) on the test split, with optional
/// test-time augmentation; with several --run, also their ensemble. The data and its
/// preprocessing are rebuilt from the config (they are deterministic from its seeds).
#[derive(clap::Args)]
pub struct Args {
    /// A directory written by `nn-train train --out DIR` (or a `member-<i>` of `nn-train
    /// ensemble --out`); repeat to evaluate an ensemble of runs that share their data split.
    #[arg(long, required = true)]
    run: Vec<PathBuf>,
    /// Test-time augmentation: none, flip, five-crop or ten-crop (crops of the zero-padded
    /// image), multi-scale (ten crops at three upscaled sizes). Measured on the validation split first, with a warning if it lowers accuracy.
    #[arg(long, default_value = "none")]
    tta: TtaMode,
    /// Padding in pixels before five or ten crops (default: max(1, side/8)).
    #[arg(long)]
    tta_pad: Option<usize>,
    /// Evaluate on the validation split instead of the test split.
    #[arg(long)]
    val: bool,
    /// Fold every BatchNorm into the conv/linear layer before it, check that the predictions
    /// stay the same, print the speed-up, and evaluate the folded model.
    #[arg(long)]
    fold_bn: bool,
    /// Write report.json (figures, confusion matrices, per-class accuracy) and confusion.png
    /// (of the ensemble, or of the one run) into this directory.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// One run's figures in report.json.
#[derive(Serialize)]
struct RunResult {
    run: PathBuf,
    loss: f32,
    accuracy: f32,
    metrics: ClassMetrics,
    tta_check: Option<TtaCheck>,
    fold_bn: Option<FoldReport>,
}

/// The ensemble's figures in report.json.
#[derive(Serialize)]
struct EnsembleResult {
    loss: f32,
    accuracy: f32,
    metrics: ClassMetrics,
    tta_check: Option<TtaCheck>,
}

/// report.json of `nn-train eval --out`.
#[derive(Serialize)]
struct EvalReport {
    split: &'static str,
    tta: Tta,
    runs: Vec<RunResult>,
    ensemble: Option<EnsembleResult>,
}

/// The data a run was split and preprocessed with (the split seed resolved).
fn data_key(c: &nn_train::TrainConfig) -> nn_train::DataConfig {
    let mut d = c.data.clone();
    d.split_seed = Some(d.split_seed.unwrap_or(c.seed));
    d.threads = None;
    d.preprocess_from = None;
    d
}

/// The preprocessed images of `dataset` in batches of 128 (no augmentation).
pub fn plain_batches(
    dataset: &dyn Dataset,
    preprocess: &dyn ImagePreprocessor,
) -> Result<Vec<Array4<f32>>, nn_train::TrainError> {
    let mut out = Vec::new();
    for start in (0..dataset.len()).step_by(128) {
        let end = (start + 128).min(dataset.len());
        let views = (start..end)
            .map(|i| Ok(preprocess.apply(dataset.get(i)?.image)))
            .collect::<Result<Vec<_>, nn_data::DataError>>()?;
        out.push(stack_views(&views));
    }
    Ok(out)
}

fn print_check(who: &Path, check: &TtaCheck) {
    println!(
        "{}: TTA self-check on the validation split ({} images): accuracy {:.4} without, {:.4} with {}",
        who.display(),
        check.images,
        check.val_acc_plain,
        check.val_acc_tta,
        check.tta.mode
    );
    if let Some(w) = check.warning() {
        eprintln!("{w}");
    }
}

/// Prints the per-class table (up to 30 classes) or the most frequent confusions.
pub fn print_metrics(metrics: &ClassMetrics) {
    if metrics.num_classes() <= 30 {
        print!("{}", metrics.table());
    } else {
        println!("most frequent confusions (true -> predicted):");
        for c in metrics.top_confusions().iter().take(10) {
            println!(
                "  {} -> {}: {}",
                metrics.classes[c.truth], metrics.classes[c.predicted], c.count
            );
        }
    }
}

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    let tta = Tta {
        mode: args.tta,
        pad: args.tta_pad,
    };
    tta.validate()?;
    let split = if args.val { "val" } else { "test" };
    let mut sets = Vec::with_capacity(args.run.len());
    let mut models: Vec<Box<dyn Module>> = Vec::with_capacity(args.run.len());
    let mut results = Vec::with_capacity(args.run.len());
    let mut first: Option<(PathBuf, nn_train::DataConfig, SavedRun)> = None;
    for dir in &args.run {
        let run = SavedRun::load(dir)?;
        let key = data_key(&run.config);
        if let Some((dir0, key0, _)) = &first
            && *key0 != key
        {
            return Err(format!(
                "{} and {} were trained on different data or splits ([data] differs, or the \
                     split seed: {:?} vs {:?}); an ensemble needs the same test images",
                dir0.display(),
                dir.display(),
                key0.split_seed,
                key.split_seed
            )
            .into());
        }
        let data = &run.data;
        let dataset = if args.val { &data.val } else { &data.test };
        let mut model = run.load_model_again()?;
        let fold = if args.fold_bn {
            let batches = plain_batches(dataset.as_ref(), data.preprocess.as_ref())?;
            let report = compare_folded(run.model.as_ref(), model.as_mut(), &batches, 3);
            println!("{}: {report}", dir.display());
            if report.folded == 0 {
                println!(
                    "{}: nothing to fold (no BatchNorm directly after a conv or linear layer)",
                    dir.display()
                );
            }
            if !report.predictions_equal() {
                eprintln!(
                    "warning: {}: the folded model predicts another class on {} of {} images",
                    dir.display(),
                    report.images - report.same_predictions,
                    report.images
                );
            }
            Some(report)
        } else {
            None
        };
        let tta_check = if tta.mode != TtaMode::None {
            let check = tta_self_check(
                &[model.as_ref()],
                data.val.as_ref(),
                data.preprocess.as_ref(),
                &tta,
            )?;
            print_check(dir, &check);
            Some(check)
        } else {
            None
        };
        let p = predict_dataset(
            &[model.as_ref()],
            dataset.as_ref(),
            data.preprocess.as_ref(),
            &tta,
        )?;
        let (loss, accuracy) = p.loss_and_accuracy();
        println!(
            "{}: {split} loss {loss:.4}, {split} accuracy {accuracy:.4} ({} images, tta {}, {} views{})",
            dir.display(),
            p.labels.len(),
            tta.mode,
            tta.mode.num_views(),
            if args.fold_bn {
                ", BatchNorm folded"
            } else {
                ""
            }
        );
        results.push(RunResult {
            run: dir.clone(),
            loss,
            accuracy,
            metrics: p.metrics(run.class_names.clone()),
            tta_check,
            fold_bn: fold,
        });
        sets.push(p);
        models.push(model);
        if first.is_none() {
            first = Some((dir.clone(), key, run));
        }
    }
    let (_, _, run0) = first.expect("clap requires at least one --run");
    let ensemble = if sets.len() > 1 {
        let refs: Vec<&dyn Module> = models.iter().map(|m| m.as_ref()).collect();
        let tta_check = if tta.mode != TtaMode::None {
            let check = tta_self_check(
                &refs,
                run0.data.val.as_ref(),
                run0.data.preprocess.as_ref(),
                &tta,
            )?;
            print_check(Path::new("ensemble"), &check);
            Some(check)
        } else {
            None
        };
        let mean = Predictions::mean(&sets);
        let (loss, accuracy) = mean.loss_and_accuracy();
        println!(
            "ensemble of {}: {split} loss {loss:.4}, {split} accuracy {accuracy:.4}",
            sets.len()
        );
        Some(EnsembleResult {
            loss,
            accuracy,
            metrics: mean.metrics(run0.class_names.clone()),
            tta_check,
        })
    } else {
        None
    };
    let shown = match &ensemble {
        Some(e) => &e.metrics,
        None => &results[0].metrics,
    };
    print_metrics(shown);
    if let Some(out) = &args.out {
        let title = match &ensemble {
            Some(_) => format!("ensemble of {}, {split}", results.len()),
            None => format!("{split} split"),
        };
        plot_confusion(&out.join("confusion.png"), shown, &title)?;
        let report = EvalReport {
            split,
            tta,
            runs: results,
            ensemble,
        };
        let json = serde_json::to_string_pretty(&report).expect("reports serialise");
        write_atomic(&out.join("report.json"), json.as_bytes())?;
        println!("wrote {}/{{report.json, confusion.png}}", out.display());
    }
    Ok(())
}
