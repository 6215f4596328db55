//! Reused scratch memory for the convolution kernels.
//!
//! Fresh pages are expensive (first touches of memory freed moments ago cost microseconds per
//! 4 KiB page on the machines we measured), so the unfolded-input (im2col) matrices live in a
//! per-thread buffer that grows to the largest size a thread has needed and is reused by every
//! later call, and the per-slice partial weight gradients come from a small shared pool. Both are
//! bounded by the shapes in use: one im2col block (a few samples' worth) per thread, never a full
//! unfolded copy of the batch.

use std::cell::Cell;
use std::sync::Mutex;

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

/// Pooled buffers, kept between calls (at most [`POOL_MAX_BUFFERS`] of them).
static POOL: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());
const POOL_MAX_BUFFERS: usize = 16;

/// A buffer of exactly `len` floats from the pool (contents unspecified), or a new one.
pub(crate) fn take_buffer(len: usize) -> Vec<f32> {
    let mut pool = POOL.lock().expect("conv workspace pool");
    // Prefer the smallest pooled buffer that is large enough.
    let best = pool
        .iter()
        .enumerate()
        .filter(|(_, b)| b.capacity() >= len)
        .min_by_key(|(_, b)| b.capacity())
        .map(|(i, _)| i);
    let mut buf = match best {
        Some(i) => pool.swap_remove(i),
        None => pool.pop().unwrap_or_default(),
    };
    drop(pool);
    if buf.len() > len {
        buf.truncate(len);
    } else {
        buf.resize(len, 0.0);
    }
    buf
}

/// Returns a buffer to the pool for reuse.
pub(crate) fn give_back(buf: Vec<f32>) {
    let mut pool = POOL.lock().expect("conv workspace pool");
    if pool.len() < POOL_MAX_BUFFERS {
        pool.push(buf);
    }
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

    #[test]
    fn pool_hands_out_exact_lengths() {
        let b = take_buffer(100);
        assert_eq!(b.len(), 100);
        give_back(b);
        let c = take_buffer(50);
        assert_eq!(c.len(), 50);
        give_back(c);
    }
}
