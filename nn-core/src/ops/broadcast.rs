//! NumPy/PyTorch broadcasting rules, and the reduction that takes a broadcast gradient back to
//! an input's shape.
//!
//! Shapes are aligned at their trailing axes; two sizes are compatible when equal or when one
//! is 1. If `z = f(x, y)` broadcasts `x` along some axes, then `∂L/∂x` is `∂L/∂z` summed over those
//! axes ([`sum_to_shape`]).

use ndarray::{Axis, IxDyn};

use crate::tensor::Array;

/// The broadcast shape of `a` and `b`.
///
/// # Panics
/// If the shapes are incompatible; the message names `op` and both shapes.
pub fn broadcast_shapes(op: &str, a: &[usize], b: &[usize]) -> Vec<usize> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            let da = if i + a.len() >= n {
                a[i + a.len() - n]
            } else {
                1
            };
            let db = if i + b.len() >= n {
                b[i + b.len() - n]
            } else {
                1
            };
            match (da, db) {
                (x, y) if x == y => x,
                (1, y) => y,
                (x, 1) => x,
                _ => panic!("{op}: shapes {a:?} and {b:?} cannot be broadcast together"),
            }
        })
        .collect()
}

/// Sums `grad` (of a broadcast shape) down to `shape`: over leading axes that `shape` lacks and
/// over axes where `shape` has size 1. Returns `grad` unchanged (no copy) when shapes agree.
pub fn sum_to_shape(grad: Array, shape: &[usize]) -> Array {
    if grad.shape() == shape {
        return grad;
    }
    let mut g = grad;
    while g.ndim() > shape.len() {
        g = g.sum_axis(Axis(0));
    }
    for (axis, &size) in shape.iter().enumerate() {
        if size == 1 && g.shape()[axis] != 1 {
            g = g.sum_axis(Axis(axis)).insert_axis(Axis(axis));
        }
    }
    debug_assert_eq!(g.shape(), shape);
    g.into_shape_with_order(IxDyn(shape)).expect("same size")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(broadcast_shapes("t", &[2, 3], &[3]), vec![2, 3]);
        assert_eq!(broadcast_shapes("t", &[4, 1, 3], &[2, 1]), vec![4, 2, 3]);
        assert_eq!(broadcast_shapes("t", &[], &[2]), vec![2]);
    }

    #[test]
    #[should_panic(expected = "add: shapes [2, 3] and [4] cannot be broadcast")]
    fn incompatible() {
        broadcast_shapes("add", &[2, 3], &[4]);
    }

    #[test]
    fn reduce() {
        let g = Array::ones(IxDyn(&[4, 2, 3]));
        assert_eq!(
            sum_to_shape(g.clone(), &[2, 1]),
            Array::from_elem(IxDyn(&[2, 1]), 12.0)
        );
        assert_eq!(
            sum_to_shape(g.clone(), &[3]),
            Array::from_elem(IxDyn(&[3]), 8.0)
        );
        assert_eq!(sum_to_shape(g, &[]), Array::from_elem(IxDyn(&[]), 24.0));
    }
}
