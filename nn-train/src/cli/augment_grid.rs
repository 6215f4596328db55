//! `nn-train augment-grid`: look at augmentations before training with them.

use std::path::PathBuf;

use nn_augment::{DynTransform, Pipeline};
use nn_train::augment_grid::{render_grid, save_grid_png, showcase_rows};

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
    #[arg(long, conflicts_with = "showcase")]
    pipeline: Option<PathBuf>,
    /// Show one row per transform family instead of a pipeline.
    #[arg(long)]
    showcase: bool,
    /// Input image (PNG/JPEG); default: a synthetic test image.
    #[arg(long)]
    image: Option<PathBuf>,
    /// Side of the (square) input: the synthetic image's size, or the image resized and
    /// cropped to it; default: 32, or the image's own size.
    #[arg(long)]
    size: Option<u32>,
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
    if args.columns == 0 {
        return Err("--columns must be at least 1".into());
    }
    if args.size.is_some_and(|s| s < 8) {
        return Err("--size must be at least 8".into());
    }
    let img = match &args.image {
        Some(p) => {
            let mut decoded =
                image::open(p).map_err(|e| format!("cannot decode {}: {e}", p.display()))?;
            if let Some(s) = args.size {
                decoded = decoded.resize_to_fill(s, s, image::imageops::FilterType::Triangle);
            }
            nn_augment::convert::from_dynamic(&decoded)
        }
        None => {
            let s = args.size.unwrap_or(32) as usize;
            nn_augment::synthetic::test_image(s, s)
        }
    };
    let rows: Vec<(String, Box<dyn DynTransform>)> = if args.showcase {
        showcase_rows(img.dim().1.min(img.dim().2))
    } else {
        let pipeline = match &args.pipeline {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                let parsed = if p.extension().is_some_and(|x| x == "toml") {
                    nn_augment::PipelineConfig::from_toml(&text)
                } else {
                    nn_augment::PipelineConfig::from_json(&text)
                };
                parsed.map_err(|e| format!("{}: {e}", p.display()))?
            }
            None => nn_augment::PipelineConfig::from_json(DEFAULT_PIPELINE)?,
        };
        let mut rows = Vec::new();
        for t in &pipeline.transforms {
            let built = t.build()?;
            rows.push((built.to_string(), built));
        }
        let whole: Pipeline = pipeline.init()?;
        rows.push(("whole pipeline".to_string(), Box::new(whole)));
        rows
    };
    let refs: Vec<(&str, &dyn DynTransform)> =
        rows.iter().map(|(l, t)| (l.as_str(), t.as_ref())).collect();
    let grid = render_grid(&img, &refs, args.columns, args.seed);
    save_grid_png(&grid, &args.out)?;
    println!(
        "wrote {} ({}x{}, {} rows)",
        args.out.display(),
        grid.width(),
        grid.height(),
        rows.len() + 1
    );
    Ok(())
}
