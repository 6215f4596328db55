//! Benchmarks of the fused softmax cross-entropy (forward + backward) and of softmax / GELU
//! forward + backward, at the MLP benchmark's shape (batch 128, 10 classes) and at a large shape
//! that takes the parallel path. Compare with PyTorch via `bench-compare/losses_vs_torch.py`.
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use criterion::{Criterion, criterion_group, criterion_main};
use nn_core::Tensor;
use nn_core::loss::cross_entropy;
use nn_core::rng::seeded;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("losses");
    for &(n, k) in &[(128usize, 10usize), (1024, 1000)] {
        let x = Tensor::randn(&[n, k], 0.0, 1.0, &mut seeded(0));
        let labels: Vec<usize> = (0..n).map(|i| (i * 7) % k).collect();
        g.bench_function(format!("cross_entropy_fwd_bwd_{n}x{k}"), |b| {
            b.iter(|| {
                let x = x.detach().with_requires_grad();
                cross_entropy(&x, black_box(&labels)).backward();
                black_box(x.grad())
            })
        });
        g.bench_function(format!("softmax_fwd_bwd_{n}x{k}"), |b| {
            b.iter(|| {
                let x = x.detach().with_requires_grad();
                x.softmax(1).sum_all().backward();
                black_box(x.grad())
            })
        });
    }
    let x = Tensor::randn(&[128, 1024], 0.0, 1.0, &mut seeded(1));
    g.bench_function("gelu_fwd_bwd_128x1024", |b| {
        b.iter(|| {
            let x = x.detach().with_requires_grad();
            x.gelu().sum_all().backward();
            black_box(x.grad())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
