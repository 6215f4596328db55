//! Elementwise addition with broadcasting.
//!
//! z = x + y;  ∂L/∂x = sum_to_shape(∂L/∂z, shape(x)),  ∂L/∂y = sum_to_shape(∂L/∂z, shape(y)).
//!
//! Same-shape contiguous inputs (a residual connection) add into a buffer from [`crate::buffer_pool`];
//! backward hands the upstream gradient itself to the second input and a pooled copy to the
//! first, so a training step allocates no fresh pages here.

use rayon::prelude::*;

use super::broadcast::{broadcast_shapes, sum_to_shape};
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

/// A copy of `a` in a buffer from [`crate::buffer_pool`] (standard layout).
fn pooled_copy(a: &Array) -> Array {
    let mut out = buffer_pool::array_for_overwrite(a.shape());
    match (out.as_slice_mut(), a.as_slice()) {
        (Some(o), Some(s)) if s.len() >= 2 * CHUNK => o
            .par_chunks_mut(CHUNK)
            .zip(s.par_chunks(CHUNK))
            .for_each(|(o, s)| o.copy_from_slice(s)),
        (Some(o), Some(s)) => o.copy_from_slice(s),
        _ => out.assign(a),
    }
    out
}

/// `x + y` for two standard-layout arrays of the same shape, into a pooled buffer (in parallel
/// over fixed chunks for large arrays); `None` otherwise.
fn add_same_shape(x: &Data, y: &Data) -> Option<Array> {
    if x.shape() != y.shape() {
        return None;
    }
    let (xs, ys) = (x.as_slice()?, y.as_slice()?);
    let mut out = buffer_pool::take(xs.len());
    let add = |(o, (a, b)): (&mut [f32], (&[f32], &[f32]))| {
        o.iter_mut()
            .zip(a.iter().zip(b))
            .for_each(|(o, (a, b))| *o = a + b);
    };
    if xs.len() >= 2 * CHUNK {
        out.par_chunks_mut(CHUNK)
            .zip(xs.par_chunks(CHUNK).zip(ys.par_chunks(CHUNK)))
            .for_each(add);
    } else {
        add((&mut out, (xs, ys)));
    }
    Some(Array::from_shape_vec(x.raw_dim(), out).expect("same length"))
}

impl Tensor {
    /// Elementwise `self + other` with NumPy broadcasting.
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    pub fn add(&self, other: &Tensor) -> Tensor {
        broadcast_shapes("add", self.shape(), other.shape());
        let (x, y) = (self.data(), other.data());
        let value = add_same_shape(x, y).unwrap_or_else(|| x + y);
        Tensor::from_op(value, vec![self.clone(), other.clone()], AddBackward)
    }
}

super::impl_binary_operator!(Add, add);

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
    fn gradient() {
        assert_gradients(|x| x[0].add(&x[1]), &[&[2, 3, 4], &[2, 3, 4]], 1);
        assert_gradients(|x| x[0].add(&x[1]), &[&[3, 4], &[4]], 1);
        assert_gradients(|x| x[0].add(&x[1]), &[&[2, 1, 3], &[4, 1]], 2);
    }
}
