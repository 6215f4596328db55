//! The model zoo: networks built from a serialisable [`ModelConfig`] for an input shape and a
//! class count.
//!
//! | kind | network |
//! |---|---|
//! | `mlp` | [`mlp`]: Flatten → (Linear → BN? → activation → Dropout?)* → Linear |
//! | `cnn` | [`cnn`]: (Conv3×3 → BN → ReLU → MaxPool 2)* → global average pool → Linear |
//! | `resnet` | [`resnet`]: the CIFAR ResNet-(6n+2) of He et al. 2016 (n = 1: ResNet-8, n = 3: ResNet-20) |

mod cnn;
mod mlp;
mod resnet;

pub use cnn::cnn;
pub use mlp::mlp;
pub use resnet::{BasicBlock, resnet};

use nn_core::Module;
use nn_core::layers::Activation;
use nn_core::rng::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// Which network to build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelConfig {
    /// A multilayer perceptron.
    Mlp {
        /// Widths of the hidden layers. Default [256, 256].
        #[serde(default = "default_hidden")]
        hidden: Vec<usize>,
        /// Activation after each hidden layer. Default ReLU.
        #[serde(default = "default_activation")]
        activation: Activation,
        /// BatchNorm1d after each hidden Linear. Default false.
        #[serde(default)]
        batch_norm: bool,
        /// Dropout probability after each hidden activation (inverted dropout). Default 0.
        #[serde(default)]
        dropout: f32,
    },
    /// A small VGG-style convolutional network.
    Cnn {
        /// Channels of each conv stage (each stage halves the resolution). Default [32, 64].
        #[serde(default = "default_channels")]
        channels: Vec<usize>,
        /// Dropout probability before the classifier. Default 0.
        #[serde(default)]
        dropout: f32,
    },
    /// The CIFAR ResNet-(6n+2).
    Resnet {
        /// Blocks per stage n (depth 6n + 2). Default 3 (ResNet-20).
        #[serde(default = "default_blocks")]
        blocks_per_stage: usize,
        /// Channels of the first stage (doubled at each of the next two). Default 16.
        #[serde(default = "default_width")]
        width: usize,
    },
}

fn default_hidden() -> Vec<usize> {
    vec![256, 256]
}
fn default_activation() -> Activation {
    Activation::Relu
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
        ModelConfig::Mlp {
            hidden: default_hidden(),
            activation: default_activation(),
            batch_norm: false,
            dropout: 0.0,
        }
    }
}

impl ModelConfig {
    /// Checks hyperparameters that do not depend on the data.
    pub fn validate(&self) -> Result<()> {
        let check_p = |field: &str, p: f32| {
            if (0.0..1.0).contains(&p) {
                Ok(())
            } else {
                Err(invalid(field, p, "a dropout probability in [0, 1)"))
            }
        };
        match self {
            ModelConfig::Mlp {
                hidden, dropout, ..
            } => {
                if let Some(&0) = hidden.iter().find(|&&w| w == 0) {
                    return Err(invalid("model.hidden", "0", "positive layer widths"));
                }
                check_p("model.dropout", *dropout)
            }
            ModelConfig::Cnn { channels, dropout } => {
                if channels.is_empty() || channels.contains(&0) {
                    return Err(invalid(
                        "model.channels",
                        format!("{channels:?}"),
                        "at least one positive width",
                    ));
                }
                check_p("model.dropout", *dropout)
            }
            ModelConfig::Resnet {
                blocks_per_stage,
                width,
            } => {
                if *blocks_per_stage == 0 {
                    return Err(invalid("model.blocks_per_stage", 0, "at least 1"));
                }
                if *width == 0 {
                    return Err(invalid("model.width", 0, "at least 1"));
                }
                Ok(())
            }
        }
    }

    /// Builds the network for CHW inputs of `input` shape and `classes` outputs, initialised from
    /// `rng` (each layer with PyTorch's default initialisation).
    pub fn build(
        &self,
        input: [usize; 3],
        classes: usize,
        rng: &mut Rng,
    ) -> Result<Box<dyn Module>> {
        self.validate()?;
        Ok(match self {
            ModelConfig::Mlp {
                hidden,
                activation,
                batch_norm,
                dropout,
            } => Box::new(mlp(
                input.iter().product(),
                hidden,
                classes,
                *activation,
                *batch_norm,
                *dropout,
                rng,
            )?),
            ModelConfig::Cnn { channels, dropout } => {
                Box::new(cnn(input[0], channels, classes, *dropout, rng)?)
            }
            ModelConfig::Resnet {
                blocks_per_stage,
                width,
            } => Box::new(resnet(input[0], *blocks_per_stage, *width, classes, rng)?),
        })
    }
}
