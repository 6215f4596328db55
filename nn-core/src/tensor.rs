//! The [`Tensor`]: an n-dimensional `f32` array with an optional place in the autograd graph.
//!
//! A tensor is a reference-counted handle: cloning it is cheap (one atomic increment) and clones
//! share the same node. The value is an [`ndarray::ArcArray`] ([`Data`]), so the value of a leaf
//! can be shared with a [`crate::Parameter`] without a copy. Tensors are `Send + Sync`: models,
//! ensembles and tuning trials can train on several threads at once.

use std::fmt;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ndarray::{ArcArray, ArrayD, IxDyn};
use ndarray_rand::RandomExt;
use rand::Rng;
use rand_distr::{Normal, Uniform};

use crate::autograd::GradFn;

/// An owned n-dimensional `f32` array: what ops compute and what gradients are.
pub type Array = ArrayD<f32>;

/// The shared, copy-on-write value of a tensor.
pub type Data = ArcArray<f32, IxDyn>;

/// A slot that receives the accumulated gradient of a leaf (shared with a [`crate::Parameter`]).
pub(crate) type GradSlot = Arc<Mutex<Option<Array>>>;

/// A process-unique identifier of a tensor node (used to key gradients during backward).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(u64);

impl TensorId {
    fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        TensorId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// The identity of a gradient slot: [`Tensor::grad_key`] of a leaf equals
/// [`crate::Parameter::grad_key`] of the parameter it was read from, so a hook of
/// [`Tensor::backward_with_hook`] can tell which parameter's gradient has arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GradKey(usize);

impl GradKey {
    pub(crate) fn of(slot: &GradSlot) -> GradKey {
        GradKey(Arc::as_ptr(slot) as usize)
    }
}

/// Tensor nodes alive in this process (see [`live_tensor_count`]).
static LIVE_NODES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The number of tensor nodes alive in this process: a diagnostic for leak tests (a training loop
/// whose graphs are freed keeps it constant from one step to the next; see `tests/memory.rs`).
pub fn live_tensor_count() -> usize {
    LIVE_NODES.load(Ordering::Relaxed)
}

pub(crate) struct Node {
    pub(crate) id: TensorId,
    /// The value; taken (and returned to [`crate::buffer_pool`] if unshared) when the node is dropped.
    pub(crate) data: ManuallyDrop<Data>,
    pub(crate) requires_grad: AtomicBool,
    /// How this tensor was computed; `None` for leaves and after backward has freed the graph.
    pub(crate) grad_fn: Mutex<Option<GradFn>>,
    /// `Some` for leaves: where backward accumulates their gradient.
    pub(crate) grad: Option<GradSlot>,
}

impl Drop for Node {
    /// Returns a large value that no other handle shares to the buffer pool ([`crate::buffer_pool`]),
    /// and dismantles an unused graph iteratively, so that dropping a very deep graph that never
    /// ran backward cannot overflow the stack.
    fn drop(&mut self) {
        LIVE_NODES.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: `data` is taken exactly once, here, and the node is never used afterwards.
        let data = unsafe { ManuallyDrop::take(&mut self.data) };
        crate::buffer_pool::recycle_data(data);
        let Some(grad_fn) = self.grad_fn.get_mut().ok().and_then(Option::take) else {
            return;
        };
        let mut stack = grad_fn.inputs;
        while let Some(t) = stack.pop() {
            if let Ok(mut node) = Arc::try_unwrap(t.node)
                && let Some(gf) = node.grad_fn.get_mut().ok().and_then(Option::take)
            {
                stack.extend(gf.inputs);
            }
        }
    }
}

/// An n-dimensional `f32` tensor that records the operations applied to it for reverse-mode
/// automatic differentiation (define-by-run, as in PyTorch).
///
/// * A **leaf** is created by a constructor ([`Tensor::from_array`], [`Tensor::zeros`], ...) or by
///   [`crate::Parameter::tensor`]. Call [`Tensor::set_requires_grad`] (or
///   [`Tensor::with_requires_grad`]) to have [`Tensor::backward`] accumulate its gradient, read
///   with [`Tensor::grad`].
/// * A **non-leaf** is the result of an op on at least one tensor that requires a gradient,
///   computed while gradients are enabled (see [`crate::no_grad`]).
///
/// ```
/// use nn_core::Tensor;
/// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]).with_requires_grad();
/// let y = (&x * &x).sum_all(); // y = Σ x²
/// y.backward();
/// assert_eq!(x.grad().unwrap().as_slice().unwrap(), &[2.0, 4.0, 6.0]);
/// ```
#[derive(Clone)]
pub struct Tensor {
    pub(crate) node: Arc<Node>,
}

impl Tensor {
    // ----- construction ------------------------------------------------------------------------

    pub(crate) fn make(data: Data, requires_grad: bool, grad_fn: Option<GradFn>) -> Tensor {
        LIVE_NODES.fetch_add(1, Ordering::Relaxed);
        let is_leaf = grad_fn.is_none();
        Tensor {
            node: Arc::new(Node {
                id: TensorId::fresh(),
                data: ManuallyDrop::new(data),
                requires_grad: AtomicBool::new(requires_grad),
                grad_fn: Mutex::new(grad_fn),
                grad: is_leaf.then(|| Arc::new(Mutex::new(None))),
            }),
        }
    }

    /// A leaf whose gradient is accumulated into `slot` (used by [`crate::Parameter`]).
    pub(crate) fn leaf_with_slot(data: Data, requires_grad: bool, slot: GradSlot) -> Tensor {
        LIVE_NODES.fetch_add(1, Ordering::Relaxed);
        Tensor {
            node: Arc::new(Node {
                id: TensorId::fresh(),
                data: ManuallyDrop::new(data),
                requires_grad: AtomicBool::new(requires_grad),
                grad_fn: Mutex::new(None),
                grad: Some(slot),
            }),
        }
    }

    /// A leaf tensor holding `array` (no copy). It does not require a gradient.
    pub fn from_array(array: Array) -> Tensor {
        Tensor::make(array.into_shared(), false, None)
    }

    /// A leaf tensor sharing `data` (no copy). It does not require a gradient.
    pub fn from_data(data: Data) -> Tensor {
        Tensor::make(data, false, None)
    }

    /// A leaf tensor from row-major `values` and a `shape`.
    ///
    /// # Panics
    /// If `values.len()` is not the product of `shape`.
    pub fn from_vec(values: Vec<f32>, shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        assert_eq!(
            values.len(),
            n,
            "Tensor::from_vec: {} values do not fill shape {:?} ({} elements)",
            values.len(),
            shape,
            n
        );
        Tensor::from_array(Array::from_shape_vec(IxDyn(shape), values).expect("checked length"))
    }

    /// A 0-dimensional tensor holding `value`.
    pub fn scalar(value: f32) -> Tensor {
        Tensor::from_array(Array::from_elem(IxDyn(&[]), value))
    }

    /// A tensor of `shape` filled with `value`.
    pub fn full(shape: &[usize], value: f32) -> Tensor {
        Tensor::from_array(Array::from_elem(IxDyn(shape), value))
    }

    /// A tensor of `shape` filled with zeros.
    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 0.0)
    }

    /// A tensor of `shape` filled with ones.
    pub fn ones(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 1.0)
    }

    /// Samples from the normal distribution N(`mean`, `std`²), element by element in row-major
    /// order, from the explicit random number generator `rng` (see [`crate::rng`]).
    ///
    /// # Panics
    /// If `std` is negative or not finite.
    pub fn randn<R: Rng + ?Sized>(shape: &[usize], mean: f32, std: f32, rng: &mut R) -> Tensor {
        Tensor::from_array(random_normal(shape, mean, std, rng))
    }

    /// Samples from the uniform distribution U[`low`, `high`), element by element in row-major
    /// order, from the explicit random number generator `rng` (see [`crate::rng`]).
    ///
    /// # Panics
    /// If `low >= high` or either bound is not finite.
    pub fn rand_uniform<R: Rng + ?Sized>(
        shape: &[usize],
        low: f32,
        high: f32,
        rng: &mut R,
    ) -> Tensor {
        Tensor::from_array(random_uniform(shape, low, high, rng))
    }

    // ----- reading -----------------------------------------------------------------------------

    /// The value of this tensor.
    pub fn data(&self) -> &Data {
        &self.node.data
    }

    /// A copy of the value as an owned array.
    pub fn to_array(&self) -> Array {
        self.data().to_owned()
    }

    /// The values in row-major order.
    pub fn to_vec(&self) -> Vec<f32> {
        self.node.data.iter().copied().collect()
    }

    /// The value of a tensor with exactly one element.
    ///
    /// # Panics
    /// If the tensor does not have exactly one element.
    pub fn item(&self) -> f32 {
        assert_eq!(
            self.len(),
            1,
            "Tensor::item: tensor of shape {:?} does not have exactly one element",
            self.shape()
        );
        *self.node.data.iter().next().expect("one element")
    }

    /// The shape (size of every axis).
    pub fn shape(&self) -> &[usize] {
        self.node.data.shape()
    }

    /// The number of axes.
    pub fn ndim(&self) -> usize {
        self.node.data.ndim()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.node.data.len()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// This node's identifier (stable for the life of the tensor and its clones).
    pub fn id(&self) -> TensorId {
        self.node.id
    }

    // ----- autograd ----------------------------------------------------------------------------

    /// Whether backward computes a gradient for this tensor.
    pub fn requires_grad(&self) -> bool {
        self.node.requires_grad.load(Ordering::Relaxed)
    }

    /// Whether this tensor is a leaf of the graph (not the result of a recorded op).
    pub fn is_leaf(&self) -> bool {
        self.node.grad.is_some()
    }

    /// Sets whether backward accumulates a gradient into this leaf.
    ///
    /// # Panics
    /// On a non-leaf tensor (its flag follows from its inputs), as in PyTorch.
    pub fn set_requires_grad(&self, requires_grad: bool) {
        assert!(
            self.is_leaf(),
            "Tensor::set_requires_grad: only leaf tensors can change requires_grad; use detach() \
             to make a leaf from a computed tensor"
        );
        self.node
            .requires_grad
            .store(requires_grad, Ordering::Relaxed);
    }

    /// Builder form of [`Tensor::set_requires_grad`]`(true)`.
    pub fn with_requires_grad(self) -> Tensor {
        self.set_requires_grad(true);
        self
    }

    /// A new leaf sharing this tensor's value (no copy) and cut from the graph.
    pub fn detach(&self) -> Tensor {
        Tensor::from_data(self.data().clone())
    }

    /// The identity of this leaf's gradient slot (`None` for a non-leaf); see [`GradKey`].
    pub fn grad_key(&self) -> Option<GradKey> {
        self.node.grad.as_ref().map(GradKey::of)
    }

    /// The gradient accumulated into this leaf by [`Tensor::backward`], if any.
    pub fn grad(&self) -> Option<Array> {
        self.node
            .grad
            .as_ref()
            .and_then(|slot| slot.lock().expect("grad lock").clone())
    }

    /// Clears the accumulated gradient of this leaf (PyTorch's `zero_grad(set_to_none=True)`);
    /// its memory goes back to the buffer pool ([`crate::buffer_pool`]) for the next backward pass.
    pub fn zero_grad(&self) {
        if let Some(slot) = &self.node.grad {
            let old = slot.lock().expect("grad lock").take();
            if let Some(g) = old {
                crate::buffer_pool::recycle(g);
            }
        }
    }

    /// Whether the node still holds its backward function (false for leaves and for tensors whose
    /// graph was freed by a backward pass).
    pub fn has_grad_fn(&self) -> bool {
        self.node.grad_fn.lock().expect("grad_fn lock").is_some()
    }

    /// The name of the op that produced this tensor, if its graph is still alive.
    pub fn op_name(&self) -> Option<&'static str> {
        self.node
            .grad_fn
            .lock()
            .expect("grad_fn lock")
            .as_ref()
            .map(|g| g.op.name())
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tensor")
            .field("shape", &self.shape())
            .field("requires_grad", &self.requires_grad())
            .field("op", &self.op_name())
            .field("data", &self.node.data)
            .finish()
    }
}

/// Samples an array from N(`mean`, `std`²) in row-major order.
pub(crate) fn random_normal<R: Rng + ?Sized>(
    shape: &[usize],
    mean: f32,
    std: f32,
    rng: &mut R,
) -> Array {
    assert!(
        std.is_finite() && std >= 0.0 && mean.is_finite(),
        "randn: mean {mean} and std {std} must be finite and std >= 0"
    );
    if std == 0.0 {
        return Array::from_elem(IxDyn(shape), mean);
    }
    let dist = Normal::new(mean, std).expect("validated parameters");
    Array::random_using(IxDyn(shape), dist, rng)
}

/// Samples an array from U[`low`, `high`) in row-major order.
pub(crate) fn random_uniform<R: Rng + ?Sized>(
    shape: &[usize],
    low: f32,
    high: f32,
    rng: &mut R,
) -> Array {
    assert!(
        low.is_finite() && high.is_finite() && low < high,
        "rand_uniform: bounds [{low}, {high}) must be finite with low < high"
    );
    let dist = Uniform::new(low, high).expect("validated bounds");
    Array::random_using(IxDyn(shape), dist, rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::seeded;

    #[test]
    fn tensors_are_send_sync_and_cheap_to_clone() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Tensor>();
        let t = Tensor::zeros(&[1000]);
        let u = t.clone();
        assert_eq!(t.id(), u.id());
        assert!(std::ptr::eq(t.data().as_ptr(), u.data().as_ptr()));
    }

    #[test]
    fn constructors() {
        let t = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        assert_eq!(t.shape(), &[2, 3]);
        assert_eq!(t.to_vec(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(Tensor::ones(&[2, 2]).to_vec(), vec![1.0; 4]);
        assert_eq!(Tensor::full(&[3], 7.0).to_vec(), vec![7.0; 3]);
        assert_eq!(Tensor::scalar(2.5).item(), 2.5);
        assert_eq!(Tensor::scalar(2.5).ndim(), 0);
    }

    #[test]
    #[should_panic(expected = "do not fill shape")]
    fn from_vec_checks_length() {
        let _ = Tensor::from_vec(vec![1.0, 2.0], &[3]);
    }

    #[test]
    fn random_constructors_are_seeded() {
        let a = Tensor::randn(&[100], 0.0, 1.0, &mut seeded(7));
        let b = Tensor::randn(&[100], 0.0, 1.0, &mut seeded(7));
        let c = Tensor::randn(&[100], 0.0, 1.0, &mut seeded(8));
        assert_eq!(a.to_vec(), b.to_vec());
        assert_ne!(a.to_vec(), c.to_vec());
        let u = Tensor::rand_uniform(&[1000], -2.0, 3.0, &mut seeded(1));
        assert!(u.to_vec().iter().all(|&v| (-2.0..3.0).contains(&v)));
        let n = Tensor::randn(&[20000], 1.0, 2.0, &mut seeded(3)).to_vec();
        let mean = n.iter().sum::<f32>() / n.len() as f32;
        let var = n.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n.len() as f32;
        assert!((mean - 1.0).abs() < 0.05, "mean {mean}");
        assert!((var.sqrt() - 2.0).abs() < 0.05, "std {}", var.sqrt());
    }
}
