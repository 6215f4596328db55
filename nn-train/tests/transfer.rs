//! Transfer learning end to end: pretrain on digits 0-4, transfer to digits 5-9 (frozen
//! backbone, re-initialised or mis-shaped head, backbone learning-rate multiplier, gradual
//! unfreezing), typed errors, a PyTorch state dict. The command: `tests/transfer_cli.rs`.

use std::path::{Path, PathBuf};

use nn_core::Module;
use nn_core::checkpoint::read_file;
use nn_optim::{OptimizerConfig, SgdConfig};
use nn_train::{
    Callback, Control, EpochRecord, ModelConfig, Session, TrainConfig, TransferSettings, train,
    train_with,
};

const SOURCE: [usize; 5] = [0, 1, 2, 3, 4];
const TARGET: [usize; 5] = [5, 6, 7, 8, 9];

fn small_mlp(batch_norm: bool) -> ModelConfig {
    let m = ModelConfig::mlp(vec![64, 64]);
    if batch_norm {
        m.with_norm(nn_train::zoo::NormConfig::Batch)
    } else {
        m
    }
}

/// Trains `model` on digits 0-4 and saves it in `dir`.
fn pretrain(dir: &Path, model: ModelConfig, epochs: usize) -> PathBuf {
    let mut config = TrainConfig {
        epochs,
        model,
        ..TrainConfig::default()
    };
    config.data.classes = Some(SOURCE.to_vec());
    let trained = train(&config, &mut |_| {}).unwrap();
    let path = dir.join("source.safetensors");
    nn_core::checkpoint::save(trained.model.as_ref(), &path).unwrap();
    path
}

/// A job on digits 5-9 with `limit` training images.
fn target_job(model: ModelConfig, limit: Option<usize>, epochs: usize) -> TrainConfig {
    let mut config = TrainConfig {
        epochs,
        model,
        ..TrainConfig::default()
    };
    config.data.classes = Some(TARGET.to_vec());
    config.data.limit_train = limit;
    config
}

fn values(model: &dyn Module) -> Vec<(String, Vec<f32>)> {
    model
        .state_dict()
        .into_iter()
        .map(|(n, a)| (n, a.iter().copied().collect()))
        .collect()
}

#[test]
fn frozen_backbone_is_bit_identical_and_the_head_trains() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = pretrain(dir.path(), small_mlp(true), 4);
    let mut config = target_job(small_mlp(true), Some(100), 3);
    config.transfer = Some(TransferSettings {
        freeze_backbone: true,
        ..TransferSettings::from_checkpoint(&ckpt)
    });
    let fresh = values(Session::new(&config).unwrap().model.as_ref());
    let trained = train(&config, &mut |_| {}).unwrap();
    let source: Vec<(String, Vec<f32>)> = read_file(&ckpt)
        .unwrap()
        .into_iter()
        .map(|(n, a)| (n, a.iter().copied().collect()))
        .collect();
    let after = values(trained.model.as_ref());
    // Flatten, Linear 1, BN 2, ReLU, Linear 4, BN 5, ReLU, Linear 7 (the head).
    for ((name, v), (fresh_name, f)) in after.iter().zip(&fresh) {
        assert_eq!(name, fresh_name);
        if name.starts_with("7.") {
            assert_ne!(v, f, "{name}: the head must train");
        } else {
            let (_, s) = source.iter().find(|(n, _)| n == name).unwrap();
            // Weights and BN running statistics (evaluation mode) are untouched.
            assert_eq!(v, s, "{name}: frozen tensors must be bit-identical");
        }
    }
    // Well above chance (0.2): the 0-4 features carry information about 5-9.
    assert!(trained.report.test_acc > 0.35, "{:?}", trained.report);
    // Without `frozen_eval` the frozen batch norms run in training mode: their weights stay,
    // their running statistics follow the new data.
    let mut train_mode = config.clone();
    if let Some(t) = train_mode.transfer.as_mut() {
        t.frozen_eval = false;
    }
    let after = values(train(&train_mode, &mut |_| {}).unwrap().model.as_ref());
    for (name, v) in &after {
        let (_, s) = source.iter().find(|(n, _)| n == name).unwrap();
        if name.ends_with("running_mean") || name.ends_with("num_batches_tracked") {
            assert_ne!(v, s, "{name}");
        } else if name.starts_with("1.") || name.starts_with("4.") {
            assert_eq!(v, s, "{name}");
        }
    }
}

#[test]
fn mis_shaped_head_is_reinitialised_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = pretrain(dir.path(), small_mlp(false), 2);
    let mut config = target_job(small_mlp(false), None, 1);
    config.data.classes = Some(vec![5, 6, 7]);
    config.transfer = Some(TransferSettings {
        reinit: Some(vec![]),
        ..TransferSettings::from_checkpoint(&ckpt)
    });
    let session = Session::new(&config).unwrap();
    let report = session.transfer.clone().unwrap();
    assert_eq!(report.loaded, ["1.weight", "1.bias", "3.weight", "3.bias"]);
    assert!(report.reinitialised.is_empty());
    let reshaped: Vec<(&str, &[usize], &[usize])> = report
        .reshaped
        .iter()
        .map(|m| (m.name.as_str(), &m.expected[..], &m.found[..]))
        .collect();
    assert_eq!(
        reshaped,
        [
            ("5.weight", &[3, 64][..], &[5, 64][..]),
            ("5.bias", &[3][..], &[5][..])
        ]
    );
    let text = report.to_string();
    assert!(
        text.contains("mis-shaped, re-initialised: 5.weight"),
        "{text}"
    );
    // The head keeps exactly its fresh initialisation; the rest is the checkpoint's.
    let scratch = Session::new(&TrainConfig {
        transfer: None,
        ..config.clone()
    })
    .unwrap();
    let source = read_file(&ckpt).unwrap();
    for ((name, v), (_, f)) in values(session.model.as_ref())
        .into_iter()
        .zip(values(scratch.model.as_ref()))
    {
        if name.starts_with("5.") {
            assert_eq!(v, f, "{name}");
        } else {
            let s = &source.iter().find(|(n, _)| *n == name).unwrap().1;
            assert_eq!(v, s.iter().copied().collect::<Vec<_>>(), "{name}");
        }
    }
}

#[test]
fn prefixes_that_match_nothing_and_missing_tensors_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = pretrain(dir.path(), small_mlp(false), 1);
    let job = |t: TransferSettings, model| {
        let mut c = target_job(model, None, 1);
        c.transfer = Some(t);
        Session::new(&c).err().expect("must fail").to_string()
    };
    let base = TransferSettings::from_checkpoint(&ckpt);
    let e = job(
        TransferSettings {
            freeze: vec!["1".into(), "features".into()],
            ..base.clone()
        },
        small_mlp(false),
    );
    assert!(
        e.contains("transfer.freeze")
            && e.contains("\"features\"")
            && e.contains("source.safetensors"),
        "{e}"
    );
    // "1" is a module, "1.w" is not a dotted prefix of `1.weight`.
    let e = job(
        TransferSettings {
            reinit: Some(vec!["1.w".into()]),
            ..base.clone()
        },
        small_mlp(false),
    );
    assert!(
        e.contains("transfer.reinit") && e.contains("\"1.w\""),
        "{e}"
    );
    // A deeper model: its fourth hidden layer (`7`) is not in the checkpoint (its third, `5`,
    // is the checkpoint's head, mis-shaped, so re-initialised and reported).
    let deeper = ModelConfig::mlp(vec![64, 64, 64, 64]);
    let e = job(base.clone(), deeper);
    assert!(
        e.contains("lacks 2 tensor(s)")
            && e.contains("7.weight, 7.bias")
            && e.contains("source.safetensors"),
        "{e}"
    );
    let e = job(
        TransferSettings {
            freeze: vec!["5".into()],
            ..base.clone()
        },
        small_mlp(false),
    );
    assert!(
        e.contains("`5.weight` would be frozen") && e.contains("transfer.reinit"),
        "{e}"
    );
    let mut three = target_job(small_mlp(false), None, 1);
    three.data.classes = Some(vec![5, 6, 7]);
    three.transfer = Some(TransferSettings {
        reinit: Some(vec![]),
        freeze: vec!["5".into()],
        ..base.clone()
    });
    let e = Session::new(&three).err().unwrap().to_string();
    assert!(e.contains("shape [3, 64] in the model, [5, 64]"), "{e}");
    let e = job(
        TransferSettings {
            freeze: vec![String::new()],
            reinit: Some(vec![]),
            ..base.clone()
        },
        small_mlp(false),
    );
    assert!(e.contains("nothing would be trained"), "{e}");
    let e = job(
        TransferSettings::from_checkpoint(dir.path().join("nope.safetensors")),
        small_mlp(false),
    );
    assert!(e.contains("nope.safetensors"), "{e}");
}

#[test]
fn a_pytorch_state_dict_loads_with_a_new_head() {
    // tests/fixtures/gen_transfer_torch.py: nn.Sequential(Flatten, Linear(64, 16), ReLU,
    // Linear(16, 10)) saved by safetensors.torch.
    let ckpt = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/torch_mlp16_10classes.safetensors"
    ));
    let model = ModelConfig::mlp(vec![16]);
    let mut config = target_job(model, Some(50), 2);
    config.transfer = Some(TransferSettings {
        reinit: Some(vec![]),
        freeze_backbone: true,
        ..TransferSettings::from_checkpoint(ckpt)
    });
    let session = Session::new(&config).unwrap();
    let report = session.transfer.as_ref().unwrap();
    assert_eq!(report.head, ["3"]);
    assert_eq!(report.loaded, ["1.weight", "1.bias"]);
    assert_eq!(report.frozen, ["1.weight", "1.bias"]);
    let shapes: Vec<_> = report
        .reshaped
        .iter()
        .map(|m| (m.name.as_str(), m.found.clone()))
        .collect();
    assert_eq!(shapes, [("3.weight", vec![10, 16]), ("3.bias", vec![10])]);
    let torch = read_file(ckpt).unwrap();
    let w = &torch.iter().find(|(n, _)| n == "1.weight").unwrap().1;
    assert_eq!(session.model.named_parameters()[0].1.value().to_owned(), *w);
    train(&config, &mut |_| {}).unwrap();
}

fn plain_sgd(lr: f64) -> OptimizerConfig {
    OptimizerConfig::Sgd(SgdConfig {
        lr,
        ..SgdConfig::default()
    })
}

#[test]
fn backbone_lr_mult_zero_equals_freezing_and_scales_the_group_rates() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = pretrain(dir.path(), small_mlp(false), 2);
    let run = |t: TransferSettings| {
        let mut c = target_job(small_mlp(false), Some(60), 2);
        c.optimizer = plain_sgd(0.05);
        c.no_decay_on_1d = false;
        c.transfer = Some(t);
        values(train(&c, &mut |_| {}).unwrap().model.as_ref())
    };
    let frozen = run(TransferSettings {
        freeze_backbone: true,
        ..TransferSettings::from_checkpoint(&ckpt)
    });
    let zero = run(TransferSettings {
        backbone_lr_mult: 0.0,
        ..TransferSettings::from_checkpoint(&ckpt)
    });
    assert_eq!(frozen, zero);
    // Hand check of the per-group rates: the head at the base rate, the backbone at 0.1x.
    let mut c = target_job(small_mlp(false), Some(60), 2);
    c.transfer = Some(TransferSettings {
        backbone_lr_mult: 0.1,
        ..TransferSettings::from_checkpoint(&ckpt)
    });
    let s = Session::new(&c).unwrap();
    let opt = &s.optimizer;
    assert_eq!(
        opt.group_labels(),
        ["default", "backbone_no_decay", "backbone", "no_decay"]
    );
    // Base rates of the schedule (the warm-up starts every group at 0).
    let base = s.scheduler.base_lrs().to_vec();
    assert_eq!(base[0], 0.1);
    assert!((base[1] - 0.01).abs() < 1e-15 && (base[2] - 0.01).abs() < 1e-15);
    assert_eq!(base[3], 0.1);
    assert_eq!(opt.weight_decay(1), 0.0);
    assert!(opt.weight_decay(2) > 0.0);
}

/// Records the first backbone weight after every epoch.
struct Watch(Vec<Vec<f32>>);

impl Callback for Watch {
    fn on_epoch(&mut self, _record: &EpochRecord, model: &dyn Module) -> Control {
        let w = model.named_parameters()[0]
            .1
            .value()
            .iter()
            .copied()
            .collect();
        self.0.push(w);
        Control::Continue
    }
}

#[test]
fn gradual_unfreezing_trains_the_backbone_from_the_given_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = pretrain(dir.path(), small_mlp(false), 2);
    let mut c = target_job(small_mlp(false), Some(60), 3);
    c.transfer = Some(TransferSettings {
        freeze_backbone: true,
        unfreeze_after_epochs: Some(2),
        ..TransferSettings::from_checkpoint(&ckpt)
    });
    let source: Vec<f32> = read_file(&ckpt)
        .unwrap()
        .into_iter()
        .find(|(n, _)| n == "1.weight")
        .unwrap()
        .1
        .iter()
        .copied()
        .collect();
    let mut watch = Watch(Vec::new());
    train_with(&c, &mut [&mut watch]).unwrap();
    assert_eq!(watch.0[0], source);
    assert_eq!(watch.0[1], source);
    assert_ne!(watch.0[2], source);
}

/// Test accuracy on `classes` from `limit` training images: [from scratch, frozen backbone
/// from `ckpt` + new head] (the settings of `examples/transfer_digits.rs`).
fn scratch_vs_frozen(ckpt: &Path, classes: &[usize], limit: usize, seed: u64) -> [f32; 2] {
    let job = |t: Option<TransferSettings>| {
        let mut c = target_job(small_mlp(false), Some(limit), 30);
        c.batch_size = 16;
        c.seed = seed;
        c.data.classes = Some(classes.to_vec());
        c.transfer = t;
        train(&c, &mut |_| {}).unwrap().report.test_acc
    };
    [
        job(None),
        job(Some(TransferSettings {
            freeze_backbone: true,
            ..TransferSettings::from_checkpoint(ckpt)
        })),
    ]
}

/// The demonstration, measured (README "Transfer learning"): features of a small 5-class
/// source do not beat training from scratch on the 5 *other* digits (the lecture's "very
/// different data set" case), but they are far above chance, and on data like the source's
/// (the same classes, new head, 25 images) the frozen features win on every seed.
#[test]
fn frozen_features_from_digits_0_4() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = pretrain(dir.path(), small_mlp(false), 10);
    for seed in 0..3 {
        let [scratch, frozen] = scratch_vs_frozen(&ckpt, &TARGET, 100, seed);
        eprintln!("5-9, 100 images, seed {seed}: scratch {scratch:.3}, frozen {frozen:.3}");
        assert!(
            frozen > 0.55,
            "linear probe on 0-4 features: {frozen} (chance 0.2)"
        );
        let [scratch, frozen] = scratch_vs_frozen(&ckpt, &SOURCE, 25, seed);
        eprintln!("0-4, 25 images, seed {seed}: scratch {scratch:.3}, frozen {frozen:.3}");
        assert!(
            frozen > scratch,
            "seed {seed}: frozen {frozen} <= scratch {scratch}"
        );
    }
}

#[test]
fn reinitialising_everything_reproduces_training_from_scratch() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = pretrain(dir.path(), small_mlp(false), 1);
    let scratch = target_job(small_mlp(false), Some(60), 2);
    let mut all_new = scratch.clone();
    all_new.transfer = Some(TransferSettings {
        reinit: Some(vec![String::new()]),
        ..TransferSettings::from_checkpoint(&ckpt)
    });
    let a = train(&scratch, &mut |_| {}).unwrap();
    let b = train(&all_new, &mut |_| {}).unwrap();
    assert_eq!(values(a.model.as_ref()), values(b.model.as_ref()));
}
