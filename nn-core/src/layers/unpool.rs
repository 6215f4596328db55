//! [`MaxUnpool2d`]: PyTorch's `nn.MaxUnpool2d`, the partial inverse of a [`super::MaxPool2d`]
//! (formula in [`crate::ops::pool`]'s `unpool`). It takes two inputs — the pooled values and the
//! indices from [`super::MaxPool2d::forward_with_indices`] — so it is not a one-input
//! [`crate::Module`]; call [`MaxUnpool2d::forward`].

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use super::LayerError;
use crate::ops::MaxUnpool2dOptions;
use crate::tensor::Tensor;

/// Configuration of [`MaxUnpool2d`]: the kernel, stride (default: the kernel) and padding of the
/// pooling it inverts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaxUnpool2dConfig {
    /// Kernel, stride and padding.
    pub options: MaxUnpool2dOptions,
}

impl MaxUnpool2dConfig {
    /// A `k`×`k` window with stride `k`.
    pub fn new(k: usize) -> Self {
        MaxUnpool2dConfig {
            options: MaxUnpool2dOptions::new(k),
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
    /// Validates and builds the layer.
    ///
    /// # Errors
    /// [`LayerError::InvalidConfig`] for a zero kernel or stride, or padding above half the kernel
    /// (PyTorch's rule for the pooling being inverted).
    pub fn init(&self) -> Result<MaxUnpool2d, LayerError> {
        let o = self.options;
        super::pool::check_window("MaxUnpool2d", o.kernel, o.stride, o.padding, (1, 1))?;
        Ok(MaxUnpool2d { options: o })
    }
}

/// 2-d max unpooling (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct MaxUnpool2d {
    options: MaxUnpool2dOptions,
}

impl MaxUnpool2d {
    /// The kernel, stride and padding.
    pub fn options(&self) -> MaxUnpool2dOptions {
        self.options
    }

    /// Unpools `x` `[N, C, h, w]` with `indices` of its shape into `output_size` (default
    /// `(h − 1)·stride − 2·padding + kernel` per axis), as PyTorch's `forward(input, indices,
    /// output_size)`.
    ///
    /// # Errors
    /// [`LayerError::InvalidConfig`] (field `output_size`) for a size more than one stride away
    /// from the default, as PyTorch.
    ///
    /// # Panics
    /// If `x` is not 4-d, `indices` has another shape, or an index lies outside the output plane.
    pub fn forward(
        &self,
        x: &Tensor,
        indices: &ArrayD<i64>,
        output_size: Option<(usize, usize)>,
    ) -> Result<Tensor, LayerError> {
        assert!(
            x.ndim() == 4,
            "MaxUnpool2d: expected a 4-d input [N, C, H, W], got shape {:?}",
            x.shape()
        );
        let size = self
            .options
            .output_size((x.shape()[2], x.shape()[3]), output_size)
            .map_err(|e| {
                LayerError::invalid("MaxUnpool2d", "output_size", format!("{output_size:?}"), e)
            })?;
        Ok(x.max_unpool2d(indices, size))
    }

    /// A one-line description.
    pub fn describe(&self) -> String {
        let o = self.options;
        format!(
            "MaxUnpool2d(kernel_size={:?}, stride={:?}, padding={:?})",
            o.kernel, o.stride, o.padding
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::MaxPool2dConfig;

    #[test]
    fn round_trip_and_errors() {
        let pool = MaxPool2dConfig::new(3)
            .with_stride(2)
            .with_padding(1)
            .init()
            .unwrap();
        let unpool = MaxUnpool2dConfig::new(3)
            .with_stride(2)
            .with_padding(1)
            .init()
            .unwrap();
        let x = Tensor::randn(&[1, 2, 7, 7], 0.0, 1.0, &mut crate::rng::seeded(0));
        let (y, idx) = pool.forward_with_indices(&x);
        assert_eq!(y.shape(), &[1, 2, 4, 4]);
        // PyTorch's default size is the pooled input's: (4 − 1)·2 − 2 + 3 = 7.
        let up = unpool.forward(&y, &idx, None).unwrap();
        assert_eq!(up.shape(), &[1, 2, 7, 7]);
        // An 8×8 map also pools to 4×4, so 8×8 is a valid explicit size.
        assert_eq!(
            unpool.forward(&y, &idx, Some((8, 8))).unwrap().shape(),
            &[1, 2, 8, 8]
        );
        let e = unpool.forward(&y, &idx, Some((10, 8))).unwrap_err();
        assert!(e.to_string().contains("output_size"), "{e}");
        assert!(MaxUnpool2dConfig::new(2).with_padding(2).init().is_err());
        assert!(MaxUnpool2dConfig::new(2).with_stride(0).init().is_err());
        assert!(
            unpool
                .describe()
                .starts_with("MaxUnpool2d(kernel_size=(3, 3)")
        );
    }
}
