//! Pooling layers: [`MaxPool2d`], [`AvgPool2d`], [`AdaptiveAvgPool2d`] (PyTorch's `nn.MaxPool2d`,
//! `nn.AvgPool2d`, `nn.AdaptiveAvgPool2d`; global average pooling is
//! `AdaptiveAvgPool2d::global()`). No parameters; the forward passes are the ops of
//! [`crate::ops::pool`].

use serde::{Deserialize, Serialize};

use super::LayerError;
use crate::module::{Ctx, Entry, Module};
use crate::ops::{AvgPool2dOptions, MaxPool2dOptions};
use crate::tensor::Tensor;

/// Checks kernel/stride/dilation positivity and PyTorch's padding rule (at most half the
/// effective kernel).
pub(super) fn check_window(
    layer: &'static str,
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: (usize, usize),
    dilation: (usize, usize),
) -> Result<(), LayerError> {
    for (field, v) in [
        ("kernel_size", kernel.0.min(kernel.1)),
        ("stride", stride.0.min(stride.1)),
        ("dilation", dilation.0.min(dilation.1)),
    ] {
        if v == 0 {
            return Err(LayerError::invalid(layer, field, v, "at least 1"));
        }
    }
    let eff = |k: usize, d: usize| d * (k - 1) + 1;
    if 2 * padding.0 > eff(kernel.0, dilation.0) || 2 * padding.1 > eff(kernel.1, dilation.1) {
        return Err(LayerError::invalid(
            layer,
            "padding",
            format!("{padding:?}"),
            format!("at most half the (dilated) kernel size {kernel:?}"),
        ));
    }
    Ok(())
}

/// Configuration of [`MaxPool2d`]: PyTorch's arguments (stride defaults to the kernel size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaxPool2dConfig {
    /// Window, stride, padding, dilation and ceil mode.
    pub options: MaxPool2dOptions,
}

impl MaxPool2dConfig {
    /// A `k`×`k` window with stride `k`.
    pub fn new(k: usize) -> Self {
        MaxPool2dConfig {
            options: MaxPool2dOptions::new(k),
        }
    }
    /// Sets the stride.
    pub fn with_stride(mut self, s: usize) -> Self {
        self.options = self.options.with_stride(s);
        self
    }
    /// Sets the padding.
    pub fn with_padding(mut self, p: usize) -> Self {
        self.options = self.options.with_padding(p);
        self
    }
    /// Sets the dilation.
    pub fn with_dilation(mut self, d: usize) -> Self {
        self.options = self.options.with_dilation(d);
        self
    }
    /// Sets ceil mode.
    pub fn with_ceil_mode(mut self, on: bool) -> Self {
        self.options = self.options.with_ceil_mode(on);
        self
    }
    /// Validates and builds the layer.
    ///
    /// # Errors
    /// [`LayerError::InvalidConfig`] for a zero size or too much padding.
    pub fn init(&self) -> Result<MaxPool2d, LayerError> {
        let o = self.options;
        check_window("MaxPool2d", o.kernel, o.stride, o.padding, o.dilation)?;
        Ok(MaxPool2d { options: o })
    }
}

/// 2-d max pooling layer (see [`Tensor::max_pool2d`]).
///
/// ```
/// use nn_core::layers::MaxPool2dConfig;
/// use nn_core::{Ctx, Module, Tensor};
/// let pool = MaxPool2dConfig::new(3).with_stride(2).with_padding(1).init().unwrap();
/// assert_eq!(pool.forward(&Tensor::zeros(&[1, 2, 8, 8]), &mut Ctx::eval()).shape(), &[1, 2, 4, 4]);
/// assert!(MaxPool2dConfig::new(2).with_padding(2).init().is_err());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MaxPool2d {
    options: MaxPool2dOptions,
}

impl MaxPool2d {
    /// The window, stride, padding, dilation and ceil mode.
    pub fn options(&self) -> MaxPool2dOptions {
        self.options
    }

    /// The pooled output and the indices of the maxima (PyTorch's `nn.MaxPool2d(...,
    /// return_indices=True)`; see [`Tensor::max_pool2d_with_indices`]), for a
    /// [`super::MaxUnpool2d`] later in the network. The mode does not matter: pooling is
    /// deterministic.
    ///
    /// ```
    /// use nn_core::layers::{MaxPool2dConfig, MaxUnpool2dConfig};
    /// use nn_core::Tensor;
    /// let pool = MaxPool2dConfig::new(2).init().unwrap();
    /// let unpool = MaxUnpool2dConfig::new(2).init().unwrap();
    /// let x = Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4]);
    /// let (y, idx) = pool.forward_with_indices(&x);
    /// assert_eq!(idx.as_slice().unwrap(), &[5, 7, 13, 15]);
    /// let up = unpool.forward(&y, &idx, None).unwrap();
    /// assert_eq!(up.shape(), &[1, 1, 4, 4]);
    /// ```
    pub fn forward_with_indices(&self, x: &Tensor) -> (Tensor, ndarray::ArrayD<i64>) {
        x.max_pool2d_with_indices(self.options)
    }
}

impl Module for MaxPool2d {
    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        x.max_pool2d(self.options)
    }
    fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(Entry<'_>)) {}
    fn describe(&self) -> String {
        let o = self.options;
        format!(
            "MaxPool2d(kernel_size={:?}, stride={:?}, padding={:?}, dilation={:?}, ceil_mode={})",
            o.kernel, o.stride, o.padding, o.dilation, o.ceil_mode
        )
    }
}

/// Configuration of [`AvgPool2d`]: PyTorch's arguments (stride defaults to the kernel size,
/// `count_include_pad` to true).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvgPool2dConfig {
    /// Window, stride, padding, ceil mode, divisor rules.
    pub options: AvgPool2dOptions,
}

impl AvgPool2dConfig {
    /// A `k`×`k` window with stride `k`.
    pub fn new(k: usize) -> Self {
        AvgPool2dConfig {
            options: AvgPool2dOptions::new(k),
        }
    }
    /// Sets the stride.
    pub fn with_stride(mut self, s: usize) -> Self {
        self.options = self.options.with_stride(s);
        self
    }
    /// Sets the padding.
    pub fn with_padding(mut self, p: usize) -> Self {
        self.options = self.options.with_padding(p);
        self
    }
    /// Sets ceil mode.
    pub fn with_ceil_mode(mut self, on: bool) -> Self {
        self.options = self.options.with_ceil_mode(on);
        self
    }
    /// Sets whether padded zeros count in the divisor.
    pub fn with_count_include_pad(mut self, on: bool) -> Self {
        self.options = self.options.with_count_include_pad(on);
        self
    }
    /// Validates and builds the layer.
    ///
    /// # Errors
    /// [`LayerError::InvalidConfig`] for a zero size or divisor, or too much padding.
    pub fn init(&self) -> Result<AvgPool2d, LayerError> {
        let o = self.options;
        check_window("AvgPool2d", o.kernel, o.stride, o.padding, (1, 1))?;
        if o.divisor_override == Some(0) {
            return Err(LayerError::invalid(
                "AvgPool2d",
                "divisor_override",
                0,
                "at least 1",
            ));
        }
        Ok(AvgPool2d { options: o })
    }
}

/// 2-d average pooling layer (see [`Tensor::avg_pool2d`]).
#[derive(Debug, Clone, Copy)]
pub struct AvgPool2d {
    options: AvgPool2dOptions,
}

impl Module for AvgPool2d {
    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        x.avg_pool2d(self.options)
    }
    fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(Entry<'_>)) {}
    fn describe(&self) -> String {
        let o = self.options;
        format!(
            "AvgPool2d(kernel_size={:?}, stride={:?}, padding={:?}, ceil_mode={}, \
             count_include_pad={})",
            o.kernel, o.stride, o.padding, o.ceil_mode, o.count_include_pad
        )
    }
}

/// Adaptive average pooling to a fixed output size (see [`Tensor::adaptive_avg_pool2d`]).
///
/// ```
/// use nn_core::layers::AdaptiveAvgPool2d;
/// use nn_core::{Ctx, Module, Tensor};
/// let gap = AdaptiveAvgPool2d::global();
/// assert_eq!(gap.forward(&Tensor::ones(&[2, 8, 5, 5]), &mut Ctx::eval()).shape(), &[2, 8, 1, 1]);
/// assert!(AdaptiveAvgPool2d::new((0, 2)).is_err());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct AdaptiveAvgPool2d {
    output_size: (usize, usize),
}

impl AdaptiveAvgPool2d {
    /// Pools to `output_size` (height, width).
    ///
    /// # Errors
    /// [`LayerError::InvalidConfig`] if a size is 0.
    pub fn new(output_size: (usize, usize)) -> Result<Self, LayerError> {
        if output_size.0 == 0 || output_size.1 == 0 {
            return Err(LayerError::invalid(
                "AdaptiveAvgPool2d",
                "output_size",
                format!("{output_size:?}"),
                "positive sizes",
            ));
        }
        Ok(AdaptiveAvgPool2d { output_size })
    }
    /// Global average pooling (output 1×1).
    pub fn global() -> Self {
        AdaptiveAvgPool2d {
            output_size: (1, 1),
        }
    }
}

impl Module for AdaptiveAvgPool2d {
    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        x.adaptive_avg_pool2d(self.output_size)
    }
    fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(Entry<'_>)) {}
    fn describe(&self) -> String {
        format!("AdaptiveAvgPool2d(output_size={:?})", self.output_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_their_ops() {
        let x = Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4]);
        let mut ctx = Ctx::eval();
        let mp = MaxPool2dConfig::new(2).init().unwrap();
        assert_eq!(
            mp.forward(&x, &mut ctx).to_vec(),
            vec![5.0, 7.0, 13.0, 15.0]
        );
        let ap = AvgPool2dConfig::new(2).init().unwrap();
        assert_eq!(
            ap.forward(&x, &mut ctx).to_vec(),
            vec![2.5, 4.5, 10.5, 12.5]
        );
        let gap = AdaptiveAvgPool2d::global();
        assert_eq!(gap.forward(&x, &mut ctx).to_vec(), vec![7.5]);
        assert_eq!(gap.num_parameters(), 0);
        assert!(mp.describe().starts_with("MaxPool2d(kernel_size=(2, 2)"));
    }

    #[test]
    fn invalid_configs_are_errors() {
        let e = AvgPool2dConfig::new(3).with_padding(2).init().unwrap_err();
        assert!(e.to_string().contains("padding"), "{e}");
        assert!(MaxPool2dConfig::new(0).init().is_err());
        assert!(MaxPool2dConfig::new(2).with_stride(0).init().is_err());
        assert!(
            MaxPool2dConfig::new(3)
                .with_dilation(2)
                .with_padding(2)
                .init()
                .is_ok()
        );
    }
}
