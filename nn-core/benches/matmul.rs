//! Matrix products through the GEMM seam: square sgemm at n = 256…2048 (the sizes), the
//! products of the MLP benchmark (X·Wᵀ with W stored out × in, the weight gradient gᵀ·X), and a
//! batched product. Compare with PyTorch via `bench-compare/mlp_gemm.py`.

// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array2;
use nn_core::Tensor;
use nn_core::linalg::gemm;
use nn_core::rng::seeded;
use std::hint::black_box;

fn matrix(rows: usize, cols: usize, seed: usize) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        ((i * 7 + j * 3 + seed) % 13) as f32 * 0.1 - 0.6
    })
}

fn square(c: &mut Criterion) {
    let mut g = c.benchmark_group("sgemm");
    g.sample_size(20);
    for n in [256usize, 512, 1024, 2048] {
        let (a, b) = (matrix(n, n, 0), matrix(n, n, 1));
        let mut out = Array2::<f32>::zeros((n, n));
        g.throughput(Throughput::Elements(2 * (n * n * n) as u64)); // FLOPs
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bch, _| {
            bch.iter(|| gemm(1.0, a.view(), b.view(), 0.0, out.view_mut()))
        });
    }
    g.finish();
}

fn mlp_shapes(c: &mut Criterion) {
    let mut g = c.benchmark_group("sgemm_mlp_shapes");
    g.sample_size(20);
    let x = matrix(128, 3072, 0);
    let w = matrix(1024, 3072, 1);
    let grad = matrix(128, 1024, 2);
    let mut y = Array2::<f32>::zeros((128, 1024));
    let mut gw = Array2::<f32>::zeros((1024, 3072));
    g.throughput(Throughput::Elements(2 * 128 * 1024 * 3072));
    g.bench_function("forward X·Wt 128x3072x1024", |b| {
        b.iter(|| gemm(1.0, x.view(), w.t(), 0.0, y.view_mut()))
    });
    g.bench_function("weight grad gt·X 1024x128x3072", |b| {
        b.iter(|| gemm(1.0, grad.t(), x.view(), 0.0, gw.view_mut()))
    });
    g.finish();
}

fn batched(c: &mut Criterion) {
    let mut g = c.benchmark_group("bmm");
    g.sample_size(20);
    let a = Tensor::randn(&[32, 128, 64], 0.0, 1.0, &mut seeded(0));
    let b = Tensor::randn(&[32, 64, 128], 0.0, 1.0, &mut seeded(1));
    g.throughput(Throughput::Elements(2 * 32 * 128 * 64 * 128));
    g.bench_function("32x[128x64]·[64x128]", |bch| {
        bch.iter(|| black_box(a.bmm(&b)))
    });
    g.finish();
}

criterion_group!(benches, square, mlp_shapes, batched);
criterion_main!(benches);
