//! [`Parameter`] (a trainable tensor with a gradient slot) and [`Buffer`] (persistent state such as
//! BatchNorm's running statistics, saved in checkpoints but not trained).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockWriteGuard};

use ndarray::{ArrayViewD, ArrayViewMutD};

use crate::tensor::{Array, Data, GradKey, GradSlot, Tensor};

struct ParamInner {
    value: RwLock<Data>,
    grad: GradSlot,
    frozen: AtomicBool,
}

/// A trainable tensor owned by a module.
///
/// Cloning a `Parameter` gives another handle to the same value and gradient (as when a module
/// and an optimizer adapter both hold it). Each forward pass reads the current value with
/// [`Parameter::tensor`], a graph leaf whose gradient backward adds to this parameter's gradient
/// slot ([`Parameter::grad`]). A **frozen** parameter reads as a leaf that does not require a
/// gradient: it receives no gradient and optimizers skip it.
///
/// Updates ([`Parameter::update`]) write in place when no live graph still shares the value (the
/// normal case after backward, which frees the graph) and copy on write otherwise, so a tensor
/// computed earlier never changes under a user's feet.
#[derive(Clone)]
pub struct Parameter(Arc<ParamInner>);

impl Parameter {
    /// A trainable parameter with initial value `value`.
    pub fn new(value: Array) -> Parameter {
        Parameter(Arc::new(ParamInner {
            value: RwLock::new(value.into_shared()),
            grad: Arc::new(Mutex::new(None)),
            frozen: AtomicBool::new(false),
        }))
    }

    /// The current value as a graph leaf (requires a gradient unless frozen). Cheap: the value is
    /// shared, not copied.
    pub fn tensor(&self) -> Tensor {
        Tensor::leaf_with_slot(self.value(), !self.is_frozen(), self.0.grad.clone())
    }

    /// The current value (shared, copy-on-write).
    pub fn value(&self) -> Data {
        self.0.value.read().expect("parameter lock").clone()
    }

    /// The shape of the value.
    pub fn shape(&self) -> Vec<usize> {
        self.0
            .value
            .read()
            .expect("parameter lock")
            .shape()
            .to_vec()
    }

    /// The number of scalars in the value.
    pub fn len(&self) -> usize {
        self.0.value.read().expect("parameter lock").len()
    }

    /// Whether the value has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replaces the value.
    ///
    /// # Panics
    /// If the new value's shape differs from the current one.
    pub fn set_value(&self, value: Array) {
        let mut guard = self.0.value.write().expect("parameter lock");
        assert_eq!(
            guard.shape(),
            value.shape(),
            "Parameter::set_value: new shape {:?} differs from the parameter's shape {:?}",
            value.shape(),
            guard.shape()
        );
        *guard = value.into_shared();
    }

    /// The accumulated gradient, if backward has reached this parameter since the last
    /// [`Parameter::zero_grad`].
    pub fn grad(&self) -> Option<Array> {
        self.0.grad.lock().expect("grad lock").clone()
    }

    /// Calls `f` with a view of the accumulated gradient (if any), without copying it.
    pub fn with_grad<T>(&self, f: impl FnOnce(Option<ArrayViewD<'_, f32>>) -> T) -> T {
        let grad = self.0.grad.lock().expect("grad lock");
        f(grad.as_ref().map(|g| g.view()))
    }

    /// Replaces the accumulated gradient (`None` clears it), e.g. with the gradient averaged
    /// over data-parallel replicas.
    ///
    /// # Panics
    /// If the gradient's shape differs from the parameter's.
    pub fn set_grad(&self, grad: Option<Array>) {
        if let Some(g) = &grad {
            let shape = self.shape();
            assert_eq!(
                g.shape(),
                shape.as_slice(),
                "Parameter::set_grad: gradient shape {:?} differs from the parameter's shape {:?}",
                g.shape(),
                shape
            );
        }
        let old = std::mem::replace(&mut *self.0.grad.lock().expect("grad lock"), grad);
        if let Some(g) = old {
            crate::buffer_pool::recycle(g);
        }
    }

    /// The identity of this parameter's gradient slot: equal to [`Tensor::grad_key`] of every
    /// leaf read with [`Parameter::tensor`] (see [`Tensor::backward_with_hook`]).
    pub fn grad_key(&self) -> GradKey {
        GradKey::of(&self.0.grad)
    }

    /// Clears the accumulated gradient (PyTorch's `zero_grad(set_to_none=True)`).
    pub fn zero_grad(&self) {
        let old = self.0.grad.lock().expect("grad lock").take();
        // The memory serves the next backward pass (see `crate::buffer_pool`).
        if let Some(g) = old {
            crate::buffer_pool::recycle(g);
        }
    }

    /// Whether the parameter is frozen (receives no gradient, is not updated).
    pub fn is_frozen(&self) -> bool {
        self.0.frozen.load(Ordering::Relaxed)
    }

    /// Freezes (`true`) or unfreezes (`false`) the parameter. Freezing also clears its gradient.
    pub fn set_frozen(&self, frozen: bool) {
        self.0.frozen.store(frozen, Ordering::Relaxed);
        if frozen {
            self.zero_grad();
        }
    }

    /// Calls `f` with a mutable view of the value and a view of the gradient (if any), in place.
    /// This is how optimizers update parameters.
    pub fn update<T>(
        &self,
        f: impl FnOnce(ArrayViewMutD<'_, f32>, Option<ArrayViewD<'_, f32>>) -> T,
    ) -> T {
        let mut value = self.0.value.write().expect("parameter lock");
        let grad = self.0.grad.lock().expect("grad lock");
        f(value.view_mut(), grad.as_ref().map(|g| g.view()))
    }

    /// Locks the parameter for an update that spans several parameters at once (e.g. an
    /// optimizer step with global-norm clipping): the returned guard gives mutable access to the
    /// value and read access to the gradient until dropped.
    pub fn lock(&self) -> ParamGuard<'_> {
        ParamGuard {
            value: self.0.value.write().expect("parameter lock"),
            grad: self.0.grad.lock().expect("grad lock"),
        }
    }

    /// Whether two handles refer to the same parameter.
    pub fn same_as(&self, other: &Parameter) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Exclusive access to one parameter's value and gradient; see [`Parameter::lock`].
pub struct ParamGuard<'a> {
    value: RwLockWriteGuard<'a, Data>,
    grad: std::sync::MutexGuard<'a, Option<Array>>,
}

impl ParamGuard<'_> {
    /// The value (in place; copies first only if a live graph still shares it) and the gradient.
    pub fn value_and_grad(&mut self) -> (ArrayViewMutD<'_, f32>, Option<ArrayViewD<'_, f32>>) {
        (self.value.view_mut(), self.grad.as_ref().map(|g| g.view()))
    }
}

impl std::fmt::Debug for Parameter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parameter")
            .field("shape", &self.shape())
            .field("frozen", &self.is_frozen())
            .finish()
    }
}

/// Persistent, non-trainable module state (e.g. BatchNorm's running mean and variance): part of
/// the state dict and of checkpoints, never given a gradient. Clones share the same value.
///
/// Values are held as `f32`; an *integer* buffer (BatchNorm's `num_batches_tracked`, a counter
/// that PyTorch keeps as `int64`) holds whole numbers and is written to checkpoints as `I64`
/// ([`crate::checkpoint::save`]), so that PyTorch loads it with its own dtype.
#[derive(Clone)]
pub struct Buffer(Arc<RwLock<Array>>, bool);

impl Buffer {
    /// A buffer holding `value`.
    pub fn new(value: Array) -> Buffer {
        Buffer(Arc::new(RwLock::new(value)), false)
    }

    /// An integer buffer (a counter such as `num_batches_tracked`) holding `value`, whole numbers
    /// as `f32`; checkpoints store it as `I64`.
    pub fn new_integer(value: Array) -> Buffer {
        Buffer(Arc::new(RwLock::new(value)), true)
    }

    /// Whether this is an integer buffer (see [`Buffer::new_integer`]).
    pub fn is_integer(&self) -> bool {
        self.1
    }

    /// A copy of the value.
    pub fn value(&self) -> Array {
        self.0.read().expect("buffer lock").clone()
    }

    /// The shape of the value.
    pub fn shape(&self) -> Vec<usize> {
        self.0.read().expect("buffer lock").shape().to_vec()
    }

    /// Replaces the value.
    ///
    /// # Panics
    /// If the new value's shape differs from the current one.
    pub fn set_value(&self, value: Array) {
        let mut guard = self.0.write().expect("buffer lock");
        assert_eq!(
            guard.shape(),
            value.shape(),
            "Buffer::set_value: new shape {:?} differs from the buffer's shape {:?}",
            value.shape(),
            guard.shape()
        );
        *guard = value;
    }

    /// Calls `f` with read access to the value.
    pub fn read<T>(&self, f: impl FnOnce(ArrayViewD<'_, f32>) -> T) -> T {
        f(self.0.read().expect("buffer lock").view())
    }

    /// Calls `f` with write access to the value, in place.
    pub fn update<T>(&self, f: impl FnOnce(ArrayViewMutD<'_, f32>) -> T) -> T {
        f(self.0.write().expect("buffer lock").view_mut())
    }
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buffer")
            .field("shape", &self.shape())
            .field("integer", &self.1)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::IxDyn;

    #[test]
    fn gradient_reaches_the_parameter_and_update_is_in_place() {
        let p = Parameter::new(Array::from_elem(IxDyn(&[3]), 2.0));
        let loss = (&p.tensor() * &p.tensor()).sum_all();
        loss.backward();
        assert_eq!(p.grad().unwrap().as_slice().unwrap(), &[4.0, 4.0, 4.0]);
        let before = p.value().as_ptr();
        p.update(|mut w, g| w.scaled_add(-0.5, &g.unwrap()));
        assert_eq!(p.value().as_slice().unwrap(), &[0.0, 0.0, 0.0]);
        assert_eq!(
            before,
            p.value().as_ptr(),
            "update after backward must be in place"
        );
    }

    #[test]
    fn update_copies_on_write_while_a_graph_holds_the_value() {
        let p = Parameter::new(Array::from_elem(IxDyn(&[2]), 1.0));
        let held = p.tensor();
        p.update(|mut w, _| w.fill(5.0));
        assert_eq!(held.to_vec(), vec![1.0, 1.0]);
        assert_eq!(p.value().as_slice().unwrap(), &[5.0, 5.0]);
    }

    #[test]
    fn frozen_parameters_get_no_gradient() {
        let p = Parameter::new(Array::from_elem(IxDyn(&[2]), 1.0));
        let q = Parameter::new(Array::from_elem(IxDyn(&[2]), 3.0));
        p.set_frozen(true);
        (&p.tensor() * &q.tensor()).sum_all().backward();
        assert!(p.grad().is_none());
        assert_eq!(q.grad().unwrap().as_slice().unwrap(), &[1.0, 1.0]);
    }

    #[test]
    fn buffers_hold_state() {
        let b = Buffer::new(Array::zeros(IxDyn(&[2])));
        b.update(|mut v| v.fill(1.5));
        assert_eq!(b.value().as_slice().unwrap(), &[1.5, 1.5]);
        assert_eq!(b.read(|v| v.sum()), 3.0);
    }
}
