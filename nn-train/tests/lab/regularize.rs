//! `lab regularize`: the variants, the gap, the test-time rule against Monte-Carlo averaging.

use std::path::Path;

use nn_train::TrainConfig;
use nn_train::lab::regularize::{Regularizer, strip, variant};
use nn_train::lab::regularize_run::draw_counts;
use nn_train::lab::{RegularizeLabConfig, run_regularize_lab};

use super::{nn_train, png};

fn job(text: &str) -> TrainConfig {
    TrainConfig::from_toml(text, Path::new("job.toml")).unwrap()
}

const USER_JOB: &str = r#"
epochs = 3
label_smoothing = 0.1
[optimizer]
kind = "sgd"
lr = 0.05
momentum = 0.9
weight_decay = 1e-3
[model]
kind = "mlp"
hidden = [64]
dropout = 0.3
[penalty]
kind = "l1"
strength = 2e-5
[cutout]
size = 3
[mixup]
mixup_alpha = 0.3
[early_stopping]
patience = 2
[pca_lighting]
alpha_std = 0.1
"#;

#[test]
fn the_baseline_has_no_regulariser_and_each_variant_adds_one() {
    let original = job(USER_JOB);
    let base = strip(&original).unwrap();
    assert!(base.penalty.is_none() && base.cutout.is_none() && base.mixup.is_none());
    assert!(base.early_stopping.is_none() && base.augment.is_none());
    assert!(
        base.pca_lighting.is_none(),
        "PCA lighting is random colour noise"
    );
    assert_eq!(base.label_smoothing, 0.0);
    let text = base.to_toml();
    assert!(text.contains("weight_decay = 0.0"), "{text}");
    assert!(text.contains("dropout = 0.0"), "{text}");
    // Everything else is the job's.
    assert_eq!(base.model, strip(&base).unwrap().model);
    assert_eq!(base.epochs, 3);
    let shape = [1, 8, 8];
    let v = |reg, s| variant(&base, &original, reg, s, shape).unwrap();
    // The job's own settings: its weight decay as L2 (λ = wd/2), its L1, dropout, cutout, mixup.
    let l2 = v(Regularizer::L2, None).unwrap();
    assert_eq!(l2.job.penalty.as_ref().unwrap().strength, 5e-4);
    assert!(l2.setting.starts_with("penalty = "), "{}", l2.setting);
    assert_eq!(
        v(Regularizer::L1, None)
            .unwrap()
            .job
            .penalty
            .unwrap()
            .strength,
        2e-5
    );
    let d = v(Regularizer::Dropout, None).unwrap();
    assert_eq!(d.setting, "model.dropout = 0.3");
    assert!(d.job.penalty.is_none() && d.job.mixup.is_none());
    assert_eq!(
        v(Regularizer::Cutout, None)
            .unwrap()
            .job
            .cutout
            .unwrap()
            .size,
        3
    );
    assert_eq!(
        v(Regularizer::Mixup, Some(1.0))
            .unwrap()
            .job
            .mixup
            .unwrap()
            .mixup_alpha,
        1.0
    );
    // The lab's defaults where the job has none: random crops padded by side/8 (≥ 1).
    let a = v(Regularizer::Augment, None).unwrap();
    assert!(a.setting.contains("random_crop") && a.setting.contains("padding = 1"));
    assert!(a.job.augment.is_some());
    // None is the baseline itself.
    assert_eq!(v(Regularizer::None, None).unwrap().job, base);
    // Fractional pooling on an MLP: not applicable, with the reason.
    let reason = v(Regularizer::FractionalPool, None).unwrap_err();
    assert!(reason.contains("pool"), "{reason}");
    assert_eq!(draw_counts(20), vec![1, 2, 4, 8, 16, 20]);
    assert_eq!(draw_counts(0), Vec::<usize>::new());
    assert_eq!(
        Regularizer::parse("Augmentation"),
        Some(Regularizer::Augment)
    );
    assert_eq!(Regularizer::parse("fmp"), Some(Regularizer::FractionalPool));
    assert_eq!(Regularizer::parse("lasso"), None);
}

#[test]
fn an_overfitting_job_shows_its_gap_and_dropout_masks_average_to_the_scaling_rule() {
    // The digits MLP on 300 images: it fits the training set, validation stays behind.
    let mut j = nn_train::lab::regularize::lab_job();
    j.epochs = 15;
    let cfg = RegularizeLabConfig {
        regularizers: vec![
            Regularizer::Dropout,
            Regularizer::L1,
            Regularizer::DropConnect,
            Regularizer::FractionalPool,
        ],
        max_draws: 16,
        ..RegularizeLabConfig::default()
    };
    let mut seen = Vec::new();
    let r = run_regularize_lab(&j, &cfg, &mut |run| seen.push(run.regularizer)).unwrap();
    assert_eq!(
        seen,
        [
            Regularizer::None,
            Regularizer::Dropout,
            Regularizer::L1,
            Regularizer::DropConnect,
            Regularizer::None,
            Regularizer::FractionalPool
        ],
        "fractional pooling runs on the lab's CNN against its own baseline"
    );
    assert_eq!(r.run(Regularizer::FractionalPool).unwrap().model, "cnn");
    assert!(r.baseline_of("cnn").is_some());
    // One random DropConnect mask is worse than the mean-field rule.
    let dc = r
        .run(Regularizer::DropConnect)
        .unwrap()
        .mc
        .as_ref()
        .unwrap();
    assert!(dc.points[0].acc < dc.rule_acc, "{dc:?}");
    // Fractional pooling: K = 1 is the fixed draw itself; more draws differ from it.
    let fmp = r
        .run(Regularizer::FractionalPool)
        .unwrap()
        .mc
        .as_ref()
        .unwrap();
    assert_eq!(fmp.rule, "one fixed draw");
    assert_eq!(fmp.points[0].acc, fmp.rule_acc);
    assert_eq!(fmp.points[0].nll, fmp.rule_nll);
    assert_ne!(fmp.points[4].nll, fmp.rule_nll);
    let none = r.baseline_of("mlp").unwrap();
    let last = none.last().unwrap();
    assert_eq!(none.epochs.len(), 15);
    assert!(last.train_acc >= 0.99, "clean train acc {}", last.train_acc);
    assert!(none.acc_gap().unwrap() > 0.03, "gap {:?}", none.acc_gap());
    assert!(
        none.loss_gap().unwrap() > 0.1,
        "loss gap {:?}",
        none.loss_gap()
    );
    // L1 drives weights to zero.
    let l1 = r.run(Regularizer::L1).unwrap();
    assert!(
        l1.weights.near_zero > 2.0 * none.weights.near_zero,
        "{:?}",
        l1.weights
    );
    assert!(none.mc.is_none() && l1.mc.is_none());
    // One random mask is worse than the scaling rule; 16 masks come within 2 points of it, and
    // their NLL is lower than one mask's.
    let mc = r.run(Regularizer::Dropout).unwrap().mc.as_ref().unwrap();
    assert_eq!(mc.rule, "scaling rule");
    let ks: Vec<usize> = mc.points.iter().map(|p| p.draws).collect();
    assert_eq!(ks, [1, 2, 4, 8, 16]);
    let (one, many) = (mc.points[0], mc.points[4]);
    assert!(
        one.acc < mc.rule_acc,
        "one mask {} vs rule {}",
        one.acc,
        mc.rule_acc
    );
    assert!(
        (many.acc - mc.rule_acc).abs() < 0.02,
        "{} vs {}",
        many.acc,
        mc.rule_acc
    );
    assert!(many.nll < one.nll, "{} vs {}", many.nll, one.nll);
    let verdict = r.verdict.join("\n");
    assert!(verdict.contains("mlp, no regularisation"), "{verdict}");
    assert!(verdict.contains("dropout (mlp): scaling rule"), "{verdict}");
    assert!(verdict.contains("L1: weight RMS"), "{verdict}");
    assert_eq!(
        verdict.matches("mlp, no regularisation").count(),
        1,
        "{verdict}"
    );
    assert!(verdict.contains("cnn, no regularisation"), "{verdict}");
    assert_eq!(
        verdict.matches("mlp, no regularisation").count(),
        1,
        "{verdict}"
    );
    assert!(verdict.contains("cnn, no regularisation"), "{verdict}");
}

#[test]
fn cli_lab_regularize_runs_the_users_job_and_draws_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("job.toml");
    std::fs::write(&config, USER_JOB).unwrap();
    let out = dir.path().join("lab");
    let (ok, stdout, stderr) = nn_train(&[
        "lab",
        "regularize",
        "--config",
        config.to_str().unwrap(),
        "--regularizers",
        "none,dropout,l2",
        "--strength",
        "l2=1e-3",
        "--mc-draws",
        "4",
        "--epochs",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("model.dropout = 0.3"), "{stdout}");
    assert!(stdout.contains("strength = 0.001"), "{stdout}");
    assert!(stdout.contains("no regularisation"), "{stdout}");
    for name in [
        "regularize_curves.png",
        "regularize_gap.png",
        "regularize_mc.png",
    ] {
        let (w, h, inked) = png(&out.join(name));
        assert!(
            w > 300 && h > 200 && inked > 2000,
            "{name}: {w}x{h}, {inked}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("regularize.json")).unwrap())
            .unwrap();
    assert_eq!(json["runs"].as_array().unwrap().len(), 3);
    assert_eq!(json["runs"][1]["mc"]["points"].as_array().unwrap().len(), 3);
    // Bad input: a typed message, exit status 1.
    let (ok, _, stderr) = nn_train(&["lab", "regularize", "--strength", "dropout"]);
    assert!(!ok && stderr.contains("NAME=VALUE"), "{stderr}");
    let (ok, _, stderr) = nn_train(&["lab", "regularize", "--regularizers", "lasso"]);
    assert!(
        !ok && stderr.contains("unknown regulariser `lasso`"),
        "{stderr}"
    );
}
