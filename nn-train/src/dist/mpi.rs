//! `MpiCollective` (feature `mpi`): the [`Collective`] over Open MPI, through the `mpi` crate
//! (rsmpi). All MPI calls are made under one lock (MPI is initialised with at least
//! `MPI_THREAD_SERIALIZED`), in practice from the training thread.
//!
//! * [`Collective::start_sum`] is the rank-ordered sum of the [module docs of
//!   `collective`](super::collective): `MPI_Ialltoallv` (rank c receives chunk c of every
//!   buffer), the N pieces added in rank order, `MPI_Iallgatherv` of the summed chunks. Both
//!   phases are non-blocking; [`Collective::progress`] (called from the backward hook) tests
//!   them and starts the second phase of finished first phases, so a bucket travels while
//!   backward computes the next one. Each phase runs on its own duplicate of the world
//!   communicator and is started in bucket order on every rank, so the ranks' non-blocking
//!   collectives always match however their timing differs.
//! * [`Collective::all_gather`] and [`Collective::broadcast`] are blocking `MPI_Allgather` /
//!   `MPI_Bcast` on a third duplicate.
//!
//! MPI errors are fatal (Open MPI's default error handler aborts the job), so these calls do
//! not return transport errors.

use std::collections::VecDeque;
use std::os::raw::{c_int, c_void};
use std::sync::Mutex;

use mpi::ffi;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::{AsRaw, CommunicatorCollectives, Root};

use super::collective::{Collective, Ticket, add_into};
use crate::error::{Result, TrainError};

/// Open MPI's world, for a data-parallel job launched with `mpirun`.
pub struct MpiCollective {
    rank: usize,
    size: usize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for MpiCollective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiCollective")
            .field("rank", &self.rank)
            .field("size", &self.size)
            .finish()
    }
}

struct Inner {
    /// Phase 1 (reduce-scatter), phase 2 (all-gather) and the blocking collectives.
    scatter: SimpleCommunicator,
    gather: SimpleCommunicator,
    blocking: SimpleCommunicator,
    /// Sums in start order.
    ops: VecDeque<SumOp>,
    next: u64,
    /// Keeps MPI initialised until the collective is dropped (then `MPI_Finalize`).
    _universe: mpi::environment::Universe,
}

// SAFETY: MPI is initialised with at least MPI_THREAD_SERIALIZED (checked in `init`), and every
// MPI call goes through the `Mutex<Inner>`, so no two threads call MPI at once.
unsafe impl Send for Inner {}

#[derive(PartialEq, Eq, Debug, Clone, Copy)]
enum Phase {
    Scatter,
    Gather,
    Done,
}

struct SumOp {
    id: u64,
    phase: Phase,
    request: ffi::MPI_Request,
    /// The buffer: sent in phase 1, receives the summed chunks in phase 2.
    buf: Vec<f32>,
    /// Phase 1: every rank's piece of this rank's chunk; phase 2: the summed chunk.
    recv: Vec<f32>,
    counts: Vec<c_int>,
    displs: Vec<c_int>,
    /// This rank's chunk sizes repeated / their displacements (phase 1 receive layout).
    rcounts: Vec<c_int>,
    rdispls: Vec<c_int>,
}

impl MpiCollective {
    /// Initialises MPI (at least `MPI_THREAD_SERIALIZED`) and returns the world, or `None` if
    /// MPI was already initialised.
    pub fn init() -> Result<Option<MpiCollective>> {
        let Some((universe, threading)) =
            mpi::initialize_with_threading(mpi::Threading::Serialized)
        else {
            return Ok(None);
        };
        if threading < mpi::Threading::Serialized {
            return Err(TrainError::Collective(format!(
                "the MPI library provides thread level {threading:?}; MPI_THREAD_SERIALIZED is \
                 needed"
            )));
        }
        let world = universe.world();
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        Ok(Some(MpiCollective {
            rank,
            size,
            inner: Mutex::new(Inner {
                scatter: world.duplicate(),
                gather: world.duplicate(),
                blocking: world.duplicate(),
                ops: VecDeque::new(),
                next: 0,
                _universe: universe,
            }),
        }))
    }

    /// Ends the whole job at once (`MPI_Abort` with `code`): for a panic on one rank, which
    /// the agreement protocol cannot report.
    pub fn abort(code: i32) -> ! {
        // SAFETY: MPI_Abort may be called at any time after initialisation; it does not return.
        unsafe {
            ffi::MPI_Abort(ffi::RSMPI_COMM_WORLD, code);
        }
        std::process::exit(code)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Chunk c of a buffer of `len` over `n` ranks: `c·len/n .. (c+1)·len/n`.
fn chunk(c: usize, len: usize, n: usize) -> (usize, usize) {
    (c * len / n, (c + 1) * len / n)
}

impl Inner {
    /// Tests (or with `block`, waits for) `op`'s request; true if it completed.
    fn complete(request: &mut ffi::MPI_Request, block: bool) -> bool {
        // SAFETY: `request` is an active request whose buffers live in the same `SumOp`,
        // which stays in `ops` (heap buffers do not move) until the request completes.
        unsafe {
            if block {
                ffi::MPI_Wait(request, ffi::RSMPI_STATUS_IGNORE);
                true
            } else {
                let mut flag: c_int = 0;
                ffi::MPI_Test(request, &mut flag, ffi::RSMPI_STATUS_IGNORE);
                flag != 0
            }
        }
    }

    /// Advances the sums in order: finished first phases are summed and their second phase
    /// started (in op order: a later op's second phase never starts before an earlier op's).
    /// With `until = Some(id)`, blocks until sum `id` is done.
    fn advance(&mut self, rank: usize, size: usize, until: Option<u64>) {
        let mut in_order = true;
        for op in self.ops.iter_mut() {
            let block = until.is_some_and(|id| op.id <= id);
            if op.phase == Phase::Scatter {
                if !Self::complete(&mut op.request, block) {
                    in_order = false;
                }
                if in_order {
                    // Sum the N pieces of this rank's chunk in rank order.
                    let (lo, hi) = chunk(rank, op.buf.len(), size);
                    let len = hi - lo;
                    let mut acc = op.recv[..len].to_vec();
                    for r in 1..size {
                        add_into(&mut acc, &op.recv[r * len..(r + 1) * len]);
                    }
                    op.recv = acc;
                    op.phase = Phase::Gather;
                    // SAFETY: send/receive buffers and count arrays live in `op` until the
                    // request completes; counts and displacements fit the buffers.
                    unsafe {
                        ffi::MPI_Iallgatherv(
                            op.recv.as_ptr() as *const c_void,
                            len as c_int,
                            ffi::RSMPI_FLOAT,
                            op.buf.as_mut_ptr() as *mut c_void,
                            op.counts.as_ptr(),
                            op.displs.as_ptr(),
                            ffi::RSMPI_FLOAT,
                            self.gather.as_raw(),
                            &mut op.request,
                        );
                    }
                }
            }
            if op.phase == Phase::Gather && Self::complete(&mut op.request, block) {
                op.phase = Phase::Done;
            }
        }
    }
}

impl Collective for MpiCollective {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn start_sum(&self, buf: Vec<f32>) -> Result<Ticket> {
        let n = self.size;
        let len = buf.len();
        let (lo, hi) = chunk(self.rank, len, n);
        let mine = hi - lo;
        let counts: Vec<c_int> = (0..n)
            .map(|c| {
                let (a, b) = chunk(c, len, n);
                (b - a) as c_int
            })
            .collect();
        let displs: Vec<c_int> = (0..n).map(|c| chunk(c, len, n).0 as c_int).collect();
        let mut inner = self.lock();
        let id = inner.next;
        inner.next += 1;
        let mut op = SumOp {
            id,
            phase: Phase::Scatter,
            // SAFETY: the null request is a valid initial value.
            request: unsafe { ffi::RSMPI_REQUEST_NULL },
            buf,
            recv: vec![0.0; mine * n],
            counts,
            displs,
            rcounts: vec![mine as c_int; n],
            rdispls: (0..n).map(|r| (r * mine) as c_int).collect(),
        };
        // SAFETY: the buffers and count arrays are owned by `op`, which moves into `ops`
        // below; moving a `SumOp` moves the `Vec` headers, not their heap buffers.
        unsafe {
            ffi::MPI_Ialltoallv(
                op.buf.as_ptr() as *const c_void,
                op.counts.as_ptr(),
                op.displs.as_ptr(),
                ffi::RSMPI_FLOAT,
                op.recv.as_mut_ptr() as *mut c_void,
                op.rcounts.as_ptr(),
                op.rdispls.as_ptr(),
                ffi::RSMPI_FLOAT,
                inner.scatter.as_raw(),
                &mut op.request,
            );
        }
        inner.ops.push_back(op);
        Ok(Ticket(id))
    }

    fn wait_sum(&self, ticket: Ticket) -> Result<Vec<f32>> {
        let mut inner = self.lock();
        if !inner.ops.iter().any(|op| op.id == ticket.0) {
            return Err(TrainError::Collective(format!(
                "no sum with ticket {}",
                ticket.0
            )));
        }
        inner.advance(self.rank, self.size, Some(ticket.0));
        let pos = inner
            .ops
            .iter()
            .position(|op| op.id == ticket.0)
            .expect("checked above");
        // Earlier sums are done too (advance blocks on every op up to this one).
        let op = inner.ops.remove(pos).expect("position in range");
        debug_assert_eq!(op.phase, Phase::Done);
        Ok(op.buf)
    }

    fn progress(&self) {
        let mut inner = self.lock();
        if !inner.ops.is_empty() {
            inner.advance(self.rank, self.size, None);
        }
    }

    fn all_gather(&self, local: &[f64]) -> Result<Vec<f64>> {
        let inner = self.lock();
        let mut out = vec![0.0f64; local.len() * self.size];
        inner.blocking.all_gather_into(local, &mut out[..]);
        Ok(out)
    }

    fn broadcast(&self, root: usize, mut bytes: Vec<u8>) -> Result<Vec<u8>> {
        let inner = self.lock();
        let process = inner.blocking.process_at_rank(root as i32);
        let mut len = bytes.len() as u64;
        process.broadcast_into(&mut len);
        bytes.resize(len as usize, 0);
        if len > 0 {
            process.broadcast_into(&mut bytes[..]);
        }
        Ok(bytes)
    }
}
