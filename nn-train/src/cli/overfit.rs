//! `nn-train overfit`: can the model memorise a few samples with regularisation off?

use std::path::PathBuf;

use nn_train::overfit::OverfitConfig;

use super::{CliResult, load_config};

/// Sanity check: train on --samples training images with regularisation off (no weight decay,
/// dropout, augmentation, mixup, label smoothing; constant lr) until all of them are classified
/// correctly, or --epochs epochs; say what to fiddle with if 100 % is not reached.
#[derive(clap::Args)]
pub struct Args {
    /// The job as a TOML file; omitted: the default job.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Number of training images.
    #[arg(long, default_value_t = 64)]
    samples: usize,
    /// Maximum number of epochs.
    #[arg(long, default_value_t = 200)]
    epochs: usize,
}

/// Runs the subcommand. Exit status 1 if 100 % training accuracy was not reached.
pub fn run(args: Args) -> CliResult {
    let job = load_config(args.config.as_deref())?;
    let r = OverfitConfig {
        samples: args.samples,
        max_epochs: args.epochs,
    }
    .run(&job)?;
    let c = r.job.data.limit_train.unwrap_or(args.samples);
    println!(
        "overfitting {c} samples (batch {}, lr {}, no regularisation); initial loss {:.4}",
        r.job.batch_size,
        r.job.optimizer.lr(),
        r.initial_loss
    );
    let every = r.history.len().div_ceil(10).max(1);
    for (i, (loss, acc)) in r.history.iter().enumerate() {
        if i % every == 0 || i + 1 == r.history.len() {
            println!(
                "epoch {:>4}: loss {loss:.5}, train accuracy {acc:.4}",
                i + 1
            );
        }
    }
    match r.reached_at {
        Some(e) => {
            println!("OK: 100% training accuracy after {e} epochs");
            Ok(())
        }
        None => {
            println!("FAILED: 100% training accuracy not reached");
            for a in &r.advice {
                println!("  - {a}");
            }
            Err("the model could not overfit the small sample".into())
        }
    }
}
