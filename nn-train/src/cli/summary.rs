//! `nn-train summary`: the job's model layer by layer, with its parameter count and memory
//! estimate, without training ([`nn_train::ModelConfig::estimate`]).

use std::path::PathBuf;

use nn_train::data::prepare;

use super::{CliResult, load_config};

/// Print the job's model (layers, output shapes, parameters) and its memory estimate.
#[derive(clap::Args)]
pub struct Args {
    /// The job (default: the default job).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Input shape C,H,W instead of the data's (then the data is not loaded).
    #[arg(long, value_delimiter = ',')]
    input: Option<Vec<usize>>,
    /// Class count (with --input; default 10).
    #[arg(long, default_value_t = 10)]
    classes: usize,
    /// Batch size of the memory estimate (default: the job's).
    #[arg(long)]
    batch: Option<usize>,
}

/// Runs the subcommand.
pub fn run(args: Args) -> CliResult {
    let config = load_config(args.config.as_deref())?;
    let (input, classes) = match &args.input {
        Some(s) if s.len() == 3 => ([s[0], s[1], s[2]], args.classes),
        Some(s) => return Err(format!("--input {s:?}: expected C,H,W (three sizes)").into()),
        None => {
            let data = prepare(&config.data, config.seed)?;
            (data.input_shape, data.num_classes)
        }
    };
    let e = config.model.estimate(input, classes)?;
    println!(
        "{} model for {}×{}×{} inputs, {classes} classes",
        config.model.kind(),
        input[0],
        input[1],
        input[2]
    );
    println!(
        "{:<32} {:<44} {:>16} {:>12}",
        "layer", "", "output", "parameters"
    );
    for l in &e.layers {
        let shape = format!("{:?}", l.output);
        println!(
            "{:<32} {:<44} {:>16} {:>12}",
            l.name, l.layer, shape, l.parameters
        );
    }
    let batch = args.batch.unwrap_or(config.batch_size);
    let slots = nn_train::memory_check::optimizer_slots(&config);
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    println!(
        "parameters {} ({:.1} MiB), buffers {}, activations {} values ({:.2} MiB) per sample",
        e.parameters,
        mib(e.parameter_bytes()),
        e.buffers,
        e.activations_per_sample,
        mib(e.activation_bytes_per_sample())
    );
    println!(
        "estimated memory: training step with batch {batch} ({slots} optimizer values per \
         parameter) {:.1} MiB (at most {:.1} MiB); evaluation {:.1} MiB",
        mib(e.training_bytes(batch, slots)),
        mib(e.training_bytes_upper(batch, slots)),
        mib(e.eval_bytes(batch))
    );
    if let Some(b) = nn_train::memory_check::Budget::from_env()? {
        let fits = if e.training_bytes(batch, slots) <= b.bytes {
            "fits"
        } else {
            "does not fit: `train` refuses this job"
        };
        println!(
            "available memory {} ({}): {fits}",
            nn_train::memory_check::human(b.bytes),
            b.source
        );
    }
    Ok(())
}
