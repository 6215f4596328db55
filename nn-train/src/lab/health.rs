//! [`Health`]: the verdict on a net's activation statistics, with the thresholds it uses, and
//! the sentence that explains it.

use serde::{Deserialize, Serialize};

use super::stats::{LayerStats, OutputKind};

/// A unit counts towards a dead net when more than this fraction of some layer's units is dead.
pub const DEAD_FRACTION: f64 = 0.25;
/// A net counts as saturated when more than this fraction of some bounded layer's values is
/// saturated (see [`OutputKind::Bounded`]).
pub const SATURATED_FRACTION: f64 = 0.10;
/// Per-layer factor of the activation std below which the activations shrink.
pub const SHRINK_FACTOR: f64 = 0.8;
/// Per-layer factor above which they grow.
pub const GROW_FACTOR: f64 = 1.25;
/// Overall change (last hidden layer's std ÷ first hidden layer's) beyond which shrinking is
/// vanishing and growing is exploding.
pub const OVERALL: f64 = 5.0;

/// The verdict on the statistics of a net's hidden layers, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// More than [`DEAD_FRACTION`] of some rectifier layer's units output 0 for the whole batch.
    Dead,
    /// More than [`SATURATED_FRACTION`] of some bounded layer's values are saturated.
    Saturated,
    /// The std shrinks by more than [`OVERALL`]x from the first to the last hidden layer, by a
    /// per-layer factor below [`SHRINK_FACTOR`].
    Vanishing,
    /// The std grows by more than [`OVERALL`]x, by a per-layer factor above [`GROW_FACTOR`].
    Exploding,
    /// Per-layer factor below [`SHRINK_FACTOR`], but less than [`OVERALL`]x overall at this
    /// depth.
    Shrinking,
    /// Per-layer factor above [`GROW_FACTOR`], but less than [`OVERALL`]x overall at this
    /// depth.
    Growing,
    /// None of the above: "just right".
    Healthy,
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Health::Dead => "DEAD",
            Health::Saturated => "SATURATED",
            Health::Vanishing => "VANISHING",
            Health::Exploding => "EXPLODING",
            Health::Shrinking => "SHRINKING",
            Health::Growing => "GROWING",
            Health::Healthy => "HEALTHY",
        })
    }
}

/// The verdict and its numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// The verdict.
    pub health: Health,
    /// (std of the last hidden layer ÷ std of the first)^(1/(L − 1)); `None` with one layer.
    pub factor: Option<f64>,
    /// std of the last hidden layer ÷ std of the first.
    pub overall: f64,
    /// Largest saturated fraction over the layers.
    pub max_saturated: f64,
    /// Largest dead fraction over the layers.
    pub max_dead: f64,
    /// One or two sentences with the numbers.
    pub words: String,
}

/// Judges the hidden layers `layers` (layers of kind [`OutputKind::Other`], e.g. logits, are
/// ignored) of a net called `name`.
pub fn diagnose(name: &str, layers: &[LayerStats]) -> Diagnosis {
    let hidden: Vec<&LayerStats> = layers
        .iter()
        .filter(|l| l.kind != OutputKind::Other)
        .collect();
    let max_saturated = hidden.iter().map(|l| l.saturated).fold(0.0, f64::max);
    let max_dead = hidden.iter().map(|l| l.dead).fold(0.0, f64::max);
    let (first, last) = match (hidden.first(), hidden.last()) {
        (Some(a), Some(b)) => (a.std, b.std),
        _ => (0.0, 0.0),
    };
    let overall = if first > 0.0 { last / first } else { 1.0 };
    let factor = (hidden.len() >= 2 && first > 0.0 && last > 0.0)
        .then(|| overall.powf(1.0 / (hidden.len() - 1) as f64));
    let health = if max_dead > DEAD_FRACTION {
        Health::Dead
    } else if max_saturated > SATURATED_FRACTION {
        Health::Saturated
    } else {
        match factor {
            Some(f) if f < SHRINK_FACTOR && overall < 1.0 / OVERALL => Health::Vanishing,
            Some(f) if f > GROW_FACTOR && overall > OVERALL => Health::Exploding,
            Some(f) if f < SHRINK_FACTOR => Health::Shrinking,
            Some(f) if f > GROW_FACTOR => Health::Growing,
            _ => Health::Healthy,
        }
    };
    let n = hidden.len();
    let trend = match factor {
        Some(f) => format!(
            "activation std {first:.3e} (first hidden layer) -> {last:.3e} (layer {n}), x{f:.2} per layer"
        ),
        None => format!("activation std {first:.3e}"),
    };
    let grads = match (hidden.first(), hidden.last()) {
        (Some(a), Some(b)) if n >= 2 => match (a.weight_grad_rms, b.weight_grad_rms) {
            (Some(ga), Some(gb)) => {
                format!("; weight gradients rms {ga:.2e} (first) vs {gb:.2e} (last)")
            }
            _ => String::new(),
        },
        _ => String::new(),
    };
    let what = match health {
        Health::Dead => format!(
            "{:.0} % of the units of some layer output 0 for the whole batch: no gradient flows \
             through them",
            100.0 * max_dead
        ),
        Health::Saturated => format!(
            "{:.0} % of the values sit at the ends of the activation's range, where its local \
             gradient is ~0: no learning",
            100.0 * max_saturated
        ),
        Health::Vanishing => "the activations tend to zero with depth: the deep layers see almost \
                              no signal, and their weight gradients (proportional to their \
                              inputs) are small: little learning"
            .into(),
        Health::Exploding => "the activations blow up with depth".into(),
        Health::Shrinking => format!(
            "only x{overall:.2} over these {n} layers, but a deeper net at the same rate would \
             vanish (x{:.0e} at 20 layers)",
            factor.unwrap_or(1.0).powi(19)
        ),
        Health::Growing => format!(
            "only x{overall:.2} over these {n} layers, but a deeper net at the same rate would \
             explode (x{:.0e} at 20 layers)",
            factor.unwrap_or(1.0).powi(19)
        ),
        Health::Healthy => "activations are nicely scaled in every layer".into(),
    };
    Diagnosis {
        health,
        factor,
        overall,
        max_saturated,
        max_dead,
        words: format!("{name}: {health}: {trend}{grads}; {what}."),
    }
}
