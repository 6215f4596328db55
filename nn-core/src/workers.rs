//! Running a whole step on one of rayon's worker threads.
//!
//! The kernels split their work with rayon. Called from a thread outside the pool (a program's
//! main thread), every parallel op injects its work into the pool, wakes the workers and puts
//! the caller to sleep until they are done, then wakes it again: two hand-overs per op, a few
//! hundred per training step of a ResNet. [`run`] moves the caller's closure onto a worker
//! instead, so the ops split their work from inside the pool (the other workers steal it) and
//! the serial code between ops runs there too. Measured on a ResNet-20 training step (batch 128,
//! 1×28×28, 2 threads, AMD EPYC family 26 model 2, 7 alternating rounds of `step_driver`):
//! 1.037x faster; evaluation steps gained nothing measurable (1.006x).
//!
//! Results are the same bits either way: which thread runs a piece of work never changes what
//! it computes. The caller's grad mode ([`crate::is_grad_enabled`], a per-thread switch) goes
//! with the closure, set on the worker whatever that worker's own mode is.
//!
//! ```
//! use nn_core::{Tensor, workers, with_no_grad};
//! let w = Tensor::ones(&[3]).with_requires_grad();
//! let y = with_no_grad(|| workers::run(|| &w * &w));
//! assert!(!y.requires_grad(), "the caller's no_grad holds on the worker");
//! ```

use crate::autograd::{is_grad_enabled, set_grad_enabled};

/// Runs `f` on a worker of the current rayon pool (the global pool, or the pool of an
/// enclosing `ThreadPool::install`) and returns its result; on a worker already, runs it in
/// place. `f` runs in the caller's grad mode, set explicitly on the worker (whose own mode may
/// differ: a worker waiting in a join picks up queued work, possibly inside another caller's
/// `no_grad` section) and restored after.
pub fn run<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let grad = is_grad_enabled();
    rayon::scope(move |_| {
        let _guard = set_grad_enabled(grad);
        f()
    })
}

/// Runs `f` inside a new rayon pool of `threads` threads: the thread-count tests compare its
/// results for different counts.
#[cfg(test)]
pub(crate) fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a test's thread pool")
        .install(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tensor;
    use crate::autograd::no_grad;
    use crate::ops::Conv2dOptions;

    #[test]
    fn runs_on_a_worker_and_keeps_the_grad_mode() {
        assert!(
            rayon::current_thread_index().is_none(),
            "tests run outside the pool"
        );
        let on_worker = run(|| rayon::current_thread_index().is_some());
        assert!(on_worker);
        let w = Tensor::ones(&[2]).with_requires_grad();
        assert!(run(|| &w * &w).requires_grad());
        let _off = no_grad();
        assert!(!run(|| &w * &w).requires_grad());
        assert!(!run(is_grad_enabled));
    }

    #[test]
    fn the_same_bits_as_on_the_caller() {
        let mut r = crate::rng::seeded(0);
        let x = Tensor::randn(&[4, 16, 12, 12], 0.0, 1.0, &mut r);
        let k = Tensor::randn(&[16, 16, 3, 3], 0.0, 0.1, &mut r).with_requires_grad();
        let step = || {
            let y = x.conv2d(&k, None, Conv2dOptions::default().with_padding(1));
            y.sum_all().backward();
            let g = k.grad().unwrap();
            k.zero_grad();
            (y.to_array(), g)
        };
        assert_eq!(step(), run(step));
    }

    /// A closure runs in its caller's grad mode even on a worker that is inside another
    /// caller's `no_grad` section (a worker waiting in a join steals whatever work is queued:
    /// here one thread evaluates without a graph in parallel chunks on the pool while another
    /// trains through `run`).
    #[test]
    fn a_stolen_closure_keeps_its_callers_grad_mode() {
        use rayon::prelude::*;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let x = Tensor::ones(&[64, 64]);
        let w = Tensor::ones(&[64, 64]).with_requires_grad();
        let (stop, off) = (AtomicBool::new(false), AtomicUsize::new(0));
        std::thread::scope(|s| {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    (0..8).into_par_iter().for_each(|_| {
                        let _g = no_grad();
                        let v: f32 = (0..4)
                            .into_par_iter()
                            .map(|_| x.matmul(&x).sum_all().item())
                            .sum();
                        assert!(v > 0.0);
                    });
                }
            });
            s.spawn(|| {
                for _ in 0..400 {
                    if !run(|| is_grad_enabled() && x.matmul(&w).requires_grad()) {
                        off.fetch_add(1, Ordering::Relaxed);
                    }
                }
                stop.store(true, Ordering::Relaxed);
            });
        });
        assert_eq!(
            off.into_inner(),
            0,
            "closures that ran without their caller's graph"
        );
    }
}
