//! Reshaping: `reshape`, `flatten`, `unsqueeze`, `squeeze`.
//!
//! y = x with the same elements in row-major order and a new shape;
//! ∂L/∂x = ∂L/∂y reshaped back to x's shape. When x is contiguous the value is shared, not copied
//! (as PyTorch's `view`).

use ndarray::IxDyn;

use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Data, Tensor};

/// `a` with `shape` (row-major), copying only if `a` is not in standard layout.
pub(crate) fn reshape_owned(a: Array, shape: &[usize]) -> Array {
    let a = if a.is_standard_layout() {
        a
    } else {
        a.as_standard_layout().into_owned()
    };
    a.into_shape_with_order(IxDyn(shape))
        .expect("reshape: sizes were checked")
}

struct ReshapeBackward {
    name: &'static str,
}

impl Backward for ReshapeBackward {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        vec![
            ctx.needs_grad(0)
                .then(|| reshape_owned(g, ctx.inputs[0].shape())),
        ]
    }
}

fn reshape_as(x: &Tensor, shape: Vec<usize>, name: &'static str) -> Tensor {
    let data: &Data = x.data();
    let value: Data = if data.is_standard_layout() {
        data.clone()
            .into_shape_with_order(IxDyn(&shape))
            .expect("sizes were checked")
    } else {
        reshape_owned(data.to_owned(), &shape).into_shared()
    };
    Tensor::from_op_shared(value, vec![x.clone()], ReshapeBackward { name })
}

impl Tensor {
    /// The same elements (row-major order) with a new `shape` (PyTorch's `x.reshape(shape)`;
    /// shares the value when `self` is contiguous).
    ///
    /// # Panics
    /// If `shape` has a different number of elements.
    pub fn reshape(&self, shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        assert_eq!(
            n,
            self.len(),
            "reshape: cannot reshape a tensor of shape {:?} ({} elements) to {:?} ({} elements)",
            self.shape(),
            self.len(),
            shape,
            n
        );
        reshape_as(self, shape.to_vec(), "reshape")
    }

    /// Merges axes `start_dim..=end_dim` into one (PyTorch's `torch.flatten(x, start_dim,
    /// end_dim)`; `nn.Flatten` uses `flatten(1, ndim − 1)`). A 0-d tensor becomes 1-d.
    ///
    /// # Panics
    /// If `start_dim > end_dim` or `end_dim` is out of range.
    pub fn flatten(&self, start_dim: usize, end_dim: usize) -> Tensor {
        let s = self.shape();
        if s.is_empty() && start_dim == 0 && end_dim == 0 {
            return reshape_as(self, vec![1], "flatten");
        }
        assert!(
            start_dim <= end_dim && end_dim < s.len(),
            "flatten: start_dim {start_dim} and end_dim {end_dim} are invalid for a tensor of \
             shape {s:?}"
        );
        let mut shape = s[..start_dim].to_vec();
        shape.push(s[start_dim..=end_dim].iter().product());
        shape.extend_from_slice(&s[end_dim + 1..]);
        reshape_as(self, shape, "flatten")
    }

    /// Inserts an axis of size 1 at position `axis` (PyTorch's `x.unsqueeze(axis)`).
    ///
    /// # Panics
    /// If `axis > ndim`.
    pub fn unsqueeze(&self, axis: usize) -> Tensor {
        let mut shape = self.shape().to_vec();
        assert!(
            axis <= shape.len(),
            "unsqueeze: axis {axis} is out of range for a tensor of shape {shape:?}"
        );
        shape.insert(axis, 1);
        reshape_as(self, shape, "unsqueeze")
    }

    /// Removes axis `axis`, which must have size 1 (PyTorch's `x.squeeze(axis)`, except that a
    /// size other than 1 is an error rather than a no-op).
    ///
    /// # Panics
    /// If `axis` is out of range or its size is not 1.
    pub fn squeeze(&self, axis: usize) -> Tensor {
        let mut shape = self.shape().to_vec();
        assert!(
            axis < shape.len() && shape[axis] == 1,
            "squeeze: axis {axis} of a tensor of shape {shape:?} does not have size 1"
        );
        shape.remove(axis);
        reshape_as(self, shape, "squeeze")
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward_shares_contiguous_values() {
        let x = Tensor::from_vec((0..24).map(|v| v as f32).collect(), &[2, 3, 4]);
        let y = x.reshape(&[6, 4]);
        assert_eq!(y.shape(), &[6, 4]);
        assert!(std::ptr::eq(x.data().as_ptr(), y.data().as_ptr()));
        assert_eq!(x.flatten(1, 2).shape(), &[2, 12]);
        assert_eq!(x.flatten(0, 1).shape(), &[6, 4]);
        assert_eq!(x.flatten(0, 2).to_vec(), x.to_vec());
        assert_eq!(x.unsqueeze(3).shape(), &[2, 3, 4, 1]);
        assert_eq!(x.unsqueeze(0).squeeze(0).shape(), &[2, 3, 4]);
        assert_eq!(Tensor::scalar(1.0).flatten(0, 0).shape(), &[1]);
        // A non-contiguous value is copied in row-major order.
        let t = Tensor::from_data(x.data().clone().permuted_axes(ndarray::IxDyn(&[2, 1, 0])));
        assert_eq!(t.reshape(&[24]).to_vec(), t.to_vec());
    }

    #[test]
    #[should_panic(
        expected = "reshape: cannot reshape a tensor of shape [2, 3] (6 elements) to [4]"
    )]
    fn wrong_size() {
        Tensor::zeros(&[2, 3]).reshape(&[4]);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].reshape(&[4, 3]), &[&[3, 4]], 1);
        assert_gradients(|x| x[0].flatten(1, 2), &[&[2, 3, 2]], 2);
        assert_gradients(|x| x[0].unsqueeze(1).squeeze(1), &[&[2, 3]], 3);
    }
}
