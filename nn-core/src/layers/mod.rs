//! Layers: modules with parameters and buffers (`Linear`, `Sequential`, activations, `Flatten`, `Maxout`, convolution, pooling and unpooling, normalisation layers).
//!
//! Every layer is built from a config struct by a validated constructor (`LinearConfig::init`),
//! names its parameters as PyTorch does (`weight`, `bias`), and documents its default
//! initialisation. Forward passes take an explicit [`crate::Ctx`] (train or eval mode).

mod activation;
mod channel_maxout;
mod channels_last;
mod conv;
mod conv_bn;
mod error;
mod flatten;
mod identity;
mod linear;
mod maxout;
mod norm;
mod norm_batch;
mod pool;
mod sequential;
mod unpool;

pub use activation::{Activation, ELU, GELU, LeakyReLU, ReLU, SELU, Sigmoid, Softplus, Tanh};
pub use channel_maxout::ChannelMaxout;
pub use channels_last::ChannelsLast;
pub use conv::{Conv2d, Conv2dConfig};
pub use error::LayerError;
pub use flatten::Flatten;
pub use identity::Identity;
pub use linear::{Linear, LinearConfig};
pub use maxout::{Maxout, MaxoutConfig};
pub use norm::{GroupNorm, GroupNormConfig, InstanceNorm2d, InstanceNormConfig};
pub use norm::{LayerNorm, LayerNormConfig};
pub use norm_batch::{BatchNorm1d, BatchNorm2d, BatchNormConfig};
pub use pool::{AdaptiveAvgPool2d, AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
pub use sequential::Sequential;
pub use unpool::{MaxUnpool2d, MaxUnpool2dConfig};
