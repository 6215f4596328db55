use std::sync::{Arc, Barrier, Mutex};

use ndarray::{Axis, IxDyn, Slice};

use crate::gradcheck::assert_gradients;
use crate::module::Buffer;
use crate::ops::{BatchNormOptions, RunningStats};
use crate::replica::{ReplicaGroup, SingleReplica};
use crate::rng::seeded;
use crate::tensor::{Array, Tensor};

/// Replicas as threads of this process: `all_gather` meets at a barrier.
#[derive(Debug)]
struct Threads {
    rank: usize,
    shared: Arc<(Barrier, Mutex<Vec<Vec<f64>>>)>,
}

impl Threads {
    fn group(size: usize) -> Vec<Threads> {
        let shared = Arc::new((Barrier::new(size), Mutex::new(vec![Vec::new(); size])));
        (0..size)
            .map(|rank| Threads {
                rank,
                shared: shared.clone(),
            })
            .collect()
    }
}

impl ReplicaGroup for Threads {
    fn size(&self) -> usize {
        self.shared.1.lock().unwrap().len()
    }
    fn rank(&self) -> usize {
        self.rank
    }
    fn all_gather(&self, local: &[f64]) -> Vec<f64> {
        let (barrier, slots) = &*self.shared;
        slots.lock().unwrap()[self.rank] = local.to_vec();
        barrier.wait();
        let all = slots.lock().unwrap().concat();
        barrier.wait();
        all
    }
}

fn single() -> Arc<dyn ReplicaGroup> {
    Arc::new(SingleReplica)
}

#[test]
fn one_replica_is_batch_norm_bit_for_bit() {
    let mut rng = seeded(1);
    let x = Tensor::randn(&[6, 3, 4, 4], 1.0, 2.0, &mut rng).to_array();
    let w = Tensor::randn(&[3], 1.0, 0.2, &mut rng).to_array();
    let b = Tensor::randn(&[3], 0.0, 0.2, &mut rng).to_array();
    let u = Tensor::randn(&[6, 3, 4, 4], 0.0, 1.0, &mut rng);
    let run = |sync: bool| {
        let (x, w, b) = (
            Tensor::from_array(x.clone()).with_requires_grad(),
            Tensor::from_array(w.clone()).with_requires_grad(),
            Tensor::from_array(b.clone()).with_requires_grad(),
        );
        let rm = Buffer::new(Array::zeros(IxDyn(&[3])));
        let rv = Buffer::new(Array::ones(IxDyn(&[3])));
        let r = Some(RunningStats {
            mean: &rm,
            var: &rv,
        });
        let o = BatchNormOptions::default();
        let y = if sync {
            x.sync_batch_norm(Some(&w), Some(&b), r, o, &single())
        } else {
            x.batch_norm(Some(&w), Some(&b), r, o)
        };
        (&y * &u).sum_all().backward();
        let grads = [x.grad(), w.grad(), b.grad()].map(|g| g.unwrap());
        (y.to_array(), grads, rm.value(), rv.value())
    };
    assert_eq!(run(true), run(false));
}

#[test]
fn gradients_with_one_replica() {
    let o = BatchNormOptions::default();
    assert_gradients(
        |t| t[0].sync_batch_norm(Some(&t[1]), Some(&t[2]), None, o, &single()),
        &[&[4, 3, 2, 3], &[3], &[3]],
        1,
    );
    assert_gradients(
        |t| t[0].sync_batch_norm(None, None, None, o, &single()),
        &[&[5, 4]],
        2,
    );
}

/// Two replicas holding rows 0..5 and 5..8 of a batch normalise, update running statistics and
/// back-propagate as batch norm over the whole batch (whose gradients are checked above).
#[test]
fn two_replicas_match_batch_norm_of_the_whole_batch() {
    let mut rng = seeded(7);
    let x = Tensor::randn(&[8, 3, 3, 3], 2.0, 3.0, &mut rng).to_array();
    let u = Tensor::randn(&[8, 3, 3, 3], 0.0, 1.0, &mut rng).to_array();
    let w = Tensor::randn(&[3], 1.0, 0.3, &mut rng).to_array();
    let b = Tensor::randn(&[3], 0.0, 0.3, &mut rng).to_array();
    let o = BatchNormOptions::default();
    // The whole batch, one process.
    let (xf, wf, bf) = (
        Tensor::from_array(x.clone()).with_requires_grad(),
        Tensor::from_array(w.clone()).with_requires_grad(),
        Tensor::from_array(b.clone()).with_requires_grad(),
    );
    let (rm, rv) = (
        Buffer::new(Array::zeros(IxDyn(&[3]))),
        Buffer::new(Array::ones(IxDyn(&[3]))),
    );
    let r = RunningStats {
        mean: &rm,
        var: &rv,
    };
    let yf = xf.batch_norm(Some(&wf), Some(&bf), Some(r), o);
    (&yf * &Tensor::from_array(u.clone())).sum_all().backward();
    // Two replicas on two threads.
    let shards = [0..5, 5..8];
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = Threads::group(2)
            .into_iter()
            .zip(shards.clone())
            .map(|(group, rows)| {
                let (x, u, w, b) = (&x, &u, &w, &b);
                s.spawn(move || {
                    let group: Arc<dyn ReplicaGroup> = Arc::new(group);
                    let part =
                        |a: &Array| a.slice_axis(Axis(0), Slice::from(rows.clone())).to_owned();
                    let xs = Tensor::from_array(part(x)).with_requires_grad();
                    let (ws, bs) = (
                        Tensor::from_array(w.clone()).with_requires_grad(),
                        Tensor::from_array(b.clone()).with_requires_grad(),
                    );
                    let (rm, rv) = (
                        Buffer::new(Array::zeros(IxDyn(&[3]))),
                        Buffer::new(Array::ones(IxDyn(&[3]))),
                    );
                    let r = RunningStats {
                        mean: &rm,
                        var: &rv,
                    };
                    let y = xs.sync_batch_norm(Some(&ws), Some(&bs), Some(r), o, &group);
                    (&y * &Tensor::from_array(part(u))).sum_all().backward();
                    (
                        y.to_array(),
                        xs.grad().unwrap(),
                        ws.grad().unwrap(),
                        bs.grad().unwrap(),
                        rm.value(),
                        rv.value(),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let close = |a: &Array, b: &Array, what: &str| {
        let d = (a - b).mapv(f32::abs).fold(0.0f32, |m, &v| m.max(v));
        assert!(d < 2e-5, "{what}: max difference {d}");
    };
    for (res, rows) in results.iter().zip(shards) {
        let part = |a: &Array| a.slice_axis(Axis(0), Slice::from(rows.clone())).to_owned();
        close(&res.0, &part(&yf.to_array()), "output");
        close(&res.1, &part(&xf.grad().unwrap()), "input gradient");
        // Every replica updates its running statistics with the global moments.
        assert_eq!(res.4, results[0].4);
        close(&res.4, &rm.value(), "running mean");
        close(&res.5, &rv.value(), "running var");
    }
    // γ and β gradients are per-replica sums: their sum is the whole batch's.
    close(
        &(&results[0].2 + &results[1].2),
        &wf.grad().unwrap(),
        "weight gradient",
    );
    close(
        &(&results[0].3 + &results[1].3),
        &bf.grad().unwrap(),
        "bias gradient",
    );
}

#[test]
#[should_panic(expected = "more than 1 value per channel over all replicas")]
fn a_single_value_over_all_replicas_is_rejected() {
    let _ = Tensor::ones(&[1, 3]).sync_batch_norm(
        None,
        None,
        None,
        BatchNormOptions::default(),
        &single(),
    );
}
