//! The README experiment: an over-parameterised MLP on a small subset of the embedded UCI digits,
//! trained without regularisation and with each of L2, dropout, mixup and cutout, with the same
//! budget and seeds; prints train vs validation accuracy (the generalisation gap).
//!
//! `cargo run -p nn-train --example regularization_experiment --release [-- --seeds 3 --epochs 150]`
//!
//! (nn-regularize's README quotes its results; it lives here because it needs the
//! module ↔ optimizer adapter, [`nn_train::step_parameters`].)
//!
//! Setup: the stratified 70/15/15 digits split (nn-data, seed 0); 300 training images drawn from
//! the training part (a small training set makes a 64-512-512-10 MLP with ~300k parameters
//! overfit); the 270 validation images; SGD (nn-optim) with momentum 0.9, lr 0.05, batch 50;
//! the same number of epochs for every method. Mixup and cutout run as nn-data per-batch hooks.
//! Accuracies are those of the final epoch (no early stopping), mean ± sd over seeds.

use std::sync::Arc;

use ndarray::Array4;
use nn_core::layers::{Flatten, LinearConfig, ReLU, Sequential};
use nn_core::loss::{cross_entropy, cross_entropy_soft};
use nn_core::rng::seeded;
use nn_core::{Ctx, Module, Tensor, with_no_grad};
use nn_data::{Batch, BatchHook, DataLoader, Dataset, LoaderConfig, Subset, digits_split};
use nn_optim::SgdConfig;
use nn_regularize::{CutoutConfig, DropoutConfig, MixupConfig, PenaltyConfig};

/// The regularisers compared.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Method {
    None,
    L2,
    Dropout,
    Mixup,
    Cutout,
}

impl Method {
    fn label(self) -> &'static str {
        match self {
            Method::None => "none",
            Method::L2 => "L2 (λ = 1e-3)",
            Method::Dropout => "dropout (p = 0.5)",
            Method::Mixup => "mixup (α = 0.4)",
            Method::Cutout => "cutout (4×4 of 8×8)",
        }
    }
}

const HIDDEN: usize = 512;
const TRAIN_SIZE: usize = 300;
const BATCH: usize = 50;

fn model(method: Method, seed: u64) -> Sequential {
    let mut rng = seeded(seed);
    let mut lin = |i, o| LinearConfig::new(i, o).init(&mut rng).expect("valid sizes");
    let mut m = Sequential::new().with(Flatten::default());
    m.push(lin(64, HIDDEN));
    m.push(ReLU);
    if method == Method::Dropout {
        m.push(DropoutConfig::new(0.5).init().unwrap());
    }
    m.push(lin(HIDDEN, HIDDEN));
    m.push(ReLU);
    if method == Method::Dropout {
        m.push(DropoutConfig::new(0.5).init().unwrap());
    }
    m.push(lin(HIDDEN, 10));
    m
}

fn hook(method: Method) -> Option<BatchHook> {
    match method {
        Method::Mixup => {
            let mut cfg = MixupConfig::new(10);
            cfg.mixup_alpha = 0.4;
            cfg.label_smoothing = 0.0;
            let mixup = cfg.init().unwrap();
            Some(Arc::new(
                move |b: Batch, rng: &mut rand_chacha::ChaCha8Rng| {
                    let out = match b.soft_targets {
                        Some(t) => mixup.apply_soft(b.images, t, rng),
                        None => mixup.apply(b.images, &b.labels, rng),
                    }
                    .expect("a well-formed batch");
                    Batch {
                        images: out.images,
                        soft_targets: Some(out.targets),
                        ..b
                    }
                },
            ))
        }
        Method::Cutout => {
            let cutout = CutoutConfig::new(4).init().unwrap();
            Some(Arc::new(
                move |b: Batch, rng: &mut rand_chacha::ChaCha8Rng| Batch {
                    images: cutout.transform_batch(b.images, rng),
                    ..b
                },
            ))
        }
        _ => None,
    }
}

fn accuracy(m: &Sequential, images: &Array4<f32>, labels: &[usize]) -> f64 {
    with_no_grad(|| {
        let logits = m.forward(
            &Tensor::from_array(images.clone().into_dyn()),
            &mut Ctx::eval(),
        );
        let pred = logits.argmax(1, false);
        pred.iter().zip(labels).filter(|(p, l)| p == l).count() as f64 / labels.len() as f64
    })
}

fn all(ds: Arc<dyn Dataset>) -> (Array4<f32>, Vec<usize>) {
    let loader = DataLoader::new(
        ds.clone(),
        LoaderConfig {
            prefetch: 0,
            ..LoaderConfig::with_batch_size(ds.len())
        },
    )
    .expect("loader");
    let b = loader.batch(0, 0).expect("batch");
    (b.images, b.labels)
}

fn run(method: Method, seed: u64, epochs: u64) -> (f64, f64) {
    let split = digits_split(0);
    let train: Arc<dyn Dataset> =
        Arc::new(Subset::random(split.train, TRAIN_SIZE, 0).expect("subset"));
    let val: Arc<dyn Dataset> = Arc::new(split.val);
    let cfg = LoaderConfig {
        shuffle: true,
        drop_last: true,
        seed,
        prefetch: 0,
        ..LoaderConfig::with_batch_size(BATCH)
    };
    let mut loader = DataLoader::new(train.clone(), cfg).expect("loader");
    if let Some(h) = hook(method) {
        loader = loader.with_batch_hook(h);
    }
    let m = model(method, 1000 + seed);
    let params = m.named_parameters();
    let l2 = PenaltyConfig::l2(1e-3).init().unwrap();
    let mut opt = SgdConfig {
        lr: 0.05,
        momentum: 0.9,
        ..Default::default()
    }
    .init()
    .unwrap();
    let mut ctx = Ctx::train(seed);
    for epoch in 0..epochs {
        for batch in loader.epoch(epoch) {
            let b = batch.expect("batch");
            let x = Tensor::from_array(b.images.into_dyn());
            let logits = m.forward(&x, &mut ctx);
            let mut loss = match &b.soft_targets {
                Some(t) => cross_entropy_soft(&logits, &Tensor::from_array(t.clone().into_dyn())),
                None => cross_entropy(&logits, &b.labels),
            };
            if method == Method::L2 {
                loss = &loss + &l2.loss(&m);
            }
            m.zero_grad();
            loss.backward();
            nn_train::step_parameters(&mut opt, &params).expect("optimizer step");
        }
    }
    let (xt, yt) = all(train);
    let (xv, yv) = all(val);
    (accuracy(&m, &xt, &yt), accuracy(&m, &xv, &yv))
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} expects an integer, got {v}"))
        })
        .unwrap_or(default)
}

fn main() {
    let seeds = arg("--seeds", 3);
    let epochs = arg("--epochs", 150);
    println!(
        "digits: {TRAIN_SIZE} training images, 270 validation; MLP 64-{HIDDEN}-{HIDDEN}-10; \
         SGD momentum 0.9, lr 0.05, batch {BATCH}, {epochs} epochs; seeds 0..{seeds}\n"
    );
    println!("| regulariser | train accuracy | validation accuracy | gap |");
    println!("|---|---|---|---|");
    for method in [
        Method::None,
        Method::L2,
        Method::Dropout,
        Method::Mixup,
        Method::Cutout,
    ] {
        let t0 = std::time::Instant::now();
        let (mut tr, mut va, mut gap) = (vec![], vec![], vec![]);
        for seed in 0..seeds {
            let (a, b) = run(method, seed, epochs);
            tr.push(100.0 * a);
            va.push(100.0 * b);
            gap.push(100.0 * (a - b));
        }
        let ((tm, ts), (vm, vs), (gm, gs)) = (mean_sd(&tr), mean_sd(&va), mean_sd(&gap));
        println!(
            "| {} | {tm:.1} ± {ts:.1} % | {vm:.1} ± {vs:.1} % | {gm:.1} ± {gs:.1} pts |",
            method.label()
        );
        eprintln!(
            "  ({} took {:.1} s)",
            method.label(),
            t0.elapsed().as_secs_f64()
        );
    }
}
