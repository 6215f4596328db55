//! 2-d max pooling.
//!
//! y[n,c,oy,ox] = max_{i<kH, j<kW} x[n, c, oy·sH − pH + i·dH, ox·sW − pW + j·dW] over the taps
//! inside the image (padding never wins), NaN propagating as in PyTorch. The backward pass routes
//! each output gradient to the position of its maximum (the first one on ties):
//! ∂L/∂x[p] = Σ_{outputs whose argmax is p} ∂L/∂y.

use ndarray::IxDyn;
use rayon::prelude::*;

use super::max_nhwc::{self, Nhwc};
use super::{options_panic, planes, pool_out_len};
use crate::autograd::{Backward, BackwardCtx};
use crate::ops::layout;
use crate::tensor::{Array, Tensor};

/// Hyper-parameters of 2-d max pooling, as PyTorch's `F.max_pool2d`: kernel, stride (default:
/// the kernel), zero padding (at most half the dilated kernel), dilation and ceil mode.
///
/// ```
/// use nn_core::ops::MaxPool2dOptions;
/// let o = MaxPool2dOptions::new(3).with_stride(2).with_padding(1);
/// assert_eq!((o.kernel, o.stride, o.padding), ((3, 3), (2, 2), (1, 1)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct MaxPool2dOptions {
    /// Window size (height, width).
    pub kernel: (usize, usize),
    /// Step between windows (height, width).
    pub stride: (usize, usize),
    /// Implicit padding on both sides (height, width); padded positions never win.
    pub padding: (usize, usize),
    /// Spacing between window taps (height, width).
    pub dilation: (usize, usize),
    /// Round the output size up instead of down (a last, partial window).
    pub ceil_mode: bool,
}

impl MaxPool2dOptions {
    /// A square `k`×`k` window with stride `k`, no padding, no dilation, floor mode.
    pub fn new(k: usize) -> Self {
        MaxPool2dOptions {
            kernel: (k, k),
            stride: (k, k),
            padding: (0, 0),
            dilation: (1, 1),
            ceil_mode: false,
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
    /// The same dilation in both directions.
    pub fn with_dilation(mut self, d: usize) -> Self {
        self.dilation = (d, d);
        self
    }
    /// Ceil mode on or off.
    pub fn with_ceil_mode(mut self, on: bool) -> Self {
        self.ceil_mode = on;
        self
    }

    /// Checks the options (as PyTorch does) and returns the output size for an `h`×`w` input,
    /// or a message naming the problem.
    pub fn output_size(&self, h: usize, w: usize) -> Result<(usize, usize), String> {
        let (k, s, p, d) = (self.kernel, self.stride, self.padding, self.dilation);
        if k.0 == 0 || k.1 == 0 || s.0 == 0 || s.1 == 0 || d.0 == 0 || d.1 == 0 {
            return Err(format!(
                "kernel {k:?}, stride {s:?} and dilation {d:?} must be positive"
            ));
        }
        if 2 * p.0 > d.0 * (k.0 - 1) + 1 || 2 * p.1 > d.1 * (k.1 - 1) + 1 {
            return Err(format!(
                "padding {p:?} must be at most half the (dilated) kernel {k:?}"
            ));
        }
        let oh = pool_out_len(h, k.0, s.0, p.0, d.0, self.ceil_mode);
        let ow = pool_out_len(w, k.1, s.1, p.1, d.1, self.ceil_mode);
        match (oh, ow) {
            (Some(oh), Some(ow)) => Ok((oh, ow)),
            _ => Err(format!(
                "input {h}×{w} is smaller than the kernel {k:?} (padding {p:?}, dilation {d:?})"
            )),
        }
    }
}

/// The internal argmax of an output whose window lies wholly in the padding (possible with
/// dilation on small inputs): its value is −∞ and it passes no gradient. (PyTorch's index for it,
/// `h₀·W + w₀` of the first tap past the padding, points outside the window; the returned
/// indices keep that value.)
pub(super) const EMPTY: u32 = u32::MAX;

struct MaxPoolBackward {
    /// Flat in-plane index of each output's maximum (in the output's memory order).
    argmax: Vec<u32>,
    plane_in: usize,
    plane_out: usize,
    /// The input and output are channels-last (the kernels of `max_nhwc.rs`).
    nhwc: Option<Nhwc>,
}

impl Backward for MaxPoolBackward {
    fn name(&self) -> &'static str {
        "max_pool2d"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, grad: Array) -> Vec<Option<Array>> {
        let shape = ctx.inputs[0].shape();
        if let Some(nhwc) = &self.nhwc {
            let dx = {
                let g = layout::nhwc_slice(&grad);
                max_nhwc::backward(nhwc, self.plane_in, &g, &self.argmax)
            };
            crate::buffer_pool::recycle(grad);
            let [n, c, h, w] = [shape[0], shape[1], shape[2], shape[3]];
            return vec![Some(layout::channels_last_array([n, c, h, w], dx))];
        }
        let mut dx = crate::buffer_pool::take_zeroed(shape.iter().product());
        let g = grad.as_standard_layout();
        let g = g.as_slice().expect("standard layout");
        if self.plane_in > 0 && self.plane_out > 0 {
            dx.par_chunks_mut(self.plane_in)
                .zip(g.par_chunks(self.plane_out))
                .zip(self.argmax.par_chunks(self.plane_out))
                .for_each(|((dxp, gp), ap)| {
                    for (&a, &v) in ap.iter().zip(gp) {
                        if a != EMPTY {
                            dxp[a as usize] += v;
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
    /// 2-d max pooling of this `[N, C, H, W]` tensor, as PyTorch's `F.max_pool2d`; see the
    /// [module docs](crate::ops::pool).
    ///
    /// ```
    /// use nn_core::{Tensor, ops::MaxPool2dOptions};
    /// let x = Tensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4]);
    /// assert_eq!(x.max_pool2d(MaxPool2dOptions::new(2)).to_vec(), vec![5.0, 7.0, 13.0, 15.0]);
    /// ```
    ///
    /// # Panics
    /// If the input is not 4-d or the options do not fit it (the message names both).
    pub fn max_pool2d(&self, o: MaxPool2dOptions) -> Tensor {
        max_pool2d_impl(self, o, false).0
    }

    /// 2-d max pooling that also returns where each maximum came from (PyTorch's
    /// `F.max_pool2d(..., return_indices=True)`): for every output element, the flat index
    /// `h·W + w` of its maximum within its own `[H, W]` input plane (the first maximum on ties,
    /// a NaN if there is one), as `i64` like PyTorch's indices. Feed them to
    /// [`Tensor::max_unpool2d`]. The pooled tensor and its gradient are those of
    /// [`Tensor::max_pool2d`].
    ///
    /// ```
    /// use nn_core::{Tensor, ops::MaxPool2dOptions};
    /// let x = Tensor::from_vec(vec![1., 4., 2., 3., 0., 5., 9., 8., 7., 6., 1., 2.], &[1, 1, 3, 4]);
    /// let (y, idx) = x.max_pool2d_with_indices(MaxPool2dOptions::new(2));
    /// assert_eq!(y.to_vec(), vec![5.0, 9.0]);
    /// assert_eq!(idx.as_slice().unwrap(), &[5, 6]);
    /// ```
    ///
    /// # Panics
    /// As [`Tensor::max_pool2d`].
    pub fn max_pool2d_with_indices(&self, o: MaxPool2dOptions) -> (Tensor, ndarray::ArrayD<i64>) {
        let (y, argmax) = max_pool2d_impl(self, o, true);
        let argmax: Vec<i64> = argmax
            .expect("indices requested")
            .into_iter()
            .map(i64::from)
            .collect();
        let s = y.shape();
        let idx = if y.is_channels_last() {
            // NHWC order → the logical (row-major) order of the returned indices.
            let (n, c, p) = (s[0], s[1], s[2] * s[3]);
            let mut out = vec![0i64; argmax.len()];
            for (on, an) in out.chunks_mut(c * p).zip(argmax.chunks(c * p)) {
                for (px, ap) in an.chunks(c).enumerate() {
                    for (k, &a) in ap.iter().enumerate() {
                        on[k * p + px] = a;
                    }
                }
            }
            debug_assert_eq!(out.len(), n * c * p);
            out
        } else {
            argmax
        };
        let idx = ndarray::ArrayD::from_shape_vec(IxDyn(s), idx).expect("one index per output");
        (y, idx)
    }
}

/// Clipped tap ranges per output row (or column): the first tap inside the image and the number
/// of taps inside (dilation d: every d-th position), for `out` windows over `len` positions.
fn tap_ranges(
    out: usize,
    len: usize,
    k: usize,
    s: usize,
    p: usize,
    d: usize,
) -> Vec<(isize, usize)> {
    (0..out)
        .map(|o| {
            let start = (o * s) as isize - p as isize;
            // First tap inside, then the taps inside: start + t·d for t in t0..t1.
            let t0 = if start >= 0 {
                0
            } else {
                (-start as usize).div_ceil(d)
            };
            let t1 = (0..k)
                .rev()
                .find(|&t| (start + (t * d) as isize) < len as isize)
                .map_or(0, |t| t + 1);
            (start + (t0 * d) as isize, t1.saturating_sub(t0))
        })
        .collect()
}

/// The indices to return for `argmax` (memory order, `inner` values per output pixel): as they
/// are, except [`EMPTY`] → PyTorch's `h₀·W + w₀` of that window.
fn torch_indices(
    argmax: &[u32],
    rows: &[(isize, usize)],
    cols: &[(isize, usize)],
    w: usize,
    inner: usize,
) -> Vec<u32> {
    let (oh, ow) = (rows.len(), cols.len());
    argmax
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            if a != EMPTY {
                return a;
            }
            let px = (i / inner) % (oh * ow);
            let (y0, x0) = (rows[px / ow].0, cols[px % ow].0);
            (y0 as usize * w + x0 as usize) as u32
        })
        .collect()
}

/// The pooled tensor and, if `want_indices`, the in-plane flat index of each output's maximum
/// (in the output's memory order). A channels-last input is pooled by the kernels of
/// `max_nhwc.rs` and gives a channels-last output.
fn max_pool2d_impl(
    input: &Tensor,
    o: MaxPool2dOptions,
    want_indices: bool,
) -> (Tensor, Option<Vec<u32>>) {
    let (np, h, w) = planes("max_pool2d", input.shape());
    let (oh, ow) = o
        .output_size(h, w)
        .unwrap_or_else(|e| options_panic("max_pool2d", input.shape(), &e));
    assert!(
        h * w <= u32::MAX as usize,
        "max_pool2d: plane {h}×{w} too large"
    );
    let (pin, pout) = (h * w, oh * ow);
    let (kh, kw) = o.kernel;
    let (sh, sw) = o.stride;
    let (ph, pw) = o.padding;
    let (dh, dw) = o.dilation;
    let rows = tap_ranges(oh, h, kh, sh, ph, dh);
    let cols = tap_ranges(ow, w, kw, sw, pw, dw);
    let mut shape = input.shape().to_vec();
    shape[2] = oh;
    shape[3] = ow;
    if layout::is_channels_last(input.data()) {
        let nhwc = Nhwc {
            n: shape[0],
            c: shape[1],
            w,
            oh,
            ow,
            dilation: o.dilation,
            // Windows that tile the input exactly (each pixel in one window).
            tiles: ((kh, kw) == (sh, sw)
                && (ph, pw, dh, dw) == (0, 0, 1, 1)
                && (oh * kh, ow * kw) == (h, w))
                .then_some((kh, kw)),
        };
        let x = input
            .data()
            .as_slice_memory_order()
            .expect("channels-last is contiguous");
        let (y, argmax) = max_nhwc::forward(&nhwc, x, &rows, &cols);
        let indices = want_indices.then(|| torch_indices(&argmax, &rows, &cols, w, shape[1]));
        let y = Tensor::from_op(
            layout::channels_last_array([shape[0], shape[1], oh, ow], y),
            vec![input.clone()],
            MaxPoolBackward {
                argmax,
                plane_in: pin,
                plane_out: pout,
                nhwc: Some(nhwc),
            },
        );
        return (y, indices);
    }
    let x = input.data().as_standard_layout();
    let x = x.as_slice().expect("standard layout");
    let mut y = crate::buffer_pool::take(np * pout); // every output is written
    let mut argmax = vec![0u32; np * pout];
    if pin > 0 && pout > 0 {
        y.par_chunks_mut(pout)
            .zip(argmax.par_chunks_mut(pout))
            .zip(x.par_chunks(pin))
            .for_each(|((yp, ap), xp)| {
                for (oy, &(y0, ny)) in rows.iter().enumerate() {
                    for (ox, &(x0, nx)) in cols.iter().enumerate() {
                        // PyTorch's rule: start from the first tap inside the image, take
                        // a strictly larger value or any NaN (so NaN propagates).
                        let first = y0 as usize * w + x0 as usize;
                        let (mut best, mut arg) = (f32::NEG_INFINITY, first);
                        for i in 0..ny {
                            let base = (y0 as usize + i * dh) * w + x0 as usize;
                            for j in 0..nx {
                                let idx = base + j * dw;
                                let v = xp[idx];
                                if v > best || v.is_nan() {
                                    best = v;
                                    arg = idx;
                                }
                            }
                        }
                        yp[oy * ow + ox] = best;
                        ap[oy * ow + ox] = if ny == 0 || nx == 0 {
                            EMPTY
                        } else {
                            arg as u32
                        };
                    }
                }
            });
    }
    let indices = want_indices.then(|| torch_indices(&argmax, &rows, &cols, w, 1));
    let y = Tensor::from_op(
        Array::from_shape_vec(IxDyn(&shape), y).expect("output shape"),
        vec![input.clone()],
        MaxPoolBackward {
            argmax,
            plane_in: pin,
            plane_out: pout,
            nhwc: None,
        },
    );
    (y, indices)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{GradCheckConfig, assert_gradients_at};
    use rand::seq::SliceRandom;

    /// Distinct values 0.01 apart in random order: no two taps of a window are within the
    /// finite-difference step of each other (no kink crossed).
    fn separated(shape: &[usize], seed: u64) -> Array {
        let n: usize = shape.iter().product();
        let mut v: Vec<f32> = (0..n).map(|i| i as f32 * 0.01 - 0.005 * n as f32).collect();
        v.shuffle(&mut crate::rng::seeded(seed));
        Array::from_shape_vec(IxDyn(shape), v).unwrap()
    }

    #[test]
    fn forward_with_padding_and_ceil_mode() {
        let x = Tensor::from_vec((0..25).map(|v| v as f32).collect(), &[1, 1, 5, 5]);
        let y = x.max_pool2d(MaxPool2dOptions::new(2).with_ceil_mode(true));
        assert_eq!(y.shape(), &[1, 1, 3, 3]);
        assert_eq!(y.to_vec(), vec![6., 8., 9., 16., 18., 19., 21., 23., 24.]);
        let y = x.max_pool2d(MaxPool2dOptions::new(3).with_stride(2).with_padding(1));
        assert_eq!(y.shape(), &[1, 1, 3, 3]);
        assert_eq!(y.to_vec(), vec![6., 8., 9., 16., 18., 19., 21., 23., 24.]);
    }

    #[test]
    fn ceil_mode_windows_may_reach_past_small_inputs() {
        // PyTorch: F.max_pool2d(3×3 arange, 3, stride=2, ceil_mode=True) = [[8]];
        // a 2×2 pool of a 1×1 map in ceil mode is that value.
        let x = Tensor::from_vec((0..9).map(|v| v as f32).collect(), &[1, 1, 3, 3]);
        let y = x.max_pool2d(MaxPool2dOptions::new(3).with_stride(2).with_ceil_mode(true));
        assert_eq!(y.to_vec(), vec![8.0]);
        let one = Tensor::from_vec(vec![3.0], &[1, 1, 1, 1]);
        let y = one.max_pool2d(MaxPool2dOptions::new(2).with_ceil_mode(true));
        assert_eq!(y.to_vec(), vec![3.0]);
        let avg = one.avg_pool2d(crate::ops::AvgPool2dOptions::new(2).with_ceil_mode(true));
        assert_eq!(avg.to_vec(), vec![3.0]);
    }

    #[test]
    fn padding_never_wins_and_nan_propagates() {
        let x = Tensor::from_vec(vec![-5.0, -6.0, -7.0, f32::NAN], &[1, 1, 2, 2]);
        let y = x.max_pool2d(MaxPool2dOptions::new(2).with_stride(1).with_padding(1));
        let v = y.to_vec();
        assert_eq!(v[0], -5.0);
        assert_eq!(v[3], -5.0);
        assert!(v[4].is_nan() && v[8].is_nan());
    }

    #[test]
    fn gradient_goes_to_the_maximum() {
        let x = Tensor::from_vec(vec![1.0, 3.0, 2.0, 0.0], &[1, 1, 2, 2]).with_requires_grad();
        let y = x.max_pool2d(MaxPool2dOptions::new(2).with_stride(1).with_padding(1));
        y.sum_all().backward();
        // 9 windows: 3 wins the 4 that contain it, 2 the 3 others that contain it, 1 and 0 their
        // own corner windows.
        assert_eq!(x.grad().unwrap().as_slice().unwrap(), &[1.0, 4.0, 3.0, 1.0]);
    }

    #[test]
    fn gradients() {
        let cfg = GradCheckConfig::default();
        assert_gradients_at(
            |t| {
                t[0].max_pool2d(
                    MaxPool2dOptions::new(3)
                        .with_stride(2)
                        .with_padding(1)
                        .with_ceil_mode(true),
                )
            },
            &[separated(&[2, 3, 6, 7], 1)],
            &cfg,
        );
        assert_gradients_at(
            |t| t[0].max_pool2d(MaxPool2dOptions::new(2).with_dilation(2).with_stride(1)),
            &[separated(&[1, 2, 5, 5], 2)],
            &cfg,
        );
    }

    #[test]
    fn a_window_wholly_in_the_padding_is_minus_infinity_without_gradient() {
        // W = 1, kernel 2 with dilation 2 and padding 1: the taps at −1 and 1 are both outside.
        let o = MaxPool2dOptions {
            kernel: (1, 2),
            stride: (1, 1),
            padding: (0, 1),
            dilation: (1, 2),
            ceil_mode: false,
        };
        for cl in [false, true] {
            let x =
                Tensor::from_vec(vec![1., 2., 3., 4., 5., 6.], &[1, 2, 3, 1]).with_requires_grad();
            let input = if cl { x.to_channels_last() } else { x.clone() };
            let (y, idx) = input.max_pool2d_with_indices(o);
            assert!(y.to_vec().iter().all(|&v| v == f32::NEG_INFINITY));
            assert_eq!(
                idx.iter().copied().collect::<Vec<_>>(),
                vec![1, 2, 3, 1, 2, 3]
            );
            y.sum_all().backward();
            assert!(x.grad().unwrap().iter().all(|&g| g == 0.0), "{cl}");
        }
    }

    #[test]
    fn channels_last_gradients() {
        // The channels-last kernels (the input converted in the graph, so the check perturbs
        // the same row-major leaf).
        let cfg = GradCheckConfig::default();
        let o = MaxPool2dOptions::new(3)
            .with_stride(2)
            .with_padding(1)
            .with_ceil_mode(true);
        assert_gradients_at(
            |t| {
                let y = t[0].to_channels_last().max_pool2d(o);
                assert!(y.is_channels_last());
                y
            },
            &[separated(&[2, 3, 6, 7], 3)],
            &cfg,
        );
        assert_gradients_at(
            |t| {
                t[0].to_channels_last()
                    .max_pool2d(MaxPool2dOptions::new(2).with_dilation(2).with_stride(1))
            },
            &[separated(&[1, 4, 5, 5], 4)],
            &cfg,
        );
    }

    #[test]
    #[should_panic(expected = "at most half")]
    fn too_much_padding_is_rejected() {
        let _ = Tensor::ones(&[1, 1, 4, 4]).max_pool2d(MaxPool2dOptions::new(2).with_padding(2));
    }
}
