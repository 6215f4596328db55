//! [`GradReducer`]: averages the gradients of data-parallel replicas in buckets, starting each
//! bucket's sum while backward is still computing the gradients of earlier layers (PyTorch
//! DDP's reducer; Li et al., "PyTorch Distributed: Experiences on Accelerating Data Parallel
//! Training", VLDB 2020).
//!
//! * The trainable parameters are packed into buckets of about `bucket_bytes` each, in the
//!   order backward produces their gradients: reverse registration order for the first step,
//!   then the order rank 0 observed in the first step (as DDP rebuilds its buckets after the
//!   first iteration, from rank 0's order), so every rank uses the same layout.
//! * Backward calls [`GradReducer::on_leaf`] each time a gradient lands in a parameter's slot
//!   ([`nn_core::Tensor::backward_with_hook`]). When a parameter has received all the
//!   gradient contributions it received in the first step, it is copied into its bucket; a
//!   full bucket is handed to [`Collective::start_sum`] — in bucket order, so that every rank
//!   starts the same sums in the same order even if their backward passes differ in timing.
//!   The first step sends every bucket after backward (its arrival counts are being learnt).
//! * [`GradReducer::finish`] sends what is left (a parameter without a gradient on this rank
//!   contributes zeros), waits for every bucket and writes the sums back as the gradients.
//!
//! The gradients are not divided by the number of ranks here: the trainer seeds each rank's
//! backward with its share of the global batch (`n_r / n`, or its share of the class-weight
//! total), so the sum over ranks is the gradient of the mean loss over the whole batch, also
//! when the shards differ in size. Each bucket carries one extra number per parameter — 1 if
//! the rank has a gradient for it — so a parameter that no rank reached keeps no gradient
//! (`None`, as in a single process), and one that only some ranks reached gets their sum.

use std::collections::HashMap;
use std::sync::Arc;

use ndarray::IxDyn;
use nn_core::{Array, GradKey, Module, Parameter, Tensor};

use super::collective::{Collective, Ticket};
use crate::error::Result;

/// Where a parameter lives in the buckets.
#[derive(Debug, Clone, Copy)]
struct Place {
    bucket: usize,
    /// Offset of its values in the bucket buffer.
    offset: usize,
    /// Index of its "has a gradient" flag among the bucket's flags.
    flag: usize,
}

#[derive(Debug)]
struct Bucket {
    /// Indices into `GradReducer::params`.
    members: Vec<usize>,
    /// Values (Σ member sizes) followed by one flag per member.
    len: usize,
    buf: Vec<f32>,
    /// Members whose gradient has been copied in.
    filled: usize,
    ticket: Option<Ticket>,
}

/// Bucketed, overlapped gradient averaging; see the [module docs](self).
#[derive(Debug)]
pub struct GradReducer {
    comm: Arc<dyn Collective>,
    params: Vec<(String, Parameter)>,
    place: Vec<Place>,
    index: HashMap<GradKey, usize>,
    buckets: Vec<Bucket>,
    bucket_bytes: usize,
    /// Gradient contributions per parameter in a step (learnt in the first step).
    expected: Option<Vec<u32>>,
    /// This step's contributions so far, whether each gradient is in its bucket, and the
    /// first arrival order.
    arrived: Vec<u32>,
    filled: Vec<bool>,
    order: Vec<usize>,
    /// Next bucket to start.
    next: usize,
    /// Overlap measurements of the last step.
    stats: ReduceStats,
}

/// What the last [`GradReducer::finish`] measured.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReduceStats {
    /// Buckets.
    pub buckets: usize,
    /// Buckets started during backward (before `finish`).
    pub started_in_backward: usize,
    /// Seconds `finish` spent sending the rest, waiting and writing gradients back (the
    /// communication that backward did not hide).
    pub exposed_seconds: f64,
}

impl GradReducer {
    /// A reducer for the trainable (not frozen) parameters of `model`, with buckets of about
    /// `bucket_bytes` bytes (at least one parameter each).
    pub fn new(comm: Arc<dyn Collective>, model: &dyn Module, bucket_bytes: usize) -> GradReducer {
        let params: Vec<(String, Parameter)> = model
            .named_parameters()
            .into_iter()
            .filter(|(_, p)| !p.is_frozen())
            .collect();
        let n = params.len();
        let index = params
            .iter()
            .enumerate()
            .map(|(i, (_, p))| (p.grad_key(), i))
            .collect();
        let mut r = GradReducer {
            comm,
            params,
            place: Vec::new(),
            index,
            buckets: Vec::new(),
            bucket_bytes: bucket_bytes.max(1),
            expected: None,
            arrived: vec![0; n],
            filled: vec![false; n],
            order: Vec::with_capacity(n),
            next: 0,
            stats: ReduceStats::default(),
        };
        r.layout(&(0..n).rev().collect::<Vec<_>>());
        r
    }

    /// Whether this reducer still covers exactly the trainable parameters of `model` (after
    /// a transfer job unfreezes its backbone it does not).
    pub fn matches(&self, model: &dyn Module) -> bool {
        let mut trainable = model
            .named_parameters()
            .into_iter()
            .filter(|(_, p)| !p.is_frozen());
        self.params
            .iter()
            .all(|(_, p)| trainable.next().is_some_and(|(_, q)| q.same_as(p)))
            && trainable.next().is_none()
    }

    /// Packs the parameters, in `order`, into buckets.
    fn layout(&mut self, order: &[usize]) {
        let cap = self.bucket_bytes / std::mem::size_of::<f32>();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut size = 0;
        for &i in order {
            let len = self.params[i].1.len();
            if groups.is_empty() || size + len > cap {
                if groups.last().is_none_or(|g| !g.is_empty()) {
                    groups.push(Vec::new());
                }
                size = 0;
            }
            groups.last_mut().expect("a group").push(i);
            size += len;
        }
        self.place = vec![
            Place {
                bucket: 0,
                offset: 0,
                flag: 0
            };
            self.params.len()
        ];
        self.buckets = groups
            .into_iter()
            .enumerate()
            .map(|(b, members)| {
                let mut offset = 0;
                for (k, &i) in members.iter().enumerate() {
                    self.place[i] = Place {
                        bucket: b,
                        offset,
                        flag: k,
                    };
                    offset += self.params[i].1.len();
                }
                Bucket {
                    len: offset + members.len(),
                    members,
                    buf: Vec::new(),
                    filled: 0,
                    ticket: None,
                }
            })
            .collect();
    }

    /// Number of buckets.
    pub fn num_buckets(&self) -> usize {
        self.buckets.len()
    }

    /// What the last step measured.
    pub fn stats(&self) -> ReduceStats {
        self.stats
    }

    /// Prepares a step (call before backward).
    pub fn begin(&mut self) {
        self.arrived.iter_mut().for_each(|a| *a = 0);
        self.filled.iter_mut().for_each(|f| *f = false);
        self.order.clear();
        self.next = 0;
        for b in &mut self.buckets {
            b.buf.clear();
            b.buf.resize(b.len, 0.0);
            b.filled = 0;
            b.ticket = None;
        }
    }

    /// The backward hook: `leaf`'s gradient has been added to its slot.
    ///
    /// # Panics
    /// If a parameter receives a gradient after it was packed (it received more contributions
    /// than in the first step: the graph changed).
    pub fn on_leaf(&mut self, leaf: &Tensor) -> Result<()> {
        let Some(&i) = leaf.grad_key().and_then(|k| self.index.get(&k)) else {
            return Ok(()); // not one of the model's trainable parameters
        };
        self.arrived[i] += 1;
        if self.arrived[i] == 1 {
            self.order.push(i);
        }
        let Some(expected) = &self.expected else {
            return Ok(()); // first step: everything is sent after backward
        };
        assert!(
            !self.filled[i],
            "data-parallel reducer: parameter `{}` received a gradient after it was packed for \
             sending (it is used more often than in the first step)",
            self.params[i].0
        );
        if self.arrived[i] == expected[i] {
            self.fill(i);
            self.start_ready()?;
        }
        self.comm.progress();
        Ok(())
    }

    /// Copies parameter `i`'s gradient (or zeros) and its flag into its bucket.
    fn fill(&mut self, i: usize) {
        let Place {
            bucket,
            offset,
            flag,
        } = self.place[i];
        let (_, p) = &self.params[i];
        let b = &mut self.buckets[bucket];
        let values = b.buf.len() - b.members.len();
        let len = p.len();
        let has = p.with_grad(|g| match g {
            Some(g) => {
                let dst = &mut b.buf[offset..offset + len];
                match g.as_slice() {
                    Some(src) => dst.copy_from_slice(src),
                    None => dst.iter_mut().zip(g.iter()).for_each(|(d, &v)| *d = v),
                }
                true
            }
            None => false,
        });
        b.buf[values + flag] = if has { 1.0 } else { 0.0 };
        b.filled += 1;
        self.filled[i] = true;
    }

    /// Starts the buckets that are full, in bucket order.
    fn start_ready(&mut self) -> Result<()> {
        while let Some(b) = self.buckets.get_mut(self.next) {
            if b.filled < b.members.len() {
                break;
            }
            b.ticket = Some(self.comm.start_sum(std::mem::take(&mut b.buf))?);
            self.next += 1;
        }
        Ok(())
    }

    /// Sends the buckets not sent yet, waits for all and writes the summed gradients back
    /// into the parameters (see the [module docs](self)).
    pub fn finish(&mut self) -> Result<()> {
        let start = std::time::Instant::now();
        let started_in_backward = self.next;
        for i in 0..self.params.len() {
            if !self.filled[i] {
                self.fill(i);
            }
        }
        self.start_ready()?;
        for b in 0..self.buckets.len() {
            let ticket = self.buckets[b].ticket.expect("every bucket was started");
            let sum = self.comm.wait_sum(ticket)?;
            let values = sum.len() - self.buckets[b].members.len();
            for (k, &i) in self.buckets[b].members.iter().enumerate() {
                let Place { offset, .. } = self.place[i];
                let p = &self.params[i].1;
                let grad = (sum[values + k] > 0.0).then(|| {
                    let v = sum[offset..offset + p.len()].to_vec();
                    Array::from_shape_vec(IxDyn(&p.shape()), v).expect("parameter shape")
                });
                p.set_grad(grad);
            }
            self.buckets[b].buf = sum;
        }
        if self.expected.is_none() {
            // Learn the arrival counts and rebuild the buckets in the order rank 0 observed
            // (every rank must use the same layout, even if their graphs differ).
            self.expected = Some(self.arrived.clone());
            let mut order = self.order.clone();
            order.extend(
                (0..self.params.len())
                    .rev()
                    .filter(|i| self.arrived[*i] == 0),
            );
            let bytes: Vec<u8> = order
                .iter()
                .flat_map(|&i| (i as u32).to_le_bytes())
                .collect();
            let bytes = self.comm.broadcast(0, bytes)?;
            let order: Vec<usize> = bytes
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
                .collect();
            self.layout(&order);
        }
        self.stats = ReduceStats {
            buckets: self.buckets.len(),
            started_in_backward,
            exposed_seconds: start.elapsed().as_secs_f64(),
        };
        Ok(())
    }
}
