//! Timing driver for the PyTorch head-to-head (`bench-compare/conv_vs_torch.py`): times nn-core's
//! conv2d (forward, forward+backward), max pooling and BatchNorm2d on the benchmark shapes and
//! prints one line per workload: `name median_ms`.
//!
//! `cargo run --release -p nn-core --example conv_timing -- [reps]`

use std::time::Instant;

use nn_core::layers::BatchNormConfig;
use nn_core::ops::{Conv2dOptions, MaxPool2dOptions};
use nn_core::rng::seeded;
use nn_core::{Array, Ctx, Module, Tensor};

/// Median wall time of `f(setup())` over `reps` runs after one warm-up; `setup` is not timed.
fn median_ms<S>(reps: usize, mut setup: impl FnMut() -> S, mut f: impl FnMut(S)) -> f64 {
    f(setup()); // warm-up: workspaces, page faults
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = setup();
            let start = Instant::now();
            f(s);
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    t[t.len() / 2]
}

fn main() {
    let reps: usize = std::env::args()
        .nth(1)
        .map_or(5, |s| s.parse().expect("reps"));
    let only: Option<String> = std::env::args().nth(2);
    let batch = 128;
    let mut rng = seeded(0);
    // (name, C_in, C_out, H=W); all k3 p1 with bias.
    let shapes = [
        ("conv_3_64_32", 3, 64, 32),
        ("conv_64_64_32", 64, 64, 32),
        ("conv_128_128_16", 128, 128, 16),
        ("conv_256_256_8", 256, 256, 8),
    ];
    for (name, cin, cout, hw) in shapes {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let x = Tensor::randn(&[batch, cin, hw, hw], 0.0, 1.0, &mut rng);
        let w = Tensor::randn(&[cout, cin, 3, 3], 0.0, 0.1, &mut rng).with_requires_grad();
        let b = Tensor::randn(&[cout], 0.0, 0.1, &mut rng).with_requires_grad();
        let o = Conv2dOptions::default().with_padding(1);
        // The stem's input is the image (no gradient); deeper layers need the input gradient.
        let xg = if cin == 3 {
            x.clone()
        } else {
            x.clone().with_requires_grad()
        };
        let fwd = median_ms(
            reps,
            || (),
            |()| {
                std::hint::black_box(x.conv2d(&w.detach(), Some(&b.detach()), o));
            },
        );
        let gy = Array::ones(ndarray::IxDyn(&[batch, cout, hw, hw]));
        let fb = median_ms(
            reps,
            || gy.clone(),
            |gy| {
                let y = xg.conv2d(&w, Some(&b), o);
                y.backward_with(gy);
                w.zero_grad();
                b.zero_grad();
                xg.zero_grad();
            },
        );
        println!("{name}_fwd {fwd:.3}");
        println!("{name}_fwdbwd {fb:.3}");
    }
    if only.as_deref().is_none_or(|o| "maxpool".contains(o)) {
        let x = Tensor::randn(&[batch, 64, 32, 32], 0.0, 1.0, &mut rng).with_requires_grad();
        let gy = Array::ones(ndarray::IxDyn(&[batch, 64, 16, 16]));
        let t = median_ms(
            reps,
            || gy.clone(),
            |gy| {
                let y = x.max_pool2d(MaxPool2dOptions::new(2));
                y.backward_with(gy);
                x.zero_grad();
            },
        );
        println!("maxpool_64_32_fwdbwd {t:.3}");
    }
    if only.as_deref().is_none_or(|o| "batchnorm".contains(o)) {
        let bn = BatchNormConfig::new(64).init_2d().expect("valid config");
        let x = Tensor::randn(&[batch, 64, 32, 32], 0.0, 1.0, &mut rng).with_requires_grad();
        let gy = Array::ones(ndarray::IxDyn(&[batch, 64, 32, 32]));
        let t = median_ms(
            reps,
            || gy.clone(),
            |gy| {
                bn.forward(&x, &mut Ctx::train(0)).backward_with(gy);
                x.zero_grad();
                bn.zero_grad();
            },
        );
        println!("bn2d_64_32_fwdbwd {t:.3}");
    }
}
