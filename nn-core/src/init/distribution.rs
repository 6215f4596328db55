//! [`Distribution`]: what an initialisation scheme resolves to for given fans — a constant, a
//! normal, a uniform or a truncated normal — with its exact mean and standard deviation, sampled
//! element by element in row-major order from an explicit generator.

use ndarray::IxDyn;
use ndarray_rand::RandomExt;
use rand::Rng;
use rand_distr::{Normal, StandardNormal, Uniform};

use crate::ops::activation::erf_f64;
use crate::tensor::Array;

/// A resolved initialisation distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distribution {
    /// Every element equals the value.
    Constant(f32),
    /// N(mean, std²).
    Normal {
        /// Mean.
        mean: f32,
        /// Standard deviation.
        std: f32,
    },
    /// U[low, high).
    Uniform {
        /// Lower bound.
        low: f32,
        /// Upper bound.
        high: f32,
    },
    /// N(mean, std²) conditioned on [low, high] (PyTorch's `trunc_normal_`; `low`/`high` are
    /// absolute values, not multiples of `std`).
    TruncatedNormal {
        /// Mean of the untruncated normal.
        mean: f32,
        /// Standard deviation of the untruncated normal.
        std: f32,
        /// Lower bound.
        low: f32,
        /// Upper bound.
        high: f32,
    },
}

/// φ, the standard normal density.
fn pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Φ, the standard normal distribution function.
pub(crate) fn cdf(x: f64) -> f64 {
    0.5 * (1.0 + erf_f64(x / std::f64::consts::SQRT_2))
}

/// For N(μ, σ²) truncated to [a, b], with α = (a − μ)/σ, β = (b − μ)/σ and Z = Φ(β) − Φ(α):
/// the mean μ + σ(φ(α) − φ(β))/Z and the standard deviation
/// σ·√(1 + (αφ(α) − βφ(β))/Z − ((φ(α) − φ(β))/Z)²).
fn truncated_moments(mean: f32, std: f32, low: f32, high: f32) -> (f64, f64) {
    let (m, s) = (mean as f64, std as f64);
    let (a, b) = ((low as f64 - m) / s, (high as f64 - m) / s);
    let z = cdf(b) - cdf(a);
    let d = (pdf(a) - pdf(b)) / z;
    let var = 1.0 + (a * pdf(a) - b * pdf(b)) / z - d * d;
    (m + s * d, s * var.max(0.0).sqrt())
}

impl Distribution {
    /// The mean of the distribution.
    pub fn mean(&self) -> f32 {
        match *self {
            Distribution::Constant(v) => v,
            Distribution::Normal { mean, .. } => mean,
            Distribution::Uniform { low, high } => 0.5 * (low + high),
            Distribution::TruncatedNormal {
                mean,
                std,
                low,
                high,
            } => truncated_moments(mean, std, low, high).0 as f32,
        }
    }

    /// The standard deviation of the distribution ((high − low)/√12 for a uniform).
    pub fn std(&self) -> f32 {
        match *self {
            Distribution::Constant(_) => 0.0,
            Distribution::Normal { std, .. } => std,
            Distribution::Uniform { low, high } => (high - low) / 12f32.sqrt(),
            Distribution::TruncatedNormal {
                mean,
                std,
                low,
                high,
            } => truncated_moments(mean, std, low, high).1 as f32,
        }
    }

    /// Samples an array of `shape`, element by element in row-major order, from `rng`. The
    /// truncated normal is sampled by rejection (schemes only build it with an acceptance
    /// probability of at least 10⁻³).
    pub fn sample<R: Rng + ?Sized>(&self, shape: &[usize], rng: &mut R) -> Array {
        match *self {
            Distribution::Constant(v) => Array::from_elem(IxDyn(shape), v),
            Distribution::Normal { mean, std } if std > 0.0 => {
                let d = Normal::new(mean, std).expect("validated normal parameters");
                Array::random_using(IxDyn(shape), d, rng)
            }
            Distribution::Normal { mean, .. } => Array::from_elem(IxDyn(shape), mean),
            Distribution::Uniform { low, high } if low < high => {
                let d = Uniform::new(low, high).expect("validated uniform bounds");
                Array::random_using(IxDyn(shape), d, rng)
            }
            Distribution::Uniform { low, .. } => Array::from_elem(IxDyn(shape), low),
            Distribution::TruncatedNormal {
                mean,
                std,
                low,
                high,
            } => Array::random_using(
                IxDyn(shape),
                Truncated {
                    mean,
                    std,
                    low,
                    high,
                },
                rng,
            ),
        }
    }
}

/// N(mean, std²) restricted to `[low, high]`, sampled by rejection (one standard normal per try).
struct Truncated {
    mean: f32,
    std: f32,
    low: f32,
    high: f32,
}

impl rand_distr::Distribution<f32> for Truncated {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f32 {
        loop {
            let z: f32 = rand_distr::Distribution::sample(&StandardNormal, rng);
            let v = self.mean + self.std * z;
            if (self.low..=self.high).contains(&v) {
                return v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::seeded;

    #[test]
    fn truncated_normal_moments_and_support() {
        // Symmetric truncation at ±2σ: std = σ·√(1 − 2·2φ(2)/(2Φ(2) − 1)) ≈ 0.879626σ
        // (scipy.stats.truncnorm(-2, 2).std()).
        let d = Distribution::TruncatedNormal {
            mean: 0.0,
            std: 0.02,
            low: -0.04,
            high: 0.04,
        };
        assert!(d.mean().abs() < 1e-9);
        assert!((d.std() / 0.02 - 0.879_626).abs() < 1e-5, "{}", d.std());
        let a = d.sample(&[200, 100], &mut seeded(0));
        assert!(a.iter().all(|v| v.abs() <= 0.04));
        let n = a.len() as f64;
        let m = a.iter().map(|&v| v as f64).sum::<f64>() / n;
        let s = (a.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / n).sqrt();
        assert!((s as f32 / d.std() - 1.0).abs() < 0.02, "{s}");
        // One-sided: N(0, 1) on [0, 3] has mean (φ(0) − φ(3))/(Φ(3) − Φ(0)) ≈ 0.791157
        // (scipy.stats.truncnorm(0, 3).mean()).
        let h = Distribution::TruncatedNormal {
            mean: 0.0,
            std: 1.0,
            low: 0.0,
            high: 3.0,
        };
        assert!((h.mean() - 0.791_157).abs() < 1e-5, "{}", h.mean());
    }
}
