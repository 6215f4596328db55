//! Rank 0 leads: reduce-on-plateau decisions and tuning trials spread over the ranks give the
//! single-process results.

use super::*;

/// Records the learning rate of every step.
#[derive(Default)]
struct LrLog(Vec<f64>);

impl nn_train::Callback for LrLog {
    fn on_step(&mut self, info: &nn_train::StepInfo<'_>) -> nn_train::Control {
        self.0.push(info.lr);
        nn_train::Control::Continue
    }
}

/// Reduce-on-plateau under several ranks: rank 0 validates and sends the figures, so every
/// rank's rates follow the single-process run's, reduction by reduction.
#[test]
fn reduce_on_plateau_reduces_every_ranks_rate_as_in_one_process() {
    let job = TrainConfig {
        // No improvement is ever large enough: after the first, every epoch halves the rate.
        reduce_on_plateau: Some(nn_train::plateau::PlateauSettings {
            factor: 0.5,
            patience: 0,
            threshold: 1e6,
            threshold_mode: nn_optim::ThresholdMode::Abs,
            ..Default::default()
        }),
        ..mlp_job(4)
    };
    assert!(nn_train::dist::check_job(&job, 2).is_ok());
    let lrs = |dist: Dist| {
        let mut log = LrLog::default();
        train_session(Session::distributed(&job, dist).unwrap(), &mut [&mut log]).unwrap();
        log.0
    };
    let one = lrs(Dist::single());
    let two = on_ranks(2, lrs);
    // Epoch 1's figure is the first best; epochs 2 and 3 reduce the rates of epochs 3 and 4.
    let per_epoch = one.len() / 4;
    let epoch_lr = |e: usize| one[e * per_epoch];
    let first = epoch_lr(0);
    // Every step of an epoch has the epoch's rate (the first step of epoch 4 once had a rate
    // reduced twice: the reductions were applied again on top of already-reduced rates).
    for (i, lr) in one.iter().enumerate() {
        assert_eq!(*lr, epoch_lr(i / per_epoch), "step {i}");
    }
    assert_eq!(
        [epoch_lr(1), epoch_lr(2), epoch_lr(3)],
        [first, first * 0.5, first * 0.25]
    );
    assert_eq!(two[0], one, "rank 0 against one process");
    assert_eq!(two[1], one, "rank 1 against one process");
}

#[test]
fn tuning_trials_are_spread_over_the_ranks_with_the_sequential_results() {
    let space = SearchSpace::from_toml(
        r#"dimensions."optimizer.lr" = { log_uniform = { low = 1e-3, high = 1.0 } }"#,
        "space.toml".as_ref(),
    )
    .unwrap();
    let mut job = mlp_job(1);
    job.data.limit_train = Some(256);
    let settings = SearchSettings {
        trials: 3,
        epochs: 1,
        stages: 2,
        top_k: 1,
        ..Default::default()
    };
    let strip = |mut t: Vec<TrialRecord>| {
        t.iter_mut().for_each(|r| r.seconds = 0.0);
        t
    };
    let sequential = search(&job, &space, &settings, &mut |_| {}).unwrap();
    let spread = on_ranks(2, |dist| {
        let mut seen = Vec::new();
        let result = search_on(&dist, &job, &space, &settings, &[], &mut |t| {
            seen.push(t.trial)
        })
        .unwrap();
        (result, seen)
    });
    for (result, seen) in &spread {
        assert_eq!(
            strip(result.trials.clone()),
            strip(sequential.trials.clone())
        );
        assert_eq!(result.best_config, sequential.best_config);
        assert_eq!(
            seen.len(),
            sequential.trials.len(),
            "every trial reported once"
        );
    }
    // Trial i of a stage runs on rank i mod 2: a rank reports its own trials of stage 1
    // (trials 0, 1, 2) as they end, the other rank's at the end of the stage.
    let mut own0 = spread[0].1[..2].to_vec();
    own0.sort();
    assert_eq!((own0, spread[0].1[2]), (vec![0, 2], 1));
    assert_eq!(spread[1].1[..3], [1, 0, 2]);
}
