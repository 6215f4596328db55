//! 2-d max unpooling, the partial inverse of max pooling (PyTorch's `F.max_unpool2d`; Zeiler &
//! Fergus 2014's "switches" in deconvnets, and the decoders of SegNet).
//!
//! Given pooled values x `[N, C, h, w]` and the indices of their maxima
//! ([`Tensor::max_pool2d_with_indices`], flat positions `i·W + j` within each `[H, W]` output
//! plane), every value is written back at its position and everything else is zero:
//!
//! ```text
//! y[n, c, p] = x[n, c, q]  for the (last) q with indices[n, c, q] = p,   0 where no q points
//! ∂L/∂x[n, c, q] = ∂L/∂y[n, c, indices[n, c, q]]
//! ```
//!
//! The output size defaults to the input size of the pooling that made the indices,
//! `(h − 1)·stride − 2·padding + kernel` per axis ([`MaxUnpool2dOptions::output_size`]); an
//! explicit size must lie strictly within one stride of it, as in PyTorch (floor-mode pooling
//! drops up to `stride − 1` rows and columns).

use ndarray::{ArrayD, IxDyn};
use rayon::prelude::*;

use super::planes;
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

/// Hyper-parameters of 2-d max unpooling (PyTorch's `nn.MaxUnpool2d(kernel_size, stride,
/// padding)`; stride defaults to the kernel). They only decide the default output size.
///
/// ```
/// use nn_core::ops::MaxUnpool2dOptions;
/// let o = MaxUnpool2dOptions::new(2);
/// assert_eq!(o.output_size((3, 3), None), Ok((6, 6)));
/// assert_eq!(o.output_size((3, 3), Some((7, 7))), Ok((7, 7))); // a 7×7 map pooled in floor mode
/// assert!(o.output_size((3, 3), Some((8, 8))).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct MaxUnpool2dOptions {
    /// Window size of the pooling (height, width).
    pub kernel: (usize, usize),
    /// Stride of the pooling (height, width).
    pub stride: (usize, usize),
    /// Padding of the pooling (height, width).
    pub padding: (usize, usize),
}

impl MaxUnpool2dOptions {
    /// A square `k`×`k` window with stride `k` and no padding.
    pub fn new(k: usize) -> Self {
        MaxUnpool2dOptions {
            kernel: (k, k),
            stride: (k, k),
            padding: (0, 0),
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

    /// The output size for an `(h, w)` input: `requested` if given and valid, else the default
    /// `(h − 1)·stride − 2·padding + kernel` per axis (PyTorch's `_unpool_output_size`), or a
    /// message naming the problem.
    pub fn output_size(
        &self,
        (h, w): (usize, usize),
        requested: Option<(usize, usize)>,
    ) -> Result<(usize, usize), String> {
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        if k.0 == 0 || k.1 == 0 || s.0 == 0 || s.1 == 0 {
            return Err(format!("kernel {k:?} and stride {s:?} must be positive"));
        }
        let default = |n: usize, k: usize, s: usize, p: usize| -> Result<usize, String> {
            ((n.max(1) - 1) * s + k)
                .checked_sub(2 * p)
                .filter(|&d| d > 0)
                .ok_or_else(|| format!("padding {p} leaves no output for kernel {k}"))
        };
        let dh = default(h, k.0, s.0, p.0)?;
        let dw = default(w, k.1, s.1, p.1)?;
        match requested {
            None => Ok((dh, dw)),
            Some((rh, rw)) => {
                let fits = |r: usize, d: usize, s: usize| r + s > d && r < d + s && r > 0;
                if fits(rh, dh, s.0) && fits(rw, dw, s.1) {
                    Ok((rh, rw))
                } else {
                    Err(format!(
                        "output size {:?} must be within one stride {s:?} of the default \
                         {:?} (strictly between {:?} and {:?})",
                        (rh, rw),
                        (dh, dw),
                        (dh as isize - s.0 as isize, dw as isize - s.1 as isize),
                        (dh + s.0, dw + s.1)
                    ))
                }
            }
        }
    }
}

struct MaxUnpoolBackward {
    /// Flat in-plane output position of each input element.
    indices: Vec<u32>,
    plane_in: usize,
    plane_out: usize,
}

impl Backward for MaxUnpoolBackward {
    fn name(&self) -> &'static str {
        "max_unpool2d"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, grad: Array) -> Vec<Option<Array>> {
        let shape = ctx.inputs[0].shape();
        let g = grad.as_standard_layout();
        let g = g.as_slice().expect("standard layout");
        let mut dx = crate::buffer_pool::take(shape.iter().product()); // every element is written
        if self.plane_in > 0 && self.plane_out > 0 {
            dx.par_chunks_mut(self.plane_in)
                .zip(g.par_chunks(self.plane_out))
                .zip(self.indices.par_chunks(self.plane_in))
                .for_each(|((dxp, gp), ip)| {
                    for (d, &i) in dxp.iter_mut().zip(ip) {
                        *d = gp[i as usize];
                    }
                });
        }
        vec![Some(
            Array::from_shape_vec(IxDyn(shape), dx).expect("input shape"),
        )]
    }
}

impl Tensor {
    /// 2-d max unpooling of this `[N, C, h, w]` tensor into `[N, C, H, W]` = `output_size`
    /// using `indices` of this tensor's shape (see the module docs; PyTorch's
    /// `F.max_unpool2d(x, indices, ..., output_size)`). Use [`MaxUnpool2dOptions::output_size`]
    /// for PyTorch's default size.
    ///
    /// ```
    /// use nn_core::{Tensor, ops::MaxPool2dOptions};
    /// let x = Tensor::from_vec(vec![1., 4., 2., 3., 0., 5., 9., 8.], &[1, 1, 2, 4]);
    /// let (y, idx) = x.max_pool2d_with_indices(MaxPool2dOptions::new(2));
    /// let back = y.max_unpool2d(&idx, (2, 4));
    /// assert_eq!(back.to_vec(), vec![0., 0., 0., 0., 0., 5., 9., 0.]);
    /// ```
    ///
    /// # Panics
    /// If the input is not 4-d, the indices' shape differs from the input's, or an index lies
    /// outside the `H·W` output plane (PyTorch: "Found an invalid max index").
    pub fn max_unpool2d(&self, indices: &ArrayD<i64>, output_size: (usize, usize)) -> Tensor {
        let (np, h, w) = planes("max_unpool2d", self.shape());
        assert_eq!(
            indices.shape(),
            self.shape(),
            "max_unpool2d: indices shape {:?} differs from input shape {:?}",
            indices.shape(),
            self.shape()
        );
        let (oh, ow) = output_size;
        let (pin, pout) = (h * w, oh * ow);
        assert!(
            pout <= u32::MAX as usize,
            "max_unpool2d: output plane {oh}×{ow} too large"
        );
        let idx: Vec<u32> = indices
            .iter()
            .map(|&i| {
                assert!(
                    i >= 0 && (i as usize) < pout,
                    "max_unpool2d: found an invalid max index {i} (output size {oh}×{ow}, input \
                     shape {:?})",
                    self.shape()
                );
                i as u32
            })
            .collect();
        let x = self.data().as_standard_layout();
        let x = x.as_slice().expect("standard layout");
        let mut y = crate::buffer_pool::take_zeroed(np * pout);
        if pin > 0 && pout > 0 {
            y.par_chunks_mut(pout)
                .zip(x.par_chunks(pin))
                .zip(idx.par_chunks(pin))
                .for_each(|((yp, xp), ip)| {
                    for (&v, &i) in xp.iter().zip(ip) {
                        yp[i as usize] = v;
                    }
                });
        }
        let mut shape = self.shape().to_vec();
        shape[2] = oh;
        shape[3] = ow;
        Tensor::from_op(
            Array::from_shape_vec(IxDyn(&shape), y).expect("output shape"),
            vec![self.clone()],
            MaxUnpoolBackward {
                indices: idx,
                plane_in: pin,
                plane_out: pout,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{GradCheckConfig, assert_gradients_at};
    use crate::ops::MaxPool2dOptions;

    #[test]
    fn unpool_inverts_pool_on_the_maxima() {
        // Positive values: the zeros around an unpooled maximum never win when pooling again.
        let x = Tensor::rand_uniform(&[2, 3, 6, 7], 0.1, 1.0, &mut crate::rng::seeded(0));
        let o = MaxPool2dOptions::new(2);
        let (y, idx) = x.max_pool2d_with_indices(o);
        let size = MaxUnpool2dOptions::new(2)
            .output_size((3, 3), Some((6, 7)))
            .unwrap();
        let back = y.max_unpool2d(&idx, size);
        assert_eq!(back.shape(), &[2, 3, 6, 7]);
        // Pooling the unpooled map gives the pooled values back.
        assert_eq!(back.max_pool2d(o).to_vec(), y.to_vec());
        // Exactly one non-zero per pooled value (the values are distinct and non-zero).
        let nonzero = back.to_vec().iter().filter(|v| **v != 0.0).count();
        assert_eq!(nonzero, y.len());
    }

    #[test]
    fn gradients() {
        let x = Tensor::randn(&[2, 2, 4, 6], 0.0, 1.0, &mut crate::rng::seeded(1));
        let (_, idx) = x.max_pool2d_with_indices(MaxPool2dOptions::new(2));
        let v = Tensor::randn(&[2, 2, 2, 3], 0.0, 1.0, &mut crate::rng::seeded(2));
        assert_gradients_at(
            |t| {
                let y = t[0].max_unpool2d(&idx, (4, 6));
                &y * &y
            },
            &[v.to_array()],
            &GradCheckConfig::default(),
        );
    }

    #[test]
    fn output_sizes_follow_pytorch() {
        let o = MaxUnpool2dOptions::new(3).with_stride(2).with_padding(1);
        assert_eq!(o.output_size((4, 4), None), Ok((7, 7)));
        assert_eq!(o.output_size((4, 4), Some((8, 6))), Ok((8, 6)));
        assert!(o.output_size((4, 4), Some((9, 7))).is_err());
        assert!(o.output_size((4, 4), Some((5, 7))).is_err());
        assert!(
            MaxUnpool2dOptions::new(0)
                .output_size((2, 2), None)
                .is_err()
        );
    }

    #[test]
    #[should_panic(expected = "invalid max index 9")]
    fn out_of_range_indices_panic() {
        let idx = ArrayD::from_shape_vec(IxDyn(&[1, 1, 1, 2]), vec![0i64, 9]).unwrap();
        let _ = Tensor::ones(&[1, 1, 1, 2]).max_unpool2d(&idx, (3, 3));
    }
}
