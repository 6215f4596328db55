//! Activation functions, as inherent methods of [`crate::Tensor`], one per file: sigmoid, tanh,
//! leaky ReLU, ELU, SELU, GELU (exact and tanh forms), softplus. (ReLU is in `ops/relu.rs`;
//! softmax and log-softmax are ops in `ops/softmax.rs` and `ops/log_softmax.rs`.) The layer
//! wrappers are in [`crate::layers`].

mod elu;
mod erf;
mod gelu;
mod leaky_relu;
mod selu;
mod sigmoid;
mod softplus;
mod tanh;

pub use erf::{erf, erf_f64, erfc_f64};
pub use gelu::GeluApproximate;
pub use selu::{SELU_ALPHA, SELU_SCALE};
