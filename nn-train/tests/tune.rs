//! Hyperparameter search (`nn_train::tune`): sampling statistics, path errors, the explode
//! kill, determinism across parallel settings, an end-to-end search on the digits and the
//! `nn-train tune` command.

use std::path::Path;
use std::process::Command;

use nn_train::TrainConfig;
use nn_train::tune::{
    Dimension, SearchSettings, SearchSpace, TrialRecord, TrialStatus, TuneError, apply_sample,
    narrow_dimension, run_trial, search, trial_rng, write_results,
};
use proptest::prelude::*;

fn space(text: &str) -> SearchSpace {
    SearchSpace::from_toml(text, Path::new("space.toml")).unwrap()
}

/// A fast job: the default MLP on 384 digits, batches of 64.
fn small_job() -> TrainConfig {
    let mut job = TrainConfig {
        epochs: 2,
        ..TrainConfig::default()
    };
    job.data.limit_train = Some(384);
    job
}

#[test]
fn log_uniform_is_uniform_in_log_space() {
    let d = Dimension::LogUniform {
        low: 1e-4,
        high: 1.0,
    };
    let n = 8000;
    let mut decades = [0usize; 4];
    let mut sum_log = 0.0;
    for k in 0..n {
        let x = d.sample(&mut trial_rng(3, 1, k)).as_float().unwrap();
        assert!((1e-4..=1.0).contains(&x), "{x}");
        let l = x.log10();
        sum_log += l;
        decades[((l + 4.0).floor() as usize).min(3)] += 1;
    }
    // Uniform in log space: a quarter per decade, mean log10 = -2.
    for c in decades {
        let frac = c as f64 / n as f64;
        assert!((frac - 0.25).abs() < 0.03, "{decades:?}");
    }
    assert!((sum_log / n as f64 + 2.0).abs() < 0.05);
    // A plain uniform on the same range would put almost everything in the top decade.
    let u = Dimension::Uniform {
        low: 1e-4,
        high: 1.0,
    };
    let top = (0..1000)
        .filter(|&k| u.sample(&mut trial_rng(3, 1, k)).as_float().unwrap() > 0.1)
        .count();
    assert!(top > 850, "{top}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn samples_stay_inside_their_ranges(
        a in -5.0f64..5.0, w in 1e-3f64..10.0, seed in 0u64..1000,
        ia in 1i64..100, iw in 0i64..1000,
    ) {
        let dims = [
            Dimension::LogUniform { low: a.exp(), high: (a + w).exp() },
            Dimension::Uniform { low: a, high: a + w },
            Dimension::IntUniform { low: ia - 50, high: ia - 50 + iw },
            Dimension::LogIntUniform { low: ia, high: ia + iw },
        ];
        for d in &dims {
            d.validate("x").unwrap();
            for k in 0..20 {
                let v = d.sample(&mut trial_rng(seed, 1, k));
                let inside = match (d, &v) {
                    (Dimension::LogUniform { low, high } | Dimension::Uniform { low, high },
                     toml::Value::Float(x)) => low <= x && x <= high,
                    (Dimension::IntUniform { low, high } | Dimension::LogIntUniform { low, high },
                     toml::Value::Integer(x)) => low <= x && x <= high,
                    _ => false,
                };
                prop_assert!(inside, "{} gave {}", d, v);
            }
        }
    }

    #[test]
    fn narrowing_stays_inside_and_covers_the_best(
        a in -8.0f64..2.0, w in 1e-2f64..8.0, t in proptest::collection::vec(0.0f64..1.0, 1..5),
        widen in 1e-3f64..1.0,
    ) {
        let (low, high) = (a.exp(), (a + w).exp());
        for d in [Dimension::LogUniform { low, high }, Dimension::Uniform { low, high }] {
            let values: Vec<toml::Value> = t
                .iter()
                .map(|&f| {
                    let x = if d.is_log() { (a + f * w).exp() } else { low + f * (high - low) };
                    toml::Value::Float(x.clamp(low, high))
                })
                .collect();
            let n = narrow_dimension(&d, &values, widen);
            n.validate("x").unwrap();
            let (Dimension::LogUniform { low: nl, high: nh } | Dimension::Uniform { low: nl, high: nh }) = n
            else { panic!("kind changed: {n}") };
            prop_assert!(low <= nl && nh <= high, "{} narrowed to {}", d, n);
            for v in &values {
                let x = v.as_float().unwrap();
                prop_assert!(nl <= x && x <= nh, "{} not in {}", x, n);
            }
        }
        let d = Dimension::IntUniform { low: -10, high: 90 };
        let values: Vec<toml::Value> =
            t.iter().map(|&f| toml::Value::Integer(-10 + (f * 100.0) as i64)).collect();
        let Dimension::IntUniform { low, high } = narrow_dimension(&d, &values, widen) else {
            panic!("kind changed")
        };
        prop_assert!(-10 <= low && low <= high && high <= 90);
        prop_assert!(values.iter().all(|v| (low..=high).contains(&v.as_integer().unwrap())));
    }
}

#[test]
fn path_errors_name_the_path_and_value() {
    let base = small_job();
    let sample = [(
        "optimizer.learning_rate".to_string(),
        toml::Value::from(0.1),
    )]
    .into();
    let e = apply_sample(&base, &sample).unwrap_err();
    assert!(matches!(e, TuneError::UnknownPath { .. }), "{e:?}");
    assert!(e.to_string().contains("`optimizer.learning_rate`"), "{e}");
    assert!(e.to_string().contains("0.1"), "{e}");

    // A search fails before training anything if a dimension cannot be applied.
    let bad = space(r#"dimensions.batch_size = { uniform = { low = 16.0, high = 128.0 } }"#);
    let mut trials = 0;
    let e = search(&base, &bad, &SearchSettings::default(), &mut |_| {
        trials += 1
    })
    .unwrap_err();
    assert!(matches!(e, TuneError::WrongType { .. }), "{e:?}");
    assert!(e.to_string().contains("`batch_size`") && e.to_string().contains("16"));
    assert_eq!(trials, 0);
    // Bounds that the config rejects are caught the same way.
    let bad = space(r#"dimensions.label_smoothing = { uniform = { low = 0.0, high = 1.5 } }"#);
    let e = search(&base, &bad, &SearchSettings::default(), &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("label_smoothing"), "{e}");
}

#[test]
fn an_exploding_learning_rate_is_killed_early_and_marked() {
    let sample = [("optimizer.lr".to_string(), toml::Value::from(1e3))].into();
    let t = run_trial(&small_job(), &sample, 1, 0, 3, 3.0);
    assert_eq!(t.status, TrialStatus::Exploded, "{t:?}");
    assert_eq!(t.epochs_run, 1, "killed in the first epoch: {t:?}");
    assert!(
        t.message.as_ref().unwrap().contains("x first loss"),
        "{t:?}"
    );
    // The same trial with a sane learning rate runs to the end.
    let sample = [("optimizer.lr".to_string(), toml::Value::from(0.05))].into();
    let t = run_trial(&small_job(), &sample, 1, 0, 1, 3.0);
    assert_eq!((t.status, t.epochs_run), (TrialStatus::Ok, 1), "{t:?}");
}

fn without_seconds(trials: &[TrialRecord]) -> Vec<TrialRecord> {
    trials
        .iter()
        .map(|t| TrialRecord {
            seconds: 0.0,
            ..t.clone()
        })
        .collect()
}

#[test]
fn same_seed_same_trials_with_one_or_two_threads() {
    let s = space(
        r#"[dimensions]
        "optimizer.lr" = { log_uniform = { low = 1e-3, high = 10.0 } }
        "optimizer.weight_decay" = { log_uniform = { low = 1e-6, high = 1e-2 } }"#,
    );
    let mut job = small_job();
    job.data.limit_train = Some(192);
    let run = |parallel| {
        let settings = SearchSettings {
            trials: 3,
            epochs: 1,
            refine_epochs: Some(1),
            top_k: 1,
            parallel,
            seed: 11,
            ..SearchSettings::default()
        };
        search(&job, &s, &settings, &mut |_| {}).unwrap()
    };
    let (a, b) = (run(1), run(2));
    assert_eq!(a.trials.len(), 3 + 1 + 3);
    assert_eq!(without_seconds(&a.trials), without_seconds(&b.trials));
    assert_eq!(a.spaces, b.spaces);
    assert_eq!(a.best_config, b.best_config);
}

#[test]
fn coarse_to_fine_search_on_digits_finds_a_good_config() {
    let s = space(
        r#"[dimensions]
        "optimizer.lr" = { log_uniform = { low = 1e-3, high = 1e3 } }
        "batch_size" = { choice = [32, 64] }"#,
    );
    let mut job = small_job();
    job.data.limit_train = Some(512);
    let settings = SearchSettings {
        trials: 4,
        epochs: 1,
        refine_epochs: Some(2),
        top_k: 2,
        seed: 1,
        ..SearchSettings::default()
    };
    let mut seen = Vec::new();
    let result = search(&job, &s, &settings, &mut |t| seen.push(t.trial)).unwrap();
    eprintln!("{}", nn_train::tune::format_table(&result.trials, 20));
    seen.sort();
    assert_eq!(seen, (0..result.trials.len()).collect::<Vec<_>>());
    let best = result.best().expect("a trial ended ok");
    assert_eq!((best.stage, best.epochs), (2, 2));
    assert!(best.val_acc.unwrap() > 0.9, "{best:?}");
    // Stage 2's range lies inside stage 1's and holds the stage-1 winners.
    let (Dimension::LogUniform { low, high }, Dimension::LogUniform { low: l2, high: h2 }) = (
        &result.spaces[0].dimensions["optimizer.lr"],
        &result.spaces[1].dimensions["optimizer.lr"],
    ) else {
        panic!("{:?}", result.spaces)
    };
    assert!(low <= l2 && h2 <= high && (l2, h2) != (low, high));
    // Ranked by validation accuracy among the trials that ended ok.
    let ok: Vec<f32> = result
        .trials
        .iter()
        .skip(1)
        .filter(|t| t.status == TrialStatus::Ok)
        .filter_map(|t| t.val_acc)
        .collect();
    assert!(ok.windows(2).all(|w| w[0] >= w[1]), "{ok:?}");

    let dir = tempfile::tempdir().unwrap();
    write_results(dir.path(), &result).unwrap();
    let best_job = TrainConfig::load(&dir.path().join("best.toml")).unwrap();
    assert_eq!(Some(&best_job), result.best_config.as_ref());
    assert_eq!(
        best_job.batch_size as i64,
        best.values["batch_size"].as_integer().unwrap()
    );
    let json: Vec<TrialRecord> =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("trials.json")).unwrap())
            .unwrap();
    assert_eq!(json, result.trials);
    let csv = std::fs::read_to_string(dir.path().join("trials.csv")).unwrap();
    assert_eq!(csv.lines().count(), result.trials.len() + 1);
    assert!(csv.lines().next().unwrap().contains("optimizer.lr"));
    let spaces = std::fs::read_to_string(dir.path().join("spaces.toml")).unwrap();
    // Each stage's section is a space file of its own.
    let stages: toml::Table = toml::from_str(&spaces).unwrap();
    for (i, space) in result.spaces.iter().enumerate() {
        let section = toml::to_string(&stages[&format!("stage{}", i + 1)]).unwrap();
        assert_eq!(
            &SearchSpace::from_toml(&section, Path::new("s")).unwrap(),
            space
        );
    }
}

#[test]
fn cli_prints_an_example_space_and_runs_a_search() {
    let exe = env!("CARGO_BIN_EXE_nn-train");
    let out = Command::new(exe)
        .args(["tune", "--example-space"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let example = String::from_utf8(out.stdout).unwrap();
    space(&example);

    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.toml");
    let mut config = small_job();
    config.data.limit_train = Some(128);
    std::fs::write(&job, config.to_toml()).unwrap();
    let space_file = dir.path().join("space.toml");
    std::fs::write(
        &space_file,
        r#"dimensions."optimizer.lr" = { log_uniform = { low = 1e-2, high = 0.2 } }"#,
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let args = |extra: &[&str]| {
        let mut v: Vec<String> = [
            "tune",
            "--config",
            job.to_str().unwrap(),
            "--space",
            space_file.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let out = Command::new(exe)
        .args(args(&[
            "--trials", "2", "--epochs", "1", "--stages", "1", "--seed", "4",
        ]))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let progress = stdout
        .lines()
        .filter(|l| l.starts_with("stage 1 trial"))
        .count();
    assert_eq!(progress, 2, "{stdout}");
    assert!(
        stdout.contains("rank") && stdout.contains("best: stage 1"),
        "{stdout}"
    );
    for f in ["trials.json", "trials.csv", "spaces.toml", "best.toml"] {
        assert!(out_dir.join(f).exists(), "{f}");
    }

    // Bad settings and bad paths fail with a message naming them.
    let out = Command::new(exe)
        .args(args(&["--parallel", "0"]))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("parallel"));
    std::fs::write(
        &space_file,
        r#"dimensions."optimizer.lrr" = { log_uniform = { low = 1e-2, high = 0.2 } }"#,
    )
    .unwrap();
    let out = Command::new(exe).args(args(&[])).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("`optimizer.lrr`"));
}

#[test]
fn a_diverged_trial_is_recorded_and_the_grid_search_goes_on() {
    let s = space(
        r#"[dimensions]
        "optimizer.lr" = { choice = [1e30, 0.05] }
        "optimizer.momentum" = { uniform = { low = 0.5, high = 0.9 } }"#,
    );
    let mut job = small_job();
    job.data.limit_train = Some(128);
    let settings = SearchSettings {
        strategy: nn_train::tune::Strategy::Grid { points: 2 },
        epochs: 1,
        stages: 1,
        ..SearchSettings::default()
    };
    let result = search(&job, &s, &settings, &mut |_| {}).unwrap();
    assert_eq!(result.trials.len(), 4);
    let status = |lr: f64| -> Vec<TrialStatus> {
        result
            .trials
            .iter()
            .filter(|t| t.values["optimizer.lr"].as_float() == Some(lr))
            .map(|t| t.status)
            .collect()
    };
    assert!(
        status(1e30).iter().all(|s| *s != TrialStatus::Ok),
        "{:?}",
        result.trials
    );
    assert!(
        status(1e30).contains(&TrialStatus::Diverged),
        "{:?}",
        result.trials
    );
    assert_eq!(status(0.05), vec![TrialStatus::Ok; 2]);
    let best = result.best().unwrap();
    assert_eq!(best.values["optimizer.lr"], toml::Value::from(0.05));
    let momentum = result.best_config.as_ref().unwrap().to_toml();
    assert!(momentum.contains("momentum = 0.5") || momentum.contains("momentum = 0.9"));
}
