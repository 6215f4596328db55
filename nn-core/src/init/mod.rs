//! Weight initialisation: small random numbers, Xavier/Glorot, Kaiming/MSRA and PyTorch's layer
//! defaults, with fans and gains computed exactly as `torch.nn.init` computes them.
//!
//! * [`Init`] — the schemes (serialisable: configs choose one by name), sampled from an explicit
//!   generator with [`Init::sample`]; [`Distribution`] — what a scheme resolves to for given fans.
//! * [`Fans`] — fan_in/fan_out of a weight shape (`[out, in, k…]`: fan_in = in·Πk).
//! * [`Nonlinearity`], [`calculate_gain`] — the gains (ReLU √2, leaky ReLU √(2/(1+a²)), tanh 5/3,
//!   SELU 3/4, linear/sigmoid 1).
//! * [`FanMode`] — Kaiming's fan_in (forward variance) or fan_out (backward variance).
//! * [`Init::Orthogonal`] — Saxe et al.'s orthogonal matrices (gain · Q, all singular values
//!   equal to the gain).
//!
//! Layer defaults follow PyTorch: `Linear` and `Conv2d` weights and biases use
//! [`Init::TorchDefault`], U(±1/√fan_in).
//!
//! ```
//! use nn_core::init::{Fans, Init, Nonlinearity};
//! use nn_core::rng::seeded;
//!
//! let mut rng = seeded(0);
//! let w = Init::kaiming_normal(Nonlinearity::Relu).sample(&[128, 64, 3, 3], &mut rng).unwrap();
//! let fans = Fans::of(w.shape()).unwrap();
//! assert_eq!(fans.fan_in, 64 * 9);
//! let b = Init::TorchDefault.sample_with_fans(&[128], fans, &mut rng).unwrap();
//! assert!(b.iter().all(|v| v.abs() <= 1.0 / 24.0));
//! ```

mod distribution;
mod fans;
mod gain;
mod orthogonal;
mod scheme;
#[cfg(test)]
mod tests;

pub use distribution::Distribution;
pub use fans::{FanMode, Fans};
pub use gain::{Nonlinearity, calculate_gain};
pub use scheme::Init;

/// An initialisation that cannot be carried out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InitError {
    /// A hyperparameter of the scheme is out of range.
    #[error("init `{scheme}`: {field} = {value} is invalid; expected {expected}")]
    InvalidParameter {
        /// The scheme's name (`"normal"`).
        scheme: &'static str,
        /// The offending field (`"std"`).
        field: &'static str,
        /// Its value.
        value: f32,
        /// What was expected.
        expected: &'static str,
    },
    /// A scheme that is not an elementwise distribution (orthogonal) was asked for one, or for
    /// a tensor initialised with explicit fans.
    #[error("init `{scheme}` is not an elementwise distribution; sample it with Init::sample")]
    NotElementwise {
        /// The scheme's name.
        scheme: &'static str,
    },
    /// A fan-based scheme was asked to initialise a tensor with fewer than 2 axes.
    #[error(
        "fan in and fan out cannot be computed for a tensor of shape {shape:?} (fewer than 2 \
         dimensions); initialise biases with the weight's fans"
    )]
    FansUndefined {
        /// The shape.
        shape: Vec<usize>,
    },
}
