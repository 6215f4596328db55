//! Slicing with per-axis ranges and steps.
//!
//! y = x[r₀, r₁, …] where rₖ = start..end with step sₖ along axis k;
//! ∂L/∂x = ∂L/∂y scattered back into the selected positions, 0 elsewhere. The result is a
//! contiguous copy.

use std::ops::Range;

use ndarray::{IxDyn, Slice};

use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

/// (start, end, step) per axis.
type Spec = Vec<(usize, usize, usize)>;

fn slice_view<'a>(a: ndarray::ArrayViewD<'a, f32>, spec: &Spec) -> ndarray::ArrayViewD<'a, f32> {
    let mut a = a;
    for (axis, &(start, end, step)) in spec.iter().enumerate() {
        a.slice_axis_inplace(
            ndarray::Axis(axis),
            Slice::new(start as isize, Some(end as isize), step as isize),
        );
    }
    a
}

struct SliceBackward {
    spec: Spec,
}

impl Backward for SliceBackward {
    fn name(&self) -> &'static str {
        "slice"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        if !ctx.needs_grad(0) {
            return vec![None];
        }
        let mut gx = Array::zeros(IxDyn(ctx.inputs[0].shape()));
        let mut view = gx.view_mut();
        for (axis, &(start, end, step)) in self.spec.iter().enumerate() {
            view.slice_axis_inplace(
                ndarray::Axis(axis),
                Slice::new(start as isize, Some(end as isize), step as isize),
            );
        }
        view.assign(&g);
        vec![Some(gx)]
    }
}

fn slice_with(x: &Tensor, per_axis: &[(Range<usize>, usize)]) -> Tensor {
    let shape = x.shape();
    assert!(
        per_axis.len() <= shape.len(),
        "slice: {} ranges for a tensor of shape {shape:?}",
        per_axis.len()
    );
    let mut spec: Spec = shape.iter().map(|&n| (0, n, 1)).collect();
    for (axis, (r, step)) in per_axis.iter().enumerate() {
        assert!(
            r.start <= r.end && r.end <= shape[axis] && *step >= 1,
            "slice: range {r:?} with step {step} is invalid for axis {axis} of a tensor of shape \
             {shape:?}"
        );
        spec[axis] = (r.start, r.end, *step);
    }
    let value = slice_view(x.data().view(), &spec)
        .as_standard_layout()
        .into_owned();
    Tensor::from_op(value, vec![x.clone()], SliceBackward { spec })
}

impl Tensor {
    /// The sub-tensor `x[r₀, r₁, …]` for half-open `ranges` on the leading axes (the remaining
    /// axes are kept whole), like PyTorch's `x[a:b, c:d]`.
    ///
    /// # Panics
    /// If there are more ranges than axes or a range exceeds its axis.
    pub fn slice(&self, ranges: &[Range<usize>]) -> Tensor {
        let per_axis: Vec<(Range<usize>, usize)> = ranges.iter().map(|r| (r.clone(), 1)).collect();
        slice_with(self, &per_axis)
    }

    /// The elements `range.start, range.start + step, …` (below `range.end`) along `axis`, like
    /// PyTorch's `x[..., a:b:step, ...]` (`narrow` for step 1).
    ///
    /// # Panics
    /// If `axis` is out of range, the range exceeds the axis, or `step` is 0.
    pub fn slice_axis(&self, axis: usize, range: Range<usize>, step: usize) -> Tensor {
        super::axes::check_axis("slice_axis", axis, self.shape());
        let mut per_axis: Vec<(Range<usize>, usize)> =
            self.shape()[..axis].iter().map(|&n| (0..n, 1)).collect();
        per_axis.push((range, step));
        slice_with(self, &per_axis)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward() {
        let x = Tensor::from_vec((0..12).map(|v| v as f32).collect(), &[3, 4]);
        let y = x.slice(&[1..3, 1..3]);
        assert_eq!(y.shape(), &[2, 2]);
        assert_eq!(y.to_vec(), vec![5.0, 6.0, 9.0, 10.0]);
        assert_eq!(x.slice(&[2..3, 0..4]).to_vec(), vec![8.0, 9.0, 10.0, 11.0]);
        assert_eq!(
            x.slice_axis(1, 0..4, 2).to_vec(),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
        assert_eq!(x.slice_axis(1, 1..4, 2).shape(), &[3, 2]);
        assert_eq!(x.slice_axis(0, 1..1, 1).shape(), &[0, 4]);
    }

    #[test]
    #[should_panic(expected = "slice: range 2..5 with step 1 is invalid for axis 0")]
    fn out_of_range() {
        Tensor::zeros(&[3, 4]).slice(&[2..5, 0..1]);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].slice(&[1..3, 0..2]), &[&[3, 4]], 1);
        assert_gradients(|x| x[0].slice_axis(2, 0..5, 2), &[&[2, 2, 5]], 2);
    }
}
