//! Criterion benches of the pipeline: one training step of every zoo model on small inputs, and
//! one epoch of the data loader with the CIFAR augmentation recipe and normalisation.
//!
//! `cargo bench -p nn-train --bench training` (`-- step/` or `-- epoch/` for one group).
//!
//! * `step/MODEL`: batch 32 of 3×32×32 inputs, 10 classes: forward in training mode, softmax
//!   cross-entropy, backward, SGD with momentum 0.9 and weight decay 5e-4 (nn-optim), gradients
//!   cleared — the step `nn-train train` runs. Models: `mlp` (3072-256-256-10, ReLU), `mlp_bn`
//!   (the same with BatchNorm and dropout 0.5), `cnn` (the zoo's default: 32- and 64-channel
//!   stages), `resnet8` and `resnet20` (CIFAR ResNets, width 16).
//! * `epoch/cifar_crop_flip_normalize`: 2,048 CIFAR-shaped byte images through
//!   `nn_train::data::loader` — pad-4 random crop and horizontal flip (nn-augment's
//!   `recipes::cifar10_train`), per-channel normalisation, batches of 128, shuffled, two
//!   prefetched batches — iterated to the end.
#![allow(missing_docs)] // criterion_main! generates an undocumented function

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array4;
use nn_core::layers::Activation;
use nn_core::loss::cross_entropy;
use nn_core::{Ctx, Tensor, rng};
use nn_data::{InMemoryDataset, LoaderConfig, Normalize};
use nn_optim::{OptimizerConfig, SgdConfig};
use nn_train::preprocess::Fitted;
use nn_train::zoo::NormConfig;
use nn_train::{ModelConfig, optimizer_step};
use rand::Rng as _;

const BATCH: usize = 32;

fn models() -> Vec<(&'static str, ModelConfig)> {
    let mlp = |bn: bool| {
        let m = ModelConfig::mlp(vec![256, 256]).with_activation(Activation::Relu);
        if bn {
            m.with_norm(NormConfig::Batch).with_dropout(0.5)
        } else {
            m
        }
    };
    let resnet = |n| ModelConfig::resnet(n, 16);
    let cnn = ModelConfig::cnn(vec![32, 64]);
    vec![
        ("mlp", mlp(false)),
        ("mlp_bn", mlp(true)),
        ("cnn", cnn),
        ("resnet8", resnet(1)),
        ("resnet20", resnet(3)),
    ]
}

fn training_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("step");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(10);
    for (name, config) in models() {
        let mut r = rng::seeded(0);
        let model = config.build([3, 32, 32], 10, &mut r).expect("valid model");
        let x = Tensor::randn(&[BATCH, 3, 32, 32], 0.0, 1.0, &mut r);
        let labels: Vec<usize> = (0..BATCH).map(|_| r.random_range(0..10)).collect();
        let mut opt = OptimizerConfig::Sgd(SgdConfig {
            lr: 0.01,
            momentum: 0.9,
            weight_decay: 5e-4,
            ..SgdConfig::default()
        })
        .build(vec![])
        .expect("valid optimizer");
        let mut step = 0u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                let logits = model.forward(&x, &mut Ctx::train(step));
                let loss = cross_entropy(&logits, &labels);
                model.zero_grad();
                loss.backward();
                black_box(loss.item());
                optimizer_step(opt.as_mut(), model.as_ref()).expect("step");
                step += 1;
            })
        });
    }
    group.finish();
}

fn loader_epoch(c: &mut Criterion) {
    const IMAGES: usize = 2048;
    let mut r = rng::seeded(1);
    let bytes = Array4::from_shape_fn((IMAGES, 3, 32, 32), |_| r.random::<u8>());
    let labels = (0..IMAGES).map(|i| i % 10).collect();
    let dataset = Arc::new(InMemoryDataset::from_u8(bytes, 255.0, labels, 10).expect("dataset"));
    let augment = nn_augment::recipes::cifar10_train()
        .init()
        .expect("valid recipe");
    let normalize =
        Normalize::new(vec![0.49, 0.48, 0.45], vec![0.25, 0.24, 0.26]).expect("std > 0");
    let config = LoaderConfig {
        batch_size: 128,
        shuffle: true,
        seed: 0,
        prefetch: 2,
        ..Default::default()
    };
    let loader = nn_train::data::loader(
        dataset,
        config,
        Some(Arc::new(augment)),
        Arc::new(Fitted::Standardize(normalize)),
        vec![],
    )
    .expect("loader");
    let mut group = c.benchmark_group("epoch");
    group.throughput(Throughput::Elements(IMAGES as u64));
    group.sample_size(10);
    let mut epoch = 0;
    group.bench_function("cifar_crop_flip_normalize", |b| {
        b.iter(|| {
            epoch += 1;
            for batch in loader.epoch(epoch) {
                black_box(batch.expect("batch"));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, training_step, loader_epoch);
criterion_main!(benches);
