//! [`Epoch`]: the iterator over one epoch's batches, with optional background prefetch.

use super::Batch;
use super::data_loader::Inner;
use crate::DataError;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

/// The batches of one epoch, in order. Yields `Err` once and stops if a sample cannot be read
/// (or a user transform panics, in prefetch mode).
///
/// With `prefetch = k > 0`, a background thread computes batches ahead into a channel of
/// capacity `k`; dropping the iterator early stops and joins that thread.
pub struct Epoch {
    mode: Mode,
    next: usize,
    total: usize,
}

enum Mode {
    Inline {
        inner: Arc<Inner>,
        epoch: u64,
        order: Vec<usize>,
        failed: bool,
    },
    Prefetch {
        rx: Option<Receiver<Result<Batch, DataError>>>,
        stop: Arc<AtomicBool>,
        handle: Option<JoinHandle<()>>,
    },
}

impl Epoch {
    /// The batches `start..` of `epoch` (`start` past the end: none).
    pub(super) fn new(inner: Arc<Inner>, epoch: u64, start: usize) -> Self {
        let total = inner.num_batches();
        let start = start.min(total);
        let prefetch = inner.config().prefetch;
        if prefetch == 0 || start == total {
            let order = inner.order(epoch);
            return Self {
                mode: Mode::Inline {
                    inner,
                    epoch,
                    order,
                    failed: false,
                },
                next: start,
                total,
            };
        }
        let (tx, rx) = sync_channel(prefetch);
        let stop = Arc::new(AtomicBool::new(false));
        let stop_worker = stop.clone();
        let worker = Arc::clone(&inner);
        let handle = std::thread::Builder::new()
            .name(format!("nn-data-prefetch-e{epoch}"))
            .spawn(move || {
                let inner = worker;
                let order = inner.order(epoch);
                for b in start..total {
                    if stop_worker.load(Ordering::Relaxed) {
                        return;
                    }
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        inner.batch(epoch, b, &order)
                    }))
                    .unwrap_or_else(|p| Err(DataError::WorkerPanicked(panic_message(&*p))));
                    let failed = result.is_err();
                    if tx.send(result).is_err() || failed {
                        return;
                    }
                }
            });
        match handle {
            Ok(handle) => Self {
                mode: Mode::Prefetch {
                    rx: Some(rx),
                    stop,
                    handle: Some(handle),
                },
                next: start,
                total,
            },
            // No thread available: compute batches on the calling thread instead.
            Err(_) => {
                let order = inner.order(epoch);
                Self {
                    mode: Mode::Inline {
                        inner,
                        epoch,
                        order,
                        failed: false,
                    },
                    next: start,
                    total,
                }
            }
        }
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into())
}

impl Iterator for Epoch {
    type Item = Result<Batch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.total {
            return None;
        }
        let item = match &mut self.mode {
            Mode::Inline { failed: true, .. } => return None,
            Mode::Inline {
                inner,
                epoch,
                order,
                failed,
            } => {
                let r = inner.batch(*epoch, self.next, order);
                *failed = r.is_err();
                r
            }
            Mode::Prefetch { rx, .. } => rx.as_ref()?.recv().ok()?,
        };
        self.next += 1;
        if item.is_err() {
            self.total = self.next;
        }
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.total - self.next))
    }
}

impl Drop for Epoch {
    fn drop(&mut self) {
        if let Mode::Prefetch { rx, stop, handle } = &mut self.mode {
            stop.store(true, Ordering::Relaxed);
            drop(rx.take()); // unblocks a worker waiting to send
            if let Some(h) = handle.take() {
                let _ = h.join();
            }
        }
    }
}
