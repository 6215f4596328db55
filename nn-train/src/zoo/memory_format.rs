//! The memory format a zoo model runs in: row-major (NCHW) or channels-last (NHWC in memory,
//! PyTorch's `model.to(memory_format=torch.channels_last)`), see [`nn_core::ops::layout`].
//!
//! Channels-last, the input and every layer's 4-d output are stored channels-last: the direct
//! convolution kernels vectorise along the channels, conv + BN + ReLU fuse
//! ([`nn_core::layers::Conv2d::forward_bn`]) and the residual addition fuses with its ReLU.
//! Max pooling keeps the format too. Layers without a channels-last kernel (fractional max
//! pooling, group / layer / instance norm, maxout, dropout masks) compute the same values from
//! either format; their row-major output is converted back before the next layer of a
//! [`Sequential`]. Which models run channels-last by default is [`ModelConfig::memory_format`]
//! (where it was measured to pay); [`ModelConfig::build_with_format`] chooses either for any
//! model.
//!
//! The format changes where values sit in memory, not what they are: the parameters, their
//! names, checkpoints, `describe()` and exports are the same in both formats, and outputs and
//! gradients agree to rounding (the kernels sum in a different order).

use nn_core::layers::{BatchNorm2d, Conv2d, ReLU, Sequential};
use nn_core::{Ctx, Entry, Module, Tensor};

use super::ModelConfig;
use super::options::NormConfig;

/// Where a model keeps its 4-d activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryFormat {
    /// Row-major `[N, C, H, W]` (PyTorch's `torch.contiguous_format`).
    Contiguous,
    /// Channels-last: each pixel's channels adjacent (PyTorch's `torch.channels_last`).
    ChannelsLast,
}

/// The widest CIFAR ResNet that runs channels-last by default: 64 (64-256 channels), the widths
/// where the channels-last kernels were measured faster (`BENCHMARKS.md`; width 16 on
/// 2026-12-05, widths 32 and 64 on 2026-12-06 once the channels-last Winograd kernels had landed:
/// a ResNet-20 training step at width 32 1.55x faster, inference about 2x; at width 64 1.31x
/// and 1.8x, AMD EPYC family 25 model 17 with AVX2, batch 128/256, 2 threads).
const WIDEST_CHANNELS_LAST: usize = 64;

impl ModelConfig {
    /// The memory format [`ModelConfig::build`] gives this model, where it was measured to pay:
    /// channels-last, with batch norm or none and an elementwise activation (not maxout), for
    /// * the CIFAR ResNet (`resnet`) up to width 64 (ResNet-20 at width 16 has 16-64 channels,
    ///   WRN-20-4 at width 64 has 64-256);
    /// * the CNN (`cnn`) and VGG (`vgg`) with max pooling (not fractional) and no channel
    ///   dropout;
    ///
    /// row-major for everything else. Measured against row-major on the same CPU
    /// (`BENCHMARKS.md`, 2026-12-05, CPU time): the CIFAR ResNets train about 1.4x and evaluate
    /// about 1.5x faster channels-last, the CNN 1.25x / 1.5x and VGG-11 1.35x / 1.4x (channels-last
    /// max pooling, Conv → BN → ReLU fused, and from 128 channels NHWC im2col + GEMM
    /// convolutions). Group / layer / instance norm, maxout, fractional max pooling and channel
    /// dropout have no channels-last kernels.
    ///
    /// ```
    /// use nn_train::ModelConfig;
    /// use nn_train::zoo::{MemoryFormat, NormConfig};
    /// assert_eq!(ModelConfig::resnet(3, 16).memory_format(), MemoryFormat::ChannelsLast);
    /// let group = ModelConfig::resnet(3, 16).with_norm(NormConfig::Group { groups: 4 });
    /// assert_eq!(group.memory_format(), MemoryFormat::Contiguous);
    /// assert_eq!(ModelConfig::resnet(3, 64).memory_format(), MemoryFormat::ChannelsLast);
    /// assert_eq!(ModelConfig::resnet(3, 128).memory_format(), MemoryFormat::Contiguous);
    /// assert_eq!(ModelConfig::cnn(vec![32, 64]).memory_format(), MemoryFormat::ChannelsLast);
    /// ```
    pub fn memory_format(&self) -> MemoryFormat {
        let Ok(o) = self.options() else {
            return MemoryFormat::Contiguous;
        };
        let kernels = matches!(o.norm, NormConfig::Batch | NormConfig::None) && o.k() == 1;
        let pooling = o.pool.fractional().is_none() && o.dropout2d == 0.0;
        match self {
            ModelConfig::Resnet { width, .. } if kernels && *width <= WIDEST_CHANNELS_LAST => {
                MemoryFormat::ChannelsLast
            }
            ModelConfig::Cnn { .. } | ModelConfig::Vgg(_) if kernels && pooling => {
                MemoryFormat::ChannelsLast
            }
            _ => MemoryFormat::Contiguous,
        }
    }
}

/// Whether channels-last and row-major are the same memory for this 4-d shape (one channel, or
/// one pixel): then there is nothing to convert.
fn ambiguous(x: &Tensor) -> bool {
    let s = x.shape();
    s[1] <= 1 || s[2] * s[3] <= 1
}

/// `x` channels-last if it is a 4-d tensor that is not (and can be).
fn channels_last(x: Tensor) -> Tensor {
    if x.ndim() == 4 && !ambiguous(&x) && !x.is_channels_last() {
        x.to_channels_last()
    } else {
        x
    }
}

/// Runs `m` on `x`, walking nested [`Sequential`]s child by child and storing each 4-d output
/// channels-last: a layer without a channels-last kernel (fractional max pooling) or a
/// one-channel input (whose convolution cannot tell the formats apart) hands the next layer
/// row-major memory. A `Conv2d → BatchNorm2d (→ ReLU)` run of children on channels-last input
/// goes through [`Conv2d::forward_bn`] (the same values; BN + ReLU in one pass in training,
/// the whole run in one pass in evaluation).
fn run(m: &dyn Module, x: Tensor, ctx: &mut Ctx) -> Tensor {
    match m.as_any().and_then(|a| a.downcast_ref::<Sequential>()) {
        Some(seq) => {
            let children: Vec<&dyn Module> = seq.iter().map(|(_, c)| c).collect();
            let (mut h, mut i) = (x, 0);
            while i < children.len() {
                match fused(&children[i..], &h, ctx) {
                    Some((y, used)) => {
                        h = channels_last(y);
                        i += used;
                    }
                    None => {
                        h = run(children[i], h, ctx);
                        i += 1;
                    }
                }
            }
            h
        }
        None => channels_last(m.forward(&x, ctx)),
    }
}

/// `Conv2d → BatchNorm2d (→ ReLU)` at the start of `rest`, run by [`Conv2d::forward_bn`] on the
/// channels-last `x`: the output and how many children it covers.
fn fused(rest: &[&dyn Module], x: &Tensor, ctx: &mut Ctx) -> Option<(Tensor, usize)> {
    let conv = rest.first()?.as_any()?.downcast_ref::<Conv2d>()?;
    let bn = rest.get(1)?.as_any()?.downcast_ref::<BatchNorm2d>()?;
    if !x.is_channels_last() {
        return None;
    }
    let relu = rest
        .get(2)
        .and_then(|m| m.as_any())
        .is_some_and(|a| a.is::<ReLU>());
    Some((conv.forward_bn(bn, x, ctx, relu), 2 + usize::from(relu)))
}

/// A model run channels-last: the input and every layer's 4-d output are stored channels-last
/// (see the [module docs](self)). Otherwise transparent: parameters, names, `describe()`,
/// folding and downcasts ([`Module::as_any`]) are the wrapped model's.
pub(crate) struct ChannelsLastModel {
    inner: Box<dyn Module>,
    /// [`Module::inference_chunk`]: images per chunk of `nn_core::infer::infer`, if any.
    chunk: Option<usize>,
}

impl ChannelsLastModel {
    /// `inner`, run channels-last; `nn_core::infer::infer` runs it on chunks of `chunk`
    /// images (or the whole batch).
    pub(crate) fn new(inner: Box<dyn Module>, chunk: Option<usize>) -> ChannelsLastModel {
        ChannelsLastModel { inner, chunk }
    }
}

impl Module for ChannelsLastModel {
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        run(self.inner.as_ref(), channels_last(x.clone()), ctx)
    }
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(Entry<'_>)) {
        self.inner.visit(prefix, f);
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn inference_chunk(&self, _input: &[usize]) -> Option<usize> {
        self.chunk
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        self.inner.as_any()
    }
    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        self.inner.as_any_mut()
    }
    fn fold_batch_norms(&mut self) -> usize {
        self.inner.fold_batch_norms()
    }
}
