//! A per-op profiler: where the time of a forward and a backward pass goes, by op and shape.
//!
//! When [`enable`]d, every op records its wall time under (phase, op name, output shape):
//!
//! * **forward**: the time on the calling thread since the previous op finished (or since
//!   [`mark`]), recorded when the op creates its output ([`crate::Tensor::from_op`]); this is the
//!   op's own work plus the (small) model code between two ops, so call [`mark`] right before a
//!   forward pass;
//! * **backward**: the time of the op's backward function, measured around it by the backward
//!   pass (gradient accumulation between ops is not included).
//!
//! Disabled (the default), the cost is one relaxed atomic load per op. The totals are
//! process-wide; profile one model at a time.
//!
//! ```
//! use nn_core::{Tensor, autograd::profile};
//! profile::enable(true);
//! let x = Tensor::ones(&[4, 3]).with_requires_grad();
//! profile::mark();
//! let y = x.relu().sum_all();
//! y.backward();
//! profile::enable(false);
//! let report = profile::take();
//! assert!(report.iter().any(|t| t.op == "relu" && t.phase == profile::Phase::Forward));
//! assert!(report.iter().any(|t| t.op == "relu" && t.phase == profile::Phase::Backward));
//! ```

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

static ENABLED: AtomicBool = AtomicBool::new(false);

type Key = (Phase, &'static str, Vec<usize>, Vec<Vec<usize>>);
static TOTALS: Mutex<Option<HashMap<Key, (u64, f64)>>> = Mutex::new(None);

thread_local! {
    static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Which pass a timing belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// The op's forward computation.
    Forward,
    /// The op's backward function.
    Backward,
}

/// The accumulated time of one (phase, op, output shape).
#[derive(Debug, Clone, PartialEq)]
pub struct OpTiming {
    /// Forward or backward.
    pub phase: Phase,
    /// The op's name ([`crate::Backward::name`]).
    pub op: &'static str,
    /// The shape of the op's output.
    pub shape: Vec<usize>,
    /// The shapes of the op's inputs.
    pub inputs: Vec<Vec<usize>>,
    /// How many calls were timed.
    pub calls: u64,
    /// Their total wall time in seconds.
    pub seconds: f64,
}

/// Switches recording on or off (process-wide).
pub fn enable(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
    mark();
}

/// Whether recording is on.
#[inline]
pub fn is_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Starts the calling thread's forward clock: the next op's forward time is measured from here.
pub fn mark() {
    LAST.with(|l| l.set(Some(Instant::now())));
}

fn shapes(inputs: &[crate::Tensor]) -> Vec<Vec<usize>> {
    inputs.iter().map(|t| t.shape().to_vec()).collect()
}

fn add(key: Key, seconds: f64) {
    let mut totals = TOTALS.lock().unwrap_or_else(|e| e.into_inner());
    let e = totals
        .get_or_insert_with(HashMap::new)
        .entry(key)
        .or_insert((0, 0.0));
    e.0 += 1;
    e.1 += seconds;
}

/// Records a forward op that just produced a value of `shape` (called by `Tensor::from_op`).
pub(crate) fn forward_done(op: &'static str, shape: &[usize], inputs: &[crate::Tensor]) {
    let now = Instant::now();
    let since = LAST.with(|l| l.replace(Some(now)));
    if let Some(t0) = since {
        add(
            (Phase::Forward, op, shape.to_vec(), shapes(inputs)),
            (now - t0).as_secs_f64(),
        );
    }
}

/// Records the backward function of `op` (output of `shape`) that took `seconds`.
pub(crate) fn backward_done(
    op: &'static str,
    shape: &[usize],
    inputs: &[crate::Tensor],
    seconds: f64,
) {
    add(
        (Phase::Backward, op, shape.to_vec(), shapes(inputs)),
        seconds,
    );
    mark();
}

/// The timings recorded so far (sorted by phase, then by decreasing time), and clears them.
pub fn take() -> Vec<OpTiming> {
    let totals = TOTALS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .unwrap_or_default();
    let mut out: Vec<OpTiming> = totals
        .into_iter()
        .map(|((phase, op, shape, inputs), (calls, seconds))| OpTiming {
            phase,
            op,
            shape,
            inputs,
            calls,
            seconds,
        })
        .collect();
    out.sort_by(|a, b| {
        a.phase
            .cmp(&b.phase)
            .then(b.seconds.total_cmp(&a.seconds))
            .then(a.op.cmp(b.op))
    });
    out
}
