//! [`ChannelsLast`]: converts 4-d inputs to channels-last memory, so that the network behind it
//! runs on the channels-last kernels (see [`crate::ops::layout`]).

use crate::module::{Ctx, Entry, Module};
use crate::tensor::Tensor;

/// Stores a 4-d `[N, C, H, W]` input channels-last ([`Tensor::to_channels_last`]; the values are
/// unchanged, the gradient flows back in the input's format); other inputs pass through. Put it
/// first in a convolutional network: convolutions, batch norms, ReLUs, residual additions and
/// pooling keep the format, and their channels-last kernels are the fast ones. No parameters.
///
/// ```
/// use nn_core::layers::ChannelsLast;
/// use nn_core::{Ctx, Module, Tensor};
/// let y = ChannelsLast.forward(&Tensor::zeros(&[2, 3, 4, 4]), &mut Ctx::eval());
/// assert!(y.is_channels_last());
/// assert_eq!(ChannelsLast.describe(), "ChannelsLast()");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ChannelsLast;

impl Module for ChannelsLast {
    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        if x.ndim() == 4 {
            x.to_channels_last()
        } else {
            x.clone()
        }
    }
    fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(Entry<'_>)) {}
    fn describe(&self) -> String {
        "ChannelsLast()".to_string()
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        Some(self)
    }
}
