//! torchvision's ResNet-18 and ResNet-34 (He et al., "Deep Residual Learning for Image
//! Recognition", CVPR 2016, Table 1), with torchvision's parameter names, so that a torchvision
//! state dict saved as safetensors loads with a strict load:
//!
//! ```text
//! conv1 (7×7/2, 64) → bn1 → relu → maxpool (3×3/2)                         (the stem)
//! layer1..layer4: [2, 2, 2, 2] or [3, 4, 6, 3] basic blocks, 64·{1, 2, 4, 8} channels,
//!                 stride 2 at the first block of layers 2–4, `downsample.0/1` projections
//! avgpool (global) → fc
//! ```
//!
//! **Small inputs.** The convolutions pad, so any input size works (28 px: 28 → 14 → 7 → 7 → 4 →
//! 2 → 1); but the ImageNet stem divides the resolution by 4 before the first block. For inputs
//! of 28–64 px, `stem = "cifar"` replaces it by a 3×3 stride-1 convolution without the max pool
//! (the CIFAR ResNet-18 of timm's and kuangliu's ports: 32 px → 32, 16, 8, 4 in the four
//! layers). The names stay torchvision's; only `conv1.weight` changes shape (`[64, C, 3, 3]`).
//!
//! torchvision's initialisation is the default: convolutions Kaiming normal (fan_out, ReLU),
//! BatchNorm γ = 1, β = 0, the classifier PyTorch's `Linear` default; `zero_init_residual` sets
//! every block's `bn2.weight` to 0.

use nn_core::init::Init;
use nn_core::layers::Activation;
use nn_core::layers::{AdaptiveAvgPool2d, Flatten, MaxPool2dConfig, Sequential};
use nn_core::rng::Rng;
use nn_core::{Array, Module};
use serde::{Deserialize, Serialize};

use super::block::{BasicBlock, trace_basic_block};
use super::options::{
    DropConnectSettings, NormConfig, Options, Scaling, Stem, StochasticDepthSettings,
};
use super::parts::LinearRole;
use super::resnet::survivals;
use super::trace::{ShapeError, Tracer, name};
use crate::error::Result;

/// Options of torchvision's ResNet-18/34 (`kind = "resnet18"` / `"resnet34"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TorchResnetConfig {
    /// Channels of the first stage (64 in torchvision; doubled at each of the next three).
    pub width: usize,
    /// `imagenet` (7×7/2 conv + max pool, torchvision's; default) or `cifar` (3×3/1 conv, no
    /// pool) for small inputs.
    pub stem: Stem,
    /// Initialise the last BatchNorm γ of every block to 0 (torchvision's
    /// `zero_init_residual`, Goyal et al. 2017). Default false.
    pub zero_init_residual: bool,
    /// Activation (maxout: see the zoo docs). Default ReLU.
    pub activation: Activation,
    /// Normalisation (torchvision's `norm_layer`; names stay `bn1`, `bn2`). Default batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub norm: Option<NormConfig>,
    /// Initialisation of every weight (biases zero); default torchvision's (convolutions Kaiming
    /// normal, fan_out, ReLU; the classifier PyTorch's default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<Init>,
    /// Dropout probability before the classifier (not in torchvision). Default 0.
    pub dropout: f32,
    /// Channel dropout between the two convolutions of each block. Default 0.
    pub dropout2d: f32,
    /// Inverted (default) or vanilla dropout.
    pub dropout_scaling: Scaling,
    /// DropConnect on the convolutions and/or the classifier. Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropconnect: Option<DropConnectSettings>,
    /// Stochastic depth on the blocks (linear decay over all 8 / 16 blocks). Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stochastic_depth: Option<StochasticDepthSettings>,
}

impl Default for TorchResnetConfig {
    fn default() -> Self {
        TorchResnetConfig {
            width: 64,
            stem: Stem::Imagenet,
            zero_init_residual: false,
            activation: Activation::Relu,
            norm: None,
            init: None,
            dropout: 0.0,
            dropout2d: 0.0,
            dropout_scaling: Scaling::Inverted,
            dropconnect: None,
            stochastic_depth: None,
        }
    }
}

/// Blocks per layer of ResNet-18.
pub const RESNET18: [usize; 4] = [2, 2, 2, 2];
/// Blocks per layer of ResNet-34.
pub const RESNET34: [usize; 4] = [3, 4, 6, 3];

/// torchvision's ResNet with `layers` blocks per layer (see the [module docs](self)).
pub(crate) fn torchvision_resnet(
    o: &Options,
    c: &TorchResnetConfig,
    layers: [usize; 4],
    in_channels: usize,
    classes: usize,
    rng: &mut Rng,
) -> Result<Sequential> {
    let (k, w) = (o.k(), c.width);
    let mut net = Sequential::new();
    let stem = match c.stem {
        Stem::Imagenet => o.conv(in_channels, w * k, 7, 2, 3, o.norm.needs_bias(), rng)?,
        Stem::Cifar => o.conv(in_channels, w * k, 3, 1, 1, o.norm.needs_bias(), rng)?,
    };
    net.push_named_boxed("conv1", stem);
    if let Some(bn) = o.norm(w * k, true)? {
        net.push_named_boxed("bn1", bn);
    }
    net.push_named_boxed("relu", o.act()?);
    if c.stem == Stem::Imagenet {
        net.push_named(
            "maxpool",
            MaxPool2dConfig::new(3)
                .with_stride(2)
                .with_padding(1)
                .init()?,
        );
    }
    let mut survival = survivals(o, layers.iter().sum())?.into_iter();
    let mut c_in = w;
    for (i, &blocks) in layers.iter().enumerate() {
        let c_out = w << i;
        let mut layer = Sequential::new();
        for b in 0..blocks {
            let stride = if i > 0 && b == 0 { 2 } else { 1 };
            let p = survival.next().flatten();
            layer.push(BasicBlock::with_options(
                o,
                c_in,
                c_out,
                stride,
                "downsample",
                p,
                rng,
            )?);
            c_in = c_out;
        }
        net.push_named(&format!("layer{}", i + 1), layer);
    }
    net.push_named("avgpool", AdaptiveAvgPool2d::global());
    net.push_named("flatten", Flatten::default());
    if let Some(d) = o.dropout_layer(o.dropout)? {
        net.push_named_boxed("dropout", d);
    }
    net.push_named_boxed("fc", o.linear(c_in, classes, LinearRole::Classifier, rng)?);
    if c.zero_init_residual {
        for (n, p) in net.named_parameters() {
            if n.ends_with(".bn2.weight") {
                p.set_value(Array::zeros(p.shape()));
            }
        }
    }
    Ok(net)
}

/// The shapes of [`torchvision_resnet`] (same layers, same names).
pub(crate) fn trace_torchvision_resnet(
    o: &Options,
    c: &TorchResnetConfig,
    layers: [usize; 4],
    t: &mut Tracer,
    classes: usize,
) -> Result<(), ShapeError> {
    let (k, w) = (o.k(), c.width);
    match c.stem {
        Stem::Imagenet => o.trace_conv(t, "conv1", w * k, 7, 2, 3, o.norm.needs_bias())?,
        Stem::Cifar => o.trace_conv(t, "conv1", w * k, 3, 1, 1, o.norm.needs_bias())?,
    }
    o.trace_norm(t, "bn1", true)?;
    o.trace_act(t, "relu");
    if c.stem == Stem::Imagenet {
        t.max_pool("maxpool", 3, 2, 1, false)?;
    }
    for (i, &blocks) in layers.iter().enumerate() {
        for b in 0..blocks {
            let stride = if i > 0 && b == 0 { 2 } else { 1 };
            let prefix = name(&format!("layer{}", i + 1), &b.to_string());
            let sd = o.stochastic_depth.is_some();
            trace_basic_block(o, t, &prefix, w << i, stride, "downsample", sd)?;
        }
    }
    t.adaptive_avg_pool("avgpool", (1, 1));
    t.flatten("flatten");
    o.trace_dropout(t, "dropout", o.dropout);
    o.trace_linear(t, "fc", classes, LinearRole::Classifier);
    Ok(())
}
