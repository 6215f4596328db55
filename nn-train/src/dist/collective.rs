//! [`Collective`]: the communication a data-parallel job needs, with one implementation per
//! transport — [`SingleProcess`] (one rank: every operation is the identity), [`ThreadGroup`](super::ThreadGroup)
//! (ranks as threads of one process, for tests and for trying the distributed code paths
//! without MPI) and, with the `mpi` feature, `MpiCollective` (Open MPI through the `mpi` crate).
//!
//! Every operation is a *collective*: all ranks call the same operations in the same order
//! with buffers of the same length (the training loop guarantees it: the graph, and therefore
//! the backward order and the bucket order, is the same on every rank).
//!
//! ## The summation order
//! [`Collective::start_sum`] does not use MPI's `MPI_Allreduce`, whose summation order is
//! unspecified (it depends on the algorithm Open MPI picks for the message size and rank
//! count, and may differ between ranks). Element `i` of the result is, on every rank,
//!
//! ```text
//! sum[i] = fl(… fl(fl(b₀[i] + b₁[i]) + b₂[i]) … + b_{N−1}[i])      (f32 additions, rank order)
//! ```
//!
//! bit for bit. The MPI implementation gets there as a reduce-scatter followed by an
//! all-gather, with the same traffic as a ring all-reduce (each rank sends and receives
//! 2·(N−1)/N of the buffer): rank `c` receives chunk `c` of every rank's buffer
//! (`MPI_Ialltoallv`), adds the N pieces in rank order, and the summed chunks are gathered to
//! every rank (`MPI_Iallgatherv`). Over one rank the sum is the buffer itself.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Result, TrainError};

/// A handle to a sum started with [`Collective::start_sum`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket(pub u64);

/// The collectives of data-parallel training; see the [module docs](self).
pub trait Collective: Send + Sync + Debug {
    /// This process's rank, `0..size()`.
    fn rank(&self) -> usize;

    /// Number of ranks.
    fn size(&self) -> usize;

    /// Starts the rank-ordered sum of `buf` over all ranks (see the module docs); the result
    /// comes from [`Collective::wait_sum`]. Sums complete in the order they were started.
    fn start_sum(&self, buf: Vec<f32>) -> Result<Ticket>;

    /// The result of a sum started with [`Collective::start_sum`], waiting for it if needed.
    fn wait_sum(&self, ticket: Ticket) -> Result<Vec<f32>>;

    /// Advances started operations without blocking (called between pieces of backward so
    /// that transfers proceed while gradients are computed). The default does nothing.
    fn progress(&self) {}

    /// Every rank's `local` (the same length on every rank), concatenated in rank order.
    fn all_gather(&self, local: &[f64]) -> Result<Vec<f64>>;

    /// `bytes` of rank `root`, on every rank (other ranks' `bytes` are ignored).
    fn broadcast(&self, root: usize, bytes: Vec<u8>) -> Result<Vec<u8>>;
}

/// One process: every collective is the identity (a sum of one buffer is the buffer).
#[derive(Debug, Default)]
pub struct SingleProcess {
    pending: Mutex<HashMap<u64, Vec<f32>>>,
    next: AtomicU64,
}

impl Collective for SingleProcess {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn start_sum(&self, buf: Vec<f32>) -> Result<Ticket> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.pending.lock().expect("pending lock").insert(id, buf);
        Ok(Ticket(id))
    }
    fn wait_sum(&self, ticket: Ticket) -> Result<Vec<f32>> {
        self.pending
            .lock()
            .expect("pending lock")
            .remove(&ticket.0)
            .ok_or_else(|| TrainError::Collective(format!("no sum with ticket {}", ticket.0)))
    }
    fn all_gather(&self, local: &[f64]) -> Result<Vec<f64>> {
        Ok(local.to_vec())
    }
    fn broadcast(&self, _root: usize, bytes: Vec<u8>) -> Result<Vec<u8>> {
        Ok(bytes)
    }
}

/// Adds `part` into `acc` element by element (the rank-order step of the sum).
pub(crate) fn add_into(acc: &mut [f32], part: &[f32]) {
    for (a, &p) in acc.iter_mut().zip(part) {
        *a += p;
    }
}
