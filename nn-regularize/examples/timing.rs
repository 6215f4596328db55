//! Timing driver for the PyTorch head-to-head (`bench-compare/compare.py` runs it alternately
//! with PyTorch): prints one JSON object of median milliseconds per workload.
//!
//! `cargo run -p nn-regularize --example timing --release -- [repetitions]`

use std::time::Instant;

use ndarray::{Array4, ArrayD};
use nn_core::rng::seeded;
use nn_core::{Ctx, Module, Tensor};
use nn_regularize::{DropConnectConfig, DropoutConfig, FractionalMaxPool2dConfig, MixupConfig};

fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[reps / 2]
}

fn main() {
    let reps: usize = std::env::args()
        .nth(1)
        .map_or(30, |s| s.parse().expect("repetitions"));
    let mut out = Vec::new();

    let d = DropoutConfig::new(0.5).init().unwrap();
    let x = Tensor::randn(&[256, 1024], 0.0, 1.0, &mut seeded(0)).with_requires_grad();
    let mut ctx = Ctx::train(1);
    out.push((
        "dropout_fwd_bwd_256x1024",
        median_ms(reps, || {
            let y = d.forward(&x, &mut ctx);
            y.backward_with(ArrayD::ones(y.shape()));
            x.zero_grad();
        }),
    ));

    let pool = FractionalMaxPool2dConfig::torch(2, 2, std::f32::consts::FRAC_1_SQRT_2)
        .init()
        .unwrap();
    let x = Tensor::randn(&[32, 32, 32, 32], 0.0, 1.0, &mut seeded(0)).with_requires_grad();
    out.push((
        "fmp_fwd_bwd_32x32x32x32",
        median_ms(reps, || {
            let y = pool.forward(&x, &mut ctx);
            y.backward_with(ArrayD::ones(y.shape()));
            x.zero_grad();
        }),
    ));

    let mut cfg = MixupConfig::new(10);
    cfg.label_smoothing = 0.1;
    let m = cfg.init().unwrap();
    let images = Array4::<f32>::ones((128, 3, 32, 32));
    let labels: Vec<usize> = (0..128).map(|i| i % 10).collect();
    let mut rng = seeded(0);
    out.push((
        "mixup_128x3x32x32",
        median_ms(reps, || {
            let _ = m.apply(images.clone(), &labels, &mut rng).unwrap();
        }),
    ));

    let layer = DropConnectConfig::new(0.5)
        .init_linear(1024, 1024, true, &mut seeded(1))
        .unwrap();
    let x = Tensor::randn(&[128, 1024], 0.0, 1.0, &mut seeded(0));
    out.push((
        "dropconnect_fwd_bwd_128x1024x1024",
        median_ms(reps, || {
            let y = layer.forward(&x, &mut ctx);
            y.backward_with(ArrayD::ones(y.shape()));
            layer.zero_grad();
        }),
    ));

    let body: Vec<String> = out
        .iter()
        .map(|(k, v)| format!("\"{k}\": {v:.4}"))
        .collect();
    println!("{{{}}}", body.join(", "));
}
