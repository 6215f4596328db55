//! The CIFAR ResNet of He et al., "Deep Residual Learning for Image Recognition", CVPR 2016
//! (§4.2): a 3×3 stem, three stages of n basic blocks with w, 2w and 4w channels (the last two
//! starting with stride 2), global average pooling and a linear classifier — 6n + 2 layers.
//! Projection shortcuts (1×1 conv + BN, "option B") where the shape changes.

use nn_core::layers::{
    AdaptiveAvgPool2d, BatchNorm2d, BatchNormConfig, Conv2d, Conv2dConfig, Flatten, LinearConfig,
    ReLU, Sequential,
};
use nn_core::module::join;
use nn_core::rng::Rng;
use nn_core::{Ctx, Entry, Module, Tensor};

use crate::error::Result;

/// The basic residual block: y = ReLU(BN(conv3×3(ReLU(BN(conv3×3(x))))) + shortcut(x)).
///
/// After [`Module::fold_batch_norms`] (inference), each batch norm is merged into its
/// convolution (which gains a bias) and is gone from the block and its state dict.
pub struct BasicBlock {
    conv1: Conv2d,
    bn1: Option<BatchNorm2d>,
    conv2: Conv2d,
    bn2: Option<BatchNorm2d>,
    shortcut: Option<(Conv2d, Option<BatchNorm2d>)>,
}

/// `bn(x)`, or `x` once the batch norm has been folded away.
fn maybe_bn(bn: &Option<BatchNorm2d>, x: Tensor, ctx: &mut Ctx) -> Tensor {
    match bn {
        Some(bn) => bn.forward(&x, ctx),
        None => x,
    }
}

/// Folds `bn` into `conv` (see [`nn_core::fold::fold_conv_bn`]); 1 if it was folded. A batch
/// norm without running statistics stays.
fn fold_into(conv: &mut Conv2d, bn: &mut Option<BatchNorm2d>) -> usize {
    let folded = match bn {
        Some(b) => nn_core::fold::fold_conv_bn(conv, b).ok(),
        None => None,
    };
    match folded {
        Some(c) => {
            *conv = c;
            *bn = None;
            1
        }
        None => 0,
    }
}

impl BasicBlock {
    /// A block from `c_in` to `c_out` channels with the given stride of its first convolution.
    pub fn new(c_in: usize, c_out: usize, stride: usize, rng: &mut Rng) -> Result<BasicBlock> {
        let conv3 = |ci, co, s, rng: &mut Rng| {
            Conv2dConfig::new(ci, co, 3)
                .with_stride(s)
                .with_padding(1)
                .with_bias(false)
                .init(rng)
        };
        let conv1 = conv3(c_in, c_out, stride, rng)?;
        let conv2 = conv3(c_out, c_out, 1, rng)?;
        let shortcut = if stride != 1 || c_in != c_out {
            Some((
                Conv2dConfig::new(c_in, c_out, 1)
                    .with_stride(stride)
                    .with_bias(false)
                    .init(rng)?,
                Some(BatchNormConfig::new(c_out).init_2d()?),
            ))
        } else {
            None
        };
        Ok(BasicBlock {
            conv1,
            bn1: Some(BatchNormConfig::new(c_out).init_2d()?),
            conv2,
            bn2: Some(BatchNormConfig::new(c_out).init_2d()?),
            shortcut,
        })
    }
}

impl Module for BasicBlock {
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        let h = maybe_bn(&self.bn1, self.conv1.forward(x, ctx), ctx).relu();
        let h = maybe_bn(&self.bn2, self.conv2.forward(&h, ctx), ctx);
        let s = match &self.shortcut {
            Some((conv, bn)) => maybe_bn(bn, conv.forward(x, ctx), ctx),
            None => x.clone(),
        };
        (&h + &s).relu()
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(Entry<'_>)) {
        self.conv1.visit(&join(prefix, "conv1"), f);
        if let Some(bn) = &self.bn1 {
            bn.visit(&join(prefix, "bn1"), f);
        }
        self.conv2.visit(&join(prefix, "conv2"), f);
        if let Some(bn) = &self.bn2 {
            bn.visit(&join(prefix, "bn2"), f);
        }
        if let Some((conv, bn)) = &self.shortcut {
            conv.visit(&join(prefix, "shortcut.0"), f);
            if let Some(bn) = bn {
                bn.visit(&join(prefix, "shortcut.1"), f);
            }
        }
    }

    fn fold_batch_norms(&mut self) -> usize {
        let mut n = fold_into(&mut self.conv1, &mut self.bn1);
        n += fold_into(&mut self.conv2, &mut self.bn2);
        if let Some((conv, bn)) = &mut self.shortcut {
            n += fold_into(conv, bn);
        }
        n
    }

    fn describe(&self) -> String {
        format!(
            "BasicBlock({} -> {}, stride {}{})",
            self.conv1.in_channels(),
            self.conv1.out_channels(),
            self.conv1.options().stride.0,
            if self.shortcut.is_some() {
                ", projection shortcut"
            } else {
                ""
            }
        )
    }
}

/// The CIFAR ResNet-(6n+2) for `in_channels`-channel images, n = `blocks_per_stage`, first-stage
/// width `width` (16 in the paper). Names follow the common PyTorch CIFAR implementations
/// (`conv1`, `bn1`, `layer1.0.conv1`, …, `fc`).
pub fn resnet(
    in_channels: usize,
    blocks_per_stage: usize,
    width: usize,
    classes: usize,
    rng: &mut Rng,
) -> Result<Sequential> {
    let mut net = Sequential::new();
    net.push_named(
        "conv1",
        Conv2dConfig::new(in_channels, width, 3)
            .with_padding(1)
            .with_bias(false)
            .init(rng)?,
    );
    net.push_named("bn1", BatchNormConfig::new(width).init_2d()?);
    net.push_named("relu", ReLU);
    let mut c_in = width;
    for (stage, mult) in [1usize, 2, 4].into_iter().enumerate() {
        let c_out = width * mult;
        let mut layer = Sequential::new();
        for b in 0..blocks_per_stage {
            let stride = if stage > 0 && b == 0 { 2 } else { 1 };
            layer.push(BasicBlock::new(c_in, c_out, stride, rng)?);
            c_in = c_out;
        }
        net.push_named(&format!("layer{}", stage + 1), layer);
    }
    net.push_named("avgpool", AdaptiveAvgPool2d::global());
    net.push_named("flatten", Flatten::default());
    net.push_named("fc", LinearConfig::new(c_in, classes).init(rng)?);
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::gradcheck::{GradCheckConfig, check_module_gradients};
    use nn_core::loss::cross_entropy;
    use nn_core::rng::seeded;

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
