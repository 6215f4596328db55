//! `nn-train schedule`: lr(t) of a job before training, as training will use it.

use nn_optim::schedule::Step;
use nn_optim::{Interval, Schedule};
use nn_train::lab::lr_trace;
use nn_train::{MonitorConfig, TrainConfig, default_schedule, train_with};

use super::{nn_train, png};

#[test]
fn the_trace_is_the_default_schedule_and_what_training_uses() {
    let job = TrainConfig {
        epochs: 3,
        ..TrainConfig::default()
    };
    let t = lr_trace(&job).unwrap();
    let spe = t.steps_per_epoch;
    assert!(spe > 5, "{spe}");
    assert_eq!(t.lrs.len() as u64, 3 * spe);
    // The default: a linear warm-up over the first epoch (first update at lr/W), the peak 0.1 on
    // its last step, then cosine towards 0.
    let lr0: Vec<f64> = t.lrs.iter().map(|r| r[0]).collect();
    assert_eq!(lr0, default_schedule(&job, spe).series(0.1, 3 * spe));
    assert!((lr0[0] - 0.1 / spe as f64).abs() < 1e-12, "{}", lr0[0]);
    assert!((lr0[spe as usize - 1] - 0.1).abs() < 1e-12);
    assert_eq!(t.bounds().1, lr0[spe as usize - 1]);
    // Training logs the same rate at every step.
    let mut monitor = MonitorConfig::default().init().unwrap();
    train_with(&job, &mut [&mut monitor]).unwrap();
    let logged: Vec<f64> = monitor.steps.iter().map(|s| s.lr).collect();
    assert_eq!(logged, lr0);
}

#[test]
fn epoch_schedules_step_once_per_epoch() {
    let job = TrainConfig {
        epochs: 4,
        schedule: Some(Schedule::Step(Step {
            step_size: 2,
            gamma: 0.5,
        })),
        schedule_interval: Interval::Epoch,
        ..TrainConfig::default()
    };
    let t = lr_trace(&job).unwrap();
    let spe = t.steps_per_epoch as usize;
    for (i, r) in t.lrs.iter().enumerate() {
        let expect = 0.1 * 0.5f64.powi((i / spe / 2) as i32);
        assert!((r[0] - expect).abs() < 1e-15, "step {i}: {}", r[0]);
    }
    assert_eq!(t.bounds(), (0.05, 0.1));
    let s = t.samples(5);
    assert_eq!(s.len(), 5);
    assert_eq!((s[0].0, s[4].0), (0, 4 * spe - 1));
}

#[test]
fn cli_schedule_prints_values_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("lr.png");
    let (ok, stdout, stderr) =
        nn_train(&["schedule", "--epochs", "5", "--plot", p.to_str().unwrap()]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("max lr 1.0000e-1"), "{stdout}");
    assert!(
        stdout
            .lines()
            .filter(|l| l.trim_start().starts_with(char::is_numeric))
            .count()
            >= 10
    );
    let (w, h, inked) = png(&p);
    assert_eq!((w, h), (800, 420));
    assert!(inked > 2000);
}
