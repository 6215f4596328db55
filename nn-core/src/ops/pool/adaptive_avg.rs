//! Adaptive (and global) 2-d average pooling: the output size is given, the windows follow.
//!
//! Output row oy of `oH` averages input rows ⌊oy·H/oH⌋ .. ⌈(oy+1)·H/oH⌉ (likewise columns), as
//! PyTorch's `F.adaptive_avg_pool2d`; windows may overlap and differ in size by one.
//! Global average pooling is the case oH = oW = 1 (Lin et al. 2014, "Network in network"):
//! y[n,c] = (1/HW) Σ x[n,c,·,·], ∂L/∂x[n,c,iy,ix] = ∂L/∂y[n,c] / HW.

use ndarray::IxDyn;
use rayon::prelude::*;

use super::planes;
use crate::autograd::{Backward, BackwardCtx};
use crate::ops::conv::lane_sum;
use crate::ops::layout;
use crate::tensor::{Array, Tensor};

/// The input range of adaptive window `o` of `out` over `input` positions.
fn window(o: usize, out: usize, input: usize) -> (usize, usize) {
    (o * input / out, ((o + 1) * input).div_ceil(out))
}

struct AdaptiveAvgBackward {
    out: (usize, usize),
}

impl Backward for AdaptiveAvgBackward {
    fn name(&self) -> &'static str {
        "adaptive_avg_pool2d"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, grad: Array) -> Vec<Option<Array>> {
        let shape = ctx.inputs[0].shape();
        let (_, h, w) = planes("adaptive_avg_pool2d", shape);
        let (oh, ow) = self.out;
        if self.out == (1, 1) && layout::is_channels_last(ctx.inputs[0].data()) {
            return vec![Some(global_backward_channels_last(shape, &grad))];
        }
        let mut dx = crate::buffer_pool::take_zeroed(shape.iter().product());
        let g = grad.as_standard_layout();
        let g = g.as_slice().expect("standard layout");
        if h * w > 0 {
            dx.par_chunks_mut(h * w)
                .zip(g.par_chunks(oh * ow))
                .for_each(|(dxp, gp)| {
                    for oy in 0..oh {
                        let (y0, y1) = window(oy, oh, h);
                        for ox in 0..ow {
                            let (x0, x1) = window(ox, ow, w);
                            let v = gp[oy * ow + ox] / ((y1 - y0) * (x1 - x0)) as f32;
                            for iy in y0..y1 {
                                dxp[iy * w + x0..iy * w + x1]
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

/// Global average pooling of a channels-last `[N, C, H, W]` input: per sample, the mean of the
/// rows of C channels (summed in f32 in fixed blocks, then divided), `[N, C, 1, 1]`.
fn global_forward_channels_last(x: &crate::tensor::Data) -> Array {
    let s = x.shape();
    let (n, c, p) = (s[0], s[1], s[2] * s[3]);
    let xs = x
        .as_slice_memory_order()
        .expect("channels-last is contiguous");
    let mut y = vec![0.0f32; n * c];
    y.par_chunks_mut(c)
        .zip(xs.par_chunks(p * c))
        .for_each(|(yn, xn)| {
            for row in xn.chunks_exact(c) {
                for (a, v) in yn.iter_mut().zip(row) {
                    *a += v;
                }
            }
            yn.iter_mut().for_each(|v| *v /= p as f32);
        });
    Array::from_shape_vec(IxDyn(&[n, c, 1, 1]), y).expect("output shape")
}

/// ∂L/∂x of global average pooling for a channels-last input: g[n, c] / (H·W) at every pixel,
/// channels-last.
fn global_backward_channels_last(shape: &[usize], grad: &Array) -> Array {
    let (n, c, p) = (shape[0], shape[1], shape[2] * shape[3]);
    let g: Vec<f32> = grad.iter().map(|v| v / p as f32).collect();
    let mut dx = crate::buffer_pool::take(n * c * p); // every element is written
    dx.par_chunks_mut(p * c)
        .zip(g.par_chunks(c))
        .for_each(|(dn, gn)| {
            for row in dn.chunks_exact_mut(c) {
                row.copy_from_slice(gn);
            }
        });
    layout::channels_last_array([n, c, shape[2], shape[3]], dx)
}

impl Tensor {
    /// Adaptive average pooling of this `[N, C, H, W]` tensor to `[N, C, oH, oW]`, as PyTorch's
    /// `F.adaptive_avg_pool2d`; see the [module docs](crate::ops::pool).
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let x = Tensor::from_vec((0..9).map(|v| v as f32).collect(), &[1, 1, 3, 3]);
    /// // Windows rows/cols {0,1} and {1,2}.
    /// assert_eq!(x.adaptive_avg_pool2d((2, 2)).to_vec(), vec![2.0, 3.0, 5.0, 6.0]);
    /// ```
    ///
    /// # Panics
    /// If the input is not 4-d with a non-empty image, or an output size is 0.
    pub fn adaptive_avg_pool2d(&self, out: (usize, usize)) -> Tensor {
        let (np, h, w) = planes("adaptive_avg_pool2d", self.shape());
        assert!(
            out.0 > 0 && out.1 > 0 && h > 0 && w > 0,
            "adaptive_avg_pool2d: output size {out:?} and input image {h}×{w} (shape {:?}) must \
             be non-empty",
            self.shape()
        );
        let (oh, ow) = out;
        if out == (1, 1) && layout::is_channels_last(self.data()) {
            let y = global_forward_channels_last(self.data());
            return Tensor::from_op(y, vec![self.clone()], AdaptiveAvgBackward { out });
        }
        let x = self.data().as_standard_layout();
        let x = x.as_slice().expect("standard layout");
        let mut y = crate::buffer_pool::take(np * oh * ow); // every output is written
        y.par_chunks_mut(oh * ow)
            .zip(x.par_chunks(h * w))
            .for_each(|(yp, xp)| {
                if (oh, ow) == (1, 1) {
                    yp[0] = lane_sum(xp) / (h * w) as f32;
                    return;
                }
                for oy in 0..oh {
                    let (y0, y1) = window(oy, oh, h);
                    for ox in 0..ow {
                        let (x0, x1) = window(ox, ow, w);
                        let mut s = 0.0f32;
                        for iy in y0..y1 {
                            s += xp[iy * w + x0..iy * w + x1].iter().sum::<f32>();
                        }
                        yp[oy * ow + ox] = s / ((y1 - y0) * (x1 - x0)) as f32;
                    }
                }
            });
        let mut shape = self.shape().to_vec();
        shape[2] = oh;
        shape[3] = ow;
        Tensor::from_op(
            Array::from_shape_vec(IxDyn(&shape), y).expect("output shape"),
            vec![self.clone()],
            AdaptiveAvgBackward { out },
        )
    }

    /// Global average pooling: the mean of every channel's image, `[N, C, H, W]` → `[N, C, 1,
    /// 1]` (PyTorch's `AdaptiveAvgPool2d(1)`).
    pub fn global_avg_pool2d(&self) -> Tensor {
        self.adaptive_avg_pool2d((1, 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn windows_follow_pytorch() {
        // 5 → 3: [0,2), [1,4), [3,5)
        assert_eq!(window(0, 3, 5), (0, 2));
        assert_eq!(window(1, 3, 5), (1, 4));
        assert_eq!(window(2, 3, 5), (3, 5));
        // Upsampling 2 → 3: [0,1), [0,2), [1,2)
        assert_eq!(window(1, 3, 2), (0, 2));
    }

    #[test]
    fn global_pool_is_the_mean() {
        let x = Tensor::from_vec((0..8).map(|v| v as f32).collect(), &[1, 2, 2, 2]);
        let y = x.global_avg_pool2d();
        assert_eq!(y.shape(), &[1, 2, 1, 1]);
        assert_eq!(y.to_vec(), vec![1.5, 5.5]);
    }

    #[test]
    fn channels_last_global_pool() {
        let x = Tensor::randn(&[3, 5, 4, 6], 0.0, 1.0, &mut crate::rng::seeded(4));
        let a = x.global_avg_pool2d().to_vec();
        let b = x.to_channels_last().global_avg_pool2d().to_vec();
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() < 1e-6, "{u} vs {v}");
        }
        assert_gradients(
            |t| t[0].to_channels_last().global_avg_pool2d(),
            &[&[2, 3, 4, 4]],
            5,
        );
    }

    #[test]
    fn gradients() {
        assert_gradients(|t| t[0].adaptive_avg_pool2d((3, 2)), &[&[2, 2, 5, 7]], 1);
        assert_gradients(|t| t[0].adaptive_avg_pool2d((4, 3)), &[&[1, 2, 3, 2]], 2);
        assert_gradients(|t| t[0].global_avg_pool2d(), &[&[2, 3, 4, 4]], 3);
    }
}
