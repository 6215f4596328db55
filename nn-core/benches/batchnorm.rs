//! BatchNorm2d at batch 128 on 64 channels of 32×32: training-mode forward + backward (batch
//! statistics, running-stat update, input and γ/β gradients) and evaluation-mode forward; and
//! the same training step channels-last on 32 channels (the vector kernels) and 24 (the row
//! loops for C not a multiple of 16, `ops/norm/any_channels.rs`), 16×16; and BatchNorm1d's
//! training step on a `[128, 1024]` input (an MLP's hidden layer; the row loops).
//! Compare with PyTorch via `bench-compare/conv_vs_torch.py`.

// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ndarray::IxDyn;
use nn_core::layers::BatchNormConfig;
use nn_core::rng::seeded;
use nn_core::{Array, Ctx, Module, Tensor};
use std::hint::black_box;

fn batchnorm(c: &mut Criterion) {
    let mut g = c.benchmark_group("batchnorm2d");
    g.sample_size(20);
    let bn = BatchNormConfig::new(64).init_2d().unwrap();
    let x = Tensor::randn(&[128, 64, 32, 32], 1.0, 2.0, &mut seeded(0)).with_requires_grad();
    let gy = Array::ones(IxDyn(&[128, 64, 32, 32]));
    g.bench_function(BenchmarkId::from_parameter("train_fwd_bwd"), |bch| {
        bch.iter_batched(
            || gy.clone(),
            |gy| {
                bn.forward(&x, &mut Ctx::train(0)).backward_with(gy);
                x.zero_grad();
                bn.zero_grad();
            },
            criterion::BatchSize::PerIteration,
        )
    });
    let xe = x.detach();
    g.bench_function(BenchmarkId::from_parameter("eval_fwd"), |bch| {
        bch.iter(|| black_box(bn.forward(&xe, &mut Ctx::eval())))
    });
    g.finish();
}

/// One training step of a batch-norm layer: forward, backward of Σ y·gy, gradients cleared.
fn train_step(bn: &dyn Module, x: &Tensor, gy: &Tensor) {
    let y = bn.forward(x, &mut Ctx::train(0));
    (&y * gy).sum_all().backward();
    x.zero_grad();
    bn.zero_grad();
}

fn batchnorm_channels_last(c: &mut Criterion) {
    let mut g = c.benchmark_group("batchnorm2d_channels_last");
    g.sample_size(20);
    for ch in [24, 32] {
        let bn = BatchNormConfig::new(ch).init_2d().unwrap();
        let shape = [128, ch, 16, 16];
        let x = Tensor::randn(&shape, 1.0, 2.0, &mut seeded(0))
            .to_channels_last()
            .with_requires_grad();
        let gy = Tensor::ones(&shape).to_channels_last();
        g.bench_function(BenchmarkId::new("train_fwd_bwd", ch), |bch| {
            bch.iter(|| train_step(&bn, &x, &gy))
        });
    }
    g.finish();
}

fn batchnorm1d(c: &mut Criterion) {
    let mut g = c.benchmark_group("batchnorm1d");
    g.sample_size(20);
    let bn = BatchNormConfig::new(1024).init_1d().unwrap();
    let x = Tensor::randn(&[128, 1024], 1.0, 2.0, &mut seeded(0)).with_requires_grad();
    let gy = Tensor::ones(&[128, 1024]);
    g.bench_function(BenchmarkId::new("train_fwd_bwd", "128x1024"), |bch| {
        bch.iter(|| train_step(&bn, &x, &gy))
    });
    g.finish();
}

criterion_group!(benches, batchnorm, batchnorm_channels_last, batchnorm1d);
criterion_main!(benches);
