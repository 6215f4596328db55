//! `nn-train export`: write a run's model for inference, with every BatchNorm folded into the
//! convolution or linear layer before it.

use std::path::PathBuf;

use nn_train::SavedRun;
use nn_train::fold_bn::compare_folded;
use nn_train::saved_run::FOLDED_MODEL_FILE;

use super::CliResult;

/// Write the inference model of a run: BatchNorm folded into the preceding conv/linear layer
/// (same predictions, checked on the validation split), as safetensors with PyTorch's names
/// (a folded conv gains a `bias`; the batch norms' tensors are gone).
#[derive(clap::Args)]
pub struct Args {
    /// The run directory (written by `nn-train train --out DIR`).
    #[arg(long)]
    run: PathBuf,
    /// The file to write (default: RUN/model-folded.safetensors).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    let run = SavedRun::load(&args.run)?;
    let mut folded = run.load_model_again()?;
    let batches = super::eval::plain_batches(run.data.val.as_ref(), run.data.preprocess.as_ref())?;
    let report = compare_folded(run.model.as_ref(), folded.as_mut(), &batches, 1);
    println!("{}: {report}", args.run.display());
    if !report.predictions_equal() {
        return Err(format!(
            "the folded model predicts another class on {} of {} validation images; not written",
            report.images - report.same_predictions,
            report.images
        )
        .into());
    }
    let path = args.out.unwrap_or_else(|| args.run.join(FOLDED_MODEL_FILE));
    nn_core::checkpoint::save(folded.as_ref(), &path)?;
    println!(
        "wrote {} ({} tensors; load it into the job's model after `fold_batch_norms()`, \
         e.g. `SavedRun::load_folded`)",
        path.display(),
        folded.state_dict().len()
    );
    Ok(())
}
