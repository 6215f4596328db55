//! `nn-train eval`: evaluate a trained run (`nn-train train --out DIR`) on its test split,
//! optionally with test-time augmentation; several `--run`s are evaluated alone and as an
//! ensemble (averaged probabilities).

use std::path::{Path, PathBuf};

use nn_core::Module;
use nn_core::checkpoint::{LoadMode, load};
use nn_train::data::{PreparedData, prepare};
use nn_train::{Predictions, TrainConfig, TrainError, Tta, TtaMode, predict_dataset};

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
    /// Test-time augmentation: none, flip, five-crop or ten-crop (crops of the zero-padded image).
    #[arg(long, default_value = "none")]
    tta: TtaMode,
    /// Padding in pixels before the crops (default: max(1, side/8)).
    #[arg(long)]
    tta_pad: Option<usize>,
    /// Evaluate on the validation split instead of the test split.
    #[arg(long)]
    val: bool,
}

/// The job of a run directory and its model with the saved weights.
fn load_run(dir: &Path) -> Result<(TrainConfig, PreparedData, Box<dyn Module>), TrainError> {
    let config = TrainConfig::load(&dir.join("config.toml"))?;
    let data = prepare(&config.data, config.seed)?;
    let model = config.model.build(
        data.input_shape,
        data.num_classes,
        &mut nn_core::rng::stream(config.seed, 1),
    )?;
    load(
        model.as_ref(),
        dir.join("model.safetensors"),
        LoadMode::Strict,
    )?;
    Ok((config, data, model))
}

/// The data a run was split and preprocessed with (the split seed resolved).
fn data_key(c: &TrainConfig) -> nn_train::DataConfig {
    let mut d = c.data.clone();
    d.split_seed = Some(d.split_seed.unwrap_or(c.seed));
    d.threads = None;
    d
}

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    let tta = Tta {
        mode: args.tta,
        pad: args.tta_pad,
    };
    let split = if args.val { "val" } else { "test" };
    let mut sets = Vec::with_capacity(args.run.len());
    let mut first: Option<(PathBuf, nn_train::DataConfig)> = None;
    for dir in &args.run {
        let (config, data, model) = load_run(dir)?;
        let key = data_key(&config);
        match &first {
            Some((dir0, key0)) if *key0 != key => {
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
            Some(_) => {}
            None => first = Some((dir.clone(), key)),
        }
        let dataset = if args.val { &data.val } else { &data.test };
        let p = predict_dataset(
            &[model.as_ref()],
            dataset.as_ref(),
            data.preprocess.as_ref(),
            &tta,
        )?;
        let (loss, acc) = p.loss_and_accuracy();
        println!(
            "{}: {split} loss {loss:.4}, {split} accuracy {acc:.4} ({} images, tta {}, {} views)",
            dir.display(),
            p.labels.len(),
            tta.mode,
            tta.mode.num_views()
        );
        sets.push(p);
    }
    if sets.len() > 1 {
        let (loss, acc) = Predictions::mean(&sets).loss_and_accuracy();
        println!(
            "ensemble of {}: {split} loss {loss:.4}, {split} accuracy {acc:.4}",
            sets.len()
        );
    }
    Ok(())
}
