//! Elementwise addition with broadcasting.
//!
//! z = x + y;  ∂L/∂x = sum_to_shape(∂L/∂z, shape(x)),  ∂L/∂y = sum_to_shape(∂L/∂z, shape(y)).
//!
//! Same-shape contiguous inputs (a residual connection) add into a buffer from [`crate::buffer_pool`];
//! backward hands the upstream gradient itself to the second input and a pooled copy to the
//! first, so a training step allocates no fresh pages here.

use rayon::prelude::*;

use super::broadcast::{broadcast_shapes, sum_to_shape};
use super::layout;
use crate::autograd::{Backward, BackwardCtx};
use crate::buffer_pool;
use crate::tensor::{Array, Data, Tensor};

/// Elements per parallel task (a fixed size: the split never depends on the thread count).
const CHUNK: usize = 1 << 14;

struct AddBackward;

impl Backward for AddBackward {
    fn name(&self) -> &'static str {
        "add"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let (nx, ny) = (ctx.needs_grad(0), ctx.needs_grad(1));
        // The upstream gradient itself moves to one input; the other gets a pooled copy only
        // when both need one (no fresh pages for the copy).
        let (gx, gy) = match (nx, ny) {
            (true, true) => (Some(pooled_copy(&g)), Some(g)),
            (true, false) => (Some(g), None),
            (false, true) => (None, Some(g)),
            (false, false) => (None, None),
        };
        let gx = gx.map(|g| sum_to_shape(g, ctx.inputs[0].shape()));
        let gy = gy.map(|g| sum_to_shape(g, ctx.inputs[1].shape()));
        vec![gx, gy]
    }
}

/// A copy of `a` in a buffer from [`crate::buffer_pool`] (in `a`'s memory format if it is row-major or
/// channels-last, else row-major).
fn pooled_copy(a: &Array) -> Array {
    if let Some((s, format)) = layout::raw(a) {
        let mut o = buffer_pool::take(s.len());
        if s.len() >= 2 * CHUNK {
            o.par_chunks_mut(CHUNK)
                .zip(s.par_chunks(CHUNK))
                .for_each(|(o, s)| o.copy_from_slice(s));
        } else {
            o.copy_from_slice(s);
        }
        return layout::array_in(format, a.shape(), o);
    }
    let mut out = buffer_pool::array_for_overwrite(a.shape());
    out.assign(a);
    out
}

/// `x + y` (then ReLU if `relu`, in the same pass) for two arrays of the same shape and memory
/// format (row-major or channels-last), into a pooled buffer in that format (in parallel over
/// fixed chunks for large arrays); `None` otherwise.
fn add_same_shape(x: &Data, y: &Data, relu: bool) -> Option<Array> {
    if x.shape() != y.shape() {
        return None;
    }
    let ((xs, fx), (ys, fy)) = (layout::raw(x)?, layout::raw(y)?);
    if fx != fy {
        return None;
    }
    let mut out = buffer_pool::take(xs.len());
    let add = |(o, (a, b)): (&mut [f32], (&[f32], &[f32]))| {
        if relu {
            o.iter_mut()
                .zip(a.iter().zip(b))
                .for_each(|(o, (a, b))| *o = super::relu::relu(a + b));
        } else {
            o.iter_mut()
                .zip(a.iter().zip(b))
                .for_each(|(o, (a, b))| *o = a + b);
        }
    };
    if xs.len() >= 2 * CHUNK {
        out.par_chunks_mut(CHUNK)
            .zip(xs.par_chunks(CHUNK).zip(ys.par_chunks(CHUNK)))
            .for_each(add);
    } else {
        add((&mut out, (xs, ys)));
    }
    Some(layout::array_in(fx, x.shape(), out))
}

impl Tensor {
    /// Elementwise `self + other` with NumPy broadcasting.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    pub fn add(&self, other: &Tensor) -> Tensor {
        broadcast_shapes("add", self.shape(), other.shape());
        let (x, y) = (self.data(), other.data());
        let value = add_same_shape(x, y, false).unwrap_or_else(|| x + y);
        Tensor::from_op(value, vec![self.clone(), other.clone()], AddBackward)
    }
}

struct AddReluBackward;

impl Backward for AddReluBackward {
    fn name(&self) -> &'static str {
        "add_relu"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, mut g: Array) -> Vec<Option<Array>> {
        // ∂L/∂(x + y) = ∂L/∂z · 𝟙[z > 0], then as for `add` (same shapes and format). When both
        // inputs need the gradient, the masked copy for the first is written in the same pass.
        let z = ctx.output;
        let both = ctx.needs_grad(0) && ctx.needs_grad(1);
        let format = layout::format_of(&g).filter(|_| g.strides() == z.strides());
        match (
            g.as_slice_memory_order_mut(),
            z.as_slice_memory_order(),
            format,
        ) {
            (Some(gs), Some(zs), Some(format)) => {
                let mut copy = both.then(|| buffer_pool::take(gs.len())); // fully written
                if gs.len() >= 2 * CHUNK {
                    let pairs = gs.par_chunks_mut(CHUNK).zip(zs.par_chunks(CHUNK));
                    match copy.as_deref_mut() {
                        Some(c) => pairs
                            .zip(c.par_chunks_mut(CHUNK))
                            .for_each(|((g, z), c)| mask_relu(g, z, Some(c))),
                        None => pairs.for_each(|(g, z)| mask_relu(g, z, None)),
                    }
                } else {
                    mask_relu(gs, zs, copy.as_deref_mut());
                }
                if let Some(c) = copy {
                    let gx = layout::array_in(format, g.shape(), c);
                    return vec![Some(gx), Some(g)];
                }
            }
            _ => ndarray::Zip::from(&mut g)
                .and(z)
                .for_each(|g, &z| *g = super::relu::relu_grad(*g, z)),
        }
        AddBackward.backward(ctx, g)
    }
}

/// `g ← g·𝟙[z > 0]` (ReLU's gradient from its output `z`), and the result also into `copy`.
fn mask_relu(g: &mut [f32], z: &[f32], copy: Option<&mut [f32]>) {
    match copy {
        Some(c) => g.iter_mut().zip(z).zip(c).for_each(|((g, &z), c)| {
            *g = super::relu::relu_grad(*g, z);
            *c = *g;
        }),
        None => g
            .iter_mut()
            .zip(z)
            .for_each(|(g, &z)| *g = super::relu::relu_grad(*g, z)),
    }
}

super::impl_binary_operator!(Add, add);

impl Tensor {
    /// `relu(self + other)` in one op for two tensors of the same shape (a residual block's
    /// output): one pass over memory forward and one backward instead of two each. Other shapes
    /// fall back to the two ops.
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let a = Tensor::from_vec(vec![1.0, -3.0, 2.0], &[3]);
    /// let b = Tensor::from_vec(vec![1.0, 1.0, -5.0], &[3]);
    /// assert_eq!(a.add_relu(&b).to_vec(), vec![2.0, 0.0, 0.0]);
    /// ```
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    pub fn add_relu(&self, other: &Tensor) -> Tensor {
        let (x, y) = (self.data(), other.data());
        let Some(value) = add_same_shape(x, y, true) else {
            return self.add(other).relu();
        };
        Tensor::from_op(value, vec![self.clone(), other.clone()], AddReluBackward)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;
    use crate::rng::seeded;

    #[test]
    fn forward_broadcasts() {
        let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let b = Tensor::from_vec(vec![10.0, 20.0], &[2]);
        assert_eq!((&a + &b).to_vec(), vec![11.0, 22.0, 13.0, 24.0]);
    }

    /// The same-shape path (pooled output, gradient moved to one input and copied to the
    /// other), large enough for the parallel chunks, against the broadcasting ndarray sum.
    #[test]
    fn same_shape_inputs_and_gradients() {
        let shape = [3, 4, 50, 60];
        let x = Tensor::randn(&shape, 0.0, 1.0, &mut seeded(1)).with_requires_grad();
        let y = Tensor::randn(&shape, 0.0, 1.0, &mut seeded(2)).with_requires_grad();
        let z = x.add(&y);
        assert_eq!(z.data(), &(x.data() + y.data()));
        let g = Tensor::randn(&shape, 0.0, 1.0, &mut seeded(3));
        (&z * &g).sum_all().backward();
        assert_eq!(x.grad().unwrap(), g.data().to_owned());
        assert_eq!(y.grad().unwrap(), g.data().to_owned());
        // Only one side needing a gradient: it gets the upstream gradient itself.
        for (a, b) in [(true, false), (false, true)] {
            let x = Tensor::randn(&shape, 0.0, 1.0, &mut seeded(4));
            let y = Tensor::randn(&shape, 0.0, 1.0, &mut seeded(5));
            let (x, y) = (
                if a { x.with_requires_grad() } else { x },
                if b { y.with_requires_grad() } else { y },
            );
            (&x.add(&y) * &g).sum_all().backward();
            let leaf = if a { &x } else { &y };
            assert_eq!(leaf.grad().unwrap(), g.data().to_owned());
        }
    }

    #[test]
    fn add_relu_matches_the_two_ops() {
        // Above 2·CHUNK values: the parallel chunks.
        for cl in [false, true] {
            let shape = [2, 3, 80, 100];
            let mk = |seed| {
                let t = Tensor::randn(&shape, 0.0, 1.0, &mut seeded(seed));
                let t = if cl { t.to_channels_last().detach() } else { t };
                t.with_requires_grad()
            };
            let (x, y) = (mk(1), mk(2));
            let z = x.add_relu(&y);
            assert_eq!(z.is_channels_last(), cl);
            assert_eq!(z.to_vec(), x.add(&y).relu().to_vec());
            let g = Tensor::randn(&shape, 0.0, 1.0, &mut seeded(3));
            (&z * &g).sum_all().backward();
            let (x2, y2) = (
                x.detach().with_requires_grad(),
                y.detach().with_requires_grad(),
            );
            (&x2.add(&y2).relu() * &g).sum_all().backward();
            assert_eq!(x.grad().unwrap(), x2.grad().unwrap());
            assert_eq!(y.grad().unwrap(), y2.grad().unwrap());
        }
        assert_gradients(|x| x[0].add_relu(&x[1]), &[&[2, 3, 4], &[2, 3, 4]], 4);
        assert_gradients(|x| x[0].add_relu(&x[1]), &[&[3, 4], &[4]], 5);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].add(&x[1]), &[&[2, 3, 4], &[2, 3, 4]], 1);
        assert_gradients(|x| x[0].add(&x[1]), &[&[3, 4], &[4]], 1);
        assert_gradients(|x| x[0].add(&x[1]), &[&[2, 1, 3], &[4, 1]], 2);
    }
}
