//! Pooling regions of fractional max pooling: the integer sequences of Graham (2014) and
//! PyTorch's fixed-kernel variant.
//!
//! Along one axis of size N_in pooled to N_out, a sequence of boundaries
//! 0 = a₀ < a₁ < … < a_{N_out} = N_in with increments ⌊α⌋ or ⌈α⌉ (α = N_in / N_out) is drawn
//!
//! * **pseudorandomly**: aᵢ = ⌊α(i + u)⌋ − ⌊αu⌋ for one u ~ U[0, 1) (i < N_out), a_{N_out} = N_in;
//! * **randomly**: the increments, (N_in mod N_out) of them ⌈α⌉ and the rest ⌊α⌋, in a uniformly
//!   random order (Fisher–Yates).
//!
//! and turned into windows (end exclusive):
//!
//! * [`FmpRegions::Disjoint`]: [aᵢ, aᵢ₊₁) — a partition of the axis;
//! * [`FmpRegions::Overlapping`]: [aᵢ, aᵢ₊₁ + 1) clipped to N_in — Graham's overlapping regions
//!   [aᵢ, aᵢ₊₁] (the last one is clipped at the border);
//! * [`FmpRegions::Kernel`]`(k)`: fixed windows [sᵢ, sᵢ + k) whose starts are the boundaries of
//!   N_in − k over N_out − 1 steps (s_{N_out−1} = N_in − k). With a pseudorandom sequence this is
//!   exactly PyTorch's `fractional_max_pool2d` (same formula, same f32 arithmetic; its
//!   `_random_samples[n, c] = (u_w, u_h)`), see [`PoolingRegions::from_torch_samples`](super::PoolingRegions::from_torch_samples).

use rand::Rng;
use serde::{Deserialize, Serialize};

/// How the boundary sequence is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FmpSequence {
    /// aᵢ = ⌊α(i + u)⌋ − ⌊αu⌋ with one uniform u per axis (Graham's "pseudorandom"). Default.
    #[default]
    Pseudorandom,
    /// A uniformly random order of the increments (Graham's "random").
    Random,
}

/// The shape of the pooling windows built from the sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FmpRegions {
    /// Windows [aᵢ, aᵢ₊₁): a partition.
    Disjoint,
    /// Windows [aᵢ, aᵢ₊₁] (clipped at the border). Default: Graham's best CIFAR-10 results.
    #[default]
    Overlapping,
    /// Fixed `(kh, kw)` windows at pseudo/random starts (PyTorch's `FractionalMaxPool2d`).
    Kernel(usize, usize),
}

/// Which inputs share one draw of the regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FmpSharing {
    /// Every (sample, channel) plane has its own regions (PyTorch's behaviour). Default.
    #[default]
    PerChannel,
    /// All channels of a sample share regions (the same spatial grid for the whole feature map).
    PerImage,
    /// One draw for the whole batch.
    PerBatch,
}

/// The windows along one axis: window i covers `start[i]..end[i]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AxisWindows {
    /// First index of each window.
    pub start: Vec<usize>,
    /// One past the last index of each window.
    pub end: Vec<usize>,
}

/// Where a sequence's randomness comes from.
pub(crate) enum Draw<'a, R: Rng + ?Sized> {
    /// A pseudorandom sequence with this offset u ∈ [0, 1).
    Offset(f32),
    /// A random or pseudorandom sequence drawing from a generator.
    Rng(FmpSequence, &'a mut R),
}

/// Pseudorandom boundaries of `total` over `steps` steps (PyTorch's `generate_intervals`, f32).
fn pseudorandom_boundaries(total: usize, steps: usize, u: f32) -> Vec<usize> {
    let mut b = vec![0; steps + 1];
    if steps > 0 {
        let alpha = total as f32 / steps as f32;
        let base = (u * alpha) as i64;
        for (i, bi) in b.iter_mut().enumerate().take(steps) {
            *bi = (((i as f32 + u) * alpha) as i64 - base).max(0) as usize;
        }
    }
    b[steps] = total;
    b
}

/// Random boundaries: the increments ⌊total/steps⌋ and ⌈total/steps⌉ in a uniformly random order.
fn random_boundaries<R: Rng + ?Sized>(total: usize, steps: usize, rng: &mut R) -> Vec<usize> {
    if steps == 0 {
        return vec![total];
    }
    let (base, extra) = (total / steps, total % steps);
    let mut inc: Vec<usize> = (0..steps).map(|i| base + usize::from(i < extra)).collect();
    for i in (1..steps).rev() {
        let j = rng.random_range(0..=i);
        inc.swap(i, j);
    }
    let mut b = Vec::with_capacity(steps + 1);
    let mut acc = 0;
    b.push(0);
    for d in inc {
        acc += d;
        b.push(acc);
    }
    b
}

fn boundaries<R: Rng + ?Sized>(total: usize, steps: usize, draw: &mut Draw<'_, R>) -> Vec<usize> {
    match draw {
        Draw::Offset(u) => pseudorandom_boundaries(total, steps, *u),
        Draw::Rng(FmpSequence::Pseudorandom, rng) => {
            let u: f32 = rng.random();
            pseudorandom_boundaries(total, steps, u)
        }
        Draw::Rng(FmpSequence::Random, rng) => random_boundaries(total, steps, *rng),
    }
}

/// Makes boundaries strictly increasing within [0, total] (guards f32 rounding in the
/// pseudorandom formula; a no-op for exact arithmetic).
fn make_strict(b: &mut [usize], total: usize) {
    let steps = b.len() - 1;
    for i in 1..=steps {
        let lo = b[i - 1] + 1;
        let hi = total - (steps - i);
        b[i] = b[i].clamp(lo, hi);
    }
}

/// The windows of one axis (see the module docs). `kernel` is the window size of
/// [`FmpRegions::Kernel`] along this axis (ignored otherwise).
///
/// Requires 1 ≤ n_out ≤ n_in (and n_out + k − 1 ≤ n_in for a kernel); checked by the caller.
pub(crate) fn axis_windows<R: Rng + ?Sized>(
    n_in: usize,
    n_out: usize,
    regions: FmpRegions,
    kernel: usize,
    draw: &mut Draw<'_, R>,
) -> AxisWindows {
    match regions {
        FmpRegions::Disjoint | FmpRegions::Overlapping => {
            let mut b = boundaries(n_in, n_out, draw);
            make_strict(&mut b, n_in);
            let overlap = usize::from(regions == FmpRegions::Overlapping);
            AxisWindows {
                start: b[..n_out].to_vec(),
                end: b[1..].iter().map(|&e| (e + overlap).min(n_in)).collect(),
            }
        }
        FmpRegions::Kernel(..) => {
            let starts = boundaries(n_in - kernel, n_out - 1, draw);
            AxisWindows {
                end: starts.iter().map(|&s| s + kernel).collect(),
                start: starts,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::rng::seeded;
    use proptest::prelude::*;

    fn pseudo(n_in: usize, n_out: usize, regions: FmpRegions, k: usize, u: f32) -> AxisWindows {
        axis_windows::<rand_chacha::ChaCha8Rng>(n_in, n_out, regions, k, &mut Draw::Offset(u))
    }

    #[test]
    fn graham_example() {
        // α = 25/18 ≈ 1.39, u = 0.5: increments of 1 and 2, a partition.
        let w = pseudo(25, 18, FmpRegions::Disjoint, 0, 0.5);
        assert_eq!(w.start[0], 0);
        assert_eq!(*w.end.last().unwrap(), 25);
        for i in 0..18 {
            let len = w.end[i] - w.start[i];
            assert!(len == 1 || len == 2);
            if i > 0 {
                assert_eq!(w.start[i], w.end[i - 1]);
            }
        }
    }

    #[test]
    fn kernel_mode_matches_pytorch_formula() {
        // PyTorch: alpha = (10 - 2) / (4 - 1); seq[i] = int((i + u)·alpha) − int(u·alpha).
        let w = pseudo(10, 4, FmpRegions::Kernel(2, 2), 2, 0.3);
        let alpha = 8.0f32 / 3.0;
        let expected: Vec<usize> = (0..3)
            .map(|i| (((i as f32 + 0.3) * alpha) as i64 - (0.3 * alpha) as i64) as usize)
            .chain([8])
            .collect();
        assert_eq!(w.start, expected);
        assert!(w.end.iter().zip(&w.start).all(|(e, s)| e - s == 2));
        // One output: the window sits at the end, as in PyTorch.
        assert_eq!(
            pseudo(5, 1, FmpRegions::Kernel(2, 2), 2, 0.7).start,
            vec![3]
        );
    }

    proptest! {
        #[test]
        fn windows_cover_the_axis_in_order(
            n_out in 1usize..20, extra in 0usize..25, u in 0.0f32..1.0, seed in 0u64..100,
            overlapping in any::<bool>(), random in any::<bool>(),
        ) {
            let n_in = n_out + extra;
            let regions = if overlapping { FmpRegions::Overlapping } else { FmpRegions::Disjoint };
            let mut rng = seeded(seed);
            let w = if random {
                axis_windows(n_in, n_out, regions, 0, &mut Draw::Rng(FmpSequence::Random, &mut rng))
            } else {
                pseudo(n_in, n_out, regions, 0, u)
            };
            prop_assert_eq!(w.start.len(), n_out);
            prop_assert_eq!(w.start[0], 0);
            prop_assert_eq!(*w.end.last().unwrap(), n_in);
            let (lo, hi) = (n_in / n_out, n_in.div_ceil(n_out));
            for i in 0..n_out {
                let len = w.end[i] - w.start[i];
                prop_assert!(len >= 1);
                if i + 1 < n_out {
                    // Disjoint: the increment; overlapping: the increment + 1.
                    let inc = w.start[i + 1] - w.start[i];
                    prop_assert!(inc >= lo && inc <= hi, "increment {} not in [{}, {}]", inc, lo, hi);
                    prop_assert_eq!(len, inc + usize::from(overlapping));
                }
            }
        }

        #[test]
        fn kernel_windows_stay_inside(n_out in 1usize..15, extra in 0usize..20, k in 1usize..4,
                                      u in 0.0f32..1.0) {
            let n_in = n_out + k - 1 + extra;
            let w = pseudo(n_in, n_out, FmpRegions::Kernel(k, k), k, u);
            prop_assert_eq!(w.start.len(), n_out);
            prop_assert!(w.start.windows(2).all(|p| p[0] <= p[1]));
            prop_assert_eq!(*w.end.last().unwrap(), n_in);
            prop_assert!(w.end.iter().all(|&e| e <= n_in));
        }
    }

    #[test]
    fn random_sequences_vary_and_are_seeded() {
        let draw = |seed| {
            axis_windows(
                30,
                20,
                FmpRegions::Disjoint,
                0,
                &mut Draw::Rng(FmpSequence::Random, &mut seeded(seed)),
            )
        };
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
    }
}
