//! Per-layer activation statistics, shared by the synthetic nets of [`super::init`] and the
//! user's model ([`super::init_job`](mod@super::init_job)): moments, dead and saturated units, the gradient reaching
//! the layer, histograms on a range shared by the layers of a net, and the [`Health`](super::health::Health) verdict.

use nn_core::Array;
use serde::{Deserialize, Serialize};

use crate::plot::Histogram;

/// What kind of nonlinearity produced a layer's output (what "dead" and "saturated" mean).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// A bounded activation with range [lo, hi] (tanh: [−1, 1], sigmoid: [0, 1]): a value
    /// within 0.5 % of the range's width from either end is *saturated*: its local gradient is
    /// below 2 % of its maximum (tanh′ = 1 − h² ≤ 0.02 at |h| ≥ 0.99; σ′ = h(1 − h) ≤ 0.005
    /// at h ≥ 0.995).
    Bounded {
        /// Lower end of the range.
        lo: f32,
        /// Upper end of the range.
        hi: f32,
    },
    /// ReLU-like (max(0, ·) inside): a unit whose output is exactly 0 for every sample of the
    /// batch (and every position, for feature maps) is *dead*.
    Rectifier,
    /// Anything else (logits, ELU, GELU, …): neither dead nor saturated is counted.
    Other,
}

/// The statistics of one layer's output h and of the gradient dL/dh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerStats {
    /// Layer label (`"layer 3"`, or the module path and type for a user's model).
    pub name: String,
    /// What produced the output.
    pub kind: OutputKind,
    /// Mean of h.
    pub mean: f64,
    /// Standard deviation of h (over all its values).
    pub std: f64,
    /// Fraction of the values of h that are saturated (bounded activations; else 0).
    pub saturated: f64,
    /// Fraction of the units that are dead (rectifiers; else 0). A unit is a feature (axis 1)
    /// over the batch and, for feature maps, all positions.
    pub dead: f64,
    /// Number of units (size of axis 1).
    pub units: usize,
    /// Standard deviation of dL/dh.
    pub grad_std: f64,
    /// Root mean square of dL/dW over the weights (parameters with ≥ 2 axes) that produced this
    /// output since the previous recorded layer; `None` if there are none.
    pub weight_grad_rms: Option<f64>,
    /// Histogram of h (range shared by the layers of the net).
    pub act_hist: Histogram,
    /// Histogram of dL/dh (symmetric range shared by the layers of the net).
    pub grad_hist: Histogram,
}

/// Mean and standard deviation (population) of `v`.
pub fn moments(v: &[f32]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = v
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / n;
    (mean, var.sqrt())
}

/// Fraction of dead units of `h` (`[N, C, …]`): channels c with h[:, c, …] == 0 everywhere.
pub fn dead_fraction(h: &Array) -> f64 {
    if h.ndim() < 2 || h.shape()[1] == 0 {
        return 0.0;
    }
    let c = h.shape()[1];
    let mut alive = vec![false; c];
    for (idx, &v) in h.indexed_iter() {
        if v != 0.0 {
            alive[idx[1]] = true;
        }
    }
    alive.iter().filter(|a| !**a).count() as f64 / c as f64
}

/// Fraction of the values of `v` within 0.5 % of the width of [lo, hi] from either end.
pub fn saturated_fraction(v: &[f32], lo: f32, hi: f32) -> f64 {
    let eps = 0.005 * (hi - lo);
    let n = v
        .iter()
        .filter(|&&x| x <= lo + eps || x >= hi - eps)
        .count();
    n as f64 / v.len().max(1) as f64
}

/// The value at quantile `q` ∈ [0, 1] of `v` (nearest rank on a sorted copy; 0 if empty).
pub fn quantile(v: &[f32], q: f64) -> f64 {
    let mut s: Vec<f32> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return 0.0;
    }
    s.sort_by(f32::total_cmp);
    let i = ((s.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    f64::from(s[i])
}

/// One recorded layer before the histograms: h, dL/dh and what is known about them.
pub struct Recorded {
    /// Label.
    pub name: String,
    /// What produced h.
    pub kind: OutputKind,
    /// h.
    pub h: Array,
    /// dL/dh.
    pub grad: Array,
    /// RMS of the weight gradients since the previous recorded layer.
    pub weight_grad_rms: Option<f64>,
}

/// The statistics of every recorded layer, histograms on shared ranges: activations on the
/// bounded range if every layer has the same one, else on [min q0.5 %, max q99.5 %] over the
/// layers; gradients on ±max over layers of q99.5 % of |dL/dh|.
pub fn layer_stats(layers: Vec<Recorded>, bins: usize) -> Vec<LayerStats> {
    let flat: Vec<(Vec<f32>, Vec<f32>)> = layers
        .iter()
        .map(|r| {
            (
                r.h.iter().copied().collect(),
                r.grad.iter().copied().collect(),
            )
        })
        .collect();
    let bounded: Vec<(f32, f32)> = layers
        .iter()
        .filter_map(|r| match r.kind {
            OutputKind::Bounded { lo, hi } => Some((lo, hi)),
            _ => None,
        })
        .collect();
    let (alo, ahi) = if !bounded.is_empty()
        && bounded.len() == layers.len()
        && bounded.iter().all(|b| *b == bounded[0])
    {
        (f64::from(bounded[0].0), f64::from(bounded[0].1))
    } else {
        let lo = flat
            .iter()
            .map(|f| quantile(&f.0, 0.005))
            .fold(0.0, f64::min);
        let hi = flat
            .iter()
            .map(|f| quantile(&f.0, 0.995))
            .fold(0.0, f64::max);
        (lo, if hi > lo { hi } else { lo + 1.0 })
    };
    let gmax = flat
        .iter()
        .map(|f| {
            let abs: Vec<f32> = f.1.iter().map(|g| g.abs()).collect();
            quantile(&abs, 0.995)
        })
        .fold(0.0, f64::max);
    let gmax = if gmax > 0.0 { gmax } else { 1.0 };
    layers
        .into_iter()
        .zip(flat)
        .map(|(r, (h, g))| {
            let (mean, std) = moments(&h);
            let (saturated, dead) = match r.kind {
                OutputKind::Bounded { lo, hi } => (saturated_fraction(&h, lo, hi), 0.0),
                OutputKind::Rectifier => (0.0, dead_fraction(&r.h)),
                OutputKind::Other => (0.0, 0.0),
            };
            LayerStats {
                name: r.name,
                kind: r.kind,
                mean,
                std,
                saturated,
                dead,
                units: r.h.shape().get(1).copied().unwrap_or(1),
                grad_std: moments(&g).1,
                weight_grad_rms: r.weight_grad_rms,
                act_hist: Histogram::of(h, bins, alo, ahi),
                grad_hist: Histogram::of(g, bins, -gmax, gmax),
            }
        })
        .collect()
}

/// Root mean square of the values of `arrays`; `None` if there are none.
pub fn rms(arrays: &[Array]) -> Option<f64> {
    let n: usize = arrays.iter().map(|a| a.len()).sum();
    if n == 0 {
        return None;
    }
    let ss: f64 = arrays
        .iter()
        .flat_map(|a| a.iter())
        .map(|&v| f64::from(v).powi(2))
        .sum();
    Some((ss / n as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn dead_units_are_zero_for_every_sample() {
        let h = ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![0.0, 1.0, 0.0, 0.0, 0.0, 2.0]).unwrap();
        assert!((dead_fraction(&h) - 1.0 / 3.0).abs() < 1e-12);
        let maps = ArrayD::<f32>::zeros(IxDyn(&[2, 4, 2, 2]));
        assert_eq!(dead_fraction(&maps), 1.0);
    }

    #[test]
    fn saturation_moments_quantiles() {
        assert_eq!(
            saturated_fraction(&[-1.0, -0.985, 0.0, 0.995], -1.0, 1.0),
            0.5
        );
        let (m, s) = moments(&[1.0, 3.0]);
        assert_eq!((m, s), (2.0, 1.0));
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.5), 2.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
        let a = ArrayD::from_elem(IxDyn(&[4]), 2.0f32);
        assert_eq!(rms(&[a]), Some(2.0));
        assert_eq!(rms(&[]), None);
    }
}
