//! End to end: softmax regression on synthetic blobs, trained with mini-batch SGD + Nesterov,
//! parameter groups (no decay on the bias, head-style lr scale), gradient clipping, and a
//! warm-up + cosine schedule stepped per step; interrupted halfway, saved to JSON, restored into
//! fresh objects, and finished: the result is bit-identical to an uninterrupted run.

use ndarray::{Array1, Array2, ArrayD, Axis, IxDyn};
use nn_optim::{
    GradClip, Interval, LrScheduler, Matcher, OptimState, Optimizer, OptimizerConfig, ParamGroup,
    ParamMut, Schedule, SgdConfig,
};
use rand_like::Lcg;

mod rand_like {
    /// A tiny deterministic generator (the crate has no rand dependency).
    pub struct Lcg(pub u64);
    impl Lcg {
        pub fn uniform(&mut self) -> f32 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 40) as f32) / (1u64 << 24) as f32
        }
        pub fn normal(&mut self) -> f32 {
            let (u, v) = (self.uniform().max(1e-7), self.uniform());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f32::consts::PI * v).cos()
        }
    }
}

const CLASSES: usize = 3;
const DIM: usize = 5;
const STEPS: u64 = 200;
const BATCH: usize = 32;

fn data() -> (Array2<f32>, Vec<usize>) {
    let mut rng = Lcg(7);
    let n = 600;
    let mut x = Array2::zeros((n, DIM));
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % CLASSES;
        for j in 0..DIM {
            let center = if j % CLASSES == c { 2.0 } else { 0.0 };
            x[[i, j]] = center + rng.normal();
        }
        y.push(c);
    }
    (x, y)
}

/// Mean cross-entropy gradient of a linear softmax classifier on rows `idx`.
fn grads(
    w: &ArrayD<f32>,
    b: &ArrayD<f32>,
    x: &Array2<f32>,
    y: &[usize],
    idx: &[usize],
) -> (ArrayD<f32>, ArrayD<f32>) {
    let w2 = w.view().into_dimensionality::<ndarray::Ix2>().unwrap();
    let mut gw = Array2::<f32>::zeros((CLASSES, DIM));
    let mut gb = Array1::<f32>::zeros(CLASSES);
    for &i in idx {
        let logits = w2.dot(&x.row(i)) + b.view().into_dimensionality::<ndarray::Ix1>().unwrap();
        let m = logits.fold(f32::MIN, |a, &v| a.max(v));
        let e = logits.mapv(|v| (v - m).exp());
        let p = &e / e.sum();
        for c in 0..CLASSES {
            let d = (p[c] - if c == y[i] { 1.0 } else { 0.0 }) / idx.len() as f32;
            gb[c] += d;
            for j in 0..DIM {
                gw[[c, j]] += d * x[[i, j]];
            }
        }
    }
    (gw.into_dyn(), gb.into_dyn())
}

fn accuracy(w: &ArrayD<f32>, b: &ArrayD<f32>, x: &Array2<f32>, y: &[usize]) -> f32 {
    let w2 = w.view().into_dimensionality::<ndarray::Ix2>().unwrap();
    let logits = x.dot(&w2.t()) + b.view().into_dimensionality::<ndarray::Ix1>().unwrap();
    let correct = logits
        .axis_iter(Axis(0))
        .zip(y)
        .filter(|(row, c)| {
            row.iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap()
                .0
                == **c
        })
        .count();
    correct as f32 / y.len() as f32
}

struct Run {
    w: ArrayD<f32>,
    b: ArrayD<f32>,
    opt: Box<dyn Optimizer>,
    sched: LrScheduler,
}

fn fresh() -> Run {
    let cfg = OptimizerConfig::Sgd(SgdConfig {
        lr: 0.2,
        momentum: 0.9,
        nesterov: true,
        weight_decay: 1e-3,
        clip: GradClip::norm(5.0),
        ..Default::default()
    });
    let groups = vec![
        ParamGroup::new("no_decay", Matcher::no_decay())
            .with_weight_decay(0.0)
            .with_lr_scale(0.5),
    ];
    let mut opt = cfg.build(groups).unwrap();
    let schedule = Schedule::warmup(
        20,
        Schedule::Cosine(nn_optim::schedule::Cosine {
            t_max: STEPS - 20,
            eta_min: 1e-3,
        }),
    );
    let sched = LrScheduler::new(schedule, Interval::Step, opt.as_mut()).unwrap();
    Run {
        w: ArrayD::zeros(IxDyn(&[CLASSES, DIM])),
        b: ArrayD::zeros(IxDyn(&[CLASSES])),
        opt,
        sched,
    }
}

fn train(run: &mut Run, x: &Array2<f32>, y: &[usize], from: u64, to: u64) {
    for step in from..to {
        let start = (step as usize * BATCH) % (x.nrows() - BATCH);
        let idx: Vec<usize> = (start..start + BATCH).collect();
        let (gw, gb) = grads(&run.w, &run.b, x, y, &idx);
        run.opt
            .step(&mut [
                ParamMut::new("fc.weight", run.w.view_mut(), gw.view()),
                ParamMut::new("fc.bias", run.b.view_mut(), gb.view()),
            ])
            .unwrap();
        run.sched.on_step(run.opt.as_mut());
    }
}

#[test]
fn trains_and_resumes_bit_identically() {
    let (x, y) = data();
    let mut full = fresh();
    train(&mut full, &x, &y, 0, STEPS);
    let acc = accuracy(&full.w, &full.b, &x, &y);
    assert!(acc > 0.9, "accuracy {acc}");
    assert!(
        full.opt.lr(0) < 0.01,
        "cosine reached its floor region: {}",
        full.opt.lr(0)
    );

    let mut first = fresh();
    train(&mut first, &x, &y, 0, STEPS / 2);
    let saved = (
        serde_json::to_string(&first.opt.state()).unwrap(),
        serde_json::to_string(&first.sched).unwrap(),
        first.w.clone(),
        first.b.clone(),
    );
    drop(first);
    let mut resumed = fresh();
    resumed
        .opt
        .load_state(&serde_json::from_str::<OptimState>(&saved.0).unwrap())
        .unwrap();
    resumed.sched = serde_json::from_str(&saved.1).unwrap();
    resumed.sched.apply(resumed.opt.as_mut());
    resumed.w = saved.2;
    resumed.b = saved.3;
    train(&mut resumed, &x, &y, STEPS / 2, STEPS);
    assert_eq!(resumed.w, full.w);
    assert_eq!(resumed.b, full.b);
}
