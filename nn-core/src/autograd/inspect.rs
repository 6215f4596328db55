//! Inspecting a recorded graph: how many op outputs it holds and how many values they occupy —
//! the activation memory a training step keeps alive from the forward pass until backward frees
//! it. Model-size estimates are checked against it.

use std::collections::HashSet;

use crate::tensor::{Tensor, TensorId};

/// The size of the graph recorded behind a tensor ([`Tensor::graph_size`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GraphSize {
    /// Recorded op outputs (non-leaf nodes), the tensor itself included.
    pub nodes: usize,
    /// `f32` values those outputs hold, each storage counted once (a reshape that shares its
    /// input's buffer adds a node but no values). Leaves — parameters and inputs — are not
    /// counted, nor what an op saves besides its output (indices, masks).
    pub values: usize,
}

impl GraphSize {
    /// [`GraphSize::values`] in bytes (4 per `f32`).
    pub fn bytes(&self) -> usize {
        self.values * 4
    }
}

impl Tensor {
    /// Walks the graph recorded behind this tensor (nothing if it is a leaf or backward has
    /// already freed the graph) and measures it.
    ///
    /// ```
    /// use nn_core::Tensor;
    /// let x = Tensor::ones(&[2, 3]).with_requires_grad();
    /// let y = (&x * &x).relu().reshape(&[6]).sum_all();
    /// let g = y.graph_size();
    /// assert_eq!(g.nodes, 4); // mul, relu, reshape (a view), sum
    /// assert_eq!(g.values, 6 + 6 + 1);
    /// ```
    pub fn graph_size(&self) -> GraphSize {
        let mut seen: HashSet<TensorId> = HashSet::new();
        let mut storages: HashSet<usize> = HashSet::new();
        let mut size = GraphSize::default();
        let mut stack = vec![self.clone()];
        while let Some(t) = stack.pop() {
            if !seen.insert(t.id()) {
                continue;
            }
            let guard = t.node.grad_fn.lock().expect("graph lock");
            let Some(grad_fn) = guard.as_ref() else {
                continue;
            };
            size.nodes += 1;
            let data = t.data();
            if storages.insert(data.as_ptr() as usize) {
                size.values += data.len();
            }
            stack.extend(grad_fn.inputs.iter().cloned());
        }
        size
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::with_no_grad;

    #[test]
    fn leaves_no_grad_and_freed_graphs_are_empty() {
        let x = Tensor::ones(&[4]).with_requires_grad();
        assert_eq!(x.graph_size(), GraphSize::default());
        let y = with_no_grad(|| (&x * &x).sum_all());
        assert_eq!(y.graph_size(), GraphSize::default());
        let y = (&x * &x).sum_all();
        assert_eq!(y.graph_size().nodes, 2);
        y.backward();
        assert_eq!(y.graph_size().nodes, 0);
    }

    #[test]
    fn shared_inputs_are_counted_once() {
        let x = Tensor::ones(&[3]).with_requires_grad();
        let h = x.relu();
        let y = (&h + &h).sum_all();
        assert_eq!(
            y.graph_size(),
            GraphSize {
                nodes: 3,
                values: 3 + 3 + 1
            }
        );
    }
}
