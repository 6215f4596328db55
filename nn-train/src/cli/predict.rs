//! `nn-train predict`: the top-k classes of image files under a trained run.

use std::path::PathBuf;

use nn_train::predict::{ImagePrediction, load_image_bounded, predict_image};
use nn_train::{SavedRun, Tta, TtaMode, limit_named, tta_self_check};

use super::CliResult;

/// Predict the classes of image files (PNG or JPEG) with a trained run: each image is read
/// as the run's input (gray or RGB, resized to its H×W), goes through the run's preprocessing
/// (and TTA views), and the k most probable classes are printed with their names.
#[derive(clap::Args)]
pub struct Args {
    /// The run directory (written by `nn-train train --out DIR`).
    #[arg(long)]
    run: PathBuf,
    /// The image files.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// How many classes to show per image.
    #[arg(long, default_value_t = 5)]
    top_k: usize,
    /// Test-time augmentation: none, flip, five-crop, ten-crop or multi-scale, as in `eval` (checked on the
    /// validation split first, with a warning if it lowers accuracy).
    #[arg(long, default_value = "none")]
    tta: TtaMode,
    /// Padding in pixels before the TTA crops (default: max(1, side/8)).
    #[arg(long)]
    tta_pad: Option<usize>,
    /// Print the predictions as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// The largest image accepted, in pixels (width × height from its header, checked before
    /// decoding; PIL's default): a larger image is an error naming the file, and the others
    /// are still predicted.
    #[arg(long, default_value_t = nn_data::DEFAULT_MAX_PIXELS)]
    max_pixels: u64,
}

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    if args.max_pixels == 0 {
        return Err("--max-pixels must be at least 1".into());
    }
    let run = SavedRun::load(&args.run)?;
    let tta = Tta {
        mode: args.tta,
        pad: args.tta_pad,
    };
    tta.validate()?;
    let model = run.model.as_ref();
    if tta.mode != TtaMode::None {
        let check = tta_self_check(
            &[model],
            run.data.val.as_ref(),
            run.data.preprocess.as_ref(),
            &tta,
        )?;
        eprintln!(
            "TTA self-check on the validation split ({} images): accuracy {:.4} without, {:.4} with {}",
            check.images, check.val_acc_plain, check.val_acc_tta, tta.mode
        );
        if let Some(w) = check.warning() {
            eprintln!("{w}");
        }
    }
    let k = args.top_k.clamp(1, run.data.num_classes);
    let mut predictions: Vec<ImagePrediction> = Vec::with_capacity(args.images.len());
    let mut failed = 0;
    for path in &args.images {
        let predicted = load_image_bounded(path, run.data.image_shape, args.max_pixels)
            .map_err(|e| match e {
                nn_train::TrainError::Data(d) => limit_named("--max-pixels")(d),
                e => e,
            })
            .map(|image| ImagePrediction {
                image: path.clone(),
                top: predict_image(
                    &[model],
                    &image,
                    run.data.preprocess.as_ref(),
                    &tta,
                    &run.class_names,
                    k,
                ),
            });
        match predicted {
            Ok(p) => {
                if !args.json {
                    println!("{}", p.image.display());
                    for (rank, c) in p.top.iter().enumerate() {
                        println!(
                            "  {:>2}. {:<24} {:>7.4}  (label {})",
                            rank + 1,
                            c.class,
                            c.probability,
                            c.label
                        );
                    }
                }
                predictions.push(p);
            }
            Err(e) => {
                eprintln!("error: {e}");
                failed += 1;
            }
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&predictions).expect("predictions serialise")
        );
    }
    if failed > 0 {
        return Err(format!("{failed} of {} images could not be read", args.images.len()).into());
    }
    Ok(())
}
