//! [`ThreadGroup`]: ranks as threads of one process, communicating through shared memory —
//! the same collectives, in the same summation order, as the MPI transport, so the distributed
//! code paths (sharding, bucketed reduction, synchronised batch norm, error agreement) run and
//! are tested without MPI.
//!
//! ```
//! use nn_train::dist::{Collective, ThreadGroup};
//!
//! let sums: Vec<Vec<f32>> = std::thread::scope(|s| {
//!     let ranks = ThreadGroup::new(3).into_iter().map(|rank| {
//!         s.spawn(move || {
//!             let t = rank.start_sum(vec![rank.rank() as f32 + 0.5; 2]).unwrap();
//!             rank.wait_sum(t).unwrap()
//!         })
//!     });
//!     ranks.collect::<Vec<_>>().into_iter().map(|h| h.join().unwrap()).collect()
//! });
//! assert!(sums.iter().all(|s| s == &[4.5, 4.5])); // 0.5 + 1.5 + 2.5 on every rank
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::collective::{Collective, Ticket, add_into};
use crate::error::{Result, TrainError};

/// What one rank contributed to one collective.
#[derive(Debug, Clone)]
enum Part {
    Sum(Vec<f32>),
    Gather(Vec<f64>),
    Bytes(Vec<u8>),
}

impl Part {
    fn kind(&self) -> &'static str {
        match self {
            Part::Sum(_) => "sum",
            Part::Gather(_) => "all_gather",
            Part::Bytes(_) => "broadcast",
        }
    }
}

#[derive(Debug)]
struct Slot {
    parts: Vec<Option<Part>>,
    collected: usize,
}

#[derive(Debug, Default)]
struct State {
    slots: HashMap<u64, Slot>,
    /// Set when a rank's thread panicked: the others' waits fail instead of hanging.
    failed: Option<String>,
}

#[derive(Debug)]
struct Shared {
    size: usize,
    state: Mutex<State>,
    changed: Condvar,
    timeout: Duration,
}

/// One rank of an in-process group (see the [module docs](self)); [`ThreadGroup::new`] makes
/// all of them, one per thread.
#[derive(Debug)]
pub struct ThreadGroup {
    rank: usize,
    shared: Arc<Shared>,
    next: AtomicU64,
}

impl ThreadGroup {
    /// The `size` ranks of a new group (give each to its own thread). A rank waits at most
    /// 10 minutes for the others before its collective fails.
    pub fn new(size: usize) -> Vec<ThreadGroup> {
        Self::with_timeout(size, Duration::from_secs(600))
    }

    /// As [`ThreadGroup::new`], failing a collective after `timeout` without the other ranks.
    pub fn with_timeout(size: usize, timeout: Duration) -> Vec<ThreadGroup> {
        let shared = Arc::new(Shared {
            size,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            timeout,
        });
        (0..size)
            .map(|rank| ThreadGroup {
                rank,
                shared: shared.clone(),
                next: AtomicU64::new(0),
            })
            .collect()
    }

    fn post(&self, part: Part) -> u64 {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let mut state = self.shared.state.lock().expect("group lock");
        let size = self.shared.size;
        let slot = state.slots.entry(seq).or_insert_with(|| Slot {
            parts: vec![None; size],
            collected: 0,
        });
        slot.parts[self.rank] = Some(part);
        drop(state);
        self.shared.changed.notify_all();
        seq
    }

    /// Waits until every rank has posted collective `seq`, then returns all parts.
    fn collect(&self, seq: u64, kind: &str) -> Result<Vec<Part>> {
        let shared = &*self.shared;
        let state = shared.state.lock().expect("group lock");
        let (mut state, timeout) = shared
            .changed
            .wait_timeout_while(state, shared.timeout, |s| {
                s.failed.is_none()
                    && !s
                        .slots
                        .get(&seq)
                        .is_some_and(|slot| slot.parts.iter().all(Option::is_some))
            })
            .expect("group lock");
        if let Some(why) = &state.failed {
            return Err(TrainError::Collective(why.clone()));
        }
        if timeout.timed_out() {
            return Err(TrainError::Collective(format!(
                "rank {}: {kind} #{seq} timed out after {:?} waiting for the other ranks",
                self.rank, shared.timeout
            )));
        }
        let slot = state.slots.get_mut(&seq).expect("complete slot");
        let parts: Vec<Part> = slot
            .parts
            .iter()
            .map(|p| p.clone().expect("posted"))
            .collect();
        slot.collected += 1;
        if slot.collected == shared.size {
            state.slots.remove(&seq);
        }
        if let Some(other) = parts.iter().find(|p| p.kind() != kind) {
            return Err(TrainError::Collective(format!(
                "collective #{seq} is a {kind} on rank {} but a {} on another rank (the ranks \
                 ran different graphs)",
                self.rank,
                other.kind()
            )));
        }
        Ok(parts)
    }
}

impl Drop for ThreadGroup {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
            state.failed = Some(format!("rank {} panicked", self.rank));
            drop(state);
            self.shared.changed.notify_all();
        }
    }
}

impl Collective for ThreadGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.shared.size
    }

    fn start_sum(&self, buf: Vec<f32>) -> Result<Ticket> {
        Ok(Ticket(self.post(Part::Sum(buf))))
    }

    fn wait_sum(&self, ticket: Ticket) -> Result<Vec<f32>> {
        let parts = self.collect(ticket.0, "sum")?;
        let mut bufs = parts.into_iter().map(|p| match p {
            Part::Sum(b) => b,
            _ => unreachable!("kinds checked"),
        });
        let mut acc = bufs.next().expect("at least one rank");
        for b in bufs {
            if b.len() != acc.len() {
                return Err(TrainError::Collective(format!(
                    "sum of buffers of different lengths ({} and {})",
                    acc.len(),
                    b.len()
                )));
            }
            add_into(&mut acc, &b);
        }
        Ok(acc)
    }

    fn all_gather(&self, local: &[f64]) -> Result<Vec<f64>> {
        let seq = self.post(Part::Gather(local.to_vec()));
        let parts = self.collect(seq, "all_gather")?;
        Ok(parts
            .into_iter()
            .flat_map(|p| match p {
                Part::Gather(v) => v,
                _ => unreachable!("kinds checked"),
            })
            .collect())
    }

    fn broadcast(&self, root: usize, bytes: Vec<u8>) -> Result<Vec<u8>> {
        let seq = self.post(Part::Bytes(bytes));
        let mut parts = self.collect(seq, "broadcast")?;
        match parts.swap_remove(root) {
            Part::Bytes(b) => Ok(b),
            _ => unreachable!("kinds checked"),
        }
    }
}
