//! Picking one element per row by label, and selecting slices by index.
//!
//! gather_rows: yᵢ = x[i, lᵢ] for x of shape [N, C];  ∂L/∂x[i, lᵢ] = ∂L/∂yᵢ, 0 elsewhere
//! (PyTorch's `x.gather(1, labels[:, None]).squeeze(1)`).
//!
//! index_select: y = x with axis a replaced by the entries idx₀, idx₁, … (repeats allowed);
//! ∂L/∂x = the slices of ∂L/∂y added back at their indices (PyTorch's `index_add`).

use ndarray::{Axis, IxDyn};

use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

struct GatherRowsBackward {
    labels: Vec<usize>,
}

impl Backward for GatherRowsBackward {
    fn name(&self) -> &'static str {
        "gather_rows"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        if !ctx.needs_grad(0) {
            return vec![None];
        }
        let mut gx = Array::zeros(IxDyn(ctx.inputs[0].shape()));
        for (i, (&l, &gv)) in self.labels.iter().zip(g.iter()).enumerate() {
            gx[[i, l]] = gv;
        }
        vec![Some(gx)]
    }
}

struct IndexSelectBackward {
    axis: usize,
    indices: Vec<usize>,
}

impl Backward for IndexSelectBackward {
    fn name(&self) -> &'static str {
        "index_select"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        if !ctx.needs_grad(0) {
            return vec![None];
        }
        let mut gx = Array::zeros(IxDyn(ctx.inputs[0].shape()));
        for (k, &i) in self.indices.iter().enumerate() {
            let src = g.index_axis(Axis(self.axis), k);
            let mut dst = gx.index_axis_mut(Axis(self.axis), i);
            dst += &src;
        }
        vec![Some(gx)]
    }
}

impl Tensor {
    /// For a 2-d `[N, C]` tensor, the `[N]` tensor of `x[i, labels[i]]` (e.g. the scores of the
    /// correct classes).
    ///
    /// # Panics
    /// If the tensor is not 2-d, `labels.len() != N`, or a label is `>= C` (the message names
    /// the label, its row and C).
    pub fn gather_rows(&self, labels: &[usize]) -> Tensor {
        let x = crate::loss::as_matrix("gather_rows", self);
        crate::loss::check_labels("gather_rows", labels, x.nrows(), x.ncols());
        let values: Vec<f32> = labels.iter().enumerate().map(|(i, &l)| x[[i, l]]).collect();
        let value = Array::from_shape_vec(IxDyn(&[labels.len()]), values).expect("one per row");
        Tensor::from_op(
            value,
            vec![self.clone()],
            GatherRowsBackward {
                labels: labels.to_vec(),
            },
        )
    }

    /// The entries `indices` (in that order, repeats allowed) along `axis` (PyTorch's
    /// `x.index_select(axis, indices)`); the result has `indices.len()` entries along `axis`.
    ///
    /// # Panics
    /// If `axis` is out of range or an index is `>=` the axis size.
    pub fn index_select(&self, axis: usize, indices: &[usize]) -> Tensor {
        super::axes::check_axis("index_select", axis, self.shape());
        let n = self.shape()[axis];
        if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
            panic!(
                "index_select: index {bad} is out of range for axis {axis} of size {n} (shape {:?})",
                self.shape()
            );
        }
        let value = self.data().select(Axis(axis), indices);
        Tensor::from_op(
            value,
            vec![self.clone()],
            IndexSelectBackward {
                axis,
                indices: indices.to_vec(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward() {
        let x = Tensor::from_vec((0..6).map(|v| v as f32).collect(), &[2, 3]);
        assert_eq!(x.gather_rows(&[2, 0]).to_vec(), vec![2.0, 3.0]);
        assert_eq!(
            x.index_select(1, &[2, 2, 0]).to_vec(),
            vec![2.0, 2.0, 0.0, 5.0, 5.0, 3.0]
        );
        assert_eq!(x.index_select(0, &[1]).shape(), &[1, 3]);
    }

    #[test]
    #[should_panic(expected = "gather_rows: label 3 (row 1) is out of range for 3 classes")]
    fn label_out_of_range() {
        Tensor::zeros(&[2, 3]).gather_rows(&[0, 3]);
    }

    #[test]
    #[should_panic(expected = "index_select: index 4 is out of range for axis 0 of size 2")]
    fn index_out_of_range() {
        Tensor::zeros(&[2, 3]).index_select(0, &[4]);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].gather_rows(&[1, 0, 3]), &[&[3, 4]], 1);
        // Repeated indices accumulate.
        assert_gradients(|x| x[0].index_select(1, &[3, 0, 3]), &[&[2, 4]], 2);
        assert_gradients(|x| x[0].index_select(0, &[1, 1, 0]), &[&[2, 3, 2]], 3);
    }
}
