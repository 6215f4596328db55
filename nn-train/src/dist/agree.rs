//! Agreement between ranks: after every step's forward pass, after every step and at every
//! epoch end, all ranks exchange a status (go on, stop, or an error with its message) and the
//! numbers they need in common. An error on any rank — a batch that cannot be read, a
//! non-finite loss, a failed validation or write on rank 0 — so becomes an error on every rank
//! at the next agreement, with the failing rank's message, instead of leaving the others
//! waiting in a collective.

use crate::callback::Control;
use crate::error::{Result, TrainError};

use super::Dist;

const OK: f64 = 0.0;
const STOP: f64 = 1.0;
const ERROR: f64 = 2.0;
/// Values per rank in an agreement.
const K: usize = 4;

/// This rank's part of a step, before backward.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLocal {
    /// The loss of this rank's shard (its own mean).
    pub loss: f32,
    /// The loss's denominator: the shard's sample count, or its total class weight for a
    /// class-weighted loss with hard labels.
    pub denominator: f64,
    /// Correct predictions in the shard.
    pub correct: usize,
    /// Samples in the shard.
    pub samples: usize,
}

/// The global batch, as every rank sees it after the agreement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepTotals {
    /// The loss of the global batch: Σ_r loss_r·d_r / Σ_r d_r (ranks with d_r = 0 left out).
    pub loss: f32,
    /// This rank's share d_r / Σ d (the seed of its backward pass).
    pub share: f32,
    /// Σ_r d_r.
    pub denominator: f64,
    /// Correct predictions in the global batch.
    pub correct: usize,
    /// Samples in the global batch.
    pub samples: usize,
}

impl Dist {
    /// Exchanges `[status, 4 values]` with every rank (every agreement has this shape, so a
    /// failing rank meets the others whichever agreement they are in); on an error anywhere,
    /// returns this rank's own error or the lowest failing rank's message.
    fn exchange(&self, local: Result<(f64, [f64; K])>) -> Result<Vec<(f64, [f64; K])>> {
        let (code, values, error) = match local {
            Ok((code, values)) => (code, values, None),
            Err(e) => (ERROR, [0.0; K], Some(e)),
        };
        let mut row = vec![code];
        row.extend_from_slice(&values);
        let all = match self.comm.all_gather(&row) {
            Ok(all) => all,
            Err(e) => return Err(error.unwrap_or(e)),
        };
        let rows: Vec<(f64, [f64; K])> = all
            .chunks_exact(K + 1)
            .map(|r| (r[0], r[1..].try_into().expect("K values")))
            .collect();
        if let Some(failing) = rows.iter().position(|r| r.0 == ERROR) {
            let mine = match (&error, failing == self.rank()) {
                (Some(e), true) => e.to_string().into_bytes(),
                _ => Vec::new(),
            };
            let message = self.comm.broadcast(failing, mine);
            return Err(match (error, message) {
                (Some(e), _) => e,
                (None, Ok(m)) => TrainError::Rank {
                    rank: failing,
                    message: String::from_utf8_lossy(&m).into_owned(),
                },
                (None, Err(e)) => e,
            });
        }
        Ok(rows)
    }

    /// Every rank's `local` result agreed: `Ok` everywhere, or an error on every rank.
    pub fn agree<T>(&self, local: Result<T>) -> Result<T> {
        if self.size() == 1 {
            return local;
        }
        match local {
            Ok(v) => self.exchange(Ok((OK, [0.0; K]))).map(|_| v),
            Err(e) => Err(self.exchange(Err(e)).expect_err("an error")),
        }
    }

    /// Stop if any rank's callbacks (or rank 0's early stopping) say so; errors as
    /// [`Dist::agree`].
    pub fn agree_control(&self, local: Result<Control>) -> Result<Control> {
        if self.size() == 1 {
            return local;
        }
        let code = local.map(|c| (if c == Control::Stop { STOP } else { OK }, [0.0; K]));
        let rows = self.exchange(code)?;
        Ok(if rows.iter().any(|r| r.0 == STOP) {
            Control::Stop
        } else {
            Control::Continue
        })
    }

    /// After a step or an epoch: stop if any rank's callbacks (or rank 0's early stopping) say
    /// so, and the signal (SIGINT/SIGTERM) any rank received, so that every rank checkpoints
    /// and stops at the same step; errors as [`Dist::agree`].
    pub fn agree_after_step(
        &self,
        local: Result<Control>,
        signal: Option<i32>,
    ) -> Result<(Control, Option<i32>)> {
        if self.size() == 1 {
            return Ok((local?, signal));
        }
        let sig = signal.unwrap_or(0) as f64;
        let code = local.map(|c| {
            (
                if c == Control::Stop { STOP } else { OK },
                [sig, 0.0, 0.0, 0.0],
            )
        });
        let rows = self.exchange(code)?;
        let control = if rows.iter().any(|r| r.0 == STOP) {
            Control::Stop
        } else {
            Control::Continue
        };
        // The first rank's signal (any rank's, if rank 0 got none).
        let signal = rows.iter().map(|r| r.1[0] as i32).find(|&s| s != 0);
        Ok((control, signal))
    }

    /// The global batch's loss, this rank's share of it and the global counts; errors as
    /// [`Dist::agree`].
    pub fn agree_step(&self, local: Result<StepLocal>) -> Result<StepTotals> {
        if self.size() == 1 {
            let l = local?;
            return Ok(StepTotals {
                loss: l.loss,
                share: 1.0,
                denominator: l.denominator,
                correct: l.correct,
                samples: l.samples,
            });
        }
        let mine = local.as_ref().ok().copied();
        let rows = self.exchange(local.map(|l| {
            (
                OK,
                [
                    l.loss as f64,
                    l.denominator,
                    l.correct as f64,
                    l.samples as f64,
                ],
            )
        }))?;
        let mine = mine.expect("no error, so a local step");
        let (mut weighted, mut total, mut correct, mut samples) = (0.0f64, 0.0f64, 0.0, 0.0);
        for (_, [loss, d, c, n]) in &rows {
            if *d > 0.0 {
                weighted += loss * d;
                total += d;
            }
            correct += c;
            samples += n;
        }
        Ok(StepTotals {
            loss: (weighted / total) as f32,
            share: (mine.denominator / total) as f32,
            denominator: total,
            correct: correct as usize,
            samples: samples as usize,
        })
    }

    /// The sum over the ranks of `local` (in rank order); errors as [`Dist::agree`].
    pub fn agree_sum(&self, local: Result<f64>) -> Result<f64> {
        if self.size() == 1 {
            return local;
        }
        let rows = self.exchange(local.map(|v| (OK, [v, 0.0, 0.0, 0.0])))?;
        Ok(rows.iter().map(|r| r.1[0]).sum())
    }

    /// This rank's error `e`, told to the other ranks at the step agreement they are waiting
    /// in (a rank that fails before its forward pass calls this instead of
    /// [`Dist::agree_step`]).
    pub fn fail(&self, e: TrainError) -> TrainError {
        match self.agree_step(Err(e)) {
            Err(e) => e,
            Ok(_) => unreachable!("an error is agreed as an error"),
        }
    }
}
