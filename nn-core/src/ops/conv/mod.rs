//! 2-d convolution (cross-correlation, as in every deep-learning library) on NCHW tensors, with
//! stride, zero padding, dilation, groups (depthwise included) and an optional bias.
//!
//! For input x `[N, C_in, H, W]`, weight w `[C_out, C_in/G, kH, kW]`, bias b `[C_out]`, group
//! g(o) = ⌊o / (C_out/G)⌋ of output channel o:
//!
//! ```text
//! y[n,o,oy,ox] = b[o] + Σ_{c<C_in/G} Σ_{i<kH} Σ_{j<kW}
//!                w[o,c,i,j] · x[n, g(o)·C_in/G + c, oy·sH − pH + i·dH, ox·sW − pW + j·dW]
//! oH = ⌊(H + 2pH − dH(kH − 1) − 1) / sH⌋ + 1     (likewise oW)
//! ```
//!
//! with x = 0 outside the image. Backward gives ∂L/∂x (a transposed convolution of ∂L/∂y),
//! ∂L/∂w (the correlation of x with ∂L/∂y) and ∂L/∂b (∂L/∂y summed over n, oy, ox).
//!
//! **Algorithm.** im2col + GEMM (Chellapilla et al. 2006, "High performance convolutional neural
//! networks for document processing"): the receptive fields of a few samples are unfolded into a
//! per-thread workspace that is reused across calls (bounded: never the whole batch), multiplied
//! by the weight through the GEMM seam [`crate::linalg`], and batch chunks run in parallel on
//! rayon. 1×1 stride-1 convolutions multiply the input directly; depthwise convolutions use a
//! direct kernel; 3×3 stride-1 convolutions with at least 16 input and output channels use
//! Winograd's F(2×2, 3×3) through the GEMM seam (2.25x fewer multiplications in the products;
//! `winograd/`). Channels-last ones use F(4×4, 3×3) (4x fewer; F(2×2) on maps of at most 4 pixels
//! a side; `direct/winograd/`).
//! The weight gradient is reduced over fixed batch slices in a fixed order, so
//! results do not depend on the number of threads.
//!
//! **Channels-last inputs** ([`Tensor::to_channels_last`]) stay channels-last and run on NHWC
//! kernels, chosen by a fixed rule of the shape: from 128 input and output channels, im2col +
//! GEMM on NHWC data (`nhwc_gemm.rs`: a plain product for 1×1, an unfolding of C_in-long runs
//! for k×k); below, the register-blocked direct and Winograd kernels (`direct/`); grouped
//! convolutions run the row-major kernels on a converted copy.

mod backward;
mod depthwise;
mod direct;
mod forward;
mod geometry;
mod im2col;
mod nhwc_gemm;
mod slices;
mod winograd;
mod workspace;

pub(crate) use backward::lane_sum;
pub use geometry::Conv2dOptions;

use geometry::Geom;
use ndarray::IxDyn;

use super::layout;
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

struct Conv2dBackward {
    geom: Geom,
    has_bias: bool,
    /// The channels-last kernels that ran (the input and output are channels-last), if any.
    nhwc: Option<NhwcKernel>,
}

/// The kernels of a channels-last convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NhwcKernel {
    /// Register-blocked direct / Winograd kernels (`direct/`).
    Direct,
    /// im2col + GEMM on NHWC data (`nhwc_gemm.rs`), from 128 channels.
    Gemm,
}

/// Which kernels a channels-last convolution runs (a fixed rule of the shape): im2col + GEMM
/// from [`nhwc_gemm::GEMM_MIN_CHANNELS`] input and output channels, the direct / Winograd
/// kernels below; `None` (grouped, or nothing to compute: the row-major kernels on a converted
/// copy) otherwise.
fn nhwc_kernel(g: &Geom) -> Option<NhwcKernel> {
    if g.n == 0 || g.cin == 0 || g.cout == 0 || g.p() == 0 {
        None
    } else if nhwc_gemm::applies(g) {
        Some(NhwcKernel::Gemm)
    } else if direct::applies(g) {
        Some(NhwcKernel::Direct)
    } else {
        None
    }
}

impl Backward for Conv2dBackward {
    fn name(&self) -> &'static str {
        "conv2d"
    }

    fn backward(&self, ctx: &BackwardCtx<'_>, grad: Array) -> Vec<Option<Array>> {
        let g = &self.geom;
        let need_x = ctx.needs_grad(0);
        let need_w = ctx.needs_grad(1);
        let need_b = self.has_bias && ctx.needs_grad(2);
        if let Some(kernel) = self.nhwc {
            return self.backward_nhwc(kernel, ctx, grad, (need_x, need_w, need_b));
        }
        let x = ctx.inputs[0].data().as_standard_layout();
        let w = ctx.inputs[1].data().as_standard_layout();
        let dy_std = grad.as_standard_layout();
        let (x, w, dy) = (
            x.as_slice().expect("standard layout"),
            w.as_slice().expect("standard layout"),
            dy_std.as_slice().expect("standard layout"),
        );
        let (dx, dw, db) = if winograd::applies(g) {
            let r = winograd::backward(g, x, w, dy, need_x, need_w);
            (
                r.dx,
                r.dw,
                backward::backward(g, x, w, dy, (false, false, need_b)).db,
            )
        } else if g.groups > 1 && g.cin_g() == 1 {
            (
                need_x.then(|| depthwise::backward_input(g, w, dy)),
                need_w.then(|| depthwise::backward_weight(g, x, dy)),
                backward::backward(g, x, w, dy, (false, false, need_b)).db,
            )
        } else {
            let r = backward::backward(g, x, w, dy, (need_x, need_w, need_b));
            (r.dx, r.dw, r.db)
        };
        drop(dy_std);
        // The upstream gradient is consumed here: its buffer goes back to the pool for the next
        // step (instead of to the system allocator, whose fresh pages fault on first touch).
        crate::buffer_pool::recycle(grad);
        let shaped = |v: Vec<f32>, s: &[usize]| {
            Array::from_shape_vec(IxDyn(s), v).expect("gradient has the input's shape")
        };
        let dx = dx.map(|v| shaped(v, ctx.inputs[0].shape()));
        // A channels-last input gets its gradient channels-last too.
        let dx = dx.map(|a| {
            if layout::is_channels_last(ctx.inputs[0].data()) {
                layout::into_channels_last(a)
            } else {
                a
            }
        });
        let mut out = vec![dx, dw.map(|v| shaped(v, ctx.inputs[1].shape()))];
        if self.has_bias {
            out.push(db.map(|v| shaped(v, &[g.cout])));
        }
        out
    }
}

impl Conv2dBackward {
    /// Backward of the channels-last kernels: dx channels-last.
    fn backward_nhwc(
        &self,
        kernel: NhwcKernel,
        ctx: &BackwardCtx<'_>,
        grad: Array,
        need: (bool, bool, bool),
    ) -> Vec<Option<Array>> {
        let g = &self.geom;
        let x = ctx.inputs[0]
            .data()
            .as_slice_memory_order()
            .expect("channels-last input is contiguous");
        let w = ctx.inputs[1].data().as_standard_layout();
        let w = w.as_slice().expect("standard layout");
        let r = {
            let dy = layout::nhwc_slice(&grad);
            let r = match kernel {
                NhwcKernel::Direct => direct::backward(g, x, w, &dy, need),
                NhwcKernel::Gemm => nhwc_gemm::backward(g, x, w, &dy, need),
            };
            if let std::borrow::Cow::Owned(v) = dy {
                crate::buffer_pool::recycle_vec(v);
            }
            r
        };
        crate::buffer_pool::recycle(grad);
        let dx =
            r.dx.map(|v| layout::channels_last_array([g.n, g.cin, g.h, g.w], v));
        let shaped = |v: Vec<f32>, s: &[usize]| {
            Array::from_shape_vec(IxDyn(s), v).expect("gradient has the parameter's shape")
        };
        let mut out = vec![dx, r.dw.map(|v| shaped(v, ctx.inputs[1].shape()))];
        if self.has_bias {
            out.push(r.db.map(|v| shaped(v, &[g.cout])));
        }
        out
    }
}

impl Tensor {
    /// 2-d convolution of this `[N, C_in, H, W]` tensor with `weight` `[C_out, C_in/groups, kH,
    /// kW]` and an optional `bias` `[C_out]`, as PyTorch's `F.conv2d(x, weight, bias, stride,
    /// padding, dilation, groups)`; see the [module docs](crate::ops::conv) for the formula.
    ///
    /// ```
    /// use nn_core::{Tensor, ops::Conv2dOptions};
    /// let x = Tensor::ones(&[1, 1, 4, 4]);
    /// let w = Tensor::ones(&[2, 1, 3, 3]);
    /// let y = x.conv2d(&w, None, Conv2dOptions::default().with_padding(1));
    /// assert_eq!(y.shape(), &[1, 2, 4, 4]);
    /// assert_eq!(y.to_vec()[..4], [4.0, 6.0, 6.0, 4.0]);
    /// ```
    ///
    /// # Panics
    /// If the shapes do not fit each other and the options (the message names them).
    pub fn conv2d(&self, weight: &Tensor, bias: Option<&Tensor>, options: Conv2dOptions) -> Tensor {
        self.conv2d_impl(weight, bias, options, false).0
    }

    /// [`Tensor::conv2d`], and the per-channel moments of its output (over the batch and every
    /// pixel, as a batch norm in training mode computes them) gathered while each output image
    /// is in cache, when the channels-last direct kernels run (else `None`). The moments are
    /// bit-identical to those the batch norm computes from the output.
    pub(crate) fn conv2d_with_moments(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        options: Conv2dOptions,
    ) -> (Tensor, Option<Vec<crate::ops::norm::Moments>>) {
        self.conv2d_impl(weight, bias, options, true)
    }

    fn conv2d_impl(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        options: Conv2dOptions,
        want_moments: bool,
    ) -> (Tensor, Option<Vec<crate::ops::norm::Moments>>) {
        let g = Geom::new(self.shape(), weight.shape(), &options);
        if let Some(b) = bias {
            assert!(
                b.shape() == [g.cout],
                "conv2d: bias shape {:?} does not match weight shape {:?} (expected [{}])",
                b.shape(),
                weight.shape(),
                g.cout
            );
        }
        let w = weight.data().as_standard_layout();
        let bias_data = bias.map(|b| b.data().as_standard_layout());
        let ws = w.as_slice().expect("standard layout");
        let bs = bias_data
            .as_ref()
            .map(|b| b.as_slice().expect("standard layout"));
        let channels_last = layout::is_channels_last(self.data());
        let nhwc = if channels_last { nhwc_kernel(&g) } else { None };
        let mut moments = None;
        let y = if let Some(kernel) = nhwc {
            let xs = self
                .data()
                .as_slice_memory_order()
                .expect("channels-last is contiguous");
            let y = match kernel {
                NhwcKernel::Direct if want_moments => {
                    let m = crate::ops::norm::ImageMoments::new(g.n, g.cout);
                    let record = |i: usize, y_n: &mut [f32]| m.record(i, y_n);
                    let y = direct::forward_each_image(&g, xs, ws, bs, &record);
                    moments = m.finish();
                    y
                }
                NhwcKernel::Direct => direct::forward(&g, xs, ws, None, bs, false),
                NhwcKernel::Gemm => nhwc_gemm::forward(&g, xs, ws, None, bs, false),
            };
            layout::channels_last_array(g.out_shape(), y)
        } else {
            let y = Self::conv2d_contiguous(&g, self, ws, bs);
            if channels_last {
                layout::into_channels_last(y)
            } else {
                y
            }
        };
        let mut inputs = vec![self.clone(), weight.clone()];
        if let Some(b) = bias {
            inputs.push(b.clone());
        }
        let y = Tensor::from_op(
            y,
            inputs,
            Conv2dBackward {
                geom: g,
                has_bias: bias.is_some(),
                nhwc,
            },
        );
        (y, moments)
    }

    /// Inference only (no graph): `relu?(scale[o]·conv2d(x, w)[o] + shift[o])` computed in one
    /// pass by the direct kernels, the scale folded into the weights and the shift (plus
    /// `scale·bias`) added before the store: a convolution followed by an evaluation-mode
    /// BatchNorm (and ReLU) as one op. With `residual`, `relu(… + residual)`: the residual block's
    /// end, added to each output image in place while it is in cache (the direct kernels only).
    /// `None` when the kernels do not apply (the input or the residual is not channels-last, the
    /// convolution is grouped, or a residual meets the NHWC GEMM); then compute the ops one by
    /// one.
    pub(crate) fn conv2d_affine_inference(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        options: Conv2dOptions,
        (scale, shift): (&[f32], &[f32]),
        relu: bool,
        residual: Option<&Tensor>,
    ) -> Option<Tensor> {
        let g = Geom::new(self.shape(), weight.shape(), &options);
        if !layout::is_channels_last(self.data()) {
            return None;
        }
        let kernel = nhwc_kernel(&g)?;
        let residual = match residual {
            None => None,
            Some(r) if kernel == NhwcKernel::Direct && r.shape() == g.out_shape() => {
                if !layout::is_channels_last(r.data()) {
                    return None;
                }
                Some(r.data().as_slice_memory_order()?)
            }
            Some(_) => return None,
        };
        assert!(scale.len() == g.cout && shift.len() == g.cout);
        let w = weight.data().as_standard_layout();
        let ws = w.as_slice().expect("standard layout");
        let b: Vec<f32> = match bias {
            Some(b) => b
                .to_vec()
                .iter()
                .zip(scale.iter().zip(shift))
                .map(|(b, (s, t))| b * s + t)
                .collect(),
            None => shift.to_vec(),
        };
        let xs = self
            .data()
            .as_slice_memory_order()
            .expect("channels-last is contiguous");
        let y = match (kernel, residual) {
            (NhwcKernel::Direct, Some(r)) => {
                direct::forward_add_relu(&g, xs, ws, (Some(scale), Some(&b)), r)
            }
            (NhwcKernel::Direct, None) => direct::forward(&g, xs, ws, Some(scale), Some(&b), relu),
            (NhwcKernel::Gemm, _) => nhwc_gemm::forward(&g, xs, ws, Some(scale), Some(&b), relu),
        };
        Some(Tensor::from_array(layout::channels_last_array(
            g.out_shape(),
            y,
        )))
    }

    /// The convolution of a row-major copy of `x` (im2col, Winograd or depthwise kernels).
    fn conv2d_contiguous(g: &Geom, x: &Tensor, ws: &[f32], bs: Option<&[f32]>) -> Array {
        let g = *g;
        let x = x.data().as_standard_layout();
        let xs = x.as_slice().expect("standard layout");
        let y = if winograd::applies(&g) {
            winograd::forward(&g, xs, ws, bs)
        } else if g.groups > 1 && g.cin_g() == 1 {
            depthwise::forward(&g, xs, ws, bs)
        } else {
            forward::forward(&g, xs, ws, bs)
        };
        Array::from_shape_vec(IxDyn(&g.out_shape()), y).expect("output shape")
    }
}

#[cfg(test)]
mod tests;
