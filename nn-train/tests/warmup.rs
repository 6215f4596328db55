//! The default warm-up: its first update uses a nonzero rate (lr/W, reaching lr on its last
//! step), so a job with one step per epoch learns in its first epoch, and the epoch table prints
//! the rate the optimizer actually stepped with.

use nn_core::Module;
use nn_optim::Interval;
use nn_train::{
    Callback, Control, EpochRecord, StepInfo, TrainConfig, default_schedule, train_with,
};

#[test]
fn warm_up_starts_at_lr_over_w_and_peaks_on_its_last_step() {
    let config = TrainConfig {
        epochs: 3,
        ..TrainConfig::default()
    };
    let s = default_schedule(&config, 4);
    let lr: Vec<f64> = s.series(0.1, 12);
    for (t, want) in [0.025, 0.05, 0.075, 0.1].into_iter().enumerate() {
        assert!((lr[t] - want).abs() < 1e-15, "t = {t}: {lr:?}");
    }
    // Then a cosine decay, strictly decreasing, still positive on the last step.
    assert!(lr[4..].windows(2).all(|w| w[1] < w[0]), "{lr:?}");
    assert!(lr[11] > 0.0);
    // One step per epoch (or epoch-wise schedules): no warm-up, the first update at full lr.
    assert_eq!(default_schedule(&config, 1).lr(0.1, 0), 0.1);
    let epochwise = TrainConfig {
        schedule_interval: Interval::Epoch,
        ..config
    };
    assert_eq!(default_schedule(&epochwise, 50).lr(0.1, 0), 0.1);
}

/// Records the rate of every step and the weights after every epoch.
#[derive(Default)]
struct Recorder {
    step_lrs: Vec<(usize, f64)>,
    epochs: Vec<EpochRecord>,
    weights: Vec<Vec<f32>>,
}

impl Callback for Recorder {
    fn on_step(&mut self, info: &StepInfo<'_>) -> Control {
        self.step_lrs.push((info.epoch, info.lr));
        Control::Continue
    }
    fn on_epoch(&mut self, record: &EpochRecord, model: &dyn Module) -> Control {
        self.epochs.push(record.clone());
        self.weights.push(first_weight(model));
        Control::Continue
    }
}

fn first_weight(model: &dyn Module) -> Vec<f32> {
    model.named_parameters()[0]
        .1
        .value()
        .iter()
        .copied()
        .collect()
}

#[test]
fn one_step_per_epoch_learns_in_the_first_epoch_and_prints_the_lr_used() {
    // Full batch: 64 training images, one step per epoch.
    let mut config = TrainConfig {
        epochs: 3,
        batch_size: 64,
        ..TrainConfig::default()
    };
    config.data.limit_train = Some(64);
    let initial = {
        let s = nn_train::Session::new(&config).unwrap();
        first_weight(s.model.as_ref())
    };
    let mut rec = Recorder::default();
    train_with(&config, &mut [&mut rec]).unwrap();
    assert_eq!(rec.step_lrs.len(), 3, "one step per epoch");
    assert_eq!(
        rec.step_lrs[0].1, 0.1,
        "the first update is at the full rate"
    );
    assert_ne!(rec.weights[0], initial, "epoch 1 must move the weights");
    for (record, (_, lr)) in rec.epochs.iter().zip(&rec.step_lrs) {
        assert_eq!(record.lr, *lr, "epoch {}", record.epoch);
    }
}

#[test]
fn the_epoch_lr_is_the_rate_of_its_last_update() {
    let config = TrainConfig {
        epochs: 2,
        batch_size: 256,
        ..TrainConfig::default()
    };
    let mut rec = Recorder::default();
    train_with(&config, &mut [&mut rec]).unwrap();
    for record in &rec.epochs {
        let last = rec
            .step_lrs
            .iter()
            .rev()
            .find(|(e, _)| *e + 1 == record.epoch)
            .unwrap();
        assert_eq!(record.lr, last.1, "epoch {}", record.epoch);
    }
    // The warm-up epoch: 5 steps at 0.02, 0.04, ..., 0.1; its last update is at the peak.
    let first: Vec<f64> = rec
        .step_lrs
        .iter()
        .filter(|(e, _)| *e == 0)
        .map(|p| p.1)
        .collect();
    assert_eq!(first.len(), 5);
    assert!((first[0] - 0.02).abs() < 1e-15, "{first:?}");
    assert_eq!(rec.epochs[0].lr, 0.1);
}
