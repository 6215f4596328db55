//! [`ModelConfig`]: which network, with which options — the `[model]` table of a job file.
//! Every field has a default; the defaults reproduce the models (and parameter names) of
//! earlier versions exactly.

use nn_core::init::Init;
use nn_core::layers::Activation;
use serde::{Deserialize, Serialize};

use super::options::{
    DefaultInit, DropConnectSettings, NormConfig, Options, PoolSettings, Scaling,
    StochasticDepthSettings,
};
use super::torchvision_resnet::TorchResnetConfig;
use super::vgg::VggConfig;
use crate::error::{Result, invalid};

/// Which network to build, and its options (see the [zoo](super) docs for the table of options
/// per model).
///
/// The options every model shares (activation, norm, init, dropout, …) are declared in each
/// variant rather than in one `#[serde(flatten)]`ed struct on purpose: serde does not support
/// `flatten` together with `deny_unknown_fields`, and a misspelt option must stay an error that
/// names the field. Code reaches the shared fields through one accessor (`common_mut`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelConfig {
    /// A multilayer perceptron: Flatten → (Linear → norm? → activation → Dropout?)* → Linear.
    Mlp {
        /// Widths of the hidden layers. Default [256, 256].
        #[serde(default = "default_hidden")]
        hidden: Vec<usize>,
        /// Activation after each hidden layer (maxout widens the layer before it k×). Default
        /// ReLU.
        #[serde(default = "relu")]
        activation: Activation,
        /// BatchNorm1d after each hidden Linear (same as `norm = { kind = "batch" }`). Default
        /// false.
        #[serde(default)]
        batch_norm: bool,
        /// Normalisation after each hidden Linear (batch, layer, group; default none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        norm: Option<NormConfig>,
        /// Initialisation of every weight (biases zero); default PyTorch's layer defaults.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        init: Option<Init>,
        /// Dropout probability after each hidden activation. Default 0.
        #[serde(default)]
        dropout: f32,
        /// Inverted (default) or vanilla dropout.
        #[serde(default)]
        dropout_scaling: Scaling,
        /// DropConnect on the hidden layers (and optionally the classifier). Default none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dropconnect: Option<DropConnectSettings>,
    },
    /// A small VGG-style convolutional network: (Conv3×3 → norm → activation → pool →
    /// Dropout2d?)* → global average pool → Dropout? → Linear.
    Cnn {
        /// Channels of each conv stage (each stage pools). Default [32, 64].
        #[serde(default = "default_channels")]
        channels: Vec<usize>,
        /// Convolutions per stage, all of the stage's width, before its pooling (1: the
        /// classic small CNN; 2: VGG's pairs of 3×3 convolutions, Simonyan & Zisserman 2015).
        /// Default 1.
        #[serde(default = "one")]
        convs_per_stage: usize,
        /// Activation after each normalisation. Default ReLU.
        #[serde(default = "relu")]
        activation: Activation,
        /// Normalisation after each convolution. Default batch.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        norm: Option<NormConfig>,
        /// Initialisation of every weight (biases zero); default PyTorch's layer defaults.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        init: Option<Init>,
        /// Dropout probability before the classifier. Default 0.
        #[serde(default)]
        dropout: f32,
        /// Channel dropout (Dropout2d) probability after each stage. Default 0.
        #[serde(default)]
        dropout2d: f32,
        /// Inverted (default) or vanilla dropout.
        #[serde(default)]
        dropout_scaling: Scaling,
        /// DropConnect on the convolutions and/or the classifier. Default none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dropconnect: Option<DropConnectSettings>,
        /// Pooling of each stage: 2×2 max (default) or fractional max pooling.
        #[serde(default)]
        pool: PoolSettings,
    },
    /// The CIFAR ResNet-(6n+2) of He et al. 2016.
    Resnet {
        /// Blocks per stage n (depth 6n + 2). Default 3 (ResNet-20).
        #[serde(default = "default_blocks")]
        blocks_per_stage: usize,
        /// Channels of the first stage (doubled at each of the next two). Default 16.
        #[serde(default = "default_width")]
        width: usize,
        /// Activation (maxout: see the zoo docs). Default ReLU.
        #[serde(default = "relu")]
        activation: Activation,
        /// Normalisation after each convolution. Default batch.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        norm: Option<NormConfig>,
        /// Initialisation of every weight (biases zero); default PyTorch's layer defaults.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        init: Option<Init>,
        /// Dropout probability before the classifier. Default 0.
        #[serde(default)]
        dropout: f32,
        /// Channel dropout between the two convolutions of each block. Default 0.
        #[serde(default)]
        dropout2d: f32,
        /// Inverted (default) or vanilla dropout.
        #[serde(default)]
        dropout_scaling: Scaling,
        /// DropConnect on the convolutions and/or the classifier. Default none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dropconnect: Option<DropConnectSettings>,
        /// Stochastic depth on the blocks (linear decay). Default none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stochastic_depth: Option<StochasticDepthSettings>,
    },
    /// torchvision's ResNet-18 (ImageNet architecture, torchvision's parameter names).
    Resnet18(TorchResnetConfig),
    /// torchvision's ResNet-34.
    Resnet34(TorchResnetConfig),
    /// torchvision's VGG-11/13/16/19, optionally narrowed.
    Vgg(VggConfig),
}

/// Mutable references to the fields every model has.
struct CommonMut<'a> {
    activation: &'a mut Activation,
    norm: &'a mut Option<NormConfig>,
    init: &'a mut Option<Init>,
    dropout: &'a mut f32,
}

fn default_hidden() -> Vec<usize> {
    vec![256, 256]
}
fn relu() -> Activation {
    Activation::Relu
}
fn one() -> usize {
    1
}
fn default_channels() -> Vec<usize> {
    vec![32, 64]
}
fn default_blocks() -> usize {
    3
}
fn default_width() -> usize {
    16
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig::mlp(default_hidden())
    }
}

impl ModelConfig {
    /// An MLP with these hidden widths and default options.
    pub fn mlp(hidden: Vec<usize>) -> ModelConfig {
        ModelConfig::Mlp {
            hidden,
            activation: Activation::Relu,
            batch_norm: false,
            norm: None,
            init: None,
            dropout: 0.0,
            dropout_scaling: Scaling::Inverted,
            dropconnect: None,
        }
    }

    /// A CNN with these stage widths and default options.
    pub fn cnn(channels: Vec<usize>) -> ModelConfig {
        ModelConfig::Cnn {
            channels,
            convs_per_stage: 1,
            activation: Activation::Relu,
            norm: None,
            init: None,
            dropout: 0.0,
            dropout2d: 0.0,
            dropout_scaling: Scaling::Inverted,
            dropconnect: None,
            pool: PoolSettings::Max,
        }
    }

    /// A CIFAR ResNet-(6n+2) with default options.
    pub fn resnet(blocks_per_stage: usize, width: usize) -> ModelConfig {
        ModelConfig::Resnet {
            blocks_per_stage,
            width,
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

    /// The common option fields of every model.
    fn common_mut(&mut self) -> CommonMut<'_> {
        match self {
            ModelConfig::Mlp {
                activation,
                norm,
                init,
                dropout,
                ..
            }
            | ModelConfig::Cnn {
                activation,
                norm,
                init,
                dropout,
                ..
            }
            | ModelConfig::Resnet {
                activation,
                norm,
                init,
                dropout,
                ..
            } => CommonMut {
                activation,
                norm,
                init,
                dropout,
            },
            ModelConfig::Resnet18(c) | ModelConfig::Resnet34(c) => CommonMut {
                activation: &mut c.activation,
                norm: &mut c.norm,
                init: &mut c.init,
                dropout: &mut c.dropout,
            },
            ModelConfig::Vgg(c) => CommonMut {
                activation: &mut c.activation,
                norm: &mut c.norm,
                init: &mut c.init,
                dropout: &mut c.dropout,
            },
        }
    }

    /// Sets the activation.
    pub fn with_activation(mut self, activation: Activation) -> ModelConfig {
        *self.common_mut().activation = activation;
        self
    }

    /// Sets the normalisation.
    pub fn with_norm(mut self, norm: NormConfig) -> ModelConfig {
        if let ModelConfig::Mlp { batch_norm, .. } = &mut self {
            *batch_norm = false;
        }
        *self.common_mut().norm = Some(norm);
        self
    }

    /// Sets the weight initialisation.
    pub fn with_init(mut self, init: Init) -> ModelConfig {
        *self.common_mut().init = Some(init);
        self
    }

    /// Sets the dropout probability (see the option table for where each model applies it).
    pub fn with_dropout(mut self, p: f32) -> ModelConfig {
        *self.common_mut().dropout = p;
        self
    }

    /// The `kind` name (`mlp`, `resnet18`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            ModelConfig::Mlp { .. } => "mlp",
            ModelConfig::Cnn { .. } => "cnn",
            ModelConfig::Resnet { .. } => "resnet",
            ModelConfig::Resnet18(_) => "resnet18",
            ModelConfig::Resnet34(_) => "resnet34",
            ModelConfig::Vgg(_) => "vgg",
        }
    }

    /// Turns every regulariser of the model off (dropout, channel dropout, DropConnect,
    /// stochastic depth) — for the "overfit a small sample" check.
    pub fn without_regularization(&mut self) {
        match self {
            ModelConfig::Mlp {
                dropout,
                dropconnect,
                ..
            } => {
                *dropout = 0.0;
                *dropconnect = None;
            }
            ModelConfig::Cnn {
                dropout,
                dropout2d,
                dropconnect,
                ..
            } => {
                (*dropout, *dropout2d) = (0.0, 0.0);
                *dropconnect = None;
            }
            ModelConfig::Resnet {
                dropout,
                dropout2d,
                dropconnect,
                stochastic_depth,
                ..
            } => {
                (*dropout, *dropout2d) = (0.0, 0.0);
                *dropconnect = None;
                *stochastic_depth = None;
            }
            ModelConfig::Resnet18(c) | ModelConfig::Resnet34(c) => {
                (c.dropout, c.dropout2d) = (0.0, 0.0);
                c.dropconnect = None;
                c.stochastic_depth = None;
            }
            ModelConfig::Vgg(c) => {
                (c.dropout, c.dropout2d) = (0.0, 0.0);
                c.dropconnect = None;
            }
        }
    }

    /// The options that make training passes random (dropout, channel dropout, DropConnect,
    /// stochastic depth, fractional pooling), as (field, value) — what a full-batch method such as
    /// L-BFGS cannot work with. Empty when the model is deterministic in training.
    pub fn stochastic_options(&self) -> Vec<(&'static str, String)> {
        let Ok(o) = self.options() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if o.dropout > 0.0 {
            out.push(("model.dropout", o.dropout.to_string()));
        }
        if o.dropout2d > 0.0 {
            out.push(("model.dropout2d", o.dropout2d.to_string()));
        }
        if let Some(d) = o.dropconnect {
            out.push(("model.dropconnect.p", d.p.to_string()));
        }
        if let Some(s) = o.stochastic_depth {
            out.push((
                "model.stochastic_depth.last_survival",
                s.last_survival.to_string(),
            ));
        }
        if o.pool.fractional().is_some() {
            out.push(("model.pool", "fractional".to_string()));
        }
        out
    }

    /// The options with defaults filled in (not yet validated).
    pub(crate) fn options(&self) -> Result<Options> {
        let batch = NormConfig::Batch;
        Ok(match self {
            ModelConfig::Mlp {
                activation,
                batch_norm,
                norm,
                init,
                dropout,
                dropout_scaling,
                dropconnect,
                ..
            } => {
                let norm = match (norm, batch_norm) {
                    (None, false) => NormConfig::None,
                    (None, true) => batch,
                    (Some(n), false) => *n,
                    (Some(NormConfig::Batch), true) => batch,
                    (Some(n), true) => {
                        return Err(invalid(
                            "model.batch_norm",
                            true,
                            &format!(
                                "false with norm = {} (batch_norm = true is norm = batch)",
                                n.name()
                            ),
                        ));
                    }
                };
                let (conv_init, linear_init) = Options::inits(*init, DefaultInit::Torch);
                Options {
                    activation: *activation,
                    norm,
                    conv_init,
                    linear_init,
                    dropout: *dropout,
                    dropout2d: 0.0,
                    scaling: *dropout_scaling,
                    dropconnect: *dropconnect,
                    stochastic_depth: None,
                    pool: PoolSettings::Max,
                }
            }
            ModelConfig::Cnn {
                activation,
                norm,
                init,
                dropout,
                dropout2d,
                dropout_scaling,
                dropconnect,
                pool,
                ..
            } => {
                let (conv_init, linear_init) = Options::inits(*init, DefaultInit::Torch);
                Options {
                    activation: *activation,
                    norm: norm.unwrap_or(batch),
                    conv_init,
                    linear_init,
                    dropout: *dropout,
                    dropout2d: *dropout2d,
                    scaling: *dropout_scaling,
                    dropconnect: *dropconnect,
                    stochastic_depth: None,
                    pool: *pool,
                }
            }
            ModelConfig::Resnet {
                activation,
                norm,
                init,
                dropout,
                dropout2d,
                dropout_scaling,
                dropconnect,
                stochastic_depth,
                ..
            } => {
                let (conv_init, linear_init) = Options::inits(*init, DefaultInit::Torch);
                Options {
                    activation: *activation,
                    norm: norm.unwrap_or(batch),
                    conv_init,
                    linear_init,
                    dropout: *dropout,
                    dropout2d: *dropout2d,
                    scaling: *dropout_scaling,
                    dropconnect: *dropconnect,
                    stochastic_depth: *stochastic_depth,
                    pool: PoolSettings::Max,
                }
            }
            ModelConfig::Resnet18(c) | ModelConfig::Resnet34(c) => {
                let (conv_init, linear_init) =
                    Options::inits(c.init, DefaultInit::TorchvisionResnet);
                Options {
                    activation: c.activation,
                    norm: c.norm.unwrap_or(batch),
                    conv_init,
                    linear_init,
                    dropout: c.dropout,
                    dropout2d: c.dropout2d,
                    scaling: c.dropout_scaling,
                    dropconnect: c.dropconnect,
                    stochastic_depth: c.stochastic_depth,
                    pool: PoolSettings::Max,
                }
            }
            ModelConfig::Vgg(c) => {
                let (conv_init, linear_init) = Options::inits(c.init, DefaultInit::TorchvisionVgg);
                Options {
                    activation: c.activation,
                    norm: c.norm.unwrap_or(NormConfig::None),
                    conv_init,
                    linear_init,
                    dropout: c.dropout,
                    dropout2d: c.dropout2d,
                    scaling: c.dropout_scaling,
                    dropconnect: c.dropconnect,
                    stochastic_depth: None,
                    pool: PoolSettings::Max,
                }
            }
        })
    }
}
