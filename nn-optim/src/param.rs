//! Borrowed, named parameters: what an optimizer step works on.

use ndarray::{ArrayViewD, ArrayViewMutD};

/// One parameter as an optimizer sees it: a stable name (the key of its optimizer state and of
/// its parameter group), a mutable view of its value, and its gradient (if it has one).
///
/// Parameters whose `grad` is `None` (frozen, or unused in this step) are skipped by every
/// optimizer, as PyTorch skips `p.grad is None`. Zeroing gradients is the caller's business.
#[derive(Debug)]
pub struct ParamMut<'a> {
    /// Stable name, e.g. `"layer1.0.conv1.weight"`.
    pub name: &'a str,
    /// The value, updated in place.
    pub value: ArrayViewMutD<'a, f32>,
    /// The gradient of the loss with respect to `value` (same shape), or `None` to skip.
    pub grad: Option<ArrayViewD<'a, f32>>,
}

impl<'a> ParamMut<'a> {
    /// A parameter with a gradient.
    pub fn new(name: &'a str, value: ArrayViewMutD<'a, f32>, grad: ArrayViewD<'a, f32>) -> Self {
        Self {
            name,
            value,
            grad: Some(grad),
        }
    }

    /// A parameter without a gradient (it will be skipped).
    pub fn frozen(name: &'a str, value: ArrayViewMutD<'a, f32>) -> Self {
        Self {
            name,
            value,
            grad: None,
        }
    }
}

/// Copies the values of `params` (in order, each in logical row-major order) into one flat
/// vector: the `x` that [`crate::Lbfgs::step`] works on.
pub fn flatten_values(params: &[ParamMut<'_>]) -> Vec<f32> {
    let mut out = Vec::with_capacity(params.iter().map(|p| p.value.len()).sum());
    for p in params {
        out.extend(p.value.iter().copied());
    }
    out
}

/// Writes a flat vector produced by [`flatten_values`] back into `params`.
///
/// # Panics
/// If `flat.len()` is not the total number of elements of `params` (a programmer error).
pub fn unflatten_into(flat: &[f32], params: &mut [ParamMut<'_>]) {
    let total: usize = params.iter().map(|p| p.value.len()).sum();
    assert_eq!(
        flat.len(),
        total,
        "unflatten_into: flat vector has {} elements, the parameters {total}",
        flat.len()
    );
    let mut off = 0;
    for p in params.iter_mut() {
        let n = p.value.len();
        for (dst, src) in p.value.iter_mut().zip(&flat[off..off + n]) {
            *dst = *src;
        }
        off += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn flatten_round_trip() {
        let mut a = ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
        let mut b = ArrayD::from_shape_vec(IxDyn(&[3]), vec![5.0f32, 6.0, 7.0]).unwrap();
        let mut ps = vec![
            ParamMut::frozen("a", a.view_mut()),
            ParamMut::frozen("b", b.view_mut()),
        ];
        let flat = flatten_values(&ps);
        assert_eq!(flat, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        let doubled: Vec<f32> = flat.iter().map(|v| v * 2.0).collect();
        unflatten_into(&doubled, &mut ps);
        drop(ps);
        assert_eq!(a[[1, 1]], 8.0);
        assert_eq!(b[[2]], 14.0);
    }
}
