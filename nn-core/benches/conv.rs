//! conv2d at batch 128, k3 p1, with bias, on the four shapes (3→64 @ 32², 64→64 @ 32²,
//! 128→128 @ 16², 256→256 @ 8²): forward, and forward + backward (input gradient for all but the
//! 3-channel stem, whose input is the image). Compare with PyTorch via
//! `bench-compare/conv_vs_torch.py`.

// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ndarray::IxDyn;
use nn_core::ops::Conv2dOptions;
use nn_core::rng::seeded;
use nn_core::{Array, Tensor};
use std::hint::black_box;

const BATCH: usize = 128;
const SHAPES: [(usize, usize, usize); 4] =
    [(3, 64, 32), (64, 64, 32), (128, 128, 16), (256, 256, 8)];

fn conv(c: &mut Criterion) {
    let mut g = c.benchmark_group("conv2d");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    let o = Conv2dOptions::default().with_padding(1);
    for (cin, cout, hw) in SHAPES {
        let mut rng = seeded(0);
        let x = Tensor::randn(&[BATCH, cin, hw, hw], 0.0, 1.0, &mut rng);
        let w = Tensor::randn(&[cout, cin, 3, 3], 0.0, 0.1, &mut rng);
        let b = Tensor::randn(&[cout], 0.0, 0.1, &mut rng);
        let flops = 2 * BATCH * cout * cin * 9 * hw * hw;
        let id = format!("{cin}to{cout}_{hw}x{hw}");
        g.throughput(Throughput::Elements(flops as u64));
        g.bench_function(BenchmarkId::new("fwd", &id), |bch| {
            bch.iter(|| black_box(x.conv2d(&w, Some(&b), o)))
        });
        let xg = if cin == 3 {
            x.clone()
        } else {
            x.detach().with_requires_grad()
        };
        let (wg, bg) = (
            w.detach().with_requires_grad(),
            b.detach().with_requires_grad(),
        );
        let gy = Array::ones(IxDyn(&[BATCH, cout, hw, hw]));
        g.throughput(Throughput::Elements(
            (flops * if cin == 3 { 2 } else { 3 }) as u64,
        ));
        g.bench_function(BenchmarkId::new("fwd_bwd", &id), |bch| {
            bch.iter_batched(
                || gy.clone(),
                |gy| {
                    xg.conv2d(&wg, Some(&bg), o).backward_with(gy);
                    (xg.zero_grad(), wg.zero_grad(), bg.zero_grad())
                },
                criterion::BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, conv);
criterion_main!(benches);
