//! `nn-train augment-grid`: look at augmentations before training with them.

use std::path::PathBuf;

use nn_augment::{Pipeline, Transform};
use nn_train::write_atomic;

use super::CliResult;

/// Render a PNG grid of an image under each transform of an augmentation pipeline, and under
/// the whole pipeline (look at augmentations before training with them).
#[derive(clap::Args)]
pub struct Args {
    /// Output PNG.
    #[arg(long)]
    out: PathBuf,
    /// Pipeline config (JSON or TOML, nn-augment's format); default: the CIFAR-10 recipe
    /// with colour jitter.
    #[arg(long)]
    pipeline: Option<PathBuf>,
    /// Input image (PNG/JPEG); default: a synthetic test image.
    #[arg(long)]
    image: Option<PathBuf>,
    /// Random draws per row.
    #[arg(long, default_value_t = 6)]
    columns: usize,
    /// Seed of the draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

const DEFAULT_PIPELINE: &str = r#"{"transforms": [
    {"type": "random_crop", "size": 32, "padding": 4},
    {"type": "horizontal_flip"},
    {"type": "color_jitter", "brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1}
]}"#;

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    let pipeline = match &args.pipeline {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            let is_toml = p.extension().is_some_and(|x| x == "toml");
            let parsed = if is_toml {
                Pipeline::from_toml(&text)
            } else {
                Pipeline::from_json(&text)
            };
            parsed.map_err(|e| format!("{}: {e}", p.display()))?
        }
        None => Pipeline::from_json(DEFAULT_PIPELINE)?,
    };
    let img = match &args.image {
        Some(p) => {
            let decoded =
                image::open(p).map_err(|e| format!("cannot decode {}: {e}", p.display()))?;
            nn_augment::convert::from_dynamic(&decoded)
        }
        None => nn_augment::synthetic::test_image(32, 32),
    };
    if args.columns == 0 {
        return Err("--columns must be at least 1".into());
    }
    let labels: Vec<String> = pipeline
        .transforms()
        .iter()
        .map(|t| t.to_string())
        .collect();
    let mut rows: Vec<(&str, &dyn Transform)> = labels
        .iter()
        .zip(pipeline.transforms())
        .map(|(l, t)| (l.as_str(), t.as_ref()))
        .collect();
    rows.push(("whole pipeline", &pipeline));
    let grid = nn_augment::grid::render_grid(&img, &rows, args.columns, args.seed);
    let mut png = std::io::Cursor::new(Vec::new());
    grid.write_to(&mut png, image::ImageFormat::Png)?;
    write_atomic(&args.out, png.get_ref())?;
    println!("wrote {}", args.out.display());
    Ok(())
}
