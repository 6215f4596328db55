//! torchvision's VGG (Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale
//! Image Recognition", ICLR 2015), with torchvision's parameter names (`features.N`,
//! `classifier.0/3/6`):
//!
//! ```text
//! features:   (Conv3×3(c, pad 1, bias) → BatchNorm2d? → ReLU)+ → MaxPool(2)   × 5 stages
//!             c = width·{1, 2, 4, 8, 8}, 1–4 convolutions per stage (VGG-11/13/16/19)
//! avgpool:    AdaptiveAvgPool2d(pool_size × pool_size)
//! classifier: Linear(8·width·pool_size², hidden) → ReLU → Dropout → Linear(hidden, hidden)
//!             → ReLU → Dropout → Linear(hidden, classes)
//! ```
//!
//! The defaults are torchvision's `vgg11` (`norm = batch`: `vgg11_bn`); a small VGG narrows the
//! stages (`width`), the classifier (`hidden`) and the pooled map (`pool_size`). Five 2×2 pools
//! in floor mode (torchvision's) need inputs of at least 32 px; `ceil_mode = true` rounds up and
//! accepts any size, as PyTorch does (28 px: 28 → 14 → 7 → 4 → 2 → 1; 8 px: 8 → 4 → 2 → 1 → 1 →
//! 1, the last pools keep a 1×1 map). Channel dropout (`dropout2d`), when on, follows each pool
//! and shifts the feature indices after it.

use nn_core::init::Init;
use nn_core::layers::Activation;
use nn_core::layers::{AdaptiveAvgPool2d, Flatten, MaxPool2dConfig, Sequential};
use nn_core::rng::Rng;
use serde::{Deserialize, Serialize};

use super::options::{DropConnectSettings, NormConfig, Options, Scaling};
use super::parts::LinearRole;
use super::trace::{POS, ShapeError, Tracer};
use crate::error::{Result, invalid};

/// Options of the VGG (`kind = "vgg"`): torchvision's `VGG` with `make_layers(cfg)` — feature
/// stages of 3×3 convolutions and 2×2 max pools, adaptive average pooling to `pool_size`², a
/// classifier Linear → ReLU → Dropout → Linear → ReLU → Dropout → Linear. The defaults are
/// torchvision's `vgg11`; `width`, `hidden` and `pool_size` make a small one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VggConfig {
    /// 11, 13, 16 or 19 (torchvision's configurations A, B, D, E). Default 11.
    pub depth: usize,
    /// Channels of the first stage (64 in torchvision; doubled per stage up to 8×). Default 64.
    pub width: usize,
    /// Width of the two hidden classifier layers (4096 in torchvision). Default 4096.
    pub hidden: usize,
    /// Side of the adaptive average pooling before the classifier (7 in torchvision). Default 7.
    pub pool_size: usize,
    /// Round pooled sizes up (ceil mode), so that inputs below 32 px work (floor mode needs
    /// 32 px for the five pools). Default false (torchvision's).
    pub ceil_mode: bool,
    /// Activation (maxout: the convolutions and hidden linear layers widen k×). Default ReLU.
    pub activation: Activation,
    /// Normalisation after each convolution (`batch` is torchvision's `vgg11_bn`). Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub norm: Option<NormConfig>,
    /// Initialisation of every weight (biases zero); default torchvision's (convolutions Kaiming
    /// normal fan_out, linear layers N(0, 0.01²), zero biases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<Init>,
    /// Dropout probability in the classifier. Default 0.5 (torchvision's).
    pub dropout: f32,
    /// Channel dropout after each pooling. Default 0.
    pub dropout2d: f32,
    /// Inverted (default) or vanilla dropout.
    pub dropout_scaling: Scaling,
    /// DropConnect on the convolutions and/or the hidden classifier layers. Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropconnect: Option<DropConnectSettings>,
}

impl Default for VggConfig {
    fn default() -> Self {
        VggConfig {
            depth: 11,
            width: 64,
            hidden: 4096,
            pool_size: 7,
            ceil_mode: false,
            activation: Activation::Relu,
            norm: None,
            init: None,
            dropout: 0.5,
            dropout2d: 0.0,
            dropout_scaling: Scaling::Inverted,
            dropconnect: None,
        }
    }
}

/// One entry of a VGG configuration: a convolution of `width × multiplier` channels or a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// A 3×3 convolution to `width·m` channels.
    Conv(usize),
    /// A 2×2 max pool.
    Pool,
}

/// torchvision's configurations A, B, D, E (VGG-11, 13, 16, 19) in units of `width`.
pub(crate) fn layout(depth: usize) -> Result<Vec<Stage>> {
    let convs: [usize; 5] = match depth {
        11 => [1, 1, 2, 2, 2],
        13 => [2, 2, 2, 2, 2],
        16 => [2, 2, 3, 3, 3],
        19 => [2, 2, 4, 4, 4],
        d => return Err(invalid("model.depth", d, "11, 13, 16 or 19")),
    };
    let mut out = Vec::new();
    for (stage, n) in convs.into_iter().enumerate() {
        out.extend(std::iter::repeat_n(Stage::Conv(1 << stage.min(3)), n));
        out.push(Stage::Pool);
    }
    Ok(out)
}

/// Checks the VGG-specific fields.
pub(crate) fn validate(c: &VggConfig) -> Result<()> {
    layout(c.depth)?;
    for (field, v) in [
        ("model.width", c.width),
        ("model.hidden", c.hidden),
        ("model.pool_size", c.pool_size),
    ] {
        if v == 0 {
            return Err(invalid(field, 0, "at least 1"));
        }
    }
    Ok(())
}

/// The VGG (see the [module docs](self)).
pub(crate) fn vgg(
    o: &Options,
    c: &VggConfig,
    in_channels: usize,
    classes: usize,
    rng: &mut Rng,
) -> Result<Sequential> {
    let k = o.k();
    let mut features = Sequential::new();
    let mut c_in = in_channels;
    for stage in layout(c.depth)? {
        match stage {
            Stage::Conv(m) => {
                let ch = c.width * m;
                features.push_boxed(o.conv(c_in, ch * k, 3, 1, 1, true, rng)?);
                if let Some(norm) = o.norm(ch * k, true)? {
                    features.push_boxed(norm);
                }
                features.push_boxed(o.act()?);
                c_in = ch;
            }
            Stage::Pool => {
                features.push(MaxPool2dConfig::new(2).with_ceil_mode(c.ceil_mode).init()?);
                if let Some(d) = o.dropout2d_layer()? {
                    features.push_boxed(d);
                }
            }
        }
    }
    let s = c.pool_size;
    let mut classifier = Sequential::new();
    let mut width = c_in * s * s;
    for _ in 0..2 {
        classifier.push_boxed(o.linear(width, c.hidden * k, LinearRole::Hidden, rng)?);
        classifier.push_boxed(o.act()?);
        // Always present (p may be 0), so that the Linear layers keep indices 0, 3, 6.
        classifier.push(
            nn_regularize::DropoutConfig::new(o.dropout)
                .variant(o.scaling.variant())
                .init()?,
        );
        width = c.hidden;
    }
    classifier.push_boxed(o.linear(width, classes, LinearRole::Classifier, rng)?);
    Ok(Sequential::new()
        .with_named("features", features)
        .with_named("avgpool", AdaptiveAvgPool2d::new((s, s))?)
        .with_named("flatten", Flatten::default())
        .with_named("classifier", classifier))
}

/// The shapes of [`vgg`] (same layers, same names).
pub(crate) fn trace_vgg(
    o: &Options,
    c: &VggConfig,
    t: &mut Tracer,
    classes: usize,
) -> Result<(), ShapeError> {
    let k = o.k();
    let stages = layout(c.depth).map_err(|e| ShapeError::new(e.to_string()))?;
    let [_, ih, iw] = t.input();
    t.begin_seq("features");
    for stage in stages {
        match stage {
            Stage::Conv(m) => {
                o.trace_conv(t, POS, c.width * m * k, 3, 1, 1, true)?;
                o.trace_norm(t, POS, true)?;
                o.trace_act(t, POS);
            }
            Stage::Pool => {
                t.max_pool(POS, 2, 2, 0, c.ceil_mode).map_err(|_| {
                    ShapeError::new(format!(
                        "true, or inputs of at least 32 px: VGG's five 2×2 poolings in floor mode \
                         do not fit {ih}×{iw} inputs (ceil mode rounds up and fits any size)"
                    ))
                })?;
                o.trace_dropout2d(t, POS);
            }
        }
    }
    t.end_seq();
    t.adaptive_avg_pool("avgpool", (c.pool_size, c.pool_size));
    t.flatten("flatten");
    t.begin_seq("classifier");
    for _ in 0..2 {
        o.trace_linear(t, POS, c.hidden * k, LinearRole::Hidden);
        o.trace_act(t, POS);
        if o.dropout > 0.0 {
            t.elementwise(POS, "Dropout");
        } else {
            t.identity(POS, "Dropout(p=0)");
        }
    }
    o.trace_linear(t, POS, classes, LinearRole::Classifier);
    t.end_seq();
    Ok(())
}
