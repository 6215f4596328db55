//! The batch cut into fixed slices for the weight gradient, shared by the convolution backward
//! passes (im2col, row-major Winograd, channels-last direct / Winograd).
//!
//! The batch is cut into at most [`MAX_SLICES`] contiguous slices of whole chunks (a number that
//! depends on the shape only); the slices run in parallel, each accumulating its own partial
//! weight gradient over its samples in order, and the partials are then summed elementwise in
//! slice order:
//!
//! ```text
//! ∂L/∂W = (((P_0 + P_1) + P_2) + …),   P_s = Σ_{n ∈ slice s} ∂L/∂W_n (in sample order)
//! ```
//!
//! So the weight gradient is the same bit for bit whatever the number of rayon threads.

use rayon::prelude::*;

/// Upper bound on the number of slices (and so of partial weight gradients held at once).
const MAX_SLICES: usize = 8;

/// Elements per task when summing the partials in parallel (fixed: thread-count independent).
const REDUCE_CHUNK: usize = 1 << 14;

/// One slice's work: its partial weight gradient, its input-gradient rows, its sample range.
pub(crate) type SliceJob<'a> = ((&'a mut Vec<f32>, &'a mut [f32]), &'a (usize, usize));

/// How a partial weight gradient is taken from the buffer pool.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    /// Contents unspecified: the slice overwrites it (β = 0 on its first product).
    Overwritten,
    /// Zeroed: the slice accumulates into it.
    Zeroed,
}

/// The slices of a batch and their partial weight gradients.
pub(crate) struct BatchSlices {
    bounds: Vec<(usize, usize)>,
    partials: Vec<Vec<f32>>,
}

impl BatchSlices {
    /// `n` samples in chunks of `chunk` (the last one may be short), cut into
    /// `clamp(⌈n / chunk⌉, 1, MAX_SLICES)` slices; slice s holds chunks
    /// `[s·chunks/slices, (s+1)·chunks/slices)`. Each slice gets a partial of `len` floats taken
    /// from the buffer pool as `fill` says, or an empty one when `partial` is `None` (no weight
    /// gradient).
    pub(crate) fn new(n: usize, chunk: usize, partial: Option<(usize, Fill)>) -> Self {
        let chunks = n.div_ceil(chunk);
        let slices = chunks.clamp(1, MAX_SLICES);
        let bounds = (0..slices)
            .map(|s| {
                let lo = (s * chunks / slices * chunk).min(n);
                let hi = ((s + 1) * chunks / slices * chunk).min(n);
                (lo, hi)
            })
            .collect();
        let partials = (0..slices)
            .map(|_| match partial {
                Some((len, Fill::Overwritten)) => crate::buffer_pool::take(len),
                Some((len, Fill::Zeroed)) => crate::buffer_pool::take_zeroed(len),
                None => Vec::new(),
            })
            .collect();
        BatchSlices { bounds, partials }
    }

    /// Whether the slices may run on the rayon pool: at least two of them and more than one
    /// thread.
    pub(crate) fn parallel(&self) -> bool {
        self.bounds.len() >= 2 && rayon::current_num_threads() > 1
    }

    /// Runs `work` on every slice — its partial weight gradient, its rows of the input gradient
    /// `dx` (`xs` values per sample; empty slices when `dx` is `None`) and its sample range — on
    /// the rayon pool if `parallel`, else in order on this thread.
    pub(crate) fn run(
        &mut self,
        parallel: bool,
        dx: Option<&mut [f32]>,
        xs: usize,
        work: impl Fn(SliceJob<'_>) + Send + Sync,
    ) {
        let bounds = &self.bounds;
        let mut dx_parts: Vec<&mut [f32]> = Vec::with_capacity(bounds.len());
        if let Some(mut rest) = dx {
            for &(lo, hi) in bounds {
                let (head, tail) = rest.split_at_mut((hi - lo) * xs);
                dx_parts.push(head);
                rest = tail;
            }
        } else {
            dx_parts.resize_with(bounds.len(), Default::default);
        }
        if parallel {
            self.partials
                .par_iter_mut()
                .zip(dx_parts.into_par_iter())
                .zip(bounds.par_iter())
                .for_each(work);
        } else {
            self.partials
                .iter_mut()
                .zip(dx_parts)
                .zip(bounds.iter())
                .for_each(work);
        }
    }

    /// Sums the partials elementwise in slice order (into the first; in parallel over fixed
    /// chunks of [`REDUCE_CHUNK`] elements if `parallel`, which does not change a bit), hands the
    /// sum to `finish`, then returns the partials to the buffer pool.
    pub(crate) fn reduce<R>(mut self, parallel: bool, finish: impl FnOnce(&[f32]) -> R) -> R {
        let (first, rest) = self.partials.split_at_mut(1);
        let sum = &mut first[0];
        if parallel && !rest.is_empty() {
            sum.par_chunks_mut(REDUCE_CHUNK)
                .enumerate()
                .for_each(|(ci, d)| {
                    for part in rest.iter() {
                        for (a, v) in d.iter_mut().zip(&part[ci * REDUCE_CHUNK..]) {
                            *a += v;
                        }
                    }
                });
        } else {
            for part in rest.iter() {
                for (a, v) in sum.iter_mut().zip(part) {
                    *a += v;
                }
            }
        }
        let r = finish(sum);
        self.partials
            .into_iter()
            .for_each(crate::buffer_pool::recycle_vec);
        r
    }
}
