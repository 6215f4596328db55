//! Every job file in the repository's `jobs/` directory trains: each `jobs/NAME.toml` is loaded
//! as `nn-train train --config jobs/NAME.toml` would load it (from the repository root, so that
//! relative paths in a job resolve as they do for a user), trained for a few steps, and its
//! validation loss (evaluation mode, a fixed split) must fall.

use std::path::{Path, PathBuf};
use std::time::Instant;

use nn_train::{Session, TrainConfig, evaluate};

/// Optimisation steps per job: enough for every lecture tool to move the loss on the digits.
const STEPS: u64 = 25;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("nn-train sits in the workspace root")
        .to_path_buf()
}

/// The job files, sorted by name.
fn job_files(root: &Path) -> Vec<PathBuf> {
    let mut jobs: Vec<PathBuf> = std::fs::read_dir(root.join("jobs"))
        .expect("jobs/ exists")
        .map(|e| e.expect("readable jobs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    jobs.sort();
    jobs
}

/// Trains `config` for [`STEPS`] steps (over as many epochs as that takes) and returns the
/// validation loss before and after.
fn train_a_few_steps(config: &TrainConfig) -> (f32, f32) {
    let mut s = Session::new(config).expect("the job builds");
    let (before, _) = evaluate(s.model.as_ref(), &s.val_loader).expect("validation runs");
    let mut step = 0;
    'epochs: for epoch in 0.. {
        // One step takes the job's `grad_accumulation` micro-batches, as in `train`.
        let mut batches = s.train_loader.epoch(epoch as u64);
        loop {
            let group: Vec<_> = batches
                .by_ref()
                .take(config.grad_accumulation)
                .map(|b| b.expect("batch loads"))
                .collect();
            if group.is_empty() {
                break;
            }
            s.train_step_group(group, epoch, step, &mut [])
                .expect("the step succeeds");
            step += 1;
            if step == STEPS {
                break 'epochs;
            }
        }
    }
    let (after, _) = evaluate(s.model.as_ref(), &s.val_loader).expect("validation runs");
    (before, after)
}

/// One job per lecture tool, named after it (the nn-train README lists them).
const REQUIRED_JOBS: [&str; 28] = [
    "default",
    "maxout",
    "init-small",
    "init-xavier",
    "init-kaiming",
    "layernorm",
    "groupnorm",
    "instancenorm",
    "dropout",
    "dropconnect",
    "stochastic-depth",
    "fractional-pool",
    "cutout",
    "random-erasing",
    "mixup-cutmix",
    "l1",
    "elastic-net",
    "pca",
    "zca",
    "alexnet-pca-colour",
    "lbfgs",
    "lr-scaling",
    "grad-accumulation",
    "plateau",
    "image-folder",
    "resnet18",
    "vgg",
    "kitchen-sink",
];

#[test]
fn every_lecture_tool_has_its_job_file() {
    let names: Vec<String> = job_files(&repo_root())
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let missing: Vec<&str> = REQUIRED_JOBS
        .iter()
        .copied()
        .filter(|want| !names.iter().any(|n| n == want))
        .collect();
    assert!(missing.is_empty(), "jobs/ lacks {missing:?}");
}

#[test]
fn every_job_file_trains_and_its_loss_falls() {
    let root = repo_root();
    // Job files name paths relative to the repository root, as a user runs them.
    std::env::set_current_dir(&root).expect("the repository root is a directory");
    // jobs/image-folder.toml reads the digits written as PNG files per class.
    nn_train::image_source::write_digits_folder(&root.join("target/digits-folder"))
        .expect("the digits folder is written");
    let jobs = job_files(&root);
    assert!(
        !jobs.is_empty(),
        "no job files in {}",
        root.join("jobs").display()
    );
    let mut failures = Vec::new();
    for path in &jobs {
        let start = Instant::now();
        let config = match TrainConfig::load(path) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        let (before, after) = train_a_few_steps(&config);
        eprintln!(
            "{:<28} val loss {before:.4} -> {after:.4} in {STEPS} steps ({:.1} s)",
            path.file_name().unwrap().to_string_lossy(),
            start.elapsed().as_secs_f32()
        );
        let fell = after < 0.9 * before; // false for NaN too
        if !fell {
            failures.push(format!(
                "{}: validation loss {before} -> {after} after {STEPS} steps (expected a fall of at least 10 %)",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
