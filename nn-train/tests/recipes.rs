//! The Fashion-MNIST recipes (`jobs/recipes/*.toml`, see BENCHMARKS.md "Fashion-MNIST recipes")
//! stay valid and trainable: each one parses and validates, and — with Debian's
//! `dataset-fashion-mnist` installed — builds on the real data and trains a few steps on 256
//! images (`data.limit_train`, batch 32), with its loss on a fixed batch falling. The full runs
//! take hours on 2 cores and are not part of the tests. Skipped with a message when the package
//! is missing, unless `NN_REQUIRE_SYSTEM_DATASETS` is set (as `.ci/run` does after installing it).

use std::path::{Path, PathBuf};
use std::time::Instant;

use nn_core::{Ctx, Tensor, loss::cross_entropy};
use nn_data::{FASHION_MNIST_DEBIAN_DIR, LoaderConfig};
use nn_optim::ScalingRule;
use nn_train::{DataSource, LrScaling, Session, TrainConfig};

/// Optimisation steps per recipe.
const STEPS: u64 = 12;

fn recipe_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../jobs/recipes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("jobs/recipes exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_three_recipes_parse_and_are_fashion_mnist_jobs() {
    let files = recipe_files();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in ["fashion-mlp", "fashion-cnn", "fashion-resnet"] {
        assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
    }
    for path in &files {
        let job = TrainConfig::load(path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            job.data.source,
            DataSource::FashionMnist(None),
            "{}",
            path.display()
        );
        // Seeds of an ensemble (train --seed S) must share the validation split.
        assert!(
            job.data.split_seed.is_some(),
            "{}: no split_seed",
            path.display()
        );
        // Every recipe uses augmentation (the lecture's main regulariser for images).
        assert!(job.augment.is_some(), "{}: no augmentation", path.display());
    }
}

#[test]
fn every_recipe_trains_a_few_steps_on_fashion_mnist() {
    if !Path::new(FASHION_MNIST_DEBIAN_DIR).is_dir() {
        assert!(
            std::env::var_os("NN_REQUIRE_SYSTEM_DATASETS").is_none(),
            "NN_REQUIRE_SYSTEM_DATASETS is set but {FASHION_MNIST_DEBIAN_DIR} is missing"
        );
        eprintln!("skipped: dataset-fashion-mnist is not installed");
        return;
    }
    for path in recipe_files() {
        let start = Instant::now();
        let mut job = TrainConfig::load(&path).unwrap();
        job.data.limit_train = Some(256);
        // A quarter of the recipe's batch with the lecture's batch-size rule for the learning
        // rate (linear scaling from the recipe's batch), as a user shrinking the batch would.
        assert!(job.lr_scaling.is_none(), "{}", path.display());
        job.lr_scaling = Some(LrScaling {
            base_batch: job.batch_size,
            rule: ScalingRule::Linear,
        });
        job.batch_size = 32;
        let mut s = Session::new(&job).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(s.data.input_shape, [1, 28, 28]);
        // A fixed batch: the 256 training images, preprocessed, not augmented.
        let fixed = nn_train::data::loader(
            s.data.train.clone(),
            LoaderConfig {
                batch_size: 256,
                ..LoaderConfig::default()
            },
            None,
            s.data.preprocess.clone(),
            Vec::new(),
        )
        .unwrap()
        .epoch(0)
        .next()
        .unwrap()
        .unwrap();
        let x = Tensor::from_array(fixed.images.into_dyn());
        // Training mode (batch statistics) with one fixed seed: the same dropout masks before
        // and after, and no dependence on running statistics that a few steps cannot settle.
        let loss = |s: &Session| {
            cross_entropy(&s.model.forward(&x, &mut Ctx::train(7)), &fixed.labels).item()
        };
        let before = loss(&s);
        let mut step = 0;
        'epochs: for epoch in 0.. {
            for batch in s.train_loader.epoch(epoch as u64) {
                let stats = s
                    .train_step(batch.unwrap(), epoch, step, &mut [])
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(stats.loss.is_finite(), "{}", path.display());
                step += 1;
                if step == STEPS {
                    break 'epochs;
                }
            }
        }
        let after = loss(&s);
        eprintln!(
            "{:<20} loss on 256 training images {before:.4} -> {after:.4} in {STEPS} steps ({:.1} s)",
            path.file_name().unwrap().to_string_lossy(),
            start.elapsed().as_secs_f32()
        );
        assert!(
            after < 0.95 * before,
            "{}: loss {before} -> {after} after {STEPS} steps",
            path.display()
        );
    }
}
