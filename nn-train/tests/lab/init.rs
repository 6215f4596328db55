//! `lab init`: activation statistics under the lecture's initialisations.

use nn_train::TrainConfig;
use nn_train::lab::init::{InitLabConfig, lecture_cases};
use nn_train::lab::stats::OutputKind;
use nn_train::lab::{Health, InitCaseReport, init_job};
use nn_train::zoo::ModelConfig;

use super::{nn_train, png};

fn run(width: usize, depth: usize, names: &[&str]) -> Vec<InitCaseReport> {
    InitLabConfig {
        width,
        depth,
        batch: 16,
        cases: lecture_cases()
            .into_iter()
            .filter(|c| names.contains(&c.name.as_str()))
            .collect(),
        ..InitLabConfig::default()
    }
    .run()
    .unwrap()
}

#[test]
fn small_init_collapses_tanh_while_xavier_keeps_it_healthy() {
    let r = run(512, 8, &["tanh-0.01", "tanh-xavier"]);
    let (small, xavier) = (&r[0], &r[1]);
    let last = |r: &InitCaseReport| r.layers.last().unwrap().std;
    // std·√D = 0.01·√512 = 0.23 per layer: 8 layers take the std below 1e-3.
    assert!(last(small) < 1e-3, "{}", last(small));
    assert_eq!(small.diagnosis.health, Health::Vanishing);
    let f = small.diagnosis.factor.unwrap();
    assert!((0.15..0.3).contains(&f), "per-layer factor {f}");
    // Xavier: healthy range in every layer.
    assert!(
        xavier.layers.iter().all(|l| (0.1..0.9).contains(&l.std)),
        "{:?}",
        xavier.layers
    );
    assert_eq!(xavier.diagnosis.health, Health::Healthy);
    // The histogram behind the picture: all 16·512 values, the collapsed last layer entirely
    // in the two central bins of [−1, 1] (|h| < 0.05), Xavier's spread out.
    for r in &r {
        for l in &r.layers {
            assert_eq!(l.act_hist.total(), 16 * 512);
            assert_eq!((l.act_hist.lo, l.act_hist.hi), (-1.0, 1.0));
        }
    }
    let central = |r: &InitCaseReport| {
        let c = &r.layers.last().unwrap().act_hist.counts;
        (c[19] + c[20]) as f64 / (16.0 * 512.0)
    };
    assert_eq!(central(small), 1.0);
    assert!(central(xavier) < 0.3, "{}", central(xavier));
    // And dL/dW of the first layer is orders of magnitude smaller than with Xavier.
    let w = |r: &InitCaseReport| r.layers[0].weight_grad_rms.unwrap();
    assert!(w(small) < 1e-2 * w(xavier), "{} vs {}", w(small), w(xavier));
}

#[test]
fn std_005_saturates_tanh() {
    // std·√D = 0.05·√2048 = 2.3: a quarter of the first layer's units sit at ±1.
    let r = run(2048, 3, &["tanh-0.05", "tanh-xavier"]);
    assert_eq!(r[0].diagnosis.health, Health::Saturated);
    assert!(
        r[0].layers[0].saturated > 0.15,
        "{}",
        r[0].layers[0].saturated
    );
    assert!(r[0].diagnosis.max_saturated > 0.15);
    assert!(
        r[1].diagnosis.max_saturated < 0.05,
        "{}",
        r[1].diagnosis.max_saturated
    );
    assert!(
        r[0].diagnosis.words.contains("SATURATED"),
        "{}",
        r[0].diagnosis.words
    );
}

#[test]
fn kaiming_keeps_relu_healthy_xavier_halves_its_variance_per_layer() {
    let r = run(1024, 8, &["relu-xavier", "relu-kaiming"]);
    let (xavier, kaiming) = (&r[0], &r[1]);
    assert_eq!(kaiming.diagnosis.health, Health::Healthy);
    let o = kaiming.diagnosis.overall;
    assert!((0.7..1.4).contains(&o), "Kaiming overall {o}");
    assert_eq!(xavier.diagnosis.health, Health::Vanishing);
    // ReLU is positively homogeneous and both nets use the same draws, so the Xavier net is the
    // Kaiming net scaled by (1/√2) per layer: exactly, layer by layer.
    for (l, (a, b)) in xavier.layers.iter().zip(&kaiming.layers).enumerate() {
        let expect = 0.5f64.powf((l + 1) as f64 / 2.0);
        assert!((a.std / b.std / expect - 1.0).abs() < 1e-3, "layer {l}");
        assert_eq!(a.dead, b.dead);
        assert_eq!(a.kind, OutputKind::Rectifier);
    }
    let f = xavier.diagnosis.factor.unwrap();
    assert!((f - 0.5f64.sqrt()).abs() < 1e-3, "{f}");
}

#[test]
fn same_seed_same_statistics() {
    let a = run(128, 3, &["relu-kaiming"]);
    let b = run(128, 3, &["relu-kaiming"]);
    assert_eq!(a, b);
}

#[test]
fn the_users_models_are_walked_layer_by_layer() {
    // The default MLP: two ReLU layers and the logits.
    let r = init_job(&TrainConfig::default(), 64, 20).unwrap();
    let names: Vec<&str> = r.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(
        names[0].contains("ReLU") && names[2] == "logits",
        "{names:?}"
    );
    assert_eq!(r.layers[0].units, 256);
    assert_eq!(r.layers[2].kind, OutputKind::Other);
    assert!(
        r.layers
            .iter()
            .all(|l| l.grad_std > 0.0 && l.weight_grad_rms.is_some())
    );
    assert_eq!(r.layers[0].act_hist.total(), 64 * 256);
    // A ResNet: the stem's ReLU, one block per stage (recorded as rectifiers), the logits.
    let job = TrainConfig {
        model: ModelConfig::resnet(1, 4),
        ..TrainConfig::default()
    };
    let r = init_job(&job, 16, 20).unwrap();
    let kinds: Vec<OutputKind> = r.layers.iter().map(|l| l.kind).collect();
    assert_eq!(
        kinds.len(),
        5,
        "{:?}",
        r.layers.iter().map(|l| &l.name).collect::<Vec<_>>()
    );
    assert!(kinds[..4].iter().all(|k| *k == OutputKind::Rectifier));
    assert!(
        r.layers[1].name.starts_with("layer1.0"),
        "{}",
        r.layers[1].name
    );
    assert_eq!(r.layers[3].units, 16);
}

#[test]
fn cli_lab_init_writes_the_pictures_and_the_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let job = dir.path().join("job.toml");
    std::fs::write(&job, "[model]\nkind = \"mlp\"\nhidden = [32, 32, 32]\n").unwrap();
    let (ok, stdout, stderr) = nn_train(&[
        "lab",
        "init",
        "--width",
        "64",
        "--depth",
        "4",
        "--out",
        d,
        "--config",
        job.to_str().unwrap(),
        "--job-batch",
        "32",
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    for name in [
        "tanh-0.01",
        "tanh-0.05",
        "tanh-xavier",
        "relu-xavier",
        "relu-kaiming",
        "job",
    ] {
        let (w, h, inked) = png(&dir.path().join(format!("init_{name}.png")));
        assert!(
            w > 400 && h > 300 && inked > 1000,
            "{name}: {w}x{h}, {inked}"
        );
        assert!(stdout.contains(&format!("init_{name}.png")), "{stdout}");
    }
    assert!(png(&dir.path().join("init_summary.png")).2 > 1000);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("init.json")).unwrap()).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 6);
    assert_eq!(json[5]["layers"].as_array().unwrap().len(), 4);
    assert!(
        stdout.contains("verdicts:") && stdout.contains("relu-kaiming: HEALTHY"),
        "{stdout}"
    );
}
