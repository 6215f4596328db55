//! Normalisation ops: batch normalisation (Ioffe & Szegedy 2015), layer normalisation (Ba et al.
//! 2016), group normalisation (Wu & He 2018) and instance normalisation (Ulyanov et al. 2016).
//!
//! All four compute, over some set S of elements (a channel across the batch, a sample's last
//! dimensions, a group of channels, one channel of one sample):
//!
//! ```text
//! μ = (1/|S|) Σ_S x,   σ² = (1/|S|) Σ_S (x − μ)²   (biased),   x̂ = (x − μ) / √(σ² + ε)
//! y = γ·x̂ + β          (γ, β learnable per channel / per normalised element, optional)
//! ∂L/∂x = (1/√(σ² + ε)) · (g − mean_S(g) − x̂ · mean_S(g·x̂)),   g = γ·∂L/∂y
//! ∂L/∂γ = Σ ∂L/∂y · x̂,   ∂L/∂β = Σ ∂L/∂y
//! ```
//!
//! Statistics are accumulated in `f64` (as PyTorch does on the CPU), per contiguous block first
//! and then combined in a fixed order (Chan et al.'s pairwise update), so results do not depend
//! on the number of threads.

mod any_channels;
mod batch_norm;
mod channels_last;
mod group_norm;
mod instance_norm;
mod layer_norm;
mod sync_batch_norm;

pub use batch_norm::{BatchNormOptions, RunningStats};
pub(crate) use channels_last::ImageMoments;

use crate::ops::conv::lane_sum;

/// Count, mean and sum of squared deviations of a block of values (two passes over the block,
/// which is small enough to stay in cache).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Moments {
    pub count: f64,
    pub mean: f64,
    pub m2: f64,
}

impl Moments {
    /// The moments of `v` (blocks of at most 4096 values, merged in order).
    pub fn of(v: &[f32]) -> Moments {
        const BLOCK: usize = 4096;
        if v.len() > BLOCK {
            return v
                .chunks(BLOCK)
                .fold(Moments::default(), |m, c| m.merge(Moments::of(c)));
        }
        if v.is_empty() {
            return Moments::default();
        }
        let n = v.len() as f64;
        let mean = lane_sum(v) as f64 / n;
        let mf = mean as f32;
        let mut acc = [0.0f32; 16];
        let mut it = v.chunks_exact(16);
        for c in &mut it {
            for (a, &x) in acc.iter_mut().zip(c) {
                let d = x - mf;
                *a += d * d;
            }
        }
        let mut m2: f64 = acc.iter().map(|&a| a as f64).sum();
        for &x in it.remainder() {
            let d = (x - mf) as f64;
            m2 += d * d;
        }
        // Σ(x − mean)² = Σ(x − mf)² − n·(mean − mf)²
        let shift = mean - mf as f64;
        Moments {
            count: n,
            mean,
            m2: (m2 - n * shift * shift).max(0.0),
        }
    }

    /// The moments of the union of two blocks (Chan, Golub & LeVeque 1979).
    pub fn merge(self, o: Moments) -> Moments {
        if self.count == 0.0 {
            return o;
        }
        if o.count == 0.0 {
            return self;
        }
        let n = self.count + o.count;
        let d = o.mean - self.mean;
        Moments {
            count: n,
            mean: self.mean + d * o.count / n,
            m2: self.m2 + o.m2 + d * d * self.count * o.count / n,
        }
    }

    /// The biased variance m2 / count.
    pub fn var(&self) -> f64 {
        if self.count > 0.0 {
            self.m2 / self.count
        } else {
            0.0
        }
    }
}

/// Σ a·(b − shift) over two slices, in a fixed order with f32 lanes, returned in f64.
#[inline]
pub(crate) fn dot_centered(a: &[f32], b: &[f32], shift: f32) -> f64 {
    let mut acc = [0.0f32; 16];
    let mut ia = a.chunks_exact(16);
    let mut ib = b.chunks_exact(16);
    for (ca, cb) in (&mut ia).zip(&mut ib) {
        for ((s, &x), &y) in acc.iter_mut().zip(ca).zip(cb) {
            *s += x * (y - shift);
        }
    }
    let mut s: f64 = acc.iter().map(|&v| v as f64).sum();
    for (&x, &y) in ia.remainder().iter().zip(ib.remainder()) {
        s += (x * (y - shift)) as f64;
    }
    s
}

/// Σ v in f64 via fixed f32 lanes.
#[inline]
pub(crate) fn sum64(v: &[f32]) -> f64 {
    lane_sum(v) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_accurate_and_merge() {
        let v: Vec<f32> = (0..1000).map(|i| 1000.0 + (i % 7) as f32 * 0.25).collect();
        let m = Moments::of(&v);
        let mean: f64 = v.iter().map(|&x| x as f64).sum::<f64>() / 1000.0;
        let var: f64 = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / 1000.0;
        assert!((m.mean - mean).abs() < 1e-9);
        assert!((m.var() - var).abs() < 1e-6 * var, "{} vs {var}", m.var());
        let merged = Moments::of(&v[..300]).merge(Moments::of(&v[300..]));
        assert!((merged.mean - mean).abs() < 1e-9);
        assert!((merged.var() - var).abs() < 1e-6 * var);
    }
}
