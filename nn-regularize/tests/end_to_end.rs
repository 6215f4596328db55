//! End to end: a small convolutional network using every regulariser of the crate (DropConnect
//! convolution and linear layers, fractional max pooling, a stochastic-depth residual block,
//! dropout, an L2 penalty, mixup with label smoothing, cutout) learns a synthetic two-class image
//! task; evaluation is deterministic and the FMP test-time ensemble classifies as well.

use ndarray::{Array4, Axis};
use nn_core::layers::{Flatten, LinearConfig, ReLU, Sequential};
use nn_core::loss::cross_entropy_soft;
use nn_core::ops::Conv2dOptions;
use nn_core::rng::seeded;
use nn_core::{Ctx, Module, Tensor, with_no_grad};
use nn_regularize::{
    CutoutConfig, DropConnectConfig, DropoutConfig, FractionalMaxPool2dConfig, MixupConfig,
    PenaltyConfig, StochasticDepthConfig, predict_averaged,
};
use rand::Rng;

/// Class 0: the top half is bright; class 1: the bottom half. Plus uniform noise.
fn batch(n: usize, rng: &mut impl Rng) -> (Array4<f32>, Vec<usize>) {
    let mut x = Array4::<f32>::zeros((n, 1, 8, 8));
    let mut y = Vec::with_capacity(n);
    for (i, mut img) in x.outer_iter_mut().enumerate() {
        let label = i % 2;
        y.push(label);
        for ((_, r, _), v) in img.indexed_iter_mut() {
            let bright = (r < 4) == (label == 0);
            *v = if bright { 1.0 } else { 0.0 } + rng.random_range(-0.3..0.3);
        }
    }
    (x, y)
}

fn model() -> Sequential {
    let mut rng = seeded(0);
    let conv = DropConnectConfig::new(0.2)
        .init_conv2d(
            1,
            4,
            (3, 3),
            Conv2dOptions::default().with_padding(1),
            true,
            &mut rng,
        )
        .unwrap();
    let branch = Sequential::new()
        .with(LinearConfig::new(64, 64).init(&mut rng).unwrap())
        .with(ReLU);
    Sequential::new()
        .with(conv)
        .with(ReLU)
        .with(FractionalMaxPool2dConfig::ratio(0.5).init().unwrap()) // 8×8 → 4×4, α = 2
        .with(Flatten::default())
        .with(
            StochasticDepthConfig::with_survival_prob(0.8)
                .init_residual(Box::new(branch), None)
                .unwrap(),
        )
        .with(DropoutConfig::new(0.3).init().unwrap())
        .with(
            DropConnectConfig::new(0.3)
                .init_linear(64, 2, true, &mut rng)
                .unwrap(),
        )
}

#[test]
fn a_fully_regularised_network_trains_and_evaluates_deterministically() {
    let m = model();
    let l2 = PenaltyConfig::l2(1e-4).init().unwrap();
    let mut mix_cfg = MixupConfig::new(2);
    mix_cfg.mixup_alpha = 0.2;
    let mixup = mix_cfg.init().unwrap();
    let cutout = CutoutConfig::new(2).init().unwrap();
    let mut data_rng = seeded(1);
    let mut ctx = Ctx::train(2);
    let params = m.named_parameters();
    let (xh, yh) = batch(64, &mut seeded(5));
    let held_out = Tensor::from_array(xh.into_dyn());
    let clean_loss = || {
        with_no_grad(|| nn_core::loss::cross_entropy(&m.forward(&held_out, &mut Ctx::eval()), &yh))
            .item()
    };
    let before = clean_loss();
    let (mut first, mut last) = (0.0, 0.0);
    for step in 0..80 {
        let (x, y) = batch(32, &mut data_rng);
        let x = cutout.transform_batch(x, &mut data_rng);
        let mixed = mixup.apply(x, &y, &mut data_rng).unwrap();
        let logits = m.forward(&Tensor::from_array(mixed.images.into_dyn()), &mut ctx);
        let targets = Tensor::from_array(mixed.targets.into_dyn());
        let loss = &cross_entropy_soft(&logits, &targets) + &l2.loss(&m);
        m.zero_grad();
        loss.backward();
        for (name, p) in &params {
            assert!(p.grad().is_some() || step > 0, "{name} got no gradient");
            p.update(|mut w, g| {
                if let Some(g) = g {
                    w.scaled_add(-0.1, &g);
                }
            });
        }
        if step < 10 {
            first += loss.item() / 10.0;
        } else if step >= 70 {
            last += loss.item() / 10.0;
        }
    }
    // The training loss (mixed, smoothed targets) has a floor well above 0; it must still fall.
    assert!(last < first, "training loss {first} → {last}");
    let after = clean_loss();
    assert!(after < 0.5 * before, "held-out loss {before} → {after}");

    let (x, y) = batch(200, &mut seeded(9));
    let xt = Tensor::from_array(x.into_dyn());
    let (a, b) = with_no_grad(|| {
        (
            m.forward(&xt, &mut Ctx::eval()).to_array(),
            m.forward(&xt, &mut Ctx::eval()).to_array(),
        )
    });
    assert_eq!(a, b, "evaluation must be deterministic");
    let acc = |p: &ndarray::ArrayD<f32>| {
        p.axis_iter(Axis(0))
            .zip(&y)
            .filter(|(row, l)| (row[1] > row[0]) == (**l == 1))
            .count() as f64
            / y.len() as f64
    };
    assert!(acc(&a) > 0.9, "eval accuracy {}", acc(&a));
    let avg = predict_averaged(&m, &xt, 6);
    assert!(acc(&avg) > 0.9, "FMP-averaged accuracy {}", acc(&avg));
}
