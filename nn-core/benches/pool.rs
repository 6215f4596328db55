//! Pooling at batch 128 on 64 channels of 32×32: max pooling 2×2/2 and 3×3/2 (padding 1),
//! average pooling 2×2/2 and global average pooling, forward + backward. Compare with PyTorch
//! via `bench-compare/conv_vs_torch.py` (max pooling 2×2). And max pooling 2×2/2 on a
//! channels-last `[128, 32, 28, 28]` input.

// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use nn_core::Tensor;
use nn_core::ops::{AvgPool2dOptions, MaxPool2dOptions};
use nn_core::rng::seeded;

/// A pooling op under test.
type PoolFn = Box<dyn Fn(&Tensor) -> Tensor>;

fn pool(c: &mut Criterion) {
    let mut g = c.benchmark_group("pool_fwd_bwd");
    g.sample_size(20);
    let x = Tensor::randn(&[128, 64, 32, 32], 0.0, 1.0, &mut seeded(0)).with_requires_grad();
    let ops: [(&str, PoolFn); 4] = [
        (
            "max_2x2_s2",
            Box::new(|x| x.max_pool2d(MaxPool2dOptions::new(2))),
        ),
        (
            "max_3x3_s2_p1",
            Box::new(|x| x.max_pool2d(MaxPool2dOptions::new(3).with_stride(2).with_padding(1))),
        ),
        (
            "avg_2x2_s2",
            Box::new(|x| x.avg_pool2d(AvgPool2dOptions::new(2))),
        ),
        ("global_avg", Box::new(|x| x.global_avg_pool2d())),
    ];
    for (name, f) in ops {
        g.bench_function(BenchmarkId::from_parameter(name), |bch| {
            bch.iter(|| {
                let y = f(&x);
                y.backward_with(nn_core::Array::ones(ndarray::IxDyn(y.shape())));
                x.zero_grad();
            })
        });
    }
    g.finish();
}

/// Max pooling 2×2 stride 2 on a channels-last `[128, 32, 28, 28]` input (the CNN recipe's first
/// pool): forward alone and forward + backward.
fn pool_channels_last(c: &mut Criterion) {
    let mut g = c.benchmark_group("max_pool_channels_last");
    g.sample_size(20);
    let x = Tensor::randn(&[128, 32, 28, 28], 0.0, 1.0, &mut seeded(0))
        .to_channels_last()
        .with_requires_grad();
    let o = MaxPool2dOptions::new(2);
    g.bench_function(BenchmarkId::new("fwd", "2x2_s2_32ch_28"), |bch| {
        bch.iter(|| std::hint::black_box(x.detach().max_pool2d(o)))
    });
    g.bench_function(BenchmarkId::new("fwd_bwd", "2x2_s2_32ch_28"), |bch| {
        bch.iter(|| {
            let y = x.max_pool2d(o);
            y.backward_with(nn_core::Array::ones(ndarray::IxDyn(y.shape())));
            x.zero_grad();
        })
    });
    g.finish();
}

criterion_group!(benches, pool, pool_channels_last);
criterion_main!(benches);
