//! Reverse-mode automatic differentiation, define-by-run.
//!
//! Every op computes its value eagerly and, when gradients are enabled ([`is_grad_enabled`]) and
//! one of its inputs requires a gradient, records a [`Backward`] implementation together with its
//! inputs ([`Tensor::from_op`]). [`Tensor::backward`] walks the recorded graph from a scalar in
//! reverse topological order, calls each op's backward once with the summed gradient of its
//! output (so a value used twice accumulates both contributions) and adds the gradients that reach
//! leaves into their gradient slots ([`Tensor::grad`]).
//!
//! Backward frees the graph as it goes (PyTorch's `retain_graph=False`): every visited node drops
//! its backward function, its saved values and its references to its inputs, so the memory of a
//! training step is returned as soon as the step's backward pass ends.
//!
//! [`Tensor::graph_size`] measures a recorded graph (the activation memory a step holds).
//!
//! New differentiable ops outside this crate implement [`Backward`] and call
//! [`Tensor::from_op`]; `nn-regularize` does so for its regularisers.

mod backward;
mod inspect;
mod no_grad;
pub mod profile;

pub use inspect::GraphSize;
pub use no_grad::{NoGradGuard, is_grad_enabled, no_grad, set_grad_enabled, with_no_grad};

use crate::tensor::{Array, Data, Tensor};

/// The backward function of a differentiable op: from the gradient of the loss with respect to
/// the op's output, the gradients with respect to its inputs (the vector–Jacobian product).
pub trait Backward: Send + Sync + 'static {
    /// A short name for error messages and graph inspection (e.g. `"matmul"`).
    fn name(&self) -> &'static str;

    /// Returns one entry per input: `Some(dL/dinput)` with exactly the input's shape, or `None`
    /// for an input that does not need a gradient ([`BackwardCtx::needs_grad`] is false) — ops
    /// should skip that work. `grad_out` is `dL/doutput`, owned so that it can be reused in place.
    fn backward(&self, ctx: &BackwardCtx<'_>, grad_out: Array) -> Vec<Option<Array>>;
}

/// What an op's backward function can see: its inputs and its own output value.
pub struct BackwardCtx<'a> {
    /// The op's inputs, in the order given to [`Tensor::from_op`].
    pub inputs: &'a [Tensor],
    /// The op's output value (useful for ops such as `exp` or `sigmoid`).
    pub output: &'a Data,
}

impl BackwardCtx<'_> {
    /// Whether input `i` needs a gradient.
    pub fn needs_grad(&self, i: usize) -> bool {
        self.inputs[i].requires_grad()
    }
}

/// A recorded op: its inputs and its backward function.
pub(crate) struct GradFn {
    pub(crate) inputs: Vec<Tensor>,
    pub(crate) op: Box<dyn Backward>,
}

impl Tensor {
    /// Creates the output of an op. When gradients are enabled and any input requires a gradient,
    /// the output records `op` and `inputs` so that backward can reach them; otherwise the output
    /// is a constant leaf and `op` is dropped (this is the no-graph inference path).
    ///
    /// This is the extension point for new differentiable ops:
    ///
    /// ```
    /// use nn_core::{Array, Backward, BackwardCtx, Tensor};
    ///
    /// /// y = 3x
    /// struct Triple;
    /// impl Backward for Triple {
    ///     fn name(&self) -> &'static str { "triple" }
    ///     fn backward(&self, _ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
    ///         vec![Some(g * 3.0)]
    ///     }
    /// }
    /// let x = Tensor::from_vec(vec![1.0, 2.0], &[2]).with_requires_grad();
    /// let y = Tensor::from_op(x.data().map(|v| 3.0 * v), vec![x.clone()], Triple);
    /// y.sum_all().backward();
    /// assert_eq!(x.grad().unwrap().as_slice().unwrap(), &[3.0, 3.0]);
    /// ```
    pub fn from_op(value: Array, inputs: Vec<Tensor>, op: impl Backward) -> Tensor {
        Tensor::from_op_shared(value.into_shared(), inputs, op)
    }

    /// As [`Tensor::from_op`] for a value that is already shared (e.g. a reshape view's data).
    pub fn from_op_shared(value: Data, inputs: Vec<Tensor>, op: impl Backward) -> Tensor {
        if profile::is_enabled() {
            profile::forward_done(op.name(), value.shape(), &inputs);
        }
        if is_grad_enabled() && inputs.iter().any(Tensor::requires_grad) {
            Tensor::make(
                value,
                true,
                Some(GradFn {
                    inputs,
                    op: Box::new(op),
                }),
            )
        } else {
            Tensor::make(value, false, None)
        }
    }
}
