//! Data-parallel training without MPI: ranks as threads ([`ThreadGroup`]) run exactly the code
//! paths of `mpirun -np N nn-train train` (sharding, the step agreement, bucketed rank-ordered
//! gradient sums, synchronised batch norm, errors reaching every rank, distributed tuning).
//! The same properties under real MPI processes are checked by `tests/mpi.rs` (feature `mpi`).

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

/// A training set whose reads fail after `ok` successful ones.
struct FailsAfter {
    inner: Arc<dyn Dataset>,
    ok: usize,
    reads: AtomicUsize,
}

impl Dataset for FailsAfter {
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn get(&self, index: usize) -> Result<Sample, DataError> {
        if self.reads.fetch_add(1, Ordering::Relaxed) >= self.ok {
            return Err(DataError::invalid(
                "sample",
                index,
                "a readable sample (test fault)",
            ));
        }
        self.inner.get(index)
    }
    fn num_classes(&self) -> usize {
        self.inner.num_classes()
    }
}

#[test]
fn jobs_that_cannot_run_on_several_ranks_are_refused_naming_the_field() {
    let field = |job: &TrainConfig| match nn_train::dist::check_job(job, 2) {
        Err(TrainError::Invalid { field, .. }) => field,
        other => panic!("expected an invalid-field error, got {other:?}"),
    };
    let ok = mlp_job(1);
    assert!(nn_train::dist::check_job(&ok, 2).is_ok());
    let tiny = TrainConfig {
        batch_size: 3,
        ..mlp_job(1)
    };
    assert_eq!(field(&tiny), "batch_size");
    let lbfgs = TrainConfig {
        optimizer: nn_optim::OptimizerConfig::Lbfgs(nn_optim::LbfgsConfig::default()),
        ..mlp_job(1)
    };
    assert_eq!(field(&lbfgs), "optimizer.kind");
}

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
fn a_failure_on_one_rank_stops_every_rank_with_its_message() {
    let job = mlp_job(2);
    // A read error at the third step of rank 1.
    let results = on_ranks(2, |dist| {
        let rank = dist.rank();
        let mut s = Session::distributed(&job, dist).unwrap();
        if rank == 1 {
            let failing = FailsAfter {
                inner: s.data.train.clone(),
                ok: 64,
                reads: AtomicUsize::new(0),
            };
            let config = s.train_loader.config().clone();
            s.train_loader = DataLoader::new(Arc::new(failing), config).unwrap();
        }
        train_session(s, &mut []).map(|t| t.report)
    });
    let e0 = results[0].as_ref().unwrap_err();
    let e1 = results[1].as_ref().unwrap_err();
    assert!(
        matches!(e0, TrainError::Rank { rank: 1, message } if message.contains("test fault")),
        "{e0}"
    );
    assert!(matches!(e1, TrainError::Data(_)), "{e1}");
    // A setup failure on one rank (its data cannot be read) stops both too.
    let results = on_ranks(2, |dist| {
        let mut job = mlp_job(1);
        if dist.rank() == 1 {
            job.data.source = nn_train::DataSource::Mnist("/nonexistent/mnist".into());
        }
        Session::distributed(&job, dist).map(|_| ())
    });
    let e0 = results[0].as_ref().unwrap_err().to_string();
    assert!(
        e0.contains("rank 1 failed") && e0.contains("/nonexistent/mnist"),
        "{e0}"
    );
    assert!(results[1].is_err());
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

/// Three linear layers; the test's loss uses them by hand.
struct Layers(Vec<Linear>);

impl Module for Layers {
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        self.0[0].forward(x, ctx)
    }
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(nn_core::Entry<'_>)) {
        for (i, l) in self.0.iter().enumerate() {
            l.visit(&nn_core::module::join(prefix, &i.to_string()), f);
        }
    }
    fn describe(&self) -> String {
        "3 x Linear(6, 4)".into()
    }
}

fn layers() -> Layers {
    Layers(
        (0..3)
            .map(|i| LinearConfig::new(6, 4).init(&mut seeded(i)).unwrap())
            .collect(),
    )
}

/// Rank r's loss: Σ y² with y = layer0(x_r), plus layer1(x_r) on rank 0; layer 2 unused.
fn rank_loss(model: &Layers, rank: usize) -> Tensor {
    let x = Tensor::randn(&[5, 6], 0.0, 1.0, &mut seeded(10 + rank as u64));
    let mut y = model.0[0].forward(&x, &mut Ctx::train(0));
    if rank == 0 {
        y = &y + &model.0[1].forward(&x, &mut Ctx::train(0));
    }
    (&y * &y).sum_all()
}

/// The reducer on its own: sums of the ranks' gradients in rank order, bit for bit, over two
/// steps (the first learns the arrival order, the second sends buckets from the hook), with a
/// parameter that got a gradient on one rank only and one that got none.
#[test]
fn the_reducer_sums_gradients_in_rank_order() {
    let per_rank: Vec<Vec<Option<Array>>> = (0..3)
        .map(|rank| {
            let model = layers();
            rank_loss(&model, rank).backward();
            model
                .named_parameters()
                .iter()
                .map(|(_, p)| p.grad())
                .collect()
        })
        .collect();
    let results = on_ranks(3, |dist| {
        let model = layers();
        let mut reducer = GradReducer::new(dist.comm().clone(), &model, 64);
        assert_eq!(reducer.num_buckets(), 6, "one parameter per 64-byte bucket");
        let mut steps = Vec::new();
        for _ in 0..2 {
            model.zero_grad();
            reducer.begin();
            let loss = rank_loss(&model, dist.rank());
            loss.backward_with_hook(Array::from_elem(ndarray::IxDyn(&[]), 1.0), &mut |leaf| {
                reducer.on_leaf(leaf).unwrap()
            });
            reducer.finish().unwrap();
            let grads: Vec<Option<Array>> = model
                .named_parameters()
                .iter()
                .map(|(_, p)| p.grad())
                .collect();
            steps.push((grads, reducer.stats()));
        }
        steps
    });
    let mut want: Vec<Option<Array>> = vec![None; 6];
    for rank_grads in &per_rank {
        for (w, g) in want.iter_mut().zip(rank_grads) {
            if let Some(g) = g {
                *w = Some(match w.take() {
                    Some(acc) => &acc + g,
                    None => g.clone(),
                });
            }
        }
    }
    assert!(want[1].is_some() && want[2].is_some() && want[4].is_none());
    for rank in &results {
        for (grads, _) in rank {
            assert_eq!(grads, &want);
        }
    }
    // Step 1 sends everything after backward; step 2 starts buckets from the hook.
    assert_eq!(results[0][0].1.started_in_backward, 0);
    assert!(
        results[0][1].1.started_in_backward > 0,
        "{:?}",
        results[0][1].1
    );
}

/// A callback that raises an interrupt flag after step `at` (as a signal would).
struct RaiseAt {
    at: u64,
    flag: nn_train::interrupt::Interrupt,
}

impl nn_train::Callback for RaiseAt {
    fn on_step(&mut self, info: &nn_train::StepInfo<'_>) -> nn_train::Control {
        if info.step == self.at {
            self.flag.raise(nn_train::interrupt::SIGTERM);
        }
        nn_train::Control::Continue
    }
}

/// A signal on rank 1 alone stops both ranks at the same step, rank 0 writes the checkpoint,
/// and both ranks resumed from it end exactly as the uninterrupted run.
#[test]
fn a_signal_on_one_rank_checkpoints_and_both_resume_exactly() {
    use nn_train::checkpoint::Checkpoint;
    use nn_train::{Checkpointing, train_checkpointed};
    let mut job = cnn_job(false);
    job.epochs = 2;
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("checkpoint.safetensors");
    let full = on_ranks(2, |dist| train_on(&job, dist).unwrap());
    let stopped = on_ranks(2, |dist| {
        let rank = dist.rank();
        let s = Session::distributed(&job, dist).unwrap();
        let flag = nn_train::interrupt::Interrupt::new();
        let mut raise = RaiseAt {
            at: 25,
            flag: flag.clone(),
        };
        let plan = Checkpointing {
            path: (rank == 0).then(|| ckpt.clone()),
            interrupt: Some(flag),
            resume: None,
        };
        let callbacks: &mut [&mut dyn nn_train::Callback] = match rank {
            1 => &mut [&mut raise],
            _ => &mut [],
        };
        train_checkpointed(s, callbacks, plan).err().unwrap()
    });
    for e in &stopped {
        assert!(
            matches!(
                e,
                TrainError::Interrupted {
                    signal: 15,
                    step: 26,
                    ..
                }
            ),
            "{e}"
        );
    }
    let bytes = std::fs::read(&ckpt).unwrap();
    let resumed = on_ranks(2, |dist| {
        let s = Session::distributed(&job, dist).unwrap();
        let plan = Checkpointing {
            path: None,
            interrupt: None,
            resume: Some(Checkpoint::from_bytes(&bytes, &ckpt).unwrap()),
        };
        train_checkpointed(s, &mut [], plan).unwrap()
    });
    assert_eq!(resumed[0].model.state_dict(), full[0].model.state_dict());
    let strip = |t: &Trained| {
        let mut r = t.report.clone();
        r.history.iter_mut().for_each(|e| e.seconds = 0.0);
        r
    };
    assert_eq!(strip(&resumed[0]), strip(&full[0]));
}
