//! 2-d average pooling.
//!
//! With the window of output (oy, ox) starting at (oy·sH − pH, ox·sW − pW), clipped to the padded
//! image for the divisor and to the image for the sum (as PyTorch's `F.avg_pool2d`):
//!
//! ```text
//! y[n,c,oy,ox] = (1/D) · Σ_{(iy,ix) ∈ window ∩ image} x[n,c,iy,ix]
//! D = divisor_override, else |window ∩ padded image| if count_include_pad, else |window ∩ image|
//! ∂L/∂x[n,c,iy,ix] = Σ_{windows containing (iy,ix)} ∂L/∂y / D
//! ```

use ndarray::IxDyn;
use rayon::prelude::*;

use super::{options_panic, planes, pool_out_len};
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

/// Hyper-parameters of 2-d average pooling, as PyTorch's `F.avg_pool2d`: kernel, stride
/// (default: the kernel), zero padding (at most half the kernel), ceil mode, whether padded zeros
/// count in the divisor (default true), and an optional fixed divisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct AvgPool2dOptions {
    /// Window size (height, width).
    pub kernel: (usize, usize),
    /// Step between windows (height, width).
    pub stride: (usize, usize),
    /// Implicit zero padding on both sides (height, width).
    pub padding: (usize, usize),
    /// Round the output size up instead of down.
    pub ceil_mode: bool,
    /// Whether padded positions count in the divisor (PyTorch's default: true).
    pub count_include_pad: bool,
    /// Divide by this instead of the window size.
    pub divisor_override: Option<usize>,
}

impl AvgPool2dOptions {
    /// A square `k`×`k` window with stride `k`, no padding, floor mode, counting padding.
    pub fn new(k: usize) -> Self {
        AvgPool2dOptions {
            kernel: (k, k),
            stride: (k, k),
            padding: (0, 0),
            ceil_mode: false,
            count_include_pad: true,
            divisor_override: None,
        }
    }
    /// The same stride in both directions.
    pub fn with_stride(mut self, s: usize) -> Self {
        self.stride = (s, s);
        self
    }
    /// The same padding in both directions.
    pub fn with_padding(mut self, p: usize) -> Self {
        self.padding = (p, p);
        self
    }
    /// Ceil mode on or off.
    pub fn with_ceil_mode(mut self, on: bool) -> Self {
        self.ceil_mode = on;
        self
    }
    /// Whether padded zeros count in the divisor.
    pub fn with_count_include_pad(mut self, on: bool) -> Self {
        self.count_include_pad = on;
        self
    }

    /// Checks the options (as PyTorch does) and returns the output size for an `h`×`w` input,
    /// or a message naming the problem.
    pub fn output_size(&self, h: usize, w: usize) -> Result<(usize, usize), String> {
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        if k.0 == 0 || k.1 == 0 || s.0 == 0 || s.1 == 0 {
            return Err(format!("kernel {k:?} and stride {s:?} must be positive"));
        }
        if self.divisor_override == Some(0) {
            return Err("divisor_override must be positive".into());
        }
        if 2 * p.0 > k.0 || 2 * p.1 > k.1 {
            return Err(format!(
                "padding {p:?} must be at most half the kernel {k:?}"
            ));
        }
        let oh = pool_out_len(h, k.0, s.0, p.0, 1, self.ceil_mode);
        let ow = pool_out_len(w, k.1, s.1, p.1, 1, self.ceil_mode);
        match (oh, ow) {
            (Some(oh), Some(ow)) => Ok((oh, ow)),
            _ => Err(format!(
                "input {h}×{w} is smaller than the kernel {k:?} (padding {p:?})"
            )),
        }
    }
}

/// One axis of a window: the clipped input range and the length counted in the divisor.
#[derive(Clone, Copy)]
struct Span {
    lo: usize,
    hi: usize,
    padded_len: usize,
}

fn spans(out: usize, input: usize, k: usize, s: usize, p: usize) -> Vec<Span> {
    (0..out)
        .map(|o| {
            let start = (o * s) as isize - p as isize;
            let end_padded = (start + k as isize).min((input + p) as isize);
            let padded_len = (end_padded - start) as usize;
            let lo = start.max(0) as usize;
            let hi = (end_padded.min(input as isize)).max(lo as isize) as usize;
            Span { lo, hi, padded_len }
        })
        .collect()
}

/// The precomputed windows of one call.
struct Windows {
    rows: Vec<Span>,
    cols: Vec<Span>,
    opts: AvgPool2dOptions,
}

impl Windows {
    fn divisor(&self, r: &Span, c: &Span) -> f32 {
        if let Some(d) = self.opts.divisor_override {
            d as f32
        } else if self.opts.count_include_pad {
            (r.padded_len * c.padded_len) as f32
        } else {
            ((r.hi - r.lo) * (c.hi - c.lo)) as f32
        }
    }
}

struct AvgPoolBackward {
    win: Windows,
}

impl Backward for AvgPoolBackward {
    fn name(&self) -> &'static str {
        "avg_pool2d"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, grad: Array) -> Vec<Option<Array>> {
        let shape = ctx.inputs[0].shape();
        let (_, _, w) = planes("avg_pool2d", shape);
        let (pin, pout) = (shape[2] * w, self.win.rows.len() * self.win.cols.len());
        let mut dx = crate::buffer_pool::take_zeroed(shape.iter().product());
        let g = grad.as_standard_layout();
        let g = g.as_slice().expect("standard layout");
        if pin > 0 && pout > 0 {
            let ow = self.win.cols.len();
            dx.par_chunks_mut(pin)
                .zip(g.par_chunks(pout))
                .for_each(|(dxp, gp)| {
                    for (oy, r) in self.win.rows.iter().enumerate() {
                        for (ox, c) in self.win.cols.iter().enumerate() {
                            if r.lo >= r.hi || c.lo >= c.hi {
                                continue;
                            }
                            let v = gp[oy * ow + ox] / self.win.divisor(r, c);
                            for iy in r.lo..r.hi {
                                dxp[iy * w + c.lo..iy * w + c.hi]
                                    .iter_mut()
                                    .for_each(|d| *d += v);
                            }
                        }
                    }
                });
        }
        vec![Some(
            Array::from_shape_vec(IxDyn(shape), dx).expect("input shape"),
        )]
    }
}

impl Tensor {
    /// 2-d average pooling of this `[N, C, H, W]` tensor, as PyTorch's `F.avg_pool2d`; see the
    /// [module docs](crate::ops::pool).
    ///
    /// ```
    /// use nn_core::{Tensor, ops::AvgPool2dOptions};
    /// let x = Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4]);
    /// assert_eq!(x.avg_pool2d(AvgPool2dOptions::new(2)).to_vec(), vec![2.5, 4.5, 10.5, 12.5]);
    /// ```
    ///
    /// # Panics
    /// If the input is not 4-d or the options do not fit it (the message names both).
    pub fn avg_pool2d(&self, o: AvgPool2dOptions) -> Tensor {
        let (np, h, w) = planes("avg_pool2d", self.shape());
        let (oh, ow) = o
            .output_size(h, w)
            .unwrap_or_else(|e| options_panic("avg_pool2d", self.shape(), &e));
        let win = Windows {
            rows: spans(oh, h, o.kernel.0, o.stride.0, o.padding.0),
            cols: spans(ow, w, o.kernel.1, o.stride.1, o.padding.1),
            opts: o,
        };
        let x = self.data().as_standard_layout();
        let x = x.as_slice().expect("standard layout");
        let (pin, pout) = (h * w, oh * ow);
        let mut y = crate::buffer_pool::take_zeroed(np * pout);
        if pin > 0 && pout > 0 {
            y.par_chunks_mut(pout)
                .zip(x.par_chunks(pin))
                .for_each(|(yp, xp)| {
                    for (oy, r) in win.rows.iter().enumerate() {
                        for (ox, c) in win.cols.iter().enumerate() {
                            if r.lo >= r.hi || c.lo >= c.hi {
                                continue;
                            }
                            let mut s = 0.0f32;
                            for iy in r.lo..r.hi {
                                s += xp[iy * w + c.lo..iy * w + c.hi].iter().sum::<f32>();
                            }
                            yp[oy * ow + ox] = s / win.divisor(r, c);
                        }
                    }
                });
        }
        let mut shape = self.shape().to_vec();
        shape[2] = oh;
        shape[3] = ow;
        Tensor::from_op(
            Array::from_shape_vec(IxDyn(&shape), y).expect("output shape"),
            vec![self.clone()],
            AvgPoolBackward { win },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn divisors_with_padding_and_ceil_mode() {
        let x = Tensor::ones(&[1, 1, 3, 3]);
        // k2 s2 p1: windows over padded rows [-1,0], [1,2], [3] ... ceil mode adds a last one
        // that the divisor clips at the padded border (as PyTorch).
        let o = AvgPool2dOptions::new(2).with_padding(1);
        assert_eq!(x.avg_pool2d(o).to_vec(), vec![0.25, 0.5, 0.5, 1.0]);
        let o = o.with_count_include_pad(false);
        assert_eq!(x.avg_pool2d(o).to_vec(), vec![1.0; 4]);
        let x = Tensor::ones(&[1, 1, 5, 5]);
        let y = x.avg_pool2d(AvgPool2dOptions::new(2).with_ceil_mode(true));
        assert_eq!(y.shape(), &[1, 1, 3, 3]);
        // The last window holds one column: divisor 1·2 (it stops at the image border).
        assert_eq!(y.to_vec(), vec![1.0; 9]);
        let y = x.avg_pool2d(AvgPool2dOptions {
            divisor_override: Some(8),
            ..AvgPool2dOptions::new(2)
        });
        assert_eq!(y.to_vec(), vec![0.5; 4]);
    }

    #[test]
    fn gradients() {
        assert_gradients(
            |t| {
                t[0].avg_pool2d(
                    AvgPool2dOptions::new(3)
                        .with_stride(2)
                        .with_padding(1)
                        .with_ceil_mode(true),
                )
            },
            &[&[2, 3, 6, 7]],
            1,
        );
        assert_gradients(
            |t| {
                t[0].avg_pool2d(
                    AvgPool2dOptions::new(2)
                        .with_stride(1)
                        .with_padding(1)
                        .with_count_include_pad(false),
                )
            },
            &[&[1, 2, 4, 5]],
            2,
        );
    }
}
