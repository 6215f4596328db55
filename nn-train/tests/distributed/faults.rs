//! Faults under several ranks: jobs that cannot run data-parallel, a failure on one rank
//! reaching every rank, and a signal on one rank checkpointing both (resumed exactly).

use super::*;

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
