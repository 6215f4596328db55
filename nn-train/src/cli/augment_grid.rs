//! `nn-train augment-grid`: look at augmentations before training with them.

use std::path::PathBuf;

use nn_augment::{DynTransform, Pipeline};
use nn_train::augment_grid::{grid_size, render_grid, save_grid_png, showcase_rows};
use nn_train::limit_named;

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
    /// The largest input image accepted, in pixels (width × height from its header, checked
    /// before decoding), and the largest grid drawn.
    #[arg(long, default_value_t = nn_data::DEFAULT_MAX_PIXELS)]
    max_pixels: u64,
}

/// The most draws per row.
const MAX_COLUMNS: usize = 64;
/// The largest `--size`.
const MAX_SIZE: u32 = 4096;

const DEFAULT_PIPELINE: &str = r#"{"transforms": [
    {"type": "random_crop", "size": 32, "padding": 4},
    {"type": "horizontal_flip"},
    {"type": "color_jitter", "brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1}
]}"#;

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    if !(1..=MAX_COLUMNS).contains(&args.columns) {
        return Err(format!(
            "invalid --columns {}: expected 1 to {MAX_COLUMNS} draws per row",
            args.columns
        )
        .into());
    }
    if args.size.is_some_and(|s| !(8..=MAX_SIZE).contains(&s)) {
        return Err(format!("--size must be 8 to {MAX_SIZE} pixels").into());
    }
    if args.max_pixels == 0 {
        return Err("--max-pixels must be at least 1".into());
    }
    // The input's size from its header (bounded before anything is decoded).
    let bytes = match &args.image {
        Some(p) => Some(std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?),
        None => None,
    };
    let (h, w) = match (&args.image, &bytes, args.size) {
        (_, _, Some(s)) => (s as usize, s as usize),
        (Some(p), Some(b), None) => {
            let decoder = nn_data::image_decoder(b, p, args.max_pixels)
                .map_err(limit_named("--max-pixels"))?;
            let (w, h) = image::ImageDecoder::dimensions(&decoder);
            (h as usize, w as usize)
        }
        _ => (32, 32),
    };
    let rows: Vec<(String, Box<dyn DynTransform>)> = if args.showcase {
        showcase_rows(h.min(w))
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
    let labels = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let (gw, gh) = grid_size(h.max(w), args.columns, rows.len(), labels);
    if gw.saturating_mul(gh) > args.max_pixels || gw > u64::from(u32::MAX) {
        return Err(format!(
            "the grid of a {w}x{h} image, {} rows of {} draws would be {gw}x{gh} pixels, above \
             --max-pixels {}: give a smaller --size (or fewer --columns)",
            rows.len() + 1,
            args.columns,
            args.max_pixels
        )
        .into());
    }
    let img = match (&args.image, &bytes) {
        (Some(p), Some(b)) => {
            let mut decoded = nn_data::decode_bounded(b, p, args.max_pixels)
                .map_err(limit_named("--max-pixels"))?;
            if let Some(s) = args.size {
                decoded = decoded.resize_to_fill(s, s, image::imageops::FilterType::Triangle);
            }
            nn_augment::convert::from_dynamic(&decoded)
        }
        _ => nn_augment::synthetic::test_image(h, w),
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
