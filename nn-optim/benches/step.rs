//! One optimizer step over 10 M parameters in one tensor (Adam; SGD with momentum and weight
//! decay): the fused, allocation-free update; and over 2000 tensors of 500 parameters (the
//! per-parameter bookkeeping: names, groups, state slots). `cargo bench -p nn-optim --bench
//! step`; the head-to-head with PyTorch is `bench-compare/compare.py`.

#![allow(missing_docs)] // criterion_group!/criterion_main! generate undocumented functions

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::{ArrayD, IxDyn};
use nn_optim::{AdamConfig, Optimizer, ParamMut, SgdConfig};

const N: usize = 10_000_000;

fn data() -> (ArrayD<f32>, ArrayD<f32>) {
    let p = ArrayD::from_shape_fn(IxDyn(&[N]), |i| ((i[0] % 1000) as f32 - 500.0) * 1e-3);
    let g = ArrayD::from_shape_fn(IxDyn(&[N]), |i| ((i[0] % 777) as f32 - 388.0) * 1e-4);
    (p, g)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("step_10M");
    group
        .throughput(Throughput::Elements(N as u64))
        .sample_size(20);
    let (mut p, g) = data();
    let mut adam = AdamConfig::default().init().unwrap();
    group.bench_function("adam", |b| {
        b.iter(|| {
            adam.step(black_box(&mut [ParamMut::new("w", p.view_mut(), g.view())]))
                .unwrap()
        })
    });
    let mut sgd = SgdConfig {
        lr: 0.01,
        momentum: 0.9,
        weight_decay: 5e-4,
        ..Default::default()
    }
    .init()
    .unwrap();
    group.bench_function("sgd_momentum", |b| {
        b.iter(|| {
            sgd.step(black_box(&mut [ParamMut::new("w", p.view_mut(), g.view())]))
                .unwrap()
        })
    });
    group.finish();

    // Many small tensors: the per-parameter overhead of a step.
    let (tensors, len) = (2000usize, 500usize);
    let names: Vec<String> = (0..tensors).map(|i| format!("layer{i}.weight")).collect();
    let mut ps: Vec<ArrayD<f32>> = (0..tensors)
        .map(|k| ArrayD::from_shape_fn(IxDyn(&[len]), |i| ((i[0] + k) % 97) as f32 * 1e-3))
        .collect();
    let gs: Vec<ArrayD<f32>> = (0..tensors)
        .map(|k| ArrayD::from_shape_fn(IxDyn(&[len]), |i| ((i[0] * 7 + k) % 89) as f32 * 1e-4))
        .collect();
    let mut group = c.benchmark_group("step_2000x500");
    group
        .throughput(Throughput::Elements((tensors * len) as u64))
        .sample_size(30);
    let mut adam = AdamConfig::default().init().unwrap();
    group.bench_function("adam", |b| {
        b.iter(|| {
            let mut params: Vec<ParamMut<'_>> = names
                .iter()
                .zip(ps.iter_mut())
                .zip(&gs)
                .map(|((n, p), g)| ParamMut::new(n, p.view_mut(), g.view()))
                .collect();
            adam.step(black_box(&mut params)).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
