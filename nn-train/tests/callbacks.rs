//! The loop's hooks: callbacks see every step and epoch in order and can stop the job.

use nn_core::Module;
use nn_train::{Callback, Control, EpochRecord, StepInfo, TrainConfig, train_with};

#[derive(Default)]
struct Recorder {
    backward: Vec<u64>,
    steps: Vec<(usize, u64)>,
    epochs: Vec<usize>,
    grads_seen: bool,
    stop_at_step: Option<u64>,
}

impl Callback for Recorder {
    fn after_backward(&mut self, model: &dyn Module, step: u64) {
        self.backward.push(step);
        self.grads_seen |= model
            .named_parameters()
            .iter()
            .any(|(_, p)| p.tensor().grad().is_some());
    }
    fn on_step(&mut self, info: &StepInfo<'_>) -> Control {
        assert!(info.loss.is_finite() && info.batch_size > 0);
        self.steps.push((info.epoch, info.step));
        match self.stop_at_step {
            Some(s) if info.step == s => Control::Stop,
            _ => Control::Continue,
        }
    }
    fn on_epoch(&mut self, record: &EpochRecord, _model: &dyn Module) -> Control {
        self.epochs.push(record.epoch);
        Control::Continue
    }
}

fn small_job() -> TrainConfig {
    let mut config = TrainConfig {
        epochs: 3,
        batch_size: 128,
        ..TrainConfig::default()
    };
    config.data.limit_train = Some(512);
    config
}

#[test]
fn callbacks_see_every_step_and_epoch_in_order() {
    let mut rec = Recorder::default();
    let trained = train_with(&small_job(), &mut [&mut rec]).unwrap();
    assert_eq!(rec.epochs, vec![1, 2, 3]);
    assert_eq!(rec.steps.len(), 12, "4 batches of 128 per epoch");
    assert_eq!(rec.backward, (0..12).collect::<Vec<u64>>());
    assert!(rec.steps.windows(2).all(|w| w[1].1 == w[0].1 + 1));
    assert_eq!(rec.steps[4], (1, 4));
    assert!(rec.grads_seen);
    assert!(!trained.report.stopped_by_callback);
}

#[test]
fn a_callback_can_stop_the_job_mid_epoch() {
    let mut rec = Recorder {
        stop_at_step: Some(5),
        ..Recorder::default()
    };
    let trained = train_with(&small_job(), &mut [&mut rec]).unwrap();
    // Stopped after step 5 (epoch 2, second batch); that epoch is still validated and the
    // best snapshot is evaluated on the test split.
    assert_eq!(rec.steps.len(), 6);
    assert_eq!(rec.epochs, vec![1, 2]);
    let r = &trained.report;
    assert!(r.stopped_by_callback && !r.stopped_early);
    assert_eq!(r.history.len(), 2);
    assert!(r.test_acc.is_finite());
}
