//! `nn-train`: train, configure and inspect from the command line.
//!
//! ```text
//! nn-train train [--config job.toml] [--epochs N] [--seed S] [--out DIR]
//! nn-train config                       # print the default job as TOML
//! nn-train augment-grid --out grid.png [--pipeline p.json] [--image img.png]
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nn_augment::{Pipeline, Transform};
use nn_train::{TrainConfig, TrainError, train, write_atomic};

#[derive(Parser)]
#[command(
    name = "nn-train",
    version,
    about = "Train neural networks on the CPU (nn workspace)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model (default: an MLP on the embedded UCI digits) and report test accuracy.
    Train {
        /// The job as a TOML file (`nn-train config` prints the defaults); omitted: the default job.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Override the number of epochs.
        #[arg(long)]
        epochs: Option<usize>,
        /// Override the seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Write config.toml, report.json and model.safetensors (best snapshot) into this directory.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print a job config as TOML (the default job, or a file after validation and defaults).
    Config {
        /// A TOML job file to complete with defaults.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Render a PNG grid of an image under each transform of an augmentation pipeline, and under
    /// the whole pipeline (look at augmentations before training with them).
    AugmentGrid {
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
    },
}

const DEFAULT_PIPELINE: &str = r#"{"transforms": [
    {"type": "random_crop", "size": 32, "padding": 4},
    {"type": "horizontal_flip"},
    {"type": "color_jitter", "brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1}
]}"#;

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(path: Option<&Path>) -> Result<TrainConfig, TrainError> {
    match path {
        Some(p) => TrainConfig::load(p),
        None => Ok(TrainConfig::default()),
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Train {
            config,
            epochs,
            seed,
            out,
        } => {
            let mut config = load_config(config.as_deref())?;
            if let Some(e) = epochs {
                config.epochs = e;
            }
            if let Some(s) = seed {
                config.seed = s;
            }
            config.validate()?;
            println!(
                "{:>5} {:>10} {:>10} {:>9} {:>10} {:>9} {:>7}",
                "epoch", "lr", "train loss", "train acc", "val loss", "val acc", "s"
            );
            let trained = train(&config, &mut |e| {
                println!(
                    "{:>5} {:>10.5} {:>10.4} {:>9.4} {:>10.4} {:>9.4} {:>7.2}",
                    e.epoch, e.lr, e.train_loss, e.train_acc, e.val_loss, e.val_acc, e.seconds
                );
            })?;
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
            if let Some(dir) = out {
                write_atomic(&dir.join("config.toml"), config.to_toml().as_bytes())?;
                let json = serde_json::to_string_pretty(r).expect("reports serialise");
                write_atomic(&dir.join("report.json"), json.as_bytes())?;
                nn_core::checkpoint::save(trained.model.as_ref(), dir.join("model.safetensors"))?;
                println!(
                    "wrote {}/{{config.toml, report.json, model.safetensors}}",
                    dir.display()
                );
            }
        }
        Command::Config { config } => print!("{}", load_config(config.as_deref())?.to_toml()),
        Command::AugmentGrid {
            out,
            pipeline,
            image,
            columns,
            seed,
        } => {
            let pipeline = match &pipeline {
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
            let img = match &image {
                Some(p) => {
                    let decoded = image::open(p)
                        .map_err(|e| format!("cannot decode {}: {e}", p.display()))?;
                    nn_augment::convert::from_dynamic(&decoded)
                }
                None => nn_augment::synthetic::test_image(32, 32),
            };
            if columns == 0 {
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
            let grid = nn_augment::grid::render_grid(&img, &rows, columns, seed);
            let mut png = std::io::Cursor::new(Vec::new());
            grid.write_to(&mut png, image::ImageFormat::Png)?;
            write_atomic(&out, png.get_ref())?;
            println!("wrote {}", out.display());
        }
    }
    Ok(())
}
