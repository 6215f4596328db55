//! Layers: modules with parameters and buffers (`Linear`, `Sequential`, activations, `Flatten`, `Maxout`, convolution, pooling and normalisation layers).
//!
//! Every layer is built from a config struct by a validated constructor (`LinearConfig::init`),
//! names its parameters as PyTorch does (`weight`, `bias`), and documents its default
//! initialisation. Forward passes take an explicit [`crate::Ctx`] (train or eval mode).

mod activation;
mod error;
mod flatten;
mod linear;
mod maxout;
mod sequential;

pub use activation::{Activation, ELU, GELU, LeakyReLU, ReLU, SELU, Sigmoid, Softplus, Tanh};
pub use error::LayerError;
pub use flatten::Flatten;
pub use linear::{Linear, LinearConfig};
pub use maxout::{Maxout, MaxoutConfig};
pub use sequential::Sequential;
