//! Maximum and minimum over axes, and the arg-max / arg-min indices.
//!
//! y = max over the reduced axes of x (for each kept index);
//! ∂L/∂xᵢ = ∂L/∂y at the selected element, 0 elsewhere.
//!
//! **Ties.** The gradient goes to exactly one element: the first maximal (minimal) one in
//! row-major order of the reduced axes — what PyTorch's `x.max(dim)` does (its returned index is
//! the first occurrence). PyTorch's `amax`/`amin` instead split the gradient evenly between tied
//! elements; the two agree whenever the maximum is unique. A NaN counts as the maximum (and the
//! minimum) and propagates, as in PyTorch.

use ndarray::{Array2, Axis, IxDyn};

use super::axes::{normalize_axes, reduced_shape, to_rows};
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

/// Index of the first extreme element of `row`: the maximum if `max`, else the minimum; the first
/// NaN wins.
fn arg_extreme(row: ndarray::ArrayView1<'_, f32>, max: bool) -> usize {
    let mut best = 0;
    let mut bv = f32::NAN;
    for (i, &v) in row.iter().enumerate() {
        if v.is_nan() {
            return i;
        }
        if i == 0 || (max && v > bv) || (!max && v < bv) {
            best = i;
            bv = v;
        }
    }
    best
}

struct ExtremeBackward {
    axes: Vec<usize>,
    /// Position within each row (see `axes::to_rows`) of the selected element.
    picks: Vec<usize>,
    name: &'static str,
}

impl Backward for ExtremeBackward {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        if !ctx.needs_grad(0) {
            return vec![None];
        }
        let shape = ctx.inputs[0].shape();
        let inner = self.axes.iter().map(|&a| shape[a]).product::<usize>();
        let mut rows = Array2::<f32>::zeros((self.picks.len(), inner));
        for ((mut row, &p), &gv) in rows.axis_iter_mut(Axis(0)).zip(&self.picks).zip(g.iter()) {
            row[p] = gv;
        }
        vec![Some(super::axes::from_rows(rows, shape, &self.axes))]
    }
}

fn extreme(x: &Tensor, axes: &[usize], keepdim: bool, max: bool) -> Tensor {
    let name = if max { "max" } else { "min" };
    let axes = normalize_axes(name, axes, x.shape());
    assert!(
        axes.iter().all(|&a| x.shape()[a] > 0),
        "{name}: cannot reduce an empty axis of a tensor of shape {:?}",
        x.shape()
    );
    let rows = to_rows(x.data().view(), &axes);
    let picks: Vec<usize> = rows
        .axis_iter(Axis(0))
        .map(|r| arg_extreme(r, max))
        .collect();
    let values: Vec<f32> = rows
        .axis_iter(Axis(0))
        .zip(&picks)
        .map(|(r, &p)| r[p])
        .collect();
    let shape = reduced_shape(x.shape(), &axes, keepdim);
    let value = Array::from_shape_vec(IxDyn(&shape), values).expect("one value per row");
    Tensor::from_op(
        value,
        vec![x.clone()],
        ExtremeBackward { axes, picks, name },
    )
}

/// Flat index along `axis` of the first extreme element of each lane.
fn arg_along(x: &Tensor, axis: usize, keepdim: bool, max: bool) -> ndarray::ArrayD<usize> {
    let name = if max { "argmax" } else { "argmin" };
    let axes = normalize_axes(name, &[axis], x.shape());
    assert!(
        x.shape()[axis] > 0,
        "{name}: axis {axis} of a tensor of shape {:?} is empty",
        x.shape()
    );
    let rows = to_rows(x.data().view(), &axes);
    let idx: Vec<usize> = rows
        .axis_iter(Axis(0))
        .map(|r| arg_extreme(r, max))
        .collect();
    let shape = reduced_shape(x.shape(), &axes, keepdim);
    ndarray::ArrayD::from_shape_vec(IxDyn(&shape), idx).expect("one index per lane")
}

impl Tensor {
    /// The maximum over `axes` (all axes if empty), with the reduced axes kept as size 1 if
    /// `keepdim`. The gradient goes to the first maximal element (see the module docs on ties):
    /// for one axis this is PyTorch's `x.max(dim, keepdim).values`.
    ///
    /// # Panics
    /// If an axis is out of range, repeated, or has size 0.
    pub fn max(&self, axes: &[usize], keepdim: bool) -> Tensor {
        extreme(self, axes, keepdim, true)
    }

    /// The minimum over `axes`; as [`Tensor::max`] (the gradient goes to the first minimal
    /// element).
    ///
    /// # Panics
    /// If an axis is out of range, repeated, or has size 0.
    pub fn min(&self, axes: &[usize], keepdim: bool) -> Tensor {
        extreme(self, axes, keepdim, false)
    }

    /// The index along `axis` of the first maximal element of each lane (PyTorch's
    /// `x.argmax(dim, keepdim)`; not differentiable). For logits `[N, C]`, `argmax(1, false)`
    /// gives the predicted classes.
    ///
    /// # Panics
    /// If `axis` is out of range or empty.
    pub fn argmax(&self, axis: usize, keepdim: bool) -> ndarray::ArrayD<usize> {
        arg_along(self, axis, keepdim, true)
    }

    /// The index along `axis` of the first minimal element of each lane (PyTorch's
    /// `x.argmin(dim, keepdim)`).
    ///
    /// # Panics
    /// If `axis` is out of range or empty.
    pub fn argmin(&self, axis: usize, keepdim: bool) -> ndarray::ArrayD<usize> {
        arg_along(self, axis, keepdim, false)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward() {
        let x = Tensor::from_vec(vec![1.0, 5.0, 3.0, 4.0, -2.0, 6.0], &[2, 3]);
        assert_eq!(x.max(&[1], false).to_vec(), vec![5.0, 6.0]);
        assert_eq!(x.max(&[0], true).shape(), &[1, 3]);
        assert_eq!(x.max(&[0], true).to_vec(), vec![4.0, 5.0, 6.0]);
        assert_eq!(x.min(&[], false).item(), -2.0);
        assert_eq!(x.argmax(1, false).into_raw_vec_and_offset().0, vec![1, 2]);
        assert_eq!(
            x.argmin(0, false).into_raw_vec_and_offset().0,
            vec![0, 1, 0]
        );
    }

    #[test]
    fn ties_route_to_first_and_nan_propagates() {
        let x = Tensor::from_vec(vec![2.0, 7.0, 7.0, 1.0], &[1, 4]).with_requires_grad();
        x.max(&[1], false).sum_all().backward();
        assert_eq!(x.grad().unwrap().as_slice().unwrap(), &[0.0, 1.0, 0.0, 0.0]);
        let n = Tensor::from_vec(vec![1.0, f32::NAN, 3.0], &[3]);
        assert!(n.max(&[0], false).item().is_nan());
        assert!(n.min(&[0], false).item().is_nan());
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].max(&[1], false), &[&[3, 4]], 1);
        assert_gradients(|x| x[0].max(&[0, 2], true), &[&[2, 3, 4]], 2);
        assert_gradients(|x| x[0].min(&[], false), &[&[2, 3]], 3);
    }
}
