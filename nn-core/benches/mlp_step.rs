//! One MLP training step, 3072→1024→1024→10, batch 128, ReLU, softmax cross-entropy, plain SGD
//! through `Parameter::update` (forward, backward, update, gradients cleared): through the
//! modules (`Sequential` of `Linear`/`ReLU`), with the fused linear+ReLU op, and through the
//! modules with the buffer pool disabled (to measure what the pool saves). Compare with PyTorch
//! via `bench-compare/mlp_gemm.py`.

// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

#[path = "common/mlp.rs"]
mod mlp;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nn_core::buffer_pool;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("mlp_step");
    g.sample_size(20);
    g.throughput(Throughput::Elements(128)); // images
    let net = mlp::Mlp::new(128, 0);
    g.bench_function("modules", |b| b.iter(|| net.step()));
    g.bench_function("fused_linear_relu", |b| b.iter(|| net.step_fused()));
    let capacity = buffer_pool::capacity_bytes();
    buffer_pool::set_capacity_bytes(0);
    g.bench_function("modules_without_pool", |b| b.iter(|| net.step()));
    buffer_pool::set_capacity_bytes(capacity);
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
