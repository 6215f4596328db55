//! # nn-core
//!
//! Tensors, reverse-mode automatic differentiation, differentiable ops, layers, losses,
//! initialisation, gradient checking and checkpoints: everything needed to write, check and
//! train a neural network on the CPU.
//!
//! ```
//! use nn_core::{Tensor, rng::seeded};
//!
//! // A linear least-squares step by hand: loss = Σ (x·w − y)², one gradient-descent update.
//! let mut rng = seeded(0);
//! let x = Tensor::randn(&[8, 3], 0.0, 1.0, &mut rng);
//! let y = Tensor::randn(&[8, 1], 0.0, 1.0, &mut rng);
//! let w = Tensor::zeros(&[3, 1]).with_requires_grad();
//! let r = &x.matmul(&w) + &(&y * &Tensor::scalar(-1.0));
//! let loss = (&r * &r).sum_all();
//! loss.backward();
//! let g = w.grad().unwrap();
//! assert_eq!(g.shape(), &[3, 1]);
//! ```
//!
//! ## Contents
//! * [`tensor`] — [`Tensor`], the n-dimensional `f32` array with autograd.
//! * [`autograd`] — the graph, [`Backward`] for new ops, [`no_grad`].
//! * [`ops`] — differentiable ops (arithmetic with broadcasting, matmul, reductions, shape ops,
//!   activations), one per file.
//! * [`module`] — [`Module`], [`Parameter`], [`Buffer`], the explicit train/eval [`Mode`].
//! * [`layers`] — `Linear`, `Sequential`, activations, `Flatten`, `Maxout`, convolution, pooling,
//!   normalisation.
//! * [`loss`] — cross-entropy (hard/soft labels, label smoothing), SVM hinge, MSE.
//! * [`init`] — initialisation schemes and PyTorch's fan computation.
//! * [`checkpoint`] — safetensors state dicts compatible with PyTorch.
//! * [`atomic_write`] — the workspace's atomic file writing (temporary file, fsync, rename).
//! * [`fold`] — folding eval-mode BatchNorm into the preceding layer.
//! * [`infer`] — evaluation-mode inference without a graph, in chunks of the batch run depth
//!   first (each chunk's activations stay in cache from layer to layer).
//! * [`linalg`] — the single GEMM seam.
//! * [`buffer_pool`] — reuse of large buffers across training steps.
//! * [`replica`] — [`replica::ReplicaGroup`], the seam to data-parallel replicas (synchronised
//!   batch norm).
//! * [`gradcheck`] — finite-difference gradient checking.
//! * [`rng`] — the workspace's seeded random-number convention.
//! * [`simd`] — the instruction set the hand-written kernels run with (detected at run time).
//! * [`workers`] — running a whole step on a worker of the thread pool.

pub mod atomic_write;
pub mod autograd;
pub mod buffer_pool;
pub mod checkpoint;
pub mod fold;
pub mod gradcheck;
pub mod infer;
pub mod init;
pub mod layers;
pub mod linalg;
pub mod loss;
pub mod module;
pub mod ops;
pub mod replica;
pub mod rng;
pub mod simd;
pub mod tensor;
pub mod workers;

pub use autograd::{
    Backward, BackwardCtx, GraphSize, NoGradGuard, is_grad_enabled, no_grad, set_grad_enabled,
    with_no_grad,
};
pub use module::{Buffer, Ctx, Entry, Mode, Module, ParamGuard, Parameter};
pub use tensor::{Array, Data, GradKey, Tensor, TensorId};
