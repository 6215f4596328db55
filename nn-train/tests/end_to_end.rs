//! End-to-end: jobs on the embedded digits through the public API and the `nn-train` command.

use std::process::Command;

use nn_train::{EarlyStopping, MixupSettings, ModelConfig, TrainConfig, train};

#[test]
fn default_mlp_job_reaches_95_percent_test_accuracy() {
    let config = TrainConfig {
        epochs: 8,
        ..TrainConfig::default()
    };
    let trained = train(&config, &mut |_| {}).unwrap();
    let r = &trained.report;
    assert!(r.test_acc >= 0.95, "test accuracy {}", r.test_acc);
    // The lecture's first sanity check: the untrained loss is about log C.
    assert!(
        (r.initial_val_loss - r.expected_initial_loss).abs() < 0.15,
        "{r:?}"
    );
    assert_eq!(r.history.len(), 8);
    // Same seed, same result.
    let again = train(&config, &mut |_| {}).unwrap();
    let strip = |h: &[nn_train::EpochRecord]| -> Vec<_> {
        h.iter()
            .map(|e| {
                (
                    e.epoch,
                    e.lr,
                    e.train_loss,
                    e.train_acc,
                    e.val_loss,
                    e.val_acc,
                )
            })
            .collect()
    };
    assert_eq!(strip(&again.report.history), strip(&r.history));
    assert_eq!(again.report.test_acc, r.test_acc);
}

#[test]
fn cnn_with_augmentation_mixup_and_early_stopping() {
    let augment = nn_augment::PipelineConfig::from_json(
        r#"{"transforms": [{"type": "random_crop", "size": 8, "padding": 1}]}"#,
    )
    .unwrap();
    let config = TrainConfig {
        epochs: 12,
        batch_size: 32,
        model: ModelConfig::cnn(vec![16, 32]).with_dropout(0.1),
        augment: Some(augment),
        mixup: Some(MixupSettings {
            mixup_alpha: 0.2,
            ..MixupSettings::default()
        }),
        early_stopping: Some(EarlyStopping { patience: 2 }),
        ..TrainConfig::default()
    };
    let trained = train(&config, &mut |_| {}).unwrap();
    let r = &trained.report;
    assert!(r.test_acc >= 0.85, "{r:?}");
    assert!(r.best_val_acc >= r.history.iter().map(|e| e.val_acc).fold(0.0, f32::max));
    if r.stopped_early {
        assert!(
            r.history.len() < 12 && r.history.len() >= r.best_epoch + 2,
            "{r:?}"
        );
    }
}

#[test]
fn overfitting_a_small_sample_reaches_full_training_accuracy() {
    // The lecture's step 2: with a few batches and no regularisation the model must overfit.
    let mut config = TrainConfig {
        epochs: 40,
        batch_size: 20,
        ..TrainConfig::default()
    };
    config.data.limit_train = Some(100);
    let trained = train(&config, &mut |_| {}).unwrap();
    let last = trained.report.history.last().unwrap();
    assert!(last.train_acc >= 0.99 && last.train_loss < 0.05, "{last:?}");
}

#[test]
fn diverging_learning_rate_is_reported() {
    let toml = "epochs = 3\n[optimizer]\nkind = \"sgd\"\nlr = 1e6\n";
    let config = TrainConfig::from_toml(toml, "job.toml".as_ref()).unwrap();
    let err = train(&config, &mut |_| {}).err().expect("must diverge");
    assert!(err.to_string().contains("diverged"), "{err}");
}

#[test]
fn command_line_trains_writes_outputs_and_rejects_bad_configs() {
    let exe = env!("CARGO_BIN_EXE_nn-train");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(exe)
        .args(["train", "--epochs", "2", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("test accuracy"), "{stdout}");
    for f in ["config.toml", "report.json", "model.safetensors"] {
        assert!(dir.path().join(f).exists(), "{f} missing");
    }
    // The written config is a valid job; the checkpoint loads strictly into the same model.
    let config = TrainConfig::load(&dir.path().join("config.toml")).unwrap();
    assert_eq!(config.epochs, 2);
    let model = config
        .model
        .build([1, 8, 8], 10, &mut nn_core::rng::seeded(9))
        .unwrap();
    nn_core::checkpoint::load(
        model.as_ref(),
        dir.path().join("model.safetensors"),
        nn_core::checkpoint::LoadMode::Strict,
    )
    .unwrap();

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "batch_size = 0\n").unwrap();
    let out = Command::new(exe)
        .args(["train", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("batch_size"), "{stderr}");

    let png = dir.path().join("grid.png");
    let out = Command::new(exe)
        .args(["augment-grid", "--columns", "3", "--out"])
        .arg(&png)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = image::open(&png).unwrap();
    assert!(img.width() > 32 && img.height() > 32);
}

#[test]
fn training_is_bit_identical_on_one_and_two_threads() {
    let mut config = TrainConfig {
        epochs: 2,
        model: ModelConfig::cnn(vec![8, 16]).with_dropout(0.2),
        mixup: Some(MixupSettings::default()),
        ..TrainConfig::default()
    };
    let run = |threads: usize, config: &TrainConfig| {
        let mut config = config.clone();
        config.data.threads = Some(threads);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let trained = pool.install(|| train(&config, &mut |_| {})).unwrap();
        trained.model.state_dict()
    };
    let one = run(1, &config);
    let two = run(2, &config);
    assert_eq!(one, two);
    config.seed = 1;
    assert_ne!(
        run(2, &config),
        two,
        "a different seed must give a different model"
    );
}
