//! Residual connections: y = x + BN(conv(x)) (identity branch plus a conv → BN branch, as in a
//! ResNet block) backpropagates correctly — the input gradient is the sum of both branches'
//! gradients, checked against finite differences for the input and every parameter, in
//! training mode (batch statistics) and in evaluation mode.

use nn_core::gradcheck::{
    GradCheckConfig, assert_gradients_at, check_module_gradients, random_inputs,
};
use nn_core::layers::{BatchNorm2d, BatchNormConfig, Conv2d, Conv2dConfig};
use nn_core::rng::seeded;
use nn_core::{Ctx, Entry, Module, Tensor};

/// x + bn(conv(x)), with the conv preserving the shape.
struct Residual {
    conv: Conv2d,
    bn: BatchNorm2d,
}

impl Module for Residual {
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        let branch = self.bn.forward(&self.conv.forward(x, ctx), ctx);
        x + &branch
    }
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(Entry<'_>)) {
        self.conv.visit(&nn_core::module::join(prefix, "conv"), f);
        self.bn.visit(&nn_core::module::join(prefix, "bn"), f);
    }
    fn describe(&self) -> String {
        "Residual(conv → bn) + identity".into()
    }
}

/// A ResNet-style block: the convolution has no bias (BN's β plays its role).
fn block(seed: u64) -> Residual {
    block_with_bias(seed, false)
}

fn block_with_bias(seed: u64, bias: bool) -> Residual {
    let mut rng = seeded(seed);
    let bn = BatchNormConfig::new(3).init_2d().unwrap();
    bn.weight()
        .unwrap()
        .set_value(Tensor::rand_uniform(&[3], 0.5, 1.5, &mut rng).to_array());
    bn.bias()
        .unwrap()
        .set_value(Tensor::randn(&[3], 0.0, 0.5, &mut rng).to_array());
    Residual {
        conv: Conv2dConfig::new(3, 3, 3)
            .with_padding(1)
            .with_bias(bias)
            .init(&mut rng)
            .unwrap(),
        bn,
    }
}

#[test]
fn residual_block_gradients_in_both_modes() {
    let cfg = GradCheckConfig {
        eps: 1e-2,
        ..GradCheckConfig::default()
    };
    for train in [true, false] {
        let m = block(1);
        let ctx = || if train { Ctx::train(0) } else { Ctx::eval() };
        // Input gradient: identity + conv→BN branch.
        assert_gradients_at(
            |t| m.forward(&t[0], &mut ctx()),
            &random_inputs(&[&[2, 3, 4, 4]], 2),
            &cfg,
        );
        // Parameter gradients through the residual sum.
        let x = Tensor::randn(&[2, 3, 4, 4], 0.0, 1.0, &mut seeded(3));
        let proj = Tensor::randn(&[2, 3, 4, 4], 0.0, 1.0, &mut seeded(4));
        let report =
            check_module_gradients(&m, || (&m.forward(&x, &mut ctx()) * &proj).sum_all(), &cfg);
        assert!(report.passed(), "train = {train}:\n{report}");
        assert_eq!(report.tensors.len(), 3, "conv.weight, bn.weight, bn.bias");
    }
}

#[test]
fn a_bias_before_training_mode_batch_norm_gets_no_gradient() {
    // BN subtracts the batch mean, so a per-channel constant added before it cancels.
    let m = block_with_bias(8, true);
    let x = Tensor::randn(&[2, 3, 4, 4], 0.0, 1.0, &mut seeded(9));
    let proj = Tensor::randn(&[2, 3, 4, 4], 0.0, 1.0, &mut seeded(10));
    (&m.forward(&x, &mut Ctx::train(0)) * &proj)
        .sum_all()
        .backward();
    let g = m.conv.bias().unwrap().grad().unwrap();
    assert!(g.iter().all(|v| v.abs() < 1e-4), "{g:?}");
    assert!(
        m.conv
            .weight()
            .grad()
            .unwrap()
            .iter()
            .any(|v| v.abs() > 1e-2)
    );
}

#[test]
fn input_gradient_is_the_sum_of_both_branches() {
    let m = block(5);
    let x = Tensor::randn(&[2, 3, 4, 4], 0.0, 1.0, &mut seeded(6)).with_requires_grad();
    let g = Tensor::randn(&[2, 3, 4, 4], 0.0, 1.0, &mut seeded(7)).to_array();
    m.forward(&x, &mut Ctx::train(0)).backward_with(g.clone());
    let total = x.grad().unwrap();
    let x2 = x.detach().with_requires_grad();
    m.bn.forward(&m.conv.forward(&x2, &mut Ctx::train(0)), &mut Ctx::train(0))
        .backward_with(g.clone());
    let branch = x2.grad().unwrap();
    // Identity branch contributes exactly the upstream gradient.
    for ((t, b), u) in total.iter().zip(branch.iter()).zip(g.iter()) {
        assert!((t - (b + u)).abs() < 1e-5, "{t} vs {b} + {u}");
    }
}
