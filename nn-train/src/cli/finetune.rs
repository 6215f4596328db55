//! `nn-train finetune`: transfer learning from a run directory of `nn-train train --out DIR`.

use std::path::PathBuf;

use nn_train::preprocess::PREPROCESS_FILE;
use nn_train::run_dir::{OpenMode, RunDir};
use nn_train::transfer::run_checkpoint;
use nn_train::{Session, TrainConfig, TrainError};

use super::{CliResult, Overrides};

/// Fine-tune a trained run on a new job: the checkpoint is RUN_DIR/model.safetensors, the model
/// is the run's (RUN_DIR/config.toml) unless the job sets `[model]`, the input preprocessing is
/// the run's fitted one (RUN_DIR/preprocess.json, not refitted; the job's `data.preprocess`
/// must match it or be left out), the head is re-initialised; prints what was loaded,
/// re-initialised and frozen, then trains like `train`.
#[derive(clap::Args)]
pub struct Args {
    /// The run directory (written by `nn-train train --out DIR`).
    #[arg(long)]
    from: PathBuf,
    /// The job on the new data (TOML, as for `train`); its `[transfer]` block, if any, supplies
    /// the other transfer settings. Omitted: the run's own job.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Freeze the parameters under this prefix (repeatable), e.g. `--freeze layer1`.
    #[arg(long)]
    freeze: Vec<String>,
    /// Freeze everything but the head (train a new classifier on fixed features).
    #[arg(long)]
    freeze_backbone: bool,
    /// Learning-rate multiplier of the parameters outside the head (e.g. 0.1).
    #[arg(long)]
    backbone_lr_mult: Option<f64>,
    #[command(flatten)]
    overrides: Overrides,
    /// The run folder (as for `train --out`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace the run in --out.
    #[arg(long, requires = "out")]
    overwrite: bool,
}

/// The job of `args`: the job file (or the run's), the run's model unless the job file has a
/// `[model]` table, and the transfer settings from the flags (the job's `[transfer]` block may
/// leave out `init_from`).
fn job(args: &Args) -> Result<TrainConfig, Box<dyn std::error::Error>> {
    nn_train::run_dir::verify(&args.from)?;
    let run_config = TrainConfig::load(&args.from.join("config.toml"))?;
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| TrainError::ConfigRead {
                path: path.clone(),
                source,
            })?;
            let parse_error = |e: toml::de::Error| TrainError::ConfigParse {
                path: path.clone(),
                message: e.to_string(),
            };
            let table: toml::Table = toml::from_str(&text).map_err(parse_error)?;
            let sets_model = table.contains_key("model");
            let sets_preprocess = table
                .get("data")
                .and_then(|d| d.as_table())
                .is_some_and(|d| d.contains_key("preprocess"));
            let mut c: TrainConfig = toml::from_str(&text).map_err(parse_error)?;
            if !sets_model {
                c.model = run_config.model;
            }
            if !sets_preprocess {
                c.data.preprocess = run_config.data.preprocess;
            }
            c
        }
        None => run_config,
    };
    // The network was trained on inputs preprocessed with the run's statistics: reuse them
    // rather than fit new ones on the new training split.
    let saved = args.from.join(PREPROCESS_FILE);
    if saved.exists() {
        config.data.preprocess_from = Some(saved);
    } else {
        eprintln!(
            "note: {} has no {PREPROCESS_FILE}; the preprocessing is fitted on the new \
             training split",
            args.from.display()
        );
    }
    let mut t = config.transfer.take().unwrap_or_default();
    t.init_from = run_checkpoint(&args.from);
    t.freeze.extend(args.freeze.iter().cloned());
    t.freeze_backbone |= args.freeze_backbone;
    if let Some(m) = args.backbone_lr_mult {
        t.backbone_lr_mult = m;
    }
    config.transfer = Some(t);
    args.overrides.apply(&mut config)?;
    Ok(config)
}

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    let config = job(&args)?;
    let mode = if args.overwrite {
        OpenMode::Overwrite
    } else {
        OpenMode::New
    };
    let run = args
        .out
        .as_deref()
        .map(|o| RunDir::open(o, mode))
        .transpose()?;
    super::train::run_session(Session::new(&config)?, run, None)
}
