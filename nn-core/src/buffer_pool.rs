//! A process-wide pool of large `f32` buffers, reused across training steps.
//!
//! A training step allocates the same large arrays every time: activations, their gradients,
//! weight gradients, GEMM temporaries. Returning them to the system allocator and asking again
//! costs page faults on every step (about 10 µs per fresh 4 KiB page on the machines this crate
//! is tuned on: a 12 MiB weight gradient is ~30 ms of faults). The pool keeps such buffers once
//! they are free and hands them out again:
//!
//! * **Returning** is automatic for tensor values: when the last handle to a tensor's value goes
//!   (the graph node is dropped after backward, or the user drops the tensor), a value of at least
//!   [`MIN_POOLED_LEN`] elements is returned here. Gradients passing through backward, and
//!   parameter gradients cleared by `zero_grad`, are returned too. Arrays can be given back by
//!   hand with [`recycle`].
//! * **Taking** is what the hot ops do ([`take`], [`array_for_overwrite`], [`zeros`]): a buffer of
//!   exactly the requested length if one is free, otherwise a fresh allocation.
//!
//! Buffers are keyed by exact length (training repeats the same shapes every step). For each
//! length the pool keeps at most as many free buffers as were ever taken at once (values of ops
//! that allocate for themselves come back too, and need not all be kept). The pool
//! holds at most [`capacity_bytes`] (default [`DEFAULT_CAPACITY_BYTES`], changeable with
//! [`set_capacity_bytes`]; 0 disables pooling); when full, the least recently returned buffers
//! are released first. It is thread-safe (one mutex, taken only for buffers of at least
//! [`MIN_POOLED_LEN`] elements, a few dozen times per training step).
//!
//! **Determinism.** A buffer from [`take`] or [`array_for_overwrite`] holds stale values from its
//! previous use; every op that takes one overwrites all of it before reading (a GEMM with β = 0,
//! an elementwise map), so which buffer an op receives never changes a result. The tests check
//! that a training step gives bitwise the same result with the pool on and off.
//!
//! ```
//! use nn_core::buffer_pool;
//! let a = buffer_pool::zeros(&[256, 256]);          // fresh or reused, all zeros
//! assert!(a.iter().all(|&v| v == 0.0));
//! buffer_pool::recycle(a);                           // give it back for the next step
//! let b = buffer_pool::array_for_overwrite(&[256, 256]); // contents unspecified: overwrite them all
//! assert_eq!(b.shape(), &[256, 256]);
//! ```

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use ndarray::IxDyn;
use rayon::prelude::*;

use crate::tensor::{Array, Data};

/// Buffers shorter than this many elements (64 KiB of `f32`) are left to the system allocator,
/// which serves small sizes from reused heap memory without page faults.
pub const MIN_POOLED_LEN: usize = 16 * 1024;

/// Default upper bound on the memory the pool holds: 512 MiB.
pub const DEFAULT_CAPACITY_BYTES: usize = 512 << 20;

/// Elementwise passes over buffers at least this long run in parallel chunks of this size (a
/// fixed size, so the work split never depends on the number of threads).
const PAR_CHUNK: usize = 1 << 16;

struct Pool {
    /// Free buffers by length; each entry carries the stamp of its return (for eviction).
    free: BTreeMap<usize, Vec<(u64, Vec<f32>)>>,
    /// Per length: buffers taken and not yet returned, and the most ever outstanding at once.
    demand: BTreeMap<usize, Demand>,
    held_bytes: usize,
    clock: u64,
}

#[derive(Default, Clone, Copy)]
struct Demand {
    live: usize,
    peak: usize,
}

impl Pool {
    const fn new() -> Pool {
        Pool {
            free: BTreeMap::new(),
            demand: BTreeMap::new(),
            held_bytes: 0,
            clock: 0,
        }
    }

    /// Whether a returned buffer of length `len` is worth keeping: fewer are free than were ever
    /// taken at once. (Buffers allocated outside the pool are returned too, e.g. values computed
    /// by ops that do not take from it; keeping more of a length than is ever asked for would
    /// only hold memory.)
    fn wants(&mut self, len: usize) -> bool {
        let demand = self.demand.entry(len).or_default();
        demand.live = demand.live.saturating_sub(1);
        let peak = demand.peak;
        self.free.get(&len).map_or(0, Vec::len) < peak
    }

    fn note_take(&mut self, len: usize) {
        let demand = self.demand.entry(len).or_default();
        demand.live += 1;
        demand.peak = demand.peak.max(demand.live);
    }

    /// A free buffer of exactly `len` elements, if one is held. The take counts toward the
    /// demand for `len` only if a buffer that long could be pooled under `capacity` bytes at
    /// all: with the pool off (capacity 0) nothing comes back to it, so counting the takes would
    /// only inflate the demand it keeps buffers for once it is on again.
    fn take(&mut self, len: usize, capacity: usize) -> Option<Vec<f32>> {
        if len * size_of::<f32>() > capacity {
            return None;
        }
        self.note_take(len);
        let list = self.free.get_mut(&len)?;
        let (_, v) = list.pop()?;
        if list.is_empty() {
            self.free.remove(&len);
        }
        self.held_bytes -= bytes_of(&v);
        Some(v)
    }
}

static POOL: Mutex<Pool> = Mutex::new(Pool::new());
static CAPACITY: AtomicUsize = AtomicUsize::new(DEFAULT_CAPACITY_BYTES);
static HITS: AtomicU64 = AtomicU64::new(0);
static MISSES: AtomicU64 = AtomicU64::new(0);
static RETURNED: AtomicU64 = AtomicU64::new(0);
static RELEASED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static THREAD_HITS: Cell<u64> = const { Cell::new(0) };
    static THREAD_MISSES: Cell<u64> = const { Cell::new(0) };
}

fn bytes_of(v: &Vec<f32>) -> usize {
    v.capacity() * size_of::<f32>()
}

fn lock() -> std::sync::MutexGuard<'static, Pool> {
    // A panic while holding the lock cannot leave the map inconsistent (every update is a single
    // insert or remove), so a poisoned lock is safe to reuse.
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counters of the pool since the start of the process (or of this thread, see
/// [`thread_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Requests served with a pooled buffer.
    pub hits: u64,
    /// Requests of a poolable size that had to allocate.
    pub misses: u64,
    /// Buffers given back to the pool.
    pub returned: u64,
    /// Buffers released to the system allocator: because the pool was full, or because more of
    /// that length were returned than were ever taken at once.
    pub released: u64,
    /// Bytes currently held by the pool.
    pub held_bytes: usize,
}

/// Process-wide counters.
pub fn stats() -> PoolStats {
    PoolStats {
        hits: HITS.load(Ordering::Relaxed),
        misses: MISSES.load(Ordering::Relaxed),
        returned: RETURNED.load(Ordering::Relaxed),
        released: RELEASED.load(Ordering::Relaxed),
        held_bytes: lock().held_bytes,
    }
}

/// Hits and misses of requests made on the calling thread (other fields are process-wide).
pub fn thread_stats() -> PoolStats {
    PoolStats {
        hits: THREAD_HITS.with(Cell::get),
        misses: THREAD_MISSES.with(Cell::get),
        ..stats()
    }
}

/// The most memory the pool holds, in bytes.
pub fn capacity_bytes() -> usize {
    CAPACITY.load(Ordering::Relaxed)
}

/// Sets the most memory the pool holds (0 disables pooling) and releases buffers beyond it.
pub fn set_capacity_bytes(bytes: usize) {
    CAPACITY.store(bytes, Ordering::Relaxed);
    let mut pool = lock();
    evict(&mut pool, bytes);
}

/// Releases every pooled buffer to the system allocator.
pub fn clear() {
    let mut pool = lock();
    evict(&mut pool, 0);
}

/// Releases the least recently returned buffers until at most `limit` bytes are held.
fn evict(pool: &mut Pool, limit: usize) {
    while pool.held_bytes > limit {
        let Some((&len, _)) = pool
            .free
            .iter()
            .filter_map(|(len, list)| list.first().map(|(stamp, _)| (len, *stamp)))
            .min_by_key(|&(_, stamp)| stamp)
        else {
            break;
        };
        let list = pool.free.get_mut(&len).expect("listed length");
        let (_, v) = list.remove(0);
        if list.is_empty() {
            pool.free.remove(&len);
        }
        pool.held_bytes -= bytes_of(&v);
        RELEASED.fetch_add(1, Ordering::Relaxed);
        drop(v);
    }
}

fn count(hit: bool) {
    if hit {
        HITS.fetch_add(1, Ordering::Relaxed);
        THREAD_HITS.with(|c| c.set(c.get() + 1));
    } else {
        MISSES.fetch_add(1, Ordering::Relaxed);
        THREAD_MISSES.with(|c| c.set(c.get() + 1));
    }
}

/// A pooled buffer of exactly `len` elements, if one is free.
fn take_pooled(len: usize) -> Option<Vec<f32>> {
    if len < MIN_POOLED_LEN {
        return None;
    }
    let capacity = capacity_bytes();
    let found = lock().take(len, capacity);
    count(found.is_some());
    found
}

/// A vector of `len` elements whose values are **unspecified** (left over from an earlier use, or
/// zeros if freshly allocated): the caller must overwrite all of them before reading any.
pub fn take(len: usize) -> Vec<f32> {
    take_pooled(len).unwrap_or_else(|| vec![0.0; len])
}

/// A vector of `len` zeros (a pooled buffer, cleared, or a fresh zeroed allocation).
pub fn take_zeroed(len: usize) -> Vec<f32> {
    match take_pooled(len) {
        Some(mut v) => {
            fill(&mut v, 0.0);
            v
        }
        None => vec![0.0; len],
    }
}

/// An array of `shape` (row-major) whose values are **unspecified**; see [`take`].
pub fn array_for_overwrite(shape: &[usize]) -> Array {
    let len = shape.iter().product();
    Array::from_shape_vec(IxDyn(shape), take(len)).expect("length matches shape")
}

/// An array of `shape` (row-major) filled with zeros; see [`take_zeroed`].
pub fn zeros(shape: &[usize]) -> Array {
    let len = shape.iter().product();
    Array::from_shape_vec(IxDyn(shape), take_zeroed(len)).expect("length matches shape")
}

/// Gives a vector back to the pool (vectors shorter than [`MIN_POOLED_LEN`] are simply dropped).
pub fn recycle_vec(v: Vec<f32>) {
    let bytes = bytes_of(&v);
    let capacity = capacity_bytes();
    if v.len() < MIN_POOLED_LEN || bytes > capacity {
        return;
    }
    let mut pool = lock();
    if !pool.wants(v.len()) {
        drop(pool);
        RELEASED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    evict(&mut pool, capacity - bytes);
    pool.clock += 1;
    let stamp = pool.clock;
    pool.held_bytes += bytes;
    pool.free.entry(v.len()).or_default().push((stamp, v));
    drop(pool);
    RETURNED.fetch_add(1, Ordering::Relaxed);
}

/// Gives an owned array's memory back to the pool (whatever its layout).
pub fn recycle(a: Array) {
    if a.len() >= MIN_POOLED_LEN {
        recycle_vec(a.into_raw_vec_and_offset().0);
    }
}

/// Gives a shared value's memory back to the pool if this was its last handle.
pub fn recycle_data(d: Data) {
    if d.len() >= MIN_POOLED_LEN
        && let Ok(a) = d.try_into_owned_nocopy()
    {
        recycle(a);
    }
}

/// Sets every element of `v` to `value`, in parallel fixed-size chunks for long slices.
pub(crate) fn fill(v: &mut [f32], value: f32) {
    if v.len() >= 2 * PAR_CHUNK {
        v.par_chunks_mut(PAR_CHUNK).for_each(|c| c.fill(value));
    } else {
        v.fill(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lengths used here are odd and unique to each test, so tests running in parallel on the
    // shared pool do not take each other's buffers.

    #[test]
    fn returned_buffers_are_reused() {
        let len = MIN_POOLED_LEN + 17;
        let before = thread_stats();
        let a = take(len);
        let ptr = a.as_ptr();
        recycle_vec(a);
        let b = take(len);
        let after = thread_stats();
        assert_eq!(b.len(), len);
        assert_eq!(b.as_ptr(), ptr, "the same buffer comes back");
        assert_eq!(after.misses - before.misses, 1);
        assert_eq!(after.hits - before.hits, 1);
    }

    #[test]
    fn zeroed_buffers_are_zero_even_when_reused() {
        let len = MIN_POOLED_LEN * 3 + 5;
        let mut a = take(len);
        a.iter_mut().for_each(|v| *v = 7.0);
        recycle_vec(a);
        let b = take_zeroed(len);
        assert!(b.iter().all(|&v| v == 0.0));
        let z = zeros(&[3, MIN_POOLED_LEN + 5]);
        assert!(z.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn small_buffers_are_not_pooled() {
        let before = thread_stats();
        recycle_vec(vec![1.0; 100]);
        let v = take(100);
        assert_eq!(v, vec![0.0; 100]);
        let after = thread_stats();
        assert_eq!((after.hits, after.misses), (before.hits, before.misses));
    }

    #[test]
    fn arrays_and_unique_values_are_recycled() {
        let len = MIN_POOLED_LEN + 29;
        let a = array_for_overwrite(&[len]);
        let ptr = a.as_ptr();
        recycle_data(a.into_shared());
        let again = take(len);
        assert_eq!(again.as_ptr(), ptr);
        // A shared value is not recycled while another handle holds it.
        let d = Array::zeros(IxDyn(&[len + 2])).into_shared();
        let keep = d.clone();
        recycle_data(d);
        let other = take(len + 2);
        assert_ne!(other.as_ptr(), keep.as_ptr());
    }

    #[test]
    fn returns_beyond_the_demand_are_released() {
        let len = MIN_POOLED_LEN + 41;
        // Never taken: not kept.
        recycle_vec(vec![1.0; len]);
        let a = take(len);
        let b = take(len);
        assert!(a.iter().chain(&b).all(|&v| v == 0.0), "fresh allocations");
        // Two were taken at once: two are kept, a third (allocated elsewhere) is released.
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        recycle_vec(a);
        recycle_vec(b);
        recycle_vec(vec![2.0; len]);
        let c = take(len);
        let d = take(len);
        let e = take(len);
        let mut got = [c.as_ptr(), d.as_ptr()];
        got.sort();
        let mut want = [pa, pb];
        want.sort();
        assert_eq!(got, want);
        assert!(
            e.iter().all(|&v| v == 0.0),
            "the third is a fresh allocation"
        );
    }

    /// With the pool off, takes do not count toward the demand: once it is on again, returns
    /// beyond what was taken while it was on are released.
    #[test]
    fn takes_while_the_pool_is_off_do_not_count_as_demand() {
        let mut pool = Pool::new();
        let len = 100;
        for _ in 0..5 {
            assert!(pool.take(len, 0).is_none());
        }
        assert!(!pool.demand.contains_key(&len), "no demand noted while off");
        let cap = 1 << 20;
        assert!(pool.take(len, cap).is_none(), "nothing held yet");
        // One taken at once: one return is kept, a second is not.
        assert!(pool.wants(len));
        pool.free.entry(len).or_default().push((1, vec![0.0; len]));
        pool.held_bytes += len * 4;
        assert!(!pool.wants(len));
        let v = pool.take(len, cap).expect("the kept buffer");
        assert_eq!((v.len(), pool.free.len()), (len, 0));
    }

    #[test]
    fn eviction_releases_the_oldest_first() {
        let mut pool = Pool::new();
        for (stamp, len) in [(1u64, 10usize), (2, 20), (3, 30)] {
            pool.free
                .entry(len)
                .or_default()
                .push((stamp, vec![0.0; len]));
            pool.held_bytes += len * 4;
        }
        evict(&mut pool, 150);
        assert_eq!(pool.free.keys().copied().collect::<Vec<_>>(), vec![30]);
        assert_eq!(pool.held_bytes, 120);
        evict(&mut pool, 0);
        assert!(pool.free.is_empty());
        assert_eq!(pool.held_bytes, 0);
    }
}
