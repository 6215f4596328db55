//! Data-parallel training without MPI: ranks as threads ([`ThreadGroup`]) run exactly the code
//! paths of `mpirun -np N nn-train train` (sharding, the step agreement, bucketed rank-ordered
//! gradient sums, synchronised batch norm, errors reaching every rank, distributed tuning).
//! The same properties under real MPI processes are checked by `tests/mpi.rs` (feature `mpi`).

#[path = "distributed/faults.rs"]
mod faults;
#[path = "distributed/reducer.rs"]
mod reducer;
#[path = "distributed/schedules_and_tuning.rs"]
mod schedules_and_tuning;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nn_core::layers::{Linear, LinearConfig};
use nn_core::{Array, Ctx, Module, Tensor, rng::seeded};
use nn_data::{DataError, DataLoader, Dataset, Sample};
use nn_train::dist::{Dist, GradReducer, ThreadGroup};
use nn_train::tune::{SearchSettings, SearchSpace, TrialRecord, search, search_on};
use nn_train::{ModelConfig, Session, TrainConfig, TrainError, Trained, train_session};

/// Runs `f` on `n` thread ranks and returns the results in rank order.
fn on_ranks<T: Send>(n: usize, f: impl Fn(Dist) -> T + Sync) -> Vec<T> {
    std::thread::scope(|s| {
        let handles: Vec<_> = ThreadGroup::with_timeout(n, Duration::from_secs(120))
            .into_iter()
            .map(|g| {
                let f = &f;
                s.spawn(move || f(Dist::new(Arc::new(g))))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn mlp_job(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        // A constant lr: the default warm-up starts at lr 0, which would make step 0 a no-op.
        schedule: Some(nn_optim::Schedule::Constant),
        model: ModelConfig::mlp(vec![64]),
        ..TrainConfig::default()
    }
}

fn cnn_job(sync_batch_norm: bool) -> TrainConfig {
    let mut job = TrainConfig {
        epochs: 1,
        schedule: Some(nn_optim::Schedule::Constant),
        // Batch norm after each convolution (the CNN default).
        model: ModelConfig::cnn(vec![8, 16]),
        ..TrainConfig::default()
    };
    job.distributed.sync_batch_norm = sync_batch_norm;
    job
}

fn train_on(job: &TrainConfig, dist: Dist) -> Result<Trained, TrainError> {
    train_session(Session::distributed(job, dist)?, &mut [])
}

fn max_abs_diff(a: &[(String, Array)], b: &[(String, Array)]) -> f32 {
    a.iter()
        .zip(b)
        .map(|((na, x), (nb, y))| {
            assert_eq!(na, nb);
            (x - y).mapv(f32::abs).fold(0.0, |m: f32, &v| m.max(v))
        })
        .fold(0.0, f32::max)
}

/// Parameters after `steps` training steps of `job` on `n` ranks (rank 0's).
fn after_steps(job: &TrainConfig, n: usize, steps: usize) -> Vec<(String, Array)> {
    let states = on_ranks(n, |dist| {
        let mut s = Session::distributed(job, dist).unwrap();
        let batches: Vec<_> = s.train_loader.epoch(0).take(steps).collect();
        for (step, batch) in batches.into_iter().enumerate() {
            s.train_step(batch.unwrap(), 0, step as u64, &mut [])
                .unwrap();
        }
        s.model.state_dict()
    });
    let params = |state: &[(String, Array)]| -> Vec<(String, Array)> {
        // Parameters only: with per-rank batch norm the running statistics differ by rank.
        state
            .iter()
            .filter(|(name, _)| !name.contains("running") && !name.contains("num_batches"))
            .cloned()
            .collect()
    };
    for other in &states[1..] {
        assert_eq!(
            params(other),
            params(&states[0]),
            "every rank holds the same weights"
        );
    }
    if job.distributed.sync_batch_norm {
        assert_eq!(
            states[1..].iter().find(|s| *s != &states[0]),
            None,
            "and statistics"
        );
    }
    params(&states[0])
}

#[test]
fn a_two_rank_run_is_bit_identical_run_to_run() {
    let job = cnn_job(false);
    let run = || on_ranks(2, |dist| train_on(&job, dist).unwrap());
    let (a, b) = (run(), run());
    assert_eq!(a[0].model.state_dict(), b[0].model.state_dict());
    let strip = |t: &Trained| {
        let mut r = t.report.clone();
        r.history.iter_mut().for_each(|e| e.seconds = 0.0);
        r
    };
    assert_eq!(strip(&a[0]), strip(&b[0]));
    assert!(a[0].report.test_acc > 0.5, "{:?}", a[0].report);
    // Rank 1 validates nothing: its report has no history.
    assert!(a[1].report.history.is_empty() && a[1].report.test_acc.is_nan());
}

#[test]
fn one_rank_is_one_process_bit_for_bit() {
    let job = cnn_job(false);
    let single = after_steps(&job, 1, 3);
    let mut s = Session::new(&job).unwrap();
    let batches: Vec<_> = s.train_loader.epoch(0).take(3).collect();
    for (step, batch) in batches.into_iter().enumerate() {
        s.train_step(batch.unwrap(), 0, step as u64, &mut [])
            .unwrap();
    }
    let params: Vec<_> = s
        .model
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.value().to_owned()))
        .collect();
    assert_eq!(single, params);
}

#[test]
fn one_and_two_ranks_agree_after_one_step() {
    // No batch norm: the gradient of the global batch, summed in another order.
    let job = mlp_job(1);
    let d = max_abs_diff(&after_steps(&job, 1, 1), &after_steps(&job, 2, 1));
    eprintln!("1 vs 2 ranks after one step, MLP: max |Δw| = {d:e}");
    assert!(d < 1e-5, "MLP: max |Δw| = {d}");
    // Synchronised batch norm: the whole batch's statistics on every rank.
    let job = cnn_job(true);
    let d = max_abs_diff(&after_steps(&job, 1, 1), &after_steps(&job, 2, 1));
    eprintln!("1 vs 2 ranks after one step, CNN with sync BN: max |Δw| = {d:e}");
    assert!(d < 1e-5, "CNN with sync BN: max |Δw| = {d}");
    // Per-rank batch norm (DDP's default) normalises each half with its own statistics: a
    // different, noisier step, but still the same model after one step up to ~1e-3.
    let job = cnn_job(false);
    let d = max_abs_diff(&after_steps(&job, 1, 1), &after_steps(&job, 2, 1));
    eprintln!("1 vs 2 ranks after one step, CNN with per-rank BN: max |Δw| = {d:e}");
    assert!(d > 1e-6 && d < 5e-2, "CNN with per-rank BN: max |Δw| = {d}");
}

/// Gradient accumulation (two micro-batches per step) and an L2 penalty, one step as a group:
/// each rank seeds its micro-batches with its share of the whole step, the penalty's gradient
/// is added once, after the sum.
#[test]
fn one_and_two_ranks_agree_with_accumulation_and_a_penalty() {
    let job = TrainConfig::from_toml(
        "batch_size = 32\ngrad_accumulation = 2\nschedule = { kind = \"constant\" }\n\
         [penalty]\nkind = \"l2\"\nstrength = 1e-2\n[model]\nkind = \"mlp\"\nhidden = [64]\n",
        "job.toml".as_ref(),
    )
    .unwrap();
    let step = |n: usize| {
        let states = on_ranks(n, |dist| {
            let mut s = Session::distributed(&job, dist).unwrap();
            let group: Vec<_> = s
                .train_loader
                .epoch(0)
                .take(2)
                .map(|b| b.unwrap())
                .collect();
            let stats = s.train_step_group(group, 0, 0, &mut []).unwrap();
            (s.model.state_dict(), stats)
        });
        states.into_iter().next().unwrap()
    };
    let ((one, s1), (two, s2)) = (step(1), step(2));
    let d = max_abs_diff(&one, &two);
    eprintln!("1 vs 2 ranks, accumulation + penalty: max |Δw| = {d:e}");
    assert!(d < 1e-5, "max |Δw| = {d}");
    assert_eq!((s1.samples, s1.correct), (s2.samples, s2.correct));
    assert_eq!(s1.samples, 64);
    assert!((s1.loss - s2.loss).abs() < 1e-5, "{s1:?} {s2:?}");
}

#[test]
fn one_and_two_ranks_end_at_the_same_accuracy() {
    let job = mlp_job(6);
    let one = train_on(&job, Dist::single()).unwrap().report;
    let two = on_ranks(2, |dist| train_on(&job, dist).unwrap().report);
    let (a, b) = (one.test_acc, two[0].test_acc);
    eprintln!("test accuracy after 6 epochs: 1 rank {a}, 2 ranks {b}");
    assert!(a > 0.9, "{one:?}");
    // 270 test images: one image is 0.37 points.
    assert!((a - b).abs() <= 0.004, "1 rank {a}, 2 ranks {b}");
}
