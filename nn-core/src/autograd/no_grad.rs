//! Disabling graph construction (inference and parameter updates).
//!
//! The switch is per thread, so one thread can evaluate a model while another trains one.

use std::cell::Cell;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops on this thread currently record the graph.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// Restores the previous grad mode when dropped; created by [`no_grad`].
#[must_use = "gradients are disabled only while the guard is alive"]
pub struct NoGradGuard {
    previous: bool,
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

/// Disables graph construction on this thread until the returned guard is dropped (PyTorch's
/// `torch.no_grad()`). Ops then build no graph and keep no saved values.
///
/// ```
/// use nn_core::{Tensor, no_grad};
/// let w = Tensor::ones(&[2]).with_requires_grad();
/// let y = {
///     let _guard = no_grad();
///     &w * &w
/// };
/// assert!(!y.requires_grad());
/// ```
pub fn no_grad() -> NoGradGuard {
    let previous = GRAD_ENABLED.with(|g| g.replace(false));
    NoGradGuard { previous }
}

/// Sets whether ops on this thread record the graph until the returned guard is dropped, which
/// restores the previous mode (PyTorch's `torch.set_grad_enabled`). Work handed to another
/// thread sets its caller's mode with it ([`crate::workers::run`]): a pool's worker may be
/// inside someone else's `no_grad` section when it picks the work up.
///
/// ```
/// use nn_core::{is_grad_enabled, no_grad, set_grad_enabled};
/// let _off = no_grad();
/// {
///     let _on = set_grad_enabled(true);
///     assert!(is_grad_enabled());
/// }
/// assert!(!is_grad_enabled());
/// ```
pub fn set_grad_enabled(enabled: bool) -> NoGradGuard {
    let previous = GRAD_ENABLED.with(|g| g.replace(enabled));
    NoGradGuard { previous }
}

/// Runs `f` with graph construction disabled on this thread.
pub fn with_no_grad<T>(f: impl FnOnce() -> T) -> T {
    let _guard = no_grad();
    f()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tensor;

    #[test]
    fn guards_nest_and_restore() {
        assert!(is_grad_enabled());
        {
            let _a = no_grad();
            assert!(!is_grad_enabled());
            {
                let _b = no_grad();
                assert!(!is_grad_enabled());
            }
            assert!(!is_grad_enabled());
        }
        assert!(is_grad_enabled());
    }

    #[test]
    fn no_graph_is_built_under_no_grad() {
        let x = Tensor::ones(&[3]).with_requires_grad();
        let y = with_no_grad(|| (&x * &x).sum_all());
        assert!(!y.requires_grad());
        assert!(!y.has_grad_fn());
        let z = (&x * &x).sum_all();
        assert!(z.requires_grad());
        assert!(z.has_grad_fn());
    }

    #[test]
    fn grad_mode_is_per_thread() {
        let _g = no_grad();
        let other = std::thread::spawn(is_grad_enabled).join().unwrap();
        assert!(other);
        assert!(!is_grad_enabled());
    }
}
