//! The basic residual block of He et al. 2016 (ResNet-18/34 and the CIFAR ResNets), with the
//! job's options:
//!
//! ```text
//! h = norm1(conv3×3(x, stride)) → act → Dropout2d?            (conv1, bn1)
//! h = norm2(conv3×3(h))                                        (conv2, bn2)
//! y = act(shortcut(x) + sd(h))       shortcut = x or norm(conv1×1(x, stride))
//! ```
//!
//! `sd` is stochastic depth (Huang et al. 2016: the branch is kept with probability pₗ, scaled by
//! 1/pₗ in training — or not, and by pₗ at test time, with vanilla scaling). The normalisation
//! layers keep the names `bn1`, `bn2` whatever their kind (as torchvision's `norm_layer`); the
//! projection shortcut is `shortcut.0/1` (CIFAR) or `downsample.0/1` (torchvision).
//!
//! With batch norm the convolution + BN (+ ReLU) pairs run through
//! [`Conv2d::forward_bn`] (one fused op in evaluation on channels-last input, BN + ReLU in one op
//! in training), and with ReLU the block ends in [`Conv2d::forward_bn_add_relu`] (bn2, the
//! addition and ReLU in one op in training on channels-last input), or in [`Tensor::add_relu`]
//! with stochastic depth or when conv2 and its norm are not a plain convolution and a batch norm
//! (DropConnect, another normalisation).
//!
//! **Maxout** (k pieces): conv1 and conv2 produce k× the channels and the activation after each
//! reduces them; since the sum `shortcut(x) + h` has no layer of its own to widen, the second
//! activation moves before the addition: y = shortcut(x) + sd(maxout(norm2(conv2(h)))).

use nn_core::layers::{Activation, BatchNorm2d, Conv2d};
use nn_core::module::join;
use nn_core::rng::Rng;
use nn_core::{Ctx, Entry, Module, Tensor};
use nn_regularize::{StochasticDepth, StochasticDepthConfig};

use super::options::Options;
use super::trace::{ShapeError, Tracer, name};
use crate::error::Result;

/// A layer that may be absent (a normalisation with `norm = none`, dropout with p = 0).
type MaybeLayer = Option<Box<dyn Module>>;

/// The basic residual block (see the [module docs](self)).
pub struct BasicBlock {
    conv1: Box<dyn Module>,
    bn1: MaybeLayer,
    act1: Box<dyn Module>,
    drop2d: MaybeLayer,
    conv2: Box<dyn Module>,
    bn2: MaybeLayer,
    /// The activation at the end of the branch (maxout), or after the addition.
    act2: Box<dyn Module>,
    act2_in_branch: bool,
    /// The activation is ReLU: fused into batch norm and the residual addition where it can be.
    relu: bool,
    shortcut: Option<(Box<dyn Module>, MaybeLayer)>,
    shortcut_name: &'static str,
    drop_path: Option<StochasticDepth>,
    summary: String,
}

impl BasicBlock {
    /// A block from `c_in` to `c_out` channels with the given stride of its first convolution,
    /// ReLU, BatchNorm and PyTorch's default initialisation (the CIFAR ResNet's block).
    pub fn new(c_in: usize, c_out: usize, stride: usize, rng: &mut Rng) -> Result<BasicBlock> {
        let options = crate::ModelConfig::resnet(1, 1).options()?;
        BasicBlock::with_options(&options, c_in, c_out, stride, "shortcut", None, rng)
    }

    /// A block with the job's `options`, the projection shortcut named `shortcut_name`, and
    /// stochastic depth with survival probability `survival` (`None`: always kept).
    pub(crate) fn with_options(
        o: &Options,
        c_in: usize,
        c_out: usize,
        stride: usize,
        shortcut_name: &'static str,
        survival: Option<f32>,
        rng: &mut Rng,
    ) -> Result<BasicBlock> {
        let (k, bias) = (o.k(), o.norm.needs_bias());
        let conv1 = o.conv(c_in, c_out * k, 3, stride, 1, bias, rng)?;
        let conv2 = o.conv(c_out, c_out * k, 3, 1, 1, bias, rng)?;
        let shortcut = if stride != 1 || c_in != c_out {
            Some((
                o.conv(c_in, c_out, 1, stride, 0, bias, rng)?,
                o.norm(c_out, true)?,
            ))
        } else {
            None
        };
        let drop_path = match (o.stochastic_depth, survival) {
            (Some(sd), Some(p)) => Some(
                StochasticDepthConfig::with_survival_prob(p)
                    .mode(sd.mode.mode())
                    .variant(sd.scaling.variant())
                    .init()?,
            ),
            _ => None,
        };
        Ok(BasicBlock {
            conv1,
            bn1: o.norm(c_out * k, true)?,
            act1: o.act()?,
            drop2d: o.dropout2d_layer()?,
            conv2,
            bn2: o.norm(c_out * k, true)?,
            act2: o.act()?,
            act2_in_branch: k > 1,
            relu: o.activation == Activation::Relu,
            shortcut,
            shortcut_name,
            summary: format!(
                "BasicBlock({c_in} -> {c_out}, stride {stride}{}{})",
                if stride != 1 || c_in != c_out {
                    ", projection shortcut"
                } else {
                    ""
                },
                survival.map_or(String::new(), |p| format!(", survival {p:.3}"))
            ),
            drop_path,
        })
    }
}

/// Folds the batch norm `bn` into the convolution `conv` (see [`nn_core::fold::fold_conv_bn`]):
/// 1 if it was folded. Other normalisations, a DropConnect convolution or a batch norm without
/// running statistics stay.
fn fold_into(conv: &mut Box<dyn Module>, bn: &mut MaybeLayer) -> usize {
    let folded = {
        let c = conv.as_any().and_then(|a| a.downcast_ref::<Conv2d>());
        let b = bn
            .as_ref()
            .and_then(|b| b.as_any())
            .and_then(|a| a.downcast_ref::<BatchNorm2d>());
        match (c, b) {
            (Some(c), Some(b)) => nn_core::fold::fold_conv_bn(c, b).ok(),
            _ => None,
        }
    };
    match folded {
        Some(c) => {
            *conv = Box::new(c);
            *bn = None;
            1
        }
        None => 0,
    }
}

fn apply(m: &MaybeLayer, x: Tensor, ctx: &mut Ctx) -> Tensor {
    match m {
        Some(m) => m.forward(&x, ctx),
        None => x,
    }
}

/// The plain convolution and batch norm of a pair, when the pair is one (not DropConnect, not
/// another normalisation, not folded).
fn conv_bn<'a>(conv: &'a dyn Module, bn: &'a MaybeLayer) -> Option<(&'a Conv2d, &'a BatchNorm2d)> {
    let c = conv.as_any()?.downcast_ref::<Conv2d>()?;
    let b = bn.as_ref()?.as_any()?.downcast_ref::<BatchNorm2d>()?;
    Some((c, b))
}

/// `norm(conv(x))`, then ReLU if `relu`: through [`Conv2d::forward_bn`] (conv + BN + ReLU fused
/// in evaluation, BN + ReLU in one op in training) when the pair is a convolution and a batch
/// norm, else layer by layer.
fn conv_norm(conv: &dyn Module, bn: &MaybeLayer, relu: bool, x: &Tensor, ctx: &mut Ctx) -> Tensor {
    match conv_bn(conv, bn) {
        Some((c, b)) => c.forward_bn(b, x, ctx, relu),
        None => {
            let h = apply(bn, conv.forward(x, ctx), ctx);
            if relu { h.relu() } else { h }
        }
    }
}

impl BasicBlock {
    /// The shortcut branch: `x`, or the projection `norm(conv1×1(x))`.
    fn shortcut(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        match &self.shortcut {
            Some((conv, bn)) => conv_norm(conv.as_ref(), bn, false, x, ctx),
            None => x.clone(),
        }
    }
}

impl Module for BasicBlock {
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        let h = if self.relu {
            conv_norm(self.conv1.as_ref(), &self.bn1, true, x, ctx)
        } else {
            let h = conv_norm(self.conv1.as_ref(), &self.bn1, false, x, ctx);
            self.act1.forward(&h, ctx)
        };
        let h = apply(&self.drop2d, h, ctx);
        if self.relu
            && !self.act2_in_branch
            && self.drop_path.is_none()
            && let Some((conv2, bn2)) = conv_bn(self.conv2.as_ref(), &self.bn2)
        {
            // bn2, the addition and ReLU in one op (in training on channels-last tensors): the
            // shortcut goes first. Like conv2 it is a plain convolution and norm (DropConnect
            // wraps every convolution or none) and draws no random numbers, so no value changes.
            let s = self.shortcut(x, ctx);
            return conv2.forward_bn_add_relu(bn2, &h, &s, ctx);
        }
        let mut h = conv_norm(self.conv2.as_ref(), &self.bn2, false, &h, ctx);
        if self.act2_in_branch {
            h = self.act2.forward(&h, ctx);
        }
        if let Some(sd) = &self.drop_path {
            h = sd.forward(&h, ctx);
        }
        let s = self.shortcut(x, ctx);
        if self.act2_in_branch {
            &h + &s
        } else if self.relu {
            h.add_relu(&s)
        } else {
            self.act2.forward(&(&h + &s), ctx)
        }
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
            let s = join(prefix, self.shortcut_name);
            conv.visit(&join(&s, "0"), f);
            if let Some(bn) = bn {
                bn.visit(&join(&s, "1"), f);
            }
        }
    }

    /// Folds each convolution + batch norm pair of the block (inference; see
    /// [`Module::fold_batch_norms`]): the convolutions gain biases, the batch norms leave the
    /// block and its state dict.
    fn fold_batch_norms(&mut self) -> usize {
        let mut n = fold_into(&mut self.conv1, &mut self.bn1);
        n += fold_into(&mut self.conv2, &mut self.bn2);
        if let Some((conv, bn)) = &mut self.shortcut {
            n += fold_into(conv, bn);
        }
        n
    }

    fn describe(&self) -> String {
        self.summary.clone()
    }
}

/// The shapes of [`BasicBlock::with_options`] under `prefix` (same layers, same names).
pub(crate) fn trace_basic_block(
    o: &Options,
    t: &mut Tracer,
    prefix: &str,
    c_out: usize,
    stride: usize,
    shortcut_name: &str,
    stochastic: bool,
) -> Result<(), ShapeError> {
    let (k, bias) = (o.k(), o.norm.needs_bias());
    let c_in = t.channels();
    let main = t.branch(|t| {
        o.trace_conv(t, &name(prefix, "conv1"), c_out * k, 3, stride, 1, bias)?;
        o.trace_norm(t, &name(prefix, "bn1"), true)?;
        o.trace_act(t, &name(prefix, "act1"));
        o.trace_dropout2d(t, &name(prefix, "dropout2d"));
        o.trace_conv(t, &name(prefix, "conv2"), c_out * k, 3, 1, 1, bias)?;
        o.trace_norm(t, &name(prefix, "bn2"), true)?;
        if k > 1 {
            o.trace_act(t, &name(prefix, "act2"));
        }
        if stochastic {
            t.elementwise(&name(prefix, "stochastic_depth"), "StochasticDepth");
        }
        Ok(())
    })?;
    if stride != 1 || c_in != c_out {
        let s = name(prefix, shortcut_name);
        o.trace_conv(t, &name(&s, "0"), c_out, 1, stride, 0, bias)?;
        o.trace_norm(t, &name(&s, "1"), true)?;
    }
    t.set_shape(main);
    t.elementwise(&name(prefix, "add"), "Add");
    if k == 1 {
        o.trace_act(t, &name(prefix, "act2"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::rng::seeded;

    /// The block's forward pass as the layers one after the other (bn2, then the addition and
    /// ReLU as their own op), as it ran before the fused end.
    fn layer_by_layer(b: &BasicBlock, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        let h = conv_norm(b.conv1.as_ref(), &b.bn1, true, x, ctx);
        let h = apply(&b.drop2d, h, ctx);
        let h = conv_norm(b.conv2.as_ref(), &b.bn2, false, &h, ctx);
        h.add_relu(&b.shortcut(x, ctx))
    }

    /// In training on channels-last input the block ends in the fused batch norm + addition +
    /// ReLU, with bit for bit the output, input gradient, parameter gradients and running
    /// statistics of the layers one after the other (identity and projection shortcuts).
    #[test]
    fn the_fused_end_is_bit_identical_to_the_layers() {
        for (c_in, c_out, stride) in [(16, 16, 1), (16, 32, 2)] {
            let x = Tensor::randn(&[4, c_in, 12, 12], 0.0, 1.0, &mut seeded(4)).to_channels_last();
            let run = |fused: bool| {
                let block = BasicBlock::new(c_in, c_out, stride, &mut seeded(3)).unwrap();
                let xs = x.detach().with_requires_grad();
                let mut ctx = Ctx::train(0);
                let y = if fused {
                    block.forward(&xs, &mut ctx)
                } else {
                    layer_by_layer(&block, &xs, &mut ctx)
                };
                let op = if fused {
                    "batch_norm_add_relu"
                } else {
                    "add_relu"
                };
                assert_eq!(y.op_name(), Some(op));
                let g = Tensor::randn(y.shape(), 0.0, 1.0, &mut seeded(5));
                (&y * &g).sum_all().backward();
                let mut bits: Vec<u32> = y.to_vec().iter().map(|v| v.to_bits()).collect();
                bits.extend(xs.grad().unwrap().iter().map(|v| v.to_bits()));
                block.visit("", &mut |e| match e {
                    Entry::Param(_, p) => {
                        bits.extend(p.grad().unwrap().iter().map(|v| v.to_bits()))
                    }
                    Entry::Buffer(_, b) => bits.extend(b.value().iter().map(|v| v.to_bits())),
                });
                bits
            };
            assert!(
                run(true) == run(false),
                "{c_in} -> {c_out}, stride {stride}"
            );
        }
    }
}
