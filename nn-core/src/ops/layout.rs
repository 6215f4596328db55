//! Memory formats of 4-d tensors: contiguous (NCHW, row-major) and channels-last (NHWC in
//! memory, PyTorch's `torch.channels_last`).
//!
//! A channels-last tensor has the logical shape `[N, C, H, W]` like any other (every op and
//! `to_vec` see the same values) but stores each pixel's C channels next to each other: strides
//! `[H·W·C, 1, W·C, C]`. Convolutions, batch normalisation, ReLU, residual additions, max pooling
//! and global average pooling have fast paths for it (the direct convolution kernels vectorise
//! along the channels, the wide ones are plain GEMMs), and
//! their outputs keep the input's memory format, as in PyTorch: convert a model's input once
//! with [`Tensor::to_channels_last`] and the whole network runs channels-last.
//!
//! Both conversions are differentiable (the gradient is converted back).

use ndarray::{IxDyn, ShapeBuilder};
use rayon::prelude::*;

use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Data, Tensor};

/// Pixels per transposition block (a fixed size: the split never depends on the thread count).
const BLOCK_PIXELS: usize = 64;

/// Whether `a` is a 4-d array stored channels-last (and not also row-major, as when C = 1 or
/// H = W = 1).
pub(crate) fn is_channels_last<S: ndarray::Data<Elem = f32>>(
    a: &ndarray::ArrayBase<S, IxDyn>,
) -> bool {
    if a.ndim() != 4 || a.is_standard_layout() {
        return false;
    }
    let s = a.shape();
    let (c, h, w) = (s[1], s[2], s[3]);
    let want = [h * w * c, 1, w * c, c];
    a.strides()
        .iter()
        .zip(want)
        .zip(s)
        .all(|((&st, want), &len)| len <= 1 || st as usize == want)
}

/// A channels-last array of logical shape `[n, c, h, w]` over the NHWC buffer `v`.
pub(crate) fn channels_last_array(shape: [usize; 4], v: Vec<f32>) -> Array {
    let [n, c, h, w] = shape;
    if n * c * h * w == 0 && v.is_empty() {
        // No element, no layout (ndarray refuses custom strides on an empty array).
        return Array::zeros(IxDyn(&shape));
    }
    Array::from_shape_vec(IxDyn(&shape).strides(IxDyn(&[h * w * c, 1, w * c, c])), v)
        .unwrap_or_else(|_| {
            panic!(
                "channels_last_array: {} values for shape {shape:?}",
                n * c * h * w
            )
        })
}

/// The NHWC buffer of a 4-d array (a copy unless it is channels-last already, then borrowed).
pub(crate) fn nhwc_slice<S: ndarray::Data<Elem = f32>>(
    a: &ndarray::ArrayBase<S, IxDyn>,
) -> std::borrow::Cow<'_, [f32]> {
    if (is_channels_last(a) || (a.ndim() == 4 && a.is_standard_layout() && nhwc_is_nchw(a.shape())))
        && let Some(s) = a.as_slice_memory_order()
    {
        return std::borrow::Cow::Borrowed(s);
    }
    let s = a.shape();
    let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
    let std = a.as_standard_layout();
    let src = std.as_slice().expect("standard layout");
    let mut out = crate::buffer_pool::take(n * c * h * w); // every element is written
    nchw_to_nhwc(src, &mut out, (c, h * w));
    std::borrow::Cow::Owned(out)
}

/// Whether NHWC and NCHW orders coincide for this shape (C = 1 or H·W = 1).
fn nhwc_is_nchw(s: &[usize]) -> bool {
    s[1] <= 1 || s[2] * s[3] <= 1
}

/// `[n][c][p]` → `[n][p][c]`.
pub(crate) fn nchw_to_nhwc(src: &[f32], dst: &mut [f32], (c, p): (usize, usize)) {
    let per = c * p;
    if per == 0 {
        return;
    }
    dst.par_chunks_mut(per)
        .zip(src.par_chunks(per))
        .for_each(|(d, s)| {
            for p0 in (0..p).step_by(BLOCK_PIXELS) {
                let p1 = (p0 + BLOCK_PIXELS).min(p);
                for ci in 0..c {
                    let row = &s[ci * p + p0..ci * p + p1];
                    for (k, &v) in row.iter().enumerate() {
                        d[(p0 + k) * c + ci] = v;
                    }
                }
            }
        });
}

/// `[n][p][c]` → `[n][c][p]`.
pub(crate) fn nhwc_to_nchw(src: &[f32], dst: &mut [f32], (c, p): (usize, usize)) {
    let per = c * p;
    if per == 0 {
        return;
    }
    dst.par_chunks_mut(per)
        .zip(src.par_chunks(per))
        .for_each(|(d, s)| {
            for p0 in (0..p).step_by(BLOCK_PIXELS) {
                let p1 = (p0 + BLOCK_PIXELS).min(p);
                for ci in 0..c {
                    let row = &mut d[ci * p + p0..ci * p + p1];
                    for (k, v) in row.iter_mut().enumerate() {
                        *v = s[(p0 + k) * c + ci];
                    }
                }
            }
        });
}

/// The memory format of an array, for the ops whose fast paths work on raw memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Row-major.
    Contiguous,
    /// 4-d channels-last.
    ChannelsLast,
}

/// The format of `a`, if it is one of the two (otherwise `None`: a strided view).
pub(crate) fn format_of<S: ndarray::Data<Elem = f32>>(
    a: &ndarray::ArrayBase<S, IxDyn>,
) -> Option<Format> {
    if a.is_standard_layout() {
        Some(Format::Contiguous)
    } else if is_channels_last(a) {
        Some(Format::ChannelsLast)
    } else {
        None
    }
}

/// The elements of `a` in memory order, with its format, if it is contiguous or channels-last.
pub(crate) fn raw<S: ndarray::Data<Elem = f32>>(
    a: &ndarray::ArrayBase<S, IxDyn>,
) -> Option<(&[f32], Format)> {
    let f = format_of(a)?;
    Some((a.as_slice_memory_order()?, f))
}

/// An array of `shape` over `v` (in memory order) in format `f`.
pub(crate) fn array_in(f: Format, shape: &[usize], v: Vec<f32>) -> Array {
    match f {
        Format::Contiguous => Array::from_shape_vec(IxDyn(shape), v).expect("length matches shape"),
        Format::ChannelsLast => channels_last_array([shape[0], shape[1], shape[2], shape[3]], v),
    }
}

/// A copy of a 4-d array in channels-last memory (from the pool).
pub(crate) fn to_channels_last_array<S: ndarray::Data<Elem = f32>>(
    a: &ndarray::ArrayBase<S, IxDyn>,
) -> Array {
    let s = a.shape();
    let shape = [s[0], s[1], s[2], s[3]];
    let v = nhwc_slice(a).into_owned();
    channels_last_array(shape, v)
}

/// `a` in channels-last memory: `a` itself if it already is, else a copy from the pool (and `a`'s
/// memory goes back to the pool).
pub(crate) fn into_channels_last(a: Array) -> Array {
    if is_channels_last(&a) {
        return a;
    }
    let c = to_channels_last_array(&a);
    crate::buffer_pool::recycle(a);
    c
}

/// `a` in row-major memory: `a` itself if it already is, else a copy (and `a`'s memory goes back
/// to the pool).
pub(crate) fn into_contiguous(a: Array) -> Array {
    if a.is_standard_layout() {
        return a;
    }
    let c = to_contiguous_array(&a);
    crate::buffer_pool::recycle(a);
    c
}

/// A copy of an array in row-major (contiguous) memory, from the pool when it is
/// channels-last.
pub(crate) fn to_contiguous_array<S: ndarray::Data<Elem = f32>>(
    a: &ndarray::ArrayBase<S, IxDyn>,
) -> Array {
    if is_channels_last(a) {
        let s = a.shape();
        let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
        let src = a
            .as_slice_memory_order()
            .expect("channels-last is contiguous");
        let mut out = crate::buffer_pool::take(n * c * h * w); // every element is written
        nhwc_to_nchw(src, &mut out, (c, h * w));
        Array::from_shape_vec(IxDyn(s), out).expect("shape")
    } else {
        a.as_standard_layout().into_owned()
    }
}

struct ToChannelsLast;

impl Backward for ToChannelsLast {
    fn name(&self) -> &'static str {
        "to_channels_last"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let gx = if is_channels_last(ctx.inputs[0].data()) {
            g
        } else {
            into_contiguous(g)
        };
        vec![Some(gx)]
    }
}

struct Contiguous;

impl Backward for Contiguous {
    fn name(&self) -> &'static str {
        "contiguous"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let gx = if is_channels_last(ctx.inputs[0].data()) {
            into_channels_last(g)
        } else {
            g
        };
        vec![Some(gx)]
    }
}

impl Tensor {
    /// Whether this 4-d tensor is stored channels-last (see the [module docs](crate::ops::layout)).
    pub fn is_channels_last(&self) -> bool {
        is_channels_last(self.data())
    }

    /// This `[N, C, H, W]` tensor stored channels-last (PyTorch's
    /// `x.to(memory_format=torch.channels_last)`): the same values, each pixel's channels
    /// adjacent in memory. Returns `self` when it is already channels-last.
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let x = Tensor::from_vec((0..12).map(|v| v as f32).collect(), &[1, 3, 2, 2]);
    /// let y = x.to_channels_last();
    /// assert!(y.is_channels_last());
    /// assert_eq!(y.to_vec(), x.to_vec()); // same logical values
    /// assert_eq!(y.data().as_slice_memory_order().unwrap()[..3], [0.0, 4.0, 8.0]);
    /// ```
    ///
    /// # Panics
    /// If the tensor is not 4-d.
    pub fn to_channels_last(&self) -> Tensor {
        assert_eq!(
            self.ndim(),
            4,
            "to_channels_last: expected a 4-d tensor [N, C, H, W], got shape {:?}",
            self.shape()
        );
        if self.is_channels_last() {
            return self.clone();
        }
        let value = to_channels_last_array(self.data());
        Tensor::from_op(value, vec![self.clone()], ToChannelsLast)
    }

    /// This tensor in row-major (contiguous) memory (PyTorch's `x.contiguous()`); returns `self`
    /// when it is already.
    pub fn contiguous(&self) -> Tensor {
        if self.data().is_standard_layout() {
            return self.clone();
        }
        let value: Data = to_contiguous_array(self.data()).into_shared();
        Tensor::from_op_shared(value, vec![self.clone()], Contiguous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::assert_gradients;
    use crate::rng::seeded;

    #[test]
    fn round_trip_and_detection() {
        let x = Tensor::randn(&[2, 5, 3, 4], 0.0, 1.0, &mut seeded(1));
        assert!(!x.is_channels_last());
        let y = x.to_channels_last();
        assert!(y.is_channels_last());
        assert_eq!(y.to_vec(), x.to_vec());
        let z = y.contiguous();
        assert!(z.data().is_standard_layout());
        assert_eq!(z.to_vec(), x.to_vec());
        // C = 1: both formats are the same memory; already "contiguous".
        let one = Tensor::zeros(&[2, 1, 3, 3]).to_channels_last();
        assert!(one.data().is_standard_layout());
    }

    #[test]
    fn gradients_flow_back_in_the_input_format() {
        assert_gradients(|t| t[0].to_channels_last(), &[&[2, 3, 2, 3]], 1);
        assert_gradients(
            |t| t[0].to_channels_last().contiguous(),
            &[&[2, 3, 2, 3]],
            2,
        );
        let x = Tensor::randn(&[2, 3, 4, 5], 0.0, 1.0, &mut seeded(2)).with_requires_grad();
        let g = Tensor::randn(&[2, 3, 4, 5], 0.0, 1.0, &mut seeded(3));
        (&x.to_channels_last() * &g).sum_all().backward();
        let gx = x.grad().unwrap();
        assert!(gx.is_standard_layout());
        assert_eq!(gx.iter().copied().collect::<Vec<_>>(), g.to_vec());
    }
}
