//! Axis bookkeeping shared by reductions and axis-wise ops: validating axes, output shapes with
//! and without `keepdim`, and moving reduced axes into contiguous rows.

use ndarray::{Array2, ArrayViewD, IxDyn};

use crate::tensor::Array;

/// Panics unless `axis < ndim`, naming the op and the shape.
pub(crate) fn check_axis(op: &str, axis: usize, shape: &[usize]) {
    assert!(
        axis < shape.len(),
        "{op}: axis {axis} is out of range for a tensor of shape {shape:?} ({} axes)",
        shape.len()
    );
}

/// Sorted, de-duplicated reduction axes; an empty list means every axis (as PyTorch's
/// `dim=()`/`dim=None`).
///
/// # Panics
/// If an axis is out of range or repeated; the message names the op and the shape.
pub(crate) fn normalize_axes(op: &str, axes: &[usize], shape: &[usize]) -> Vec<usize> {
    if axes.is_empty() {
        return (0..shape.len()).collect();
    }
    let mut v = axes.to_vec();
    for &a in &v {
        check_axis(op, a, shape);
    }
    v.sort_unstable();
    let n = v.len();
    v.dedup();
    assert_eq!(
        v.len(),
        n,
        "{op}: axes {axes:?} contain a repeated axis (tensor of shape {shape:?})"
    );
    v
}

/// The shape after reducing `axes` (normalised): size 1 there with `keepdim`, removed without.
pub(crate) fn reduced_shape(shape: &[usize], axes: &[usize], keepdim: bool) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .filter_map(|(i, &s)| match (axes.contains(&i), keepdim) {
            (false, _) => Some(s),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

/// The number of elements reduced into each output element.
pub(crate) fn reduced_count(shape: &[usize], axes: &[usize]) -> usize {
    axes.iter().map(|&a| shape[a]).product()
}

/// The permutation that puts the kept axes first (in order) and the reduced axes last.
fn kept_then_reduced(ndim: usize, axes: &[usize]) -> Vec<usize> {
    (0..ndim)
        .filter(|i| !axes.contains(i))
        .chain(axes.iter().copied())
        .collect()
}

/// `x` rearranged as a standard-layout matrix with one row per output element (kept axes in
/// row-major order) and the reduced elements of that output along the row (reduced axes in
/// row-major order).
pub(crate) fn to_rows(x: ArrayViewD<'_, f32>, axes: &[usize]) -> Array2<f32> {
    let inner = reduced_count(x.shape(), axes);
    let outer = x.len().checked_div(inner).unwrap_or(0);
    let perm = kept_then_reduced(x.ndim(), axes);
    let permuted = x.permuted_axes(IxDyn(&perm));
    let values: Vec<f32> = permuted.iter().copied().collect();
    Array2::from_shape_vec((outer, inner), values).expect("sizes agree")
}

/// The inverse of [`to_rows`]: an array of `shape` (standard layout) from its rows.
pub(crate) fn from_rows(rows: Array2<f32>, shape: &[usize], axes: &[usize]) -> Array {
    let perm = kept_then_reduced(shape.len(), axes);
    let permuted_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let mut inverse = vec![0; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        inverse[p] = i;
    }
    let a = rows
        .into_shape_with_order(IxDyn(&permuted_shape))
        .expect("sizes agree")
        .permuted_axes(IxDyn(&inverse));
    a.as_standard_layout().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip() {
        let x = Array::from_shape_fn(IxDyn(&[2, 3, 4]), |i| {
            (i[0] * 100 + i[1] * 10 + i[2]) as f32
        });
        let rows = to_rows(x.view(), &[0, 2]);
        assert_eq!(rows.dim(), (3, 8));
        // Row 1 holds the elements with i[1] = 1, in (i[0], i[2]) row-major order.
        assert_eq!(rows[[1, 0]], 10.0);
        assert_eq!(rows[[1, 5]], 111.0);
        assert_eq!(from_rows(rows, &[2, 3, 4], &[0, 2]), x);
    }

    #[test]
    fn shapes() {
        assert_eq!(normalize_axes("t", &[2, 0], &[2, 3, 4]), vec![0, 2]);
        assert_eq!(normalize_axes("t", &[], &[2, 3]), vec![0, 1]);
        assert_eq!(reduced_shape(&[2, 3, 4], &[0, 2], true), vec![1, 3, 1]);
        assert_eq!(reduced_shape(&[2, 3, 4], &[0, 2], false), vec![3]);
    }

    #[test]
    #[should_panic(expected = "sum: axis 3 is out of range for a tensor of shape [2, 3]")]
    fn bad_axis() {
        normalize_axes("sum", &[3], &[2, 3]);
    }
}
