//! The model options a job file sets on every zoo model — normalisation, initialisation,
//! dropout, DropConnect, stochastic depth, pooling — as serialisable settings, validated with
//! errors that name the field, and resolved into `Options` for the builders.
//!
//! ```toml
//! [model]
//! kind = "cnn"
//! channels = [32, 64]
//! activation = { kind = "maxout", pieces = 2 }
//! norm = { kind = "group", groups = 8 }
//! init = { kind = "kaiming_normal", mode = "fan_out", nonlinearity = "relu" }
//! dropout = 0.3
//! dropout2d = 0.1
//! dropconnect = { p = 0.5, layers = "conv" }
//! pool = { kind = "fractional", ratio = 0.7071, test_draws = 4 }
//! ```

use nn_core::init::{FanMode, Init, Nonlinearity};
use nn_core::layers::Activation;
use nn_regularize::{DropPathMode, DropoutVariant, FmpRegions, FmpSequence, MaskSharing};
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// The normalisation layer after each convolution or hidden linear layer.
///
/// For convolutional models `layer` normalises each sample over all of (C, H, W) with a
/// per-channel γ, β — PyTorch's `GroupNorm(1, C)`, the CNN form of Ba et al.'s layer norm; for
/// the MLP it is `LayerNorm([features])`. `instance` is `InstanceNorm2d(C, affine=True)`
/// (convolutional models only). Convolutions followed by a normalisation have no bias; with
/// `none` they have one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum NormConfig {
    /// BatchNorm (Ioffe & Szegedy 2015): `BatchNorm1d` / `BatchNorm2d`.
    Batch,
    /// Layer normalisation (Ba et al. 2016).
    Layer,
    /// Group normalisation (Wu & He 2018) with `groups` groups (must divide every width).
    Group {
        /// Number of groups G (32 in the paper).
        groups: usize,
    },
    /// Instance normalisation (Ulyanov et al. 2016), convolutional models only.
    Instance,
    /// No normalisation.
    None,
}

impl NormConfig {
    /// The PyTorch-style short name (`batch`, `group(8)`, …).
    pub fn name(&self) -> String {
        match self {
            NormConfig::Batch => "batch".into(),
            NormConfig::Layer => "layer".into(),
            NormConfig::Group { groups } => format!("group({groups})"),
            NormConfig::Instance => "instance".into(),
            NormConfig::None => "none".into(),
        }
    }

    /// Whether a layer before this normalisation needs its own bias (only without one).
    pub fn needs_bias(&self) -> bool {
        *self == NormConfig::None
    }
}

/// Inverted (PyTorch) or vanilla (the original paper's) scaling of dropout-like regularisers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// Scale kept units by 1/q in training; identity at test time. Default.
    #[default]
    Inverted,
    /// No scaling in training; multiply by q at test time.
    Vanilla,
}

impl Scaling {
    /// The nn-regularize variant.
    pub fn variant(self) -> DropoutVariant {
        match self {
            Scaling::Inverted => DropoutVariant::Inverted,
            Scaling::Vanilla => DropoutVariant::Vanilla,
        }
    }
}

/// Which layers DropConnect (Wan et al. 2013) masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropConnectLayers {
    /// The hidden fully connected layers (not the classifier). Default.
    #[default]
    Linear,
    /// The convolutions.
    Conv,
    /// Both.
    All,
}

fn half() -> f32 {
    0.5
}

/// DropConnect on the weights of linear and/or convolutional layers: W ⊙ M / q in training, W at
/// test time (mean field; see `nn_regularize::dropconnect`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropConnectSettings {
    /// Probability of dropping a weight, in [0, 1). Default 0.5.
    #[serde(default = "half")]
    pub p: f32,
    /// Which layers. Default `linear` (the hidden fully connected layers).
    #[serde(default)]
    pub layers: DropConnectLayers,
    /// Also mask the classifier (the output layer). Default false.
    #[serde(default)]
    pub classifier: bool,
    /// Inverted (default) or vanilla scaling.
    #[serde(default)]
    pub scaling: Scaling,
    /// One mask per example as in the paper (linear layers only; B× the work) instead of one per
    /// batch. Default false.
    #[serde(default)]
    pub per_example: bool,
}

impl DropConnectSettings {
    /// The nn-regularize config.
    pub fn config(&self) -> nn_regularize::DropConnectConfig {
        nn_regularize::DropConnectConfig::new(self.p)
            .variant(self.scaling.variant())
            .sharing(if self.per_example {
                MaskSharing::PerSample
            } else {
                MaskSharing::PerBatch
            })
    }

    /// Whether the convolutions are masked.
    pub fn on_conv(&self) -> bool {
        matches!(
            self.layers,
            DropConnectLayers::Conv | DropConnectLayers::All
        )
    }

    /// Whether the hidden linear layers are masked.
    pub fn on_linear(&self) -> bool {
        matches!(
            self.layers,
            DropConnectLayers::Linear | DropConnectLayers::All
        )
    }
}

/// Stochastic depth (Huang et al. 2016) on the residual blocks, with the paper's linear decay
/// rule: block l of L survives with pₗ = 1 − (l/L)·(1 − p_L).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StochasticDepthSettings {
    /// p_L, the survival probability of the last block, in [0, 1]. Default 0.5 (the paper's).
    #[serde(default = "half")]
    pub last_survival: f32,
    /// One draw per sample (`row`, default, torchvision/timm) or per batch (`batch`, the paper's;
    /// a dropped block is skipped).
    #[serde(default)]
    pub mode: DropMode,
    /// Inverted (default, torchvision/timm) or vanilla (the paper's) scaling.
    #[serde(default)]
    pub scaling: Scaling,
}

/// What one stochastic-depth draw decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropMode {
    /// Per sample. Default.
    #[default]
    Row,
    /// Per batch.
    Batch,
}

impl DropMode {
    /// The nn-regularize mode.
    pub fn mode(self) -> DropPathMode {
        match self {
            DropMode::Row => DropPathMode::Row,
            DropMode::Batch => DropPathMode::Batch,
        }
    }
}

fn sqrt_half() -> f32 {
    std::f32::consts::FRAC_1_SQRT_2
}

fn one_draw() -> usize {
    1
}

/// The pooling of each CNN stage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum PoolSettings {
    /// 2×2 max pooling, stride 2, ceil mode (halves the resolution, rounding up). Default.
    #[default]
    Max,
    /// Fractional max pooling (Graham 2014): each stage shrinks the map by `ratio` (output
    /// ⌊H·ratio⌋), with random pooling regions in training; at test time the prediction is
    /// averaged over `test_draws` region draws.
    Fractional {
        /// Output/input size ratio in (0, 1) (α = 1/ratio; default 1/√2).
        #[serde(default = "sqrt_half")]
        ratio: f32,
        /// Overlapping windows (default, Graham's best) or disjoint ones.
        #[serde(default = "yes")]
        overlapping: bool,
        /// Pseudorandom sequences (default) or random ones.
        #[serde(default = "yes")]
        pseudorandom: bool,
        /// Region draws averaged at test time (K, default 1: one fixed draw).
        #[serde(default = "one_draw")]
        test_draws: usize,
    },
}

fn yes() -> bool {
    true
}

impl PoolSettings {
    /// The nn-regularize config of a fractional pooling (`None` for max pooling).
    pub fn fractional(&self) -> Option<nn_regularize::FractionalMaxPool2dConfig> {
        match *self {
            PoolSettings::Max => None,
            PoolSettings::Fractional {
                ratio,
                overlapping,
                pseudorandom,
                ..
            } => Some(
                nn_regularize::FractionalMaxPool2dConfig::ratio(ratio)
                    .regions(if overlapping {
                        FmpRegions::Overlapping
                    } else {
                        FmpRegions::Disjoint
                    })
                    .sequence(if pseudorandom {
                        FmpSequence::Pseudorandom
                    } else {
                        FmpSequence::Random
                    }),
            ),
        }
    }

    /// Test-time draws K (1 for max pooling).
    pub fn test_draws(&self) -> usize {
        match *self {
            PoolSettings::Max => 1,
            PoolSettings::Fractional { test_draws, .. } => test_draws,
        }
    }
}

/// The stem of the torchvision ResNets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stem {
    /// torchvision's: 7×7 convolution, stride 2, then 3×3 max pooling, stride 2 (÷4). Default.
    #[default]
    Imagenet,
    /// The CIFAR variant of timm/kuangliu ports: a 3×3 stride-1 convolution and no max pooling,
    /// for small inputs (28–64 px). Same parameter names; `conv1.weight` is 3×3.
    Cifar,
}

/// The initialisation a model uses when the job sets none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum DefaultInit {
    /// PyTorch's layer defaults (U(±1/√fan_in) weights and biases) — the MLP, CNN, CIFAR ResNet.
    Torch,
    /// torchvision's ResNet: convolutions Kaiming normal (fan_out, ReLU); the classifier keeps
    /// PyTorch's default.
    TorchvisionResnet,
    /// torchvision's VGG: convolutions Kaiming normal (fan_out, ReLU) with zero bias; linear
    /// layers N(0, 0.01²) with zero bias.
    TorchvisionVgg,
}

/// A weight and a bias initialisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LayerInit {
    pub weight: Init,
    pub bias: Init,
}

/// The options of one model, resolved (defaults filled in) and validated.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Options {
    pub activation: Activation,
    pub norm: NormConfig,
    pub conv_init: LayerInit,
    pub linear_init: LayerInit,
    pub dropout: f32,
    pub dropout2d: f32,
    pub scaling: Scaling,
    pub dropconnect: Option<DropConnectSettings>,
    pub stochastic_depth: Option<StochasticDepthSettings>,
    pub pool: PoolSettings,
}

impl Options {
    /// The initialisations for `init` (the job's choice) or the model's default.
    pub(crate) fn inits(init: Option<Init>, default: DefaultInit) -> (LayerInit, LayerInit) {
        let torch = LayerInit {
            weight: Init::TorchDefault,
            bias: Init::TorchDefault,
        };
        let kaiming_out = Init::KaimingNormal {
            a: 0.0,
            mode: FanMode::FanOut,
            nonlinearity: Nonlinearity::Relu,
        };
        match (init, default) {
            (Some(Init::TorchDefault), _) | (None, DefaultInit::Torch) => (torch, torch),
            (Some(weight), _) => {
                let l = LayerInit {
                    weight,
                    bias: Init::Zeros,
                };
                (l, l)
            }
            (None, DefaultInit::TorchvisionResnet) => (
                LayerInit {
                    weight: kaiming_out,
                    bias: Init::Zeros,
                },
                torch,
            ),
            (None, DefaultInit::TorchvisionVgg) => (
                LayerInit {
                    weight: kaiming_out,
                    bias: Init::Zeros,
                },
                LayerInit {
                    weight: Init::Normal {
                        mean: 0.0,
                        std: 0.01,
                    },
                    bias: Init::Zeros,
                },
            ),
        }
    }

    /// Checks the values (field names under `model.`); `conv` says whether the model has
    /// feature maps (instance norm, 2-d dropout, conv DropConnect), `widths` are the channel or
    /// feature counts a group norm must divide.
    pub(crate) fn validate(&self, conv: bool, widths: &[usize]) -> Result<()> {
        if let Activation::Maxout { pieces } = self.activation
            && pieces == 0
        {
            return Err(invalid("model.activation.pieces", 0, "at least 1 piece"));
        }
        self.activation
            .layer()
            .map_err(|e| invalid("model.activation", e, "a valid activation"))?;
        for (field, init) in [
            ("model.init", self.conv_init.weight),
            ("model.init", self.linear_init.weight),
        ] {
            init.validate()
                .map_err(|e| invalid(field, e, "a valid initialisation"))?;
        }
        let k = self.activation.width_factor();
        match self.norm {
            NormConfig::Group { groups } => {
                if groups == 0 {
                    return Err(invalid("model.norm.groups", 0, "at least 1 group"));
                }
                if let Some(w) = widths.iter().find(|&&w| !(w * k).is_multiple_of(groups)) {
                    return Err(invalid(
                        "model.norm.groups",
                        groups,
                        &format!(
                            "a divisor of every normalised width (this model normalises {} \
                             channels{})",
                            w * k,
                            if k > 1 { " before its maxout" } else { "" }
                        ),
                    ));
                }
            }
            NormConfig::Instance if !conv => {
                return Err(invalid(
                    "model.norm",
                    "instance",
                    "batch, layer, group or none (instance normalisation needs feature maps)",
                ));
            }
            _ => {}
        }
        for (field, p) in [
            ("model.dropout", self.dropout),
            ("model.dropout2d", self.dropout2d),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(invalid(field, p, "a dropout probability in [0, 1)"));
            }
        }
        if let Some(dc) = &self.dropconnect {
            if !(0.0..1.0).contains(&dc.p) {
                return Err(invalid(
                    "model.dropconnect.p",
                    dc.p,
                    "a probability in [0, 1)",
                ));
            }
            if dc.per_example && (dc.on_conv() && conv) {
                return Err(invalid(
                    "model.dropconnect.per_example",
                    true,
                    "false when convolutions are masked (a mask per example would be a \
                     different convolution per example)",
                ));
            }
        }
        if let Some(sd) = &self.stochastic_depth
            && !(0.0..=1.0).contains(&sd.last_survival)
        {
            return Err(invalid(
                "model.stochastic_depth.last_survival",
                sd.last_survival,
                "a probability in [0, 1]",
            ));
        }
        if let PoolSettings::Fractional {
            ratio, test_draws, ..
        } = self.pool
        {
            if !(ratio.is_finite() && ratio > 0.0 && ratio < 1.0) {
                return Err(invalid("model.pool.ratio", ratio, "a ratio in (0, 1)"));
            }
            if test_draws == 0 {
                return Err(invalid("model.pool.test_draws", 0, "at least 1 draw"));
            }
        }
        Ok(())
    }
}
