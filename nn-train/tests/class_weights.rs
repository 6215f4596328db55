//! `class_weights` end to end: validated against the data's class count when the session is
//! built, passed to the training cross-entropy, and equal weights train exactly as none.

use nn_train::{Session, TrainConfig, TrainError};

fn job(class_weights: Option<Vec<f32>>) -> TrainConfig {
    TrainConfig {
        batch_size: 32,
        class_weights,
        ..TrainConfig::default()
    }
}

/// The losses of the first `steps` training steps.
fn losses(config: &TrainConfig, steps: usize) -> Vec<f32> {
    let mut s = Session::new(config).unwrap();
    let batches: Vec<_> = s.train_loader.epoch(0).take(steps).collect();
    batches
        .into_iter()
        .enumerate()
        .map(|(i, b)| s.train_step(b.unwrap(), 0, i as u64, &mut []).unwrap().loss)
        .collect()
}

#[test]
fn weight_count_must_match_the_classes_of_the_data() {
    let e = match Session::new(&job(Some(vec![1.0; 3]))) {
        Err(e) => e,
        Ok(_) => panic!("3 weights for the 10 digit classes must be rejected"),
    };
    assert!(matches!(e, TrainError::Invalid { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("class_weights") && msg.contains("10 classes"),
        "{msg}"
    );
}

#[test]
fn weights_reach_the_loss_and_change_training() {
    let w: Vec<f32> = (0..10).map(|c| 0.5 + c as f32 * 0.2).collect();
    let s = Session::new(&job(Some(w.clone()))).unwrap();
    assert_eq!(s.loss_fn.config().weight.as_deref(), Some(&w[..]));
    let plain = losses(&job(None), 3);
    let equal = losses(&job(Some(vec![2.5; 10])), 3);
    let weighted = losses(&job(Some(w)), 3);
    for (a, b) in plain.iter().zip(&equal) {
        assert!(
            (a - b).abs() < 1e-5 * (1.0 + a.abs()),
            "{plain:?} vs {equal:?}"
        );
    }
    assert!(weighted.iter().all(|l| l.is_finite()));
    assert_ne!(plain, weighted);
}
