//! Criterion benches of the regularisers' hot paths: dropout forward+backward, fractional max
//! pooling forward+backward, mixup/CutMix on a CIFAR-sized batch, DropConnect (per batch and per
//! example), and an L2 penalty over an MLP's weights.
//!
//! `cargo bench -p nn-regularize --bench regularizers -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::Array4;
use nn_core::rng::seeded;
use nn_core::{Ctx, Module, Tensor};
use nn_regularize::{
    DropConnectConfig, DropoutConfig, FractionalMaxPool2dConfig, MaskSharing, MixupConfig,
    PenaltyConfig,
};

fn dropout(c: &mut Criterion) {
    let d = DropoutConfig::new(0.5).init().unwrap();
    let x = Tensor::randn(&[256, 1024], 0.0, 1.0, &mut seeded(0)).with_requires_grad();
    let mut ctx = Ctx::train(1);
    c.bench_function("dropout fwd+bwd 256x1024", |b| {
        b.iter(|| {
            let y = d.forward(&x, &mut ctx);
            y.backward_with(ndarray::ArrayD::ones(y.shape()));
            x.zero_grad();
        })
    });
}

fn fmp(c: &mut Criterion) {
    let pool = FractionalMaxPool2dConfig::torch(2, 2, std::f32::consts::FRAC_1_SQRT_2)
        .init()
        .unwrap();
    let x = Tensor::randn(&[32, 32, 32, 32], 0.0, 1.0, &mut seeded(0)).with_requires_grad();
    let mut ctx = Ctx::train(1);
    c.bench_function("fmp fwd+bwd 32x32x32x32 k2 r1/sqrt2", |b| {
        b.iter(|| {
            let y = pool.forward(&x, &mut ctx);
            y.backward_with(ndarray::ArrayD::ones(y.shape()));
            x.zero_grad();
        })
    });
}

fn mixup(c: &mut Criterion) {
    let mut cfg = MixupConfig::new(10);
    cfg.cutmix_alpha = 1.0;
    let m = cfg.init().unwrap();
    let images = Array4::<f32>::ones((128, 3, 32, 32));
    let labels: Vec<usize> = (0..128).map(|i| i % 10).collect();
    let mut rng = seeded(0);
    c.bench_function("mixup/cutmix 128x3x32x32", |b| {
        b.iter(|| m.apply(images.clone(), &labels, &mut rng).unwrap())
    });
}

fn dropconnect(c: &mut Criterion) {
    let x = Tensor::randn(&[64, 256], 0.0, 1.0, &mut seeded(0));
    for sharing in [MaskSharing::PerBatch, MaskSharing::PerSample] {
        let layer = DropConnectConfig::new(0.5)
            .sharing(sharing)
            .init_linear(256, 256, true, &mut seeded(1))
            .unwrap();
        let mut ctx = Ctx::train(2);
        c.bench_function(
            &format!("dropconnect fwd+bwd 64x256->256 {sharing:?}"),
            |b| {
                b.iter(|| {
                    let y = layer.forward(&x, &mut ctx);
                    y.backward_with(ndarray::ArrayD::ones(y.shape()));
                    layer.zero_grad();
                })
            },
        );
    }
}

fn penalty(c: &mut Criterion) {
    let l2 = PenaltyConfig::l2(1e-4).init().unwrap();
    let ws: Vec<Tensor> = [[1024, 3072], [1024, 1024], [10, 1024]]
        .iter()
        .map(|s| Tensor::randn(s, 0.0, 0.02, &mut seeded(0)).with_requires_grad())
        .collect();
    c.bench_function("l2 penalty fwd+bwd MLP 3072-1024-1024-10", |b| {
        b.iter(|| {
            l2.loss_of(&ws).backward();
            ws.iter().for_each(Tensor::zero_grad);
        })
    });
}

/// The group, in a private module (criterion's generated function has no doc comment).
mod group {
    use super::*;
    criterion_group!(benches, dropout, fmp, mixup, dropconnect, penalty);
}
criterion_main!(group::benches);
