//! Where the trials go: [`random_samples`] (random search, Bergstra & Bengio 2012),
//! [`grid_samples`] (grid search) and [`narrow`] (the coarse-to-fine step).
//!
//! Random search beats grid search when only a few dimensions matter: n random trials try n
//! distinct values of every dimension, a grid only n^(1/d) (Bergstra & Bengio, "Random Search
//! for Hyper-Parameter Optimization", JMLR 2012). Trial k of stage s draws from its own
//! ChaCha8 stream `(s << 32) | k` of the search seed, so its sample depends neither on the
//! other trials nor on how many run in parallel.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::space::{Dimension, Sample, SearchSpace};

/// The generator of trial `trial` of stage `stage` (1-based) of a search seeded with `seed`.
pub fn trial_rng(seed: u64, stage: usize, trial: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((stage as u64) << 32) | trial as u64);
    rng
}

/// `n` random points of `space` for stage `stage`: point k is `space.sample(trial_rng(seed,
/// stage, k))`.
pub fn random_samples(space: &SearchSpace, n: usize, seed: u64, stage: usize) -> Vec<Sample> {
    (0..n)
        .map(|k| space.sample(&mut trial_rng(seed, stage, k)))
        .collect()
}

/// The full grid of `space` with `points` values per continuous or integer dimension
/// ([`Dimension::grid`]: log-spaced on a log scale) and every value of a choice; the last
/// path varies fastest.
pub fn grid_samples(space: &SearchSpace, points: usize) -> Vec<Sample> {
    let mut out = vec![Sample::new()];
    for (name, dim) in &space.dimensions {
        let values = dim.grid(points);
        out = out
            .into_iter()
            .flat_map(|s| {
                values.iter().map(move |v| {
                    let mut s = s.clone();
                    s.insert(name.clone(), v.clone());
                    s
                })
            })
            .collect();
    }
    out
}

/// The refined space of coarse-to-fine search: every dimension narrowed to the range spanned by
/// the values of the `best` samples ([`narrow_dimension`]). Paths missing from a sample are
/// ignored for that sample; a dimension no sample has keeps its range.
pub fn narrow(space: &SearchSpace, best: &[&Sample], widen: f64) -> SearchSpace {
    let dimensions = space
        .dimensions
        .iter()
        .map(|(name, dim)| {
            let values: Vec<toml::Value> =
                best.iter().filter_map(|s| s.get(name).cloned()).collect();
            (name.clone(), narrow_dimension(dim, &values, widen))
        })
        .collect();
    SearchSpace { dimensions }
}

/// `dim` narrowed to [min, max] of `values`, widened on each side by `widen` × the width of the
/// original range (measured in log space for log dimensions, so the margin is a factor there)
/// and clipped to the original range. Integers round outwards; a choice keeps the values that
/// occur (in their original order). With no values, or values of the wrong type, `dim` is
/// returned unchanged. The result always lies inside `dim`, and is a valid range if `widen > 0`.
pub fn narrow_dimension(dim: &Dimension, values: &[toml::Value], widen: f64) -> Dimension {
    let nums: Vec<f64> = values
        .iter()
        .filter_map(|v| match v {
            toml::Value::Float(f) => Some(*f),
            toml::Value::Integer(i) => Some(*i as f64),
            _ => None,
        })
        .collect();
    if let Dimension::Choice(choices) = dim {
        let kept: Vec<toml::Value> = choices
            .iter()
            .filter(|c| values.contains(c))
            .cloned()
            .collect();
        return if kept.is_empty() {
            dim.clone()
        } else {
            Dimension::Choice(kept)
        };
    }
    if nums.is_empty() {
        return dim.clone();
    }
    let (lo, hi, log) = match *dim {
        Dimension::LogUniform { low, high } => (low, high, true),
        Dimension::Uniform { low, high } => (low, high, false),
        Dimension::IntUniform { low, high } => (low as f64, high as f64, false),
        Dimension::LogIntUniform { low, high } => (low as f64, high as f64, true),
        Dimension::Choice(_) => unreachable!("handled above"),
    };
    let to = |x: f64| if log { x.ln() } else { x };
    let from = |x: f64| if log { x.exp() } else { x };
    let clip = |x: f64| x.clamp(lo, hi);
    let margin = widen.max(0.0) * (to(hi) - to(lo));
    let vmin = nums
        .iter()
        .map(|&x| to(clip(x)))
        .fold(f64::INFINITY, f64::min);
    let vmax = nums
        .iter()
        .map(|&x| to(clip(x)))
        .fold(f64::NEG_INFINITY, f64::max);
    let (a, b) = (clip(from(vmin - margin)), clip(from(vmax + margin)));
    match *dim {
        Dimension::LogUniform { .. } if a < b => Dimension::LogUniform { low: a, high: b },
        Dimension::Uniform { .. } if a < b => Dimension::Uniform { low: a, high: b },
        Dimension::IntUniform { low, high } => Dimension::IntUniform {
            low: (a.floor() as i64).clamp(low, high),
            high: (b.ceil() as i64).clamp(low, high),
        },
        Dimension::LogIntUniform { low, high } => Dimension::LogIntUniform {
            low: (a.floor() as i64).clamp(low, high),
            high: (b.ceil() as i64).clamp(low, high),
        },
        _ => dim.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn space(text: &str) -> SearchSpace {
        SearchSpace::from_toml(text, Path::new("s.toml")).unwrap()
    }

    #[test]
    fn grid_is_the_product() {
        let s = space(
            r#"[dimensions]
            "optimizer.lr" = { log_uniform = { low = 1e-3, high = 1e-1 } }
            "batch_size" = { choice = [32, 64] }"#,
        );
        let g = grid_samples(&s, 3);
        assert_eq!(g.len(), 6);
        assert_eq!(g[0]["batch_size"], 32.into());
        assert_eq!(g[1]["batch_size"], 32.into());
        assert_eq!(g[3]["batch_size"], 64.into());
        let lr = g[1]["optimizer.lr"].as_float().unwrap();
        assert!((lr / 1e-2 - 1.0).abs() < 1e-9, "{lr}");
    }

    #[test]
    fn trial_streams_are_independent_of_the_count() {
        let s = space(r#"dimensions.x = { uniform = { low = 0.0, high = 1.0 } }"#);
        let a = random_samples(&s, 3, 7, 1);
        let b = random_samples(&s, 10, 7, 1);
        assert_eq!(a[..], b[..3]);
        assert_ne!(
            random_samples(&s, 3, 7, 2),
            a,
            "stages draw from other streams"
        );
        assert_ne!(random_samples(&s, 3, 8, 1), a, "seeds matter");
    }

    #[test]
    fn narrowing_in_log_space() {
        let d = Dimension::LogUniform {
            low: 1e-4,
            high: 1.0,
        };
        let n = narrow_dimension(&d, &[1e-2.into(), 1e-3.into()], 0.25);
        let Dimension::LogUniform { low, high } = n else {
            panic!("{n}")
        };
        // Span 4 decades → margin 1 decade each side.
        assert!((low / 1e-4 - 1.0).abs() < 1e-9 && (high / 1e-1 - 1.0).abs() < 1e-9);
        let c = Dimension::Choice(vec![1.into(), 2.into(), 3.into()]);
        assert_eq!(
            narrow_dimension(&c, &[3.into(), 1.into(), 3.into()], 0.1),
            Dimension::Choice(vec![1.into(), 3.into()])
        );
        let i = Dimension::IntUniform { low: 0, high: 100 };
        assert_eq!(
            narrow_dimension(&i, &[40.into(), 50.into()], 0.05),
            Dimension::IntUniform { low: 35, high: 55 }
        );
        assert_eq!(narrow_dimension(&i, &[], 0.1), i);
    }
}
