//! Reused scratch memory for the convolution kernels.
//!
//! Fresh pages are expensive (first touches of memory freed moments ago cost microseconds per
//! 4 KiB page on the machines we measured), so the unfolded-input (im2col) and Winograd-transformed
//! blocks live in a per-thread buffer that grows to the largest size a thread has needed and is
//! reused by every later call (the per-slice partial weight gradients come from the crate's
//! buffer pool, [`crate::buffer_pool`]). Bounded by the shapes in use: one block (a few samples' worth)
//! per thread, never a full unfolded copy of the batch.

use std::cell::Cell;

thread_local! {
    static WORKSPACE: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` with this thread's scratch buffer of at least `len` floats. The contents are
/// whatever an earlier call left there: `f` must write before it reads.
///
/// Re-entrant: a nested call on the same thread (e.g. a rayon task stolen while waiting) finds
/// the slot empty and uses a buffer of its own.
pub(crate) fn with_workspace<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let mut buf = WORKSPACE.with(Cell::take);
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    let r = f(&mut buf[..len]);
    WORKSPACE.with(|slot| {
        let other = slot.take();
        slot.set(if other.capacity() > buf.capacity() {
            other
        } else {
            buf
        });
    });
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_is_reused_and_reentrant() {
        let p1 = with_workspace(1000, |b| {
            b.fill(1.0);
            // Nested use gets its own buffer.
            with_workspace(10, |c| c.fill(2.0));
            assert!(b.iter().all(|&v| v == 1.0));
            b.as_ptr() as usize
        });
        let p2 = with_workspace(500, |b| b.as_ptr() as usize);
        assert_eq!(p1, p2);
    }
}
