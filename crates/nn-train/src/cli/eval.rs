//! `nn-train eval`: evaluate a trained run (`nn-train train --out DIR`) on its test split,
//! optionally with test-time augmentation.

use std::path::PathBuf;

use nn_core::checkpoint::{LoadMode, load};
use nn_train::data::prepare;
use nn_train::{TrainConfig, Tta, TtaMode, evaluate_tta};

use super::CliResult;

/// Evaluate a run directory (config.toml + model.safetensors) on the test split, with optional
/// test-time augmentation. The data and its preprocessing are rebuilt from the config (they are
/// deterministic from its seeds).
#[derive(clap::Args)]
pub struct Args {
    /// The directory written by `nn-train train --out DIR`.
    #[arg(long)]
    run: PathBuf,
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

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    let config = TrainConfig::load(&args.run.join("config.toml"))?;
    let data = prepare(&config.data, config.seed)?;
    let model = config.model.build(
        data.input_shape,
        data.num_classes,
        &mut nn_core::rng::stream(config.seed, 1),
    )?;
    load(
        model.as_ref(),
        args.run.join("model.safetensors"),
        LoadMode::Strict,
    )?;
    let tta = Tta {
        mode: args.tta,
        pad: args.tta_pad,
    };
    let (split, dataset) = if args.val {
        ("val", &data.val)
    } else {
        ("test", &data.test)
    };
    let (loss, acc) = evaluate_tta(
        &[model.as_ref()],
        dataset.as_ref(),
        data.preprocess.as_ref(),
        &tta,
    )?;
    println!(
        "{split} loss {loss:.4}, {split} accuracy {acc:.4} ({} images, tta {}, {} views)",
        dataset.len(),
        tta.mode,
        tta.mode.num_views()
    );
    Ok(())
}
