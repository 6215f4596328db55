//! The backward pass: reverse topological traversal with gradient accumulation.

use std::collections::HashMap;

use ndarray::IxDyn;

use super::BackwardCtx;
use crate::tensor::{Array, Tensor, TensorId};

impl Tensor {
    /// Computes the gradient of this scalar with respect to every leaf of its graph that requires
    /// a gradient, adds it to the leaf's accumulated gradient ([`Tensor::grad`]) and frees the
    /// graph. Gradients accumulate across calls until cleared ([`Tensor::zero_grad`],
    /// [`crate::Parameter::zero_grad`]), as in PyTorch.
    ///
    /// # Panics
    /// If the tensor does not have exactly one element, or if its graph was already freed by an
    /// earlier backward pass.
    pub fn backward(&self) {
        assert_eq!(
            self.len(),
            1,
            "backward: the output must be a scalar, got shape {:?}; use backward_with for \
             non-scalar outputs",
            self.shape()
        );
        self.backward_with(Array::ones(IxDyn(self.shape())));
    }

    /// Backward from a non-scalar output with an explicit `dL/dself` (`grad`, of this tensor's
    /// shape). See [`Tensor::backward`].
    ///
    /// # Panics
    /// If `grad`'s shape differs from this tensor's, or the graph was already freed.
    pub fn backward_with(&self, grad: Array) {
        assert_eq!(
            grad.shape(),
            self.shape(),
            "backward_with: gradient shape {:?} differs from the output shape {:?}",
            grad.shape(),
            self.shape()
        );
        if !self.requires_grad() {
            return;
        }
        run_backward(self, grad, &mut |_| {});
    }

    /// [`Tensor::backward_with`] that calls `on_leaf(leaf)` each time a gradient has been added
    /// to a leaf's gradient slot (PyTorch's `register_post_accumulate_grad_hook`), in the
    /// order the backward pass reaches the leaves (a function of the graph only). A
    /// [`crate::Parameter`] read once in the forward pass is reached once, so its gradient is
    /// final when the hook sees it: data-parallel training starts averaging a parameter's
    /// gradient across processes from this hook while the rest of backward still runs. Tell
    /// leaves apart with [`Tensor::grad_key`] and [`crate::Parameter::grad_key`].
    ///
    /// ```
    /// use nn_core::{Array, Parameter, Tensor};
    /// use ndarray::IxDyn;
    /// let p = Parameter::new(Array::from_elem(IxDyn(&[2]), 3.0));
    /// let loss = (&p.tensor() * &p.tensor()).sum_all();
    /// let mut reached = Vec::new();
    /// loss.backward_with_hook(Array::ones(IxDyn(&[])), &mut |leaf| reached.push(leaf.grad_key()));
    /// assert_eq!(reached, [Some(p.grad_key()); 2]); // read twice: two leaves, one slot
    /// assert_eq!(p.grad().unwrap().as_slice().unwrap(), &[6.0, 6.0]); // d(p²)/dp = 2p
    /// ```
    ///
    /// # Panics
    /// As [`Tensor::backward_with`].
    pub fn backward_with_hook(&self, grad: Array, on_leaf: &mut dyn FnMut(&Tensor)) {
        assert_eq!(
            grad.shape(),
            self.shape(),
            "backward_with_hook: gradient shape {:?} differs from the output shape {:?}",
            grad.shape(),
            self.shape()
        );
        if !self.requires_grad() {
            return;
        }
        run_backward(self, grad, on_leaf);
    }
}

/// Counts, for every node reachable from `root` through nodes that require a gradient, how many
/// recorded edges point to it.
fn count_dependencies(root: &Tensor) -> HashMap<TensorId, usize> {
    let mut deps: HashMap<TensorId, usize> = HashMap::new();
    let mut stack = vec![root.clone()];
    deps.insert(root.id(), 0);
    while let Some(t) = stack.pop() {
        let guard = t.node.grad_fn.lock().expect("grad_fn lock");
        if let Some(gf) = guard.as_ref() {
            for input in gf.inputs.iter().filter(|i| i.requires_grad()) {
                let count = deps.entry(input.id()).or_insert(0);
                *count += 1;
                if *count == 1 {
                    stack.push(input.clone());
                }
            }
        } else if !t.is_leaf() {
            panic!(
                "backward: the graph of a tensor of shape {:?} was already freed by an earlier \
                 backward pass (each graph supports one backward pass; recompute the forward pass)",
                t.shape()
            );
        }
    }
    deps
}

fn accumulate(into: &mut Option<Array>, grad: Array) {
    match into {
        Some(existing) => {
            add_into(existing, &grad);
            crate::buffer_pool::recycle(grad);
        }
        None => *into = Some(grad),
    }
}

/// `acc += g`: over fixed chunks in parallel when both are contiguous in the same memory order
/// (a value used twice, as a residual block's input: one pass on every core instead of one);
/// elementwise, so the result does not depend on the number of threads.
fn add_into(acc: &mut Array, g: &Array) {
    use rayon::prelude::*;
    const CHUNK: usize = 1 << 14;
    if acc.shape() == g.shape() && acc.strides() == g.strides() && acc.len() >= 2 * CHUNK {
        let gs = g.as_slice_memory_order();
        if let (Some(a), Some(gs)) = (acc.as_slice_memory_order_mut(), gs) {
            a.par_chunks_mut(CHUNK)
                .zip(gs.par_chunks(CHUNK))
                .for_each(|(a, g)| a.iter_mut().zip(g).for_each(|(a, g)| *a += g));
            return;
        }
    }
    *acc += g;
}

fn run_backward(root: &Tensor, seed: Array, on_leaf: &mut dyn FnMut(&Tensor)) {
    let mut deps = count_dependencies(root);
    let mut pending: HashMap<TensorId, Array> = HashMap::new();
    pending.insert(root.id(), seed);
    let mut ready = vec![root.clone()];

    while let Some(t) = ready.pop() {
        let grad = pending
            .remove(&t.id())
            .expect("a ready node has its gradient");
        if let Some(slot) = &t.node.grad {
            accumulate(&mut slot.lock().expect("grad lock"), grad);
            on_leaf(&t);
            continue;
        }
        // Taking the backward function frees this node's part of the graph once it has run.
        let grad_fn = t
            .node
            .grad_fn
            .lock()
            .expect("grad_fn lock")
            .take()
            .expect("dependencies were counted on a live graph");
        let ctx = BackwardCtx {
            inputs: &grad_fn.inputs,
            output: &t.node.data,
        };
        let input_grads = if super::profile::is_enabled() {
            let t0 = std::time::Instant::now();
            let g = grad_fn.op.backward(&ctx, grad);
            let dt = t0.elapsed().as_secs_f64();
            super::profile::backward_done(grad_fn.op.name(), t.shape(), &grad_fn.inputs, dt);
            g
        } else {
            grad_fn.op.backward(&ctx, grad)
        };
        assert_eq!(
            input_grads.len(),
            grad_fn.inputs.len(),
            "backward of `{}` returned {} gradients for {} inputs",
            grad_fn.op.name(),
            input_grads.len(),
            grad_fn.inputs.len()
        );
        for (input, g) in grad_fn.inputs.iter().zip(input_grads) {
            if !input.requires_grad() {
                continue;
            }
            let g = g.unwrap_or_else(|| {
                panic!(
                    "backward of `{}` returned no gradient for an input that requires one",
                    grad_fn.op.name()
                )
            });
            assert_eq!(
                g.shape(),
                input.shape(),
                "backward of `{}` returned a gradient of shape {:?} for an input of shape {:?}",
                grad_fn.op.name(),
                g.shape(),
                input.shape()
            );
            let mut slot = pending.remove(&input.id());
            accumulate(&mut slot, g);
            pending.insert(input.id(), slot.expect("just accumulated"));
            let count = deps.get_mut(&input.id()).expect("counted input");
            *count -= 1;
            if *count == 0 {
                ready.push(input.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Tensor, no_grad};

    #[test]
    fn value_used_twice_accumulates() {
        // y = x * x + x  => dy/dx = 2x + 1
        let x = Tensor::from_vec(vec![1.0, -2.0, 3.0], &[3]).with_requires_grad();
        let y = (&(&x * &x) + &x).sum_all();
        y.backward();
        assert_eq!(x.grad().unwrap().as_slice().unwrap(), &[3.0, -3.0, 7.0]);
    }

    #[test]
    fn diamond_graph() {
        // a = 2x, b = 3x, y = a * b = 6x² => dy/dx = 12x
        let x = Tensor::from_vec(vec![1.0, 2.0], &[2]).with_requires_grad();
        let a = &x * &Tensor::full(&[2], 2.0);
        let b = &x * &Tensor::full(&[2], 3.0);
        (&a * &b).sum_all().backward();
        assert_eq!(x.grad().unwrap().as_slice().unwrap(), &[12.0, 24.0]);
    }

    /// A large value used twice (the parallel accumulation), row-major and channels-last:
    /// exactly the sum of the two contributions.
    #[test]
    fn large_value_used_twice_accumulates_exactly() {
        use crate::rng::seeded;
        for cl in [false, true] {
            let shape = [2, 3, 80, 100];
            let x = Tensor::randn(&shape, 0.0, 1.0, &mut seeded(1));
            let x = if cl { x.to_channels_last().detach() } else { x };
            let x = x.with_requires_grad();
            let a = Tensor::randn(&shape, 0.0, 1.0, &mut seeded(2));
            let b = Tensor::randn(&shape, 0.0, 1.0, &mut seeded(3));
            (&(&x * &a) + &(&x * &b)).sum_all().backward();
            let want = a.data() + b.data();
            assert_eq!(x.grad().unwrap(), want);
        }
    }

    #[test]
    fn gradients_accumulate_across_backward_calls_until_cleared() {
        let x = Tensor::from_vec(vec![1.0], &[1]).with_requires_grad();
        (&x * &x).sum_all().backward();
        (&x * &x).sum_all().backward();
        assert_eq!(x.grad().unwrap().as_slice().unwrap(), &[4.0]);
        x.zero_grad();
        assert!(x.grad().is_none());
    }

    #[test]
    fn backward_frees_the_graph() {
        let x = Tensor::from_vec(vec![1.0, 2.0], &[2]).with_requires_grad();
        let h = &x * &x;
        let y = h.sum_all();
        assert!(y.has_grad_fn() && h.has_grad_fn());
        y.backward();
        assert!(!y.has_grad_fn() && !h.has_grad_fn());
        // Only our own handle to x remains: the graph's references were dropped.
        assert_eq!(std::sync::Arc::strong_count(&x.node), 1);
    }

    #[test]
    #[should_panic(expected = "already freed")]
    fn second_backward_panics() {
        let x = Tensor::from_vec(vec![1.0], &[1]).with_requires_grad();
        let h = &x * &x;
        let y = &h * &h;
        y.sum_all().backward();
        y.sum_all().backward();
    }

    #[test]
    fn inputs_without_grad_get_none() {
        let x = Tensor::from_vec(vec![1.0, 2.0], &[2]).with_requires_grad();
        let c = Tensor::from_vec(vec![5.0, 6.0], &[2]);
        (&x * &c).sum_all().backward();
        assert_eq!(x.grad().unwrap().as_slice().unwrap(), &[5.0, 6.0]);
        assert!(c.grad().is_none());
    }

    #[test]
    fn no_grad_output_does_not_require_grad() {
        let x = Tensor::from_vec(vec![1.0], &[1]).with_requires_grad();
        let _g = no_grad();
        assert!(!(&x * &x).requires_grad());
    }

    #[test]
    fn hook_sees_each_leaf_once_its_gradient_is_in_the_slot() {
        use crate::{Array, Parameter};
        use ndarray::IxDyn;
        // loss = Σ (x·w1)·w2: w2's gradient is ready before w1's.
        let w1 = Parameter::new(Array::from_elem(IxDyn(&[3]), 2.0));
        let w2 = Parameter::new(Array::from_elem(IxDyn(&[3]), 5.0));
        let x = Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]);
        let loss = (&(&x * &w1.tensor()) * &w2.tensor()).sum_all();
        let mut seen = Vec::new();
        loss.backward_with_hook(Array::from_elem(IxDyn(&[]), 0.5), &mut |leaf| {
            // The gradient is already in the slot when the hook runs.
            seen.push((leaf.grad_key(), leaf.grad().unwrap().to_owned()));
        });
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].0, Some(w2.grad_key()));
        assert_eq!(seen[1].0, Some(w1.grad_key()));
        assert_ne!(w1.grad_key(), w2.grad_key());
        // The seed 0.5 scales every gradient: d/dw1 = 0.5·x·w2.
        assert_eq!(w1.grad().unwrap().as_slice().unwrap(), &[2.5, 5.0, 7.5]);
        assert_eq!(seen[1].1, w1.grad().unwrap());
        w1.set_grad(None);
        assert!(w1.grad().is_none());
    }

    #[test]
    fn deep_chain_does_not_overflow() {
        let x = Tensor::from_vec(vec![1.0], &[1]).with_requires_grad();
        let mut y = x.clone();
        for _ in 0..20_000 {
            y = &y * &Tensor::ones(&[1]);
        }
        y.sum_all().backward();
        assert_eq!(x.grad().unwrap()[[0]], 1.0);
    }
}
