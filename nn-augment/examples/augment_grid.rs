//! Writes a PNG grid of one image under each transform (or under a pipeline config), so you can
//! look at augmentations before training with them.
//!
//! ```text
//! cargo run -p nn-augment --example augment_grid --release -- \
//!     [--out grid.png] [--seed 0] [--size 64] [--columns 6] [--image photo.png] [--config pipeline.json]
//! ```
//!
//! Without `--image` it uses the built-in synthetic test image; without `--config` it shows every
//! transform family (`nn_augment::showcase_rows`); with `--config` (JSON or TOML) it shows that
//! pipeline, one row per transform and a last row with the whole pipeline.

use nn_augment::{
    Pipeline, PipelineConfig, Transform, convert, render_grid, save_png, showcase_rows, synthetic,
};
use std::path::PathBuf;

fn main() {
    if let Err(e) = run() {
        eprintln!("augment_grid: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut out = PathBuf::from("augment_grid.png");
    let (mut seed, mut size, mut columns) = (0u64, 64usize, 6usize);
    let (mut image, mut config) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--out" => out = PathBuf::from(val()?),
            "--seed" => seed = val()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--size" => size = val()?.parse().map_err(|e| format!("--size: {e}"))?,
            "--columns" => columns = val()?.parse().map_err(|e| format!("--columns: {e}"))?,
            "--image" => image = Some(PathBuf::from(val()?)),
            "--config" => config = Some(PathBuf::from(val()?)),
            "-h" | "--help" => {
                println!(
                    "usage: augment_grid [--out PNG] [--seed N] [--size N] [--columns N] [--image PNG] [--config JSON|TOML]"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if size < 8 || columns == 0 {
        return Err("--size must be ≥ 8 and --columns ≥ 1".into());
    }
    let img = match &image {
        Some(p) => {
            let d = image::open(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            let d = d.resize_to_fill(
                size as u32,
                size as u32,
                image::imageops::FilterType::Triangle,
            );
            convert::from_dynamic(&d)
        }
        None => synthetic::test_image(size, size),
    };
    let rows: Vec<(String, Box<dyn Transform>)> = match &config {
        None => showcase_rows(size),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            let cfg = if p.extension().is_some_and(|e| e == "toml") {
                PipelineConfig::from_toml(&text)
            } else {
                PipelineConfig::from_json(&text)
            }
            .map_err(|e| e.to_string())?;
            let mut rows = Vec::new();
            for t in &cfg.transforms {
                let built = t.build().map_err(|e| e.to_string())?;
                rows.push((built.to_string(), built));
            }
            let whole: Pipeline = cfg.init().map_err(|e| e.to_string())?;
            rows.push(("whole pipeline".to_string(), Box::new(whole)));
            rows
        }
    };
    let refs: Vec<(&str, &dyn Transform)> =
        rows.iter().map(|(l, t)| (l.as_str(), t.as_ref())).collect();
    let grid = render_grid(&img, &refs, columns, seed);
    save_png(&grid, &out).map_err(|e| e.to_string())?;
    println!(
        "wrote {} ({}x{}, {} rows)",
        out.display(),
        grid.width(),
        grid.height(),
        rows.len()
    );
    Ok(())
}
