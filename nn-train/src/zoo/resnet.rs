//! The CIFAR ResNet of He et al., "Deep Residual Learning for Image Recognition", CVPR 2016
//! (§4.2): a 3×3 stem, three stages of n basic blocks with w, 2w and 4w channels (the last two
//! starting with stride 2), global average pooling and a linear classifier — 6n + 2 layers.
//! Projection shortcuts (1×1 conv + BN, "option B") where the shape changes. The block is
//! [`super::BasicBlock`]; the options (activation, norm, init, dropout, DropConnect, stochastic
//! depth) are the job's.

use nn_core::layers::{AdaptiveAvgPool2d, Flatten, Sequential};
use nn_core::rng::Rng;
use nn_regularize::linear_decay;

use super::block::{BasicBlock, trace_basic_block};
use super::options::Options;
use super::parts::LinearRole;
use super::trace::{ShapeError, Tracer};
use crate::error::Result;

/// The CIFAR ResNet-(6n+2) for `in_channels`-channel images, n = `blocks_per_stage`, first-stage
/// width `width` (16 in the paper), ReLU, BatchNorm, PyTorch's default initialisation. Names
/// follow the common PyTorch CIFAR implementations (`conv1`, `bn1`, `layer1.0.conv1`, …, `fc`).
pub fn resnet(
    in_channels: usize,
    blocks_per_stage: usize,
    width: usize,
    classes: usize,
    rng: &mut Rng,
) -> Result<Sequential> {
    let o = crate::ModelConfig::resnet(blocks_per_stage, width).options()?;
    resnet_with(&o, in_channels, blocks_per_stage, width, classes, rng)
}

/// Survival probabilities of `blocks` blocks under the options' stochastic depth (linear decay
/// to p_L), or `None`s.
pub(crate) fn survivals(o: &Options, blocks: usize) -> Result<Vec<Option<f32>>> {
    Ok(match o.stochastic_depth {
        Some(sd) => linear_decay(blocks, sd.last_survival)?
            .into_iter()
            .map(Some)
            .collect(),
        None => vec![None; blocks],
    })
}

/// [`resnet`] with the job's options.
pub(crate) fn resnet_with(
    o: &Options,
    in_channels: usize,
    blocks_per_stage: usize,
    width: usize,
    classes: usize,
    rng: &mut Rng,
) -> Result<Sequential> {
    let k = o.k();
    let mut net = Sequential::new();
    net.push_named_boxed(
        "conv1",
        o.conv(in_channels, width * k, 3, 1, 1, o.norm.needs_bias(), rng)?,
    );
    if let Some(bn) = o.norm(width * k, true)? {
        net.push_named_boxed("bn1", bn);
    }
    net.push_named_boxed("relu", o.act()?);
    let mut survival = survivals(o, 3 * blocks_per_stage)?.into_iter();
    let mut c_in = width;
    for (stage, mult) in [1usize, 2, 4].into_iter().enumerate() {
        let c_out = width * mult;
        let mut layer = Sequential::new();
        for b in 0..blocks_per_stage {
            let stride = if stage > 0 && b == 0 { 2 } else { 1 };
            let p = survival.next().flatten();
            layer.push(BasicBlock::with_options(
                o, c_in, c_out, stride, "shortcut", p, rng,
            )?);
            c_in = c_out;
        }
        net.push_named(&format!("layer{}", stage + 1), layer);
    }
    net.push_named("avgpool", AdaptiveAvgPool2d::global());
    net.push_named("flatten", Flatten::default());
    if let Some(d) = o.dropout_layer(o.dropout)? {
        net.push_named_boxed("dropout", d);
    }
    net.push_named_boxed("fc", o.linear(c_in, classes, LinearRole::Classifier, rng)?);
    Ok(net)
}

/// The shapes of [`resnet_with`] (same layers, same names).
pub(crate) fn trace_resnet(
    o: &Options,
    t: &mut Tracer,
    blocks_per_stage: usize,
    width: usize,
    classes: usize,
) -> Result<(), ShapeError> {
    let k = o.k();
    o.trace_conv(t, "conv1", width * k, 3, 1, 1, o.norm.needs_bias())?;
    o.trace_norm(t, "bn1", true)?;
    o.trace_act(t, "relu");
    for (stage, mult) in [1usize, 2, 4].into_iter().enumerate() {
        for b in 0..blocks_per_stage {
            let stride = if stage > 0 && b == 0 { 2 } else { 1 };
            let prefix = format!("layer{}.{b}", stage + 1);
            let sd = o.stochastic_depth.is_some();
            trace_basic_block(o, t, &prefix, width * mult, stride, "shortcut", sd)?;
        }
    }
    t.adaptive_avg_pool("avgpool", (1, 1));
    t.flatten("flatten");
    o.trace_dropout(t, "dropout", o.dropout);
    o.trace_linear(t, "fc", classes, LinearRole::Classifier);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::gradcheck::{GradCheckConfig, check_module_gradients};
    use nn_core::loss::cross_entropy;
    use nn_core::rng::seeded;
    use nn_core::{Ctx, Module, Tensor};

    #[test]
    fn resnet8_shapes_and_parameter_count() {
        let net = resnet(3, 1, 16, 10, &mut seeded(0)).unwrap();
        let y = net.forward(
            &Tensor::randn(&[2, 3, 16, 16], 0.0, 1.0, &mut seeded(1)),
            &mut Ctx::train(0),
        );
        assert_eq!(y.shape(), &[2, 10]);
        // ResNet-8 (n = 1, w = 16, option-B shortcuts): the count PyTorch reports for the same net.
        let convs = 3 * 16 * 9
            + (16 * 16 * 9 * 2)
            + (16 * 32 * 9 + 32 * 32 * 9 + 16 * 32)
            + (32 * 64 * 9 + 64 * 64 * 9 + 32 * 64);
        let bns = 2 * (16 + 16 * 2 + 32 * 3 + 64 * 3);
        assert_eq!(net.num_parameters(), convs + bns + 64 * 10 + 10);
        let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert!(
            names.contains(&"layer2.0.shortcut.0.weight".to_string()),
            "{names:?}"
        );
        assert!(names.contains(&"fc.bias".to_string()));
    }

    #[test]
    fn folding_keeps_the_eval_function_and_removes_every_bn() {
        let mut net = resnet(3, 1, 8, 5, &mut seeded(2)).unwrap();
        let x = Tensor::randn(&[4, 3, 8, 8], 0.0, 1.0, &mut seeded(3));
        // Some running statistics to fold.
        for s in 0..3 {
            let _ = net.forward(&x, &mut Ctx::train(s));
        }
        let before = net.forward(&x, &mut Ctx::eval()).to_vec();
        // Stem + 3 blocks x 2 + 2 projection shortcuts.
        assert_eq!(net.fold_batch_norms(), 1 + 6 + 2);
        let after = net.forward(&x, &mut Ctx::eval()).to_vec();
        for (a, b) in after.iter().zip(&before) {
            assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
        }
        assert!(net.named_buffers().is_empty());
        let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert!(
            names.contains(&"layer2.0.shortcut.0.bias".to_string()),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.contains("bn")), "{names:?}");
    }

    #[test]
    fn residual_block_gradients() {
        let block = BasicBlock::new(2, 3, 2, &mut seeded(3)).unwrap();
        let x = Tensor::randn(&[2, 2, 4, 4], 0.0, 1.0, &mut seeded(4));
        let report = check_module_gradients(
            &block,
            || {
                let y = block.forward(&x, &mut Ctx::eval());
                let flat = y.reshape(&[2, 12]);
                cross_entropy(&flat, &[1, 7])
            },
            &GradCheckConfig {
                eps: 1e-2,
                tolerance: 5e-2,
                max_coords_per_tensor: Some(6),
                ..Default::default()
            },
        );
        assert!(report.passed(), "{report}");
    }
}
