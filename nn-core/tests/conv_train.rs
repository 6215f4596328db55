//! End to end: a small CNN (conv → BN → ReLU → max pool → conv → BN → ReLU → global average pool
//! → linear) trains on the embedded UCI digits through the public API only, reaches high test
//! accuracy, and keeps its evaluation outputs when its batch norms are folded into the
//! convolutions.

use ndarray::{Array4, s};
use nn_core::fold::fold_batch_norms;
use nn_core::layers::{
    AdaptiveAvgPool2d, BatchNormConfig, Conv2dConfig, Flatten, LinearConfig, MaxPool2dConfig, ReLU,
    Sequential,
};
use nn_core::loss::cross_entropy;
use nn_core::rng::seeded;
use nn_core::{Ctx, Module, Tensor, with_no_grad};
use nn_data::{Dataset, digits_split};
use rand::seq::SliceRandom;

/// Images `[N, 1, 8, 8]` and labels of a data set.
fn tensors(d: &impl Dataset) -> (Array4<f32>, Vec<usize>) {
    let mut x = Array4::<f32>::zeros((d.len(), 1, 8, 8));
    let mut y = Vec::with_capacity(d.len());
    for i in 0..d.len() {
        let sample = d.get(i).unwrap();
        x.slice_mut(s![i, .., .., ..]).assign(&sample.image);
        y.push(sample.label);
    }
    (x, y)
}

fn model(seed: u64) -> Sequential {
    let mut rng = seeded(seed);
    Sequential::new()
        .with(
            Conv2dConfig::new(1, 16, 3)
                .with_padding(1)
                .with_bias(false)
                .init(&mut rng)
                .unwrap(),
        )
        .with(BatchNormConfig::new(16).init_2d().unwrap())
        .with(ReLU)
        .with(MaxPool2dConfig::new(2).init().unwrap())
        .with(
            Conv2dConfig::new(16, 32, 3)
                .with_padding(1)
                .with_bias(false)
                .init(&mut rng)
                .unwrap(),
        )
        .with(BatchNormConfig::new(32).init_2d().unwrap())
        .with(ReLU)
        .with(AdaptiveAvgPool2d::global())
        .with(Flatten::default())
        .with(LinearConfig::new(32, 10).init(&mut rng).unwrap())
}

fn accuracy(m: &Sequential, x: &Array4<f32>, y: &[usize]) -> f32 {
    let logits =
        with_no_grad(|| m.forward(&Tensor::from_array(x.clone().into_dyn()), &mut Ctx::eval()));
    let l = logits.to_array();
    let correct = (0..y.len())
        .filter(|&i| {
            let row = l.slice(s![i, ..]);
            let best = (0..10).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
            best == y[i]
        })
        .count();
    correct as f32 / y.len() as f32
}

#[test]
fn small_cnn_learns_digits_and_folds() {
    let split = digits_split(0);
    let (xtr, ytr) = tensors(&split.train);
    let (xte, yte) = tensors(&split.test);
    let mut m = model(1);
    let params = m.named_parameters();
    let mut velocity: Vec<Vec<f32>> = params.iter().map(|(_, p)| vec![0.0; p.len()]).collect();
    let (momentum, batch) = (0.9f32, 32);
    let mut order: Vec<usize> = (0..ytr.len()).collect();
    let mut rng = seeded(2);
    let mut first_loss = None;
    let mut last_epoch_loss = 0.0;
    for epoch in 0..8 {
        // Step decay for the last epochs: the weights settle and BN's running statistics (an
        // average over the last ~10 batches) catch up with them.
        let lr = if epoch < 6 { 0.05f32 } else { 0.005 };
        order.shuffle(&mut rng);
        let mut total = 0.0;
        for (step, idx) in order.chunks(batch).enumerate() {
            let mut xb = Array4::<f32>::zeros((idx.len(), 1, 8, 8));
            for (r, &i) in idx.iter().enumerate() {
                xb.slice_mut(s![r, .., .., ..])
                    .assign(&xtr.slice(s![i, .., .., ..]));
            }
            let yb: Vec<usize> = idx.iter().map(|&i| ytr[i]).collect();
            m.zero_grad();
            let mut ctx = Ctx::train(epoch * 1000 + step as u64);
            let loss = cross_entropy(
                &m.forward(&Tensor::from_array(xb.into_dyn()), &mut ctx),
                &yb,
            );
            total += loss.item();
            first_loss.get_or_insert(loss.item());
            loss.backward();
            // SGD with momentum (PyTorch's form: v ← μv + g, w ← w − lr·v).
            for ((_, p), v) in params.iter().zip(velocity.iter_mut()) {
                p.update(|mut w, g| {
                    let g = g.expect("every parameter gets a gradient");
                    for ((w, g), v) in w.iter_mut().zip(g.iter()).zip(v.iter_mut()) {
                        *v = momentum * *v + g;
                        *w -= lr * *v;
                    }
                });
            }
        }
        last_epoch_loss = total / order.chunks(batch).len() as f32;
    }
    let first_loss = first_loss.unwrap();
    assert!(
        last_epoch_loss < 0.3 * first_loss,
        "loss went from {first_loss} to {last_epoch_loss}"
    );
    let acc = accuracy(&m, &xte, &yte);
    assert!(acc > 0.95, "test accuracy {acc}");
    // Fold both conv → BN pairs: same evaluation outputs, same accuracy.
    let xt = Tensor::from_array(xte.clone().into_dyn());
    let before = with_no_grad(|| m.forward(&xt, &mut Ctx::eval())).to_vec();
    assert_eq!(fold_batch_norms(&mut m), 2);
    let after = with_no_grad(|| m.forward(&xt, &mut Ctx::eval())).to_vec();
    for (a, b) in after.iter().zip(&before) {
        assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
    }
    assert_eq!(accuracy(&m, &xte, &yte), acc);
}
