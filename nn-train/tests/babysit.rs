//! Babysitting tools end to end on the embedded digits: the LR range test, the update/weight
//! ratio monitor, the overfitting check, the PNG plots and their CLI subcommands.

use std::path::Path;
use std::process::Command;

use nn_optim::{OptimizerConfig, Schedule, SgdConfig};
use nn_train::overfit::OverfitConfig;
use nn_train::plot::{plot_curves, plot_lr_finder, plot_ratios};
use nn_train::{LrFinderConfig, MonitorConfig, RatioFlag, TrainConfig, TrainError, train_with};

fn job() -> TrainConfig {
    TrainConfig {
        batch_size: 64,
        ..TrainConfig::default()
    }
}

#[test]
fn lr_finder_rates_are_exponential_from_start_to_end() {
    let finder = LrFinderConfig {
        start_lr: 1e-5,
        end_lr: 0.3,
        num_steps: 25,
        ..Default::default()
    };
    let r = finder.run(&job()).unwrap();
    assert!(!r.stopped_early, "lr ≤ 0.3 does not diverge");
    assert_eq!(r.points.len(), 25);
    assert!((r.points[0].lr - 1e-5).abs() < 1e-15);
    assert!((r.points[24].lr - 0.3).abs() < 1e-12);
    let q = r.points[1].lr / r.points[0].lr;
    assert!((q - (0.3f64 / 1e-5).powf(1.0 / 24.0)).abs() < 1e-9);
    for w in r.points.windows(2) {
        assert!((w[1].lr / w[0].lr - q).abs() < 1e-9);
    }
    // The curve has the expected shape: starts near log 10, ends well below it.
    assert!((r.points[0].loss - 10f32.ln()).abs() < 0.5);
    let end = r.points[20..]
        .iter()
        .map(|p| p.loss)
        .fold(f32::INFINITY, f32::min);
    assert!(end < r.points[0].loss - 0.3, "{:?}", r.points);
    let csv = r.to_csv();
    assert_eq!(csv.lines().count(), 26);
    assert!(csv.starts_with("step,lr,loss,smoothed_loss\n"));
    // Deterministic: same job, same curve.
    assert_eq!(finder.run(&job()).unwrap(), r);
}

/// `run_on` a hand-built session gives the same curve as `run` on its job.
#[test]
fn lr_finder_runs_on_a_given_session() {
    let finder = LrFinderConfig {
        num_steps: 12,
        ..Default::default()
    };
    let session = nn_train::Session::new(&job()).unwrap();
    assert_eq!(finder.run_on(session).unwrap(), finder.run(&job()).unwrap());
}

#[test]
fn lr_finder_stops_early_on_divergence() {
    let finder = LrFinderConfig {
        start_lr: 1e-3,
        end_lr: 1e4,
        num_steps: 60,
        ..Default::default()
    };
    let r = finder.run(&job()).unwrap();
    assert!(r.stopped_early);
    assert!(r.points.len() < 60, "{} points", r.points.len());
    let best = r
        .points
        .iter()
        .map(|p| p.smoothed)
        .fold(f32::INFINITY, f32::min);
    let last = r.points.last().unwrap();
    // Either the smoothed loss blew past 4× the best, or the next loss was not finite.
    assert!(
        last.smoothed > 4.0 * best || r.points.len() < 60,
        "{last:?} best {best}"
    );
    assert!(r.summary().contains("stopped early"));
}

#[test]
fn lr_finder_rejects_bad_settings() {
    let e = LrFinderConfig {
        end_lr: 1e-9,
        ..Default::default()
    }
    .run(&job())
    .unwrap_err();
    assert!(matches!(e, TrainError::Invalid { ref field, .. } if field == "lr_find.end_lr"));
}

/// The suggestion is inside the tested range and trains: one epoch at the suggested lr beats
/// one epoch at 1e-6 by a wide margin.
#[test]
fn lr_finder_suggestion_trains() {
    let r = LrFinderConfig::default().run(&job()).unwrap();
    let lr = r.suggested.expect("100 steps give a suggestion");
    assert!((1e-7..=10.0).contains(&lr), "{lr}");
    let alt = r.min_loss_lr_div10.unwrap();
    assert!((1e-8..=1.0).contains(&alt), "{alt}");
    let one_epoch = |lr: f64| {
        let mut c = job();
        c.epochs = 1;
        c.schedule = Some(Schedule::Constant);
        if let OptimizerConfig::Sgd(o) = &mut c.optimizer {
            o.lr = lr;
        }
        train_with(&c, &mut []).unwrap().report
    };
    let good = one_epoch(lr);
    let tiny = one_epoch(1e-6);
    assert!(
        good.best_val_acc > tiny.best_val_acc + 0.3,
        "suggested {lr}: {} vs 1e-6: {}",
        good.best_val_acc,
        tiny.best_val_acc
    );
    assert!(good.best_val_acc > 0.8, "{}", good.best_val_acc);
}

/// For plain SGD (no momentum, no decay, constant lr), ΔW = −lr·g, so the monitored ratio is
/// exactly lr·‖g‖/‖W‖.
#[test]
fn monitor_ratio_is_lr_grad_over_weight_for_plain_sgd() {
    let mut c = job();
    c.epochs = 1;
    c.data.limit_train = Some(256);
    c.schedule = Some(Schedule::Constant);
    c.optimizer = OptimizerConfig::Sgd(SgdConfig {
        lr: 0.05,
        ..SgdConfig::default()
    });
    let mut m = MonitorConfig {
        ratio_every: 2,
        ..Default::default()
    }
    .init()
    .unwrap();
    train_with(&c, &mut [&mut m]).unwrap();
    assert_eq!(m.steps.len(), 4);
    assert_eq!(m.epochs.len(), 1);
    // MLP 64-256-256-10: 3 weights + 3 biases, sampled at steps 0 and 2.
    assert_eq!(m.ratios.len(), 12);
    assert_eq!(
        m.ratios.iter().map(|r| r.step).collect::<Vec<_>>(),
        [vec![0; 6], vec![2; 6]].concat()
    );
    for r in &m.ratios {
        let lr = m.steps[r.step as usize].lr;
        assert_eq!(lr, 0.05);
        let expect = lr * r.grad_norm / r.weight_norm;
        assert!(
            (r.ratio - expect).abs() <= 1e-4 * expect,
            "{}: {} vs {expect}",
            r.param,
            r.ratio
        );
        assert!((r.update_norm - lr * r.grad_norm).abs() <= 1e-4 * r.update_norm);
        let flag = if r.ratio < 1e-4 {
            RatioFlag::Low
        } else if r.ratio > 1e-2 {
            RatioFlag::High
        } else {
            RatioFlag::Ok
        };
        assert_eq!(r.flag, flag);
    }
    let summary = m.ratio_summary();
    assert_eq!(summary.len(), 6);
    let dir = tempfile::tempdir().unwrap();
    m.write(dir.path()).unwrap();
    let csv = std::fs::read_to_string(dir.path().join("monitor.csv")).unwrap();
    assert_eq!(csv.lines().count(), 13);
    let steps = std::fs::read_to_string(dir.path().join("steps.csv")).unwrap();
    assert_eq!(steps.lines().count(), 5);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("monitor.json")).unwrap()).unwrap();
    assert_eq!(json["ratios"].as_array().unwrap().len(), 12);
}

#[test]
fn overfit_memorises_a_small_sample() {
    let r = OverfitConfig {
        samples: 32,
        max_epochs: 100,
    }
    .run(&job())
    .unwrap();
    assert!(r.reached_at.is_some(), "{:?}", r.history);
    assert_eq!(r.history.last().unwrap().1, 1.0);
    assert!(r.advice.is_empty());
    // With a learning rate far too low it fails and says so.
    let mut slow = job();
    if let OptimizerConfig::Sgd(o) = &mut slow.optimizer {
        o.lr = 1e-7;
    }
    let r = OverfitConfig {
        samples: 32,
        max_epochs: 5,
    }
    .run(&slow)
    .unwrap();
    assert_eq!(r.reached_at, None);
    assert!(r.advice[0].contains("too low"), "{:?}", r.advice);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// lr_i = start·(end/start)^(i/(n−1)): the first is start, the last is end, and the ratio of
    /// neighbours is constant, for any valid range and step count.
    #[test]
    fn finder_rates_are_geometric(
        log_start in -9.0f64..0.0,
        decades in 0.1f64..12.0,
        n in 2usize..400,
    ) {
        let (start, end) = (10f64.powf(log_start), 10f64.powf(log_start + decades));
        let c = LrFinderConfig { start_lr: start, end_lr: end, num_steps: n, ..Default::default() };
        c.validate().unwrap();
        proptest::prop_assert!((c.lr_at(0) / start - 1.0).abs() < 1e-12);
        proptest::prop_assert!((c.lr_at(n - 1) / end - 1.0).abs() < 1e-9);
        let q = (end / start).powf(1.0 / (n - 1) as f64);
        for i in 0..n - 1 {
            proptest::prop_assert!((c.lr_at(i + 1) / c.lr_at(i) / q - 1.0).abs() < 1e-9);
        }
    }

    /// The moving average equals the naive trailing mean of the last `w` values.
    #[test]
    fn moving_average_is_the_naive_trailing_mean(
        v in proptest::collection::vec(-100.0f32..100.0, 0..60),
        w in 1usize..20,
    ) {
        let ma = nn_train::plot::moving_average(&v, w);
        proptest::prop_assert_eq!(ma.len(), v.len());
        for i in 0..v.len() {
            let s = &v[(i + 1).saturating_sub(w)..=i];
            let mean = s.iter().map(|&x| f64::from(x)).sum::<f64>() / s.len() as f64;
            proptest::prop_assert!((f64::from(ma[i]) - mean).abs() < 1e-3);
        }
    }
}

fn decode(path: &Path) -> image::RgbImage {
    image::open(path).unwrap().to_rgb8()
}

/// Pixels that are clearly coloured (not white, grey or black).
fn coloured(img: &image::RgbImage) -> usize {
    img.pixels()
        .filter(|p| {
            let [r, g, b] = p.0.map(i32::from);
            (r - g).abs().max((g - b).abs()).max((r - b).abs()) > 60
        })
        .count()
}

#[test]
fn plots_are_valid_pngs_of_the_expected_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = job();
    c.epochs = 3;
    c.data.limit_train = Some(512);
    let mut m = MonitorConfig {
        ratio_every: 1,
        ..Default::default()
    }
    .init()
    .unwrap();
    train_with(&c, &mut [&mut m]).unwrap();
    let steps: Vec<(u64, f32)> = m.steps.iter().map(|s| (s.step, s.loss)).collect();
    let curves = dir.path().join("curves.png");
    plot_curves(&curves, &steps, &m.epochs, 4).unwrap();
    let img = decode(&curves);
    assert_eq!(img.dimensions(), (960, 360));
    assert!(coloured(&img) > 500, "{}", coloured(&img));

    let ratios = dir.path().join("ratios.png");
    plot_ratios(&ratios, &m.ratios, &m.config).unwrap();
    let img = decode(&ratios);
    assert_eq!(img.dimensions(), (640, 420));
    assert!(coloured(&img) > 500);

    let r = LrFinderConfig {
        num_steps: 30,
        ..Default::default()
    }
    .run(&job())
    .unwrap();
    let lr = dir.path().join("sub/lr_find.png");
    plot_lr_finder(&lr, &r).unwrap();
    let img = decode(&lr);
    assert_eq!(img.dimensions(), (640, 420));
    assert!(coloured(&img) > 300);
    // A long run: dots are thinned to MAX_DOTS, the average uses every step.
    let long: Vec<(u64, f32)> = (0..20_000u64)
        .map(|i| {
            (
                i,
                2.0 / (1.0 + i as f32 / 500.0) + 0.1 * ((i * 7919) % 13) as f32 / 13.0,
            )
        })
        .collect();
    plot_curves(&dir.path().join("long.png"), &long, &m.epochs, 50).unwrap();
    assert_eq!(
        decode(&dir.path().join("long.png")).dimensions(),
        (960, 360)
    );
    // Degenerate input (no steps, no epochs) still draws.
    plot_curves(&dir.path().join("empty.png"), &[], &[], 1).unwrap();
    assert_eq!(
        decode(&dir.path().join("empty.png")).dimensions(),
        (960, 360)
    );
}

fn nn_train(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nn-train"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_lr_find_writes_csv_and_png() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (ok, stdout, stderr) = nn_train(&["lr-find", "--steps", "40", "--out", d]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("suggested lr"), "{stdout}");
    let csv = std::fs::read_to_string(dir.path().join("lr_find.csv")).unwrap();
    assert!(csv.lines().count() > 10);
    assert_eq!(
        decode(&dir.path().join("lr_find.png")).dimensions(),
        (640, 420)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("lr_find.json")).unwrap()).unwrap();
    assert!(json["suggested"].as_f64().unwrap() > 0.0);

    let (ok, _, stderr) = nn_train(&["lr-find", "--steps", "1", "--out", d]);
    assert!(!ok);
    assert!(stderr.contains("lr_find.num_steps"), "{stderr}");
}

#[test]
fn cli_overfit_and_train_with_monitor() {
    let (ok, stdout, stderr) = nn_train(&["overfit", "--samples", "32"]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("OK: 100% training accuracy"), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (ok, stdout, stderr) = nn_train(&["train", "--epochs", "2", "--out", d, "--monitor"]);
    assert!(ok, "{stdout}\n{stderr}");
    for f in [
        "curves.png",
        "monitor.csv",
        "steps.csv",
        "monitor.json",
        "ratios.png",
    ] {
        assert!(dir.path().join(f).exists(), "{f} missing: {stdout}");
    }
    assert_eq!(
        decode(&dir.path().join("curves.png")).dimensions(),
        (960, 360)
    );
    let csv = std::fs::read_to_string(dir.path().join("monitor.csv")).unwrap();
    assert!(csv.starts_with("step,param,"));
}
