//! The one-cycle policy (Smith & Topin, "Super-Convergence: Very Fast Training of Neural
//! Networks Using Large Learning Rates", 2018), as PyTorch's `OneCycleLR`.

use serde::{Deserialize, Serialize};

/// How a one-cycle phase interpolates between its end points.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anneal {
    /// a + (b − a)·(1 − cos(π·p))/2, written as PyTorch does: b + (a − b)/2·(cos(π·p) + 1).
    #[default]
    Cos,
    /// a + (b − a)·p.
    Linear,
}

impl Anneal {
    /// Interpolates from `start` (p = 0) to `end` (p = 1).
    pub fn apply(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            Anneal::Cos => end + (start - end) / 2.0 * ((std::f64::consts::PI * pct).cos() + 1.0),
            Anneal::Linear => (end - start) * pct + start,
        }
    }
}

/// The learning rate of the one-cycle policy at step `t` (0-based) for peak `max_lr`:
/// initial = max_lr/div_factor, minimum = initial/final_div_factor; two phases (initial → max
/// over the first `pct_start` of the steps, max → minimum) or three (initial → max → initial →
/// minimum). Steps past `total_steps − 1` keep the final value (PyTorch raises instead).
#[allow(clippy::too_many_arguments)]
pub(crate) fn one_cycle_lr(
    max_lr: f64,
    t: u64,
    total_steps: u64,
    pct_start: f64,
    anneal: Anneal,
    div_factor: f64,
    final_div_factor: f64,
    three_phase: bool,
) -> f64 {
    let initial = max_lr / div_factor;
    let min_lr = initial / final_div_factor;
    let total = total_steps as f64;
    let phases: &[(f64, f64, f64)] = if three_phase {
        &[
            (pct_start * total - 1.0, initial, max_lr),
            (2.0 * pct_start * total - 2.0, max_lr, initial),
            (total - 1.0, initial, min_lr),
        ]
    } else {
        &[
            (pct_start * total - 1.0, initial, max_lr),
            (total - 1.0, max_lr, min_lr),
        ]
    };
    walk(t, total_steps, phases, anneal)
}

/// The momentum of the one-cycle policy at step `t`, cycled inversely to the learning rate
/// (PyTorch's `cycle_momentum=True`): max → base while the rate rises, base → max while it
/// falls (three phases: then max held).
#[allow(clippy::too_many_arguments)]
pub(crate) fn one_cycle_momentum(
    t: u64,
    total_steps: u64,
    pct_start: f64,
    anneal: Anneal,
    three_phase: bool,
    base_momentum: f64,
    max_momentum: f64,
) -> f64 {
    let total = total_steps as f64;
    let (lo, hi) = (base_momentum, max_momentum);
    let phases: &[(f64, f64, f64)] = if three_phase {
        &[
            (pct_start * total - 1.0, hi, lo),
            (2.0 * pct_start * total - 2.0, lo, hi),
            (total - 1.0, hi, hi),
        ]
    } else {
        &[(pct_start * total - 1.0, hi, lo), (total - 1.0, lo, hi)]
    };
    walk(t, total_steps, phases, anneal)
}

/// Finds the phase `(end_step, start value, end value)` of step `t` and interpolates, as
/// PyTorch's `OneCycleLR.get_lr`.
fn walk(t: u64, total_steps: u64, phases: &[(f64, f64, f64)], anneal: Anneal) -> f64 {
    let step = (t.min(total_steps - 1)) as f64;
    let mut start_step = 0.0;
    for (i, &(end_step, a, b)) in phases.iter().enumerate() {
        if step <= end_step || i == phases.len() - 1 {
            let pct = (step - start_step) / (end_step - start_step);
            return anneal.apply(a, b, pct);
        }
        start_step = end_step;
    }
    unreachable!("the last phase always matches")
}
