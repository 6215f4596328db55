//! The fractional max pooling op for given regions: forward (max and arg-max per window) and
//! backward (the gradient routed to each window's arg-max, summed where overlapping windows
//! share it).
//!
//! y[n, c, i, j] = max over (h, w) ∈ rowsᵍ(i) × colsᵍ(j) of x[n, c, h, w], g = the (n, c) plane's
//! region group; ∂L/∂x[n, c, h, w] = Σ_{(i, j): argmax(i, j) = (h, w)} ∂L/∂y[n, c, i, j].
//!
//! Ties and NaN follow PyTorch: the first maximum in row-major window order wins, and a NaN
//! always replaces the running maximum (so NaN propagates).

use ndarray::IxDyn;
use nn_core::{Array, Backward, BackwardCtx, Tensor};
use rand::Rng;
use rayon::prelude::*;

use super::regions::{AxisWindows, Draw, FmpRegions, FmpSequence, FmpSharing, axis_windows};

/// The pooling windows of one forward pass: for every region group (see [`FmpSharing`]) the
/// windows along the rows and along the columns.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolingRegions {
    /// `(rows, cols)` windows per group.
    pub groups: Vec<(AxisWindows, AxisWindows)>,
    /// How (sample, channel) planes map to groups.
    pub sharing: FmpSharing,
    /// Input spatial size (H, W).
    pub input: (usize, usize),
    /// Output spatial size (oh, ow).
    pub output: (usize, usize),
}

impl PoolingRegions {
    /// Number of region groups needed for `n` samples of `c` channels under `sharing`.
    pub fn group_count(sharing: FmpSharing, n: usize, c: usize) -> usize {
        match sharing {
            FmpSharing::PerChannel => n * c,
            FmpSharing::PerImage => n,
            FmpSharing::PerBatch => 1,
        }
    }

    /// The group of plane (`n`, `c`) with `channels` channels.
    pub fn group_of(&self, n: usize, c: usize, channels: usize) -> usize {
        match self.sharing {
            FmpSharing::PerChannel => n * channels + c,
            FmpSharing::PerImage => n,
            FmpSharing::PerBatch => 0,
        }
    }

    /// Draws regions for an `[n, c, H, W]` input pooled to `output`, from `rng` (rows first, then
    /// columns, group by group).
    ///
    /// # Panics
    /// If the output is empty or larger than the input allows (see [`FmpRegions`]).
    #[allow(clippy::too_many_arguments)]
    pub fn sample<R: Rng + ?Sized>(
        (n, c): (usize, usize),
        input: (usize, usize),
        output: (usize, usize),
        regions: FmpRegions,
        sequence: FmpSequence,
        sharing: FmpSharing,
        rng: &mut R,
    ) -> PoolingRegions {
        check_sizes(input, output, regions);
        let (kh, kw) = kernel(regions);
        let groups = (0..Self::group_count(sharing, n, c))
            .map(|_| {
                let rows = axis_windows(
                    input.0,
                    output.0,
                    regions,
                    kh,
                    &mut Draw::Rng(sequence, rng),
                );
                let cols = axis_windows(
                    input.1,
                    output.1,
                    regions,
                    kw,
                    &mut Draw::Rng(sequence, rng),
                );
                (rows, cols)
            })
            .collect();
        PoolingRegions {
            groups,
            sharing,
            input,
            output,
        }
    }

    /// PyTorch's regions for `F.fractional_max_pool2d(x, kernel_size, output_size,
    /// _random_samples=samples)`: `samples` is `[N, C, 2]` with `samples[n, c] = (u_w, u_h)`.
    ///
    /// # Panics
    /// If `samples` is not `[N, C, 2]` or the sizes are invalid.
    pub fn from_torch_samples(
        samples: &Array,
        input: (usize, usize),
        output: (usize, usize),
        kernel: (usize, usize),
    ) -> PoolingRegions {
        let s = samples.shape();
        assert!(
            s.len() == 3 && s[2] == 2,
            "PoolingRegions::from_torch_samples: samples must be [N, C, 2], got {s:?}"
        );
        let regions = FmpRegions::Kernel(kernel.0, kernel.1);
        check_sizes(input, output, regions);
        let mut groups = Vec::with_capacity(s[0] * s[1]);
        for n in 0..s[0] {
            for c in 0..s[1] {
                let (uw, uh) = (samples[[n, c, 0]], samples[[n, c, 1]]);
                let rows = axis_windows::<rand_chacha::ChaCha8Rng>(
                    input.0,
                    output.0,
                    regions,
                    kernel.0,
                    &mut Draw::Offset(uh),
                );
                let cols = axis_windows::<rand_chacha::ChaCha8Rng>(
                    input.1,
                    output.1,
                    regions,
                    kernel.1,
                    &mut Draw::Offset(uw),
                );
                groups.push((rows, cols));
            }
        }
        PoolingRegions {
            groups,
            sharing: FmpSharing::PerChannel,
            input,
            output,
        }
    }
}

fn kernel(regions: FmpRegions) -> (usize, usize) {
    match regions {
        FmpRegions::Kernel(kh, kw) => (kh, kw),
        _ => (0, 0),
    }
}

/// Panics with a clear message if `output` cannot be pooled from `input` with `regions`.
pub(crate) fn check_sizes(input: (usize, usize), output: (usize, usize), regions: FmpRegions) {
    let (kh, kw) = kernel(regions);
    let ok = |i: usize, o: usize, k: usize| match regions {
        FmpRegions::Kernel(..) => k >= 1 && o >= 1 && o + k - 1 <= i,
        _ => o >= 1 && o <= i,
    };
    assert!(
        ok(input.0, output.0, kh) && ok(input.1, output.1, kw),
        "fractional_max_pool2d: cannot pool an input of {input:?} to {output:?} with {regions:?} \
         (need 1 <= output <= input, and output + kernel - 1 <= input for a kernel)"
    );
}

struct FmpBackward {
    /// Arg-max per output element, as a flat index within its input plane.
    argmax: Vec<u32>,
    plane_in: usize,
    plane_out: usize,
}

impl Backward for FmpBackward {
    fn name(&self) -> &'static str {
        "fractional_max_pool2d"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        if !ctx.needs_grad(0) {
            return vec![None];
        }
        let mut gx = Array::zeros(IxDyn(ctx.inputs[0].shape()));
        let g = g.as_standard_layout();
        let gs = g.as_slice().expect("standard layout");
        gx.as_slice_mut()
            .expect("fresh arrays are contiguous")
            .par_chunks_mut(self.plane_in.max(1))
            .zip(gs.par_chunks(self.plane_out.max(1)))
            .zip(self.argmax.par_chunks(self.plane_out.max(1)))
            .for_each(|((gxp, gp), ap)| {
                for (&gv, &a) in gp.iter().zip(ap) {
                    gxp[a as usize] += gv;
                }
            });
        vec![Some(gx)]
    }
}

/// Max pooling of `x` (`[N, C, H, W]`) over the given `regions` (see the module docs).
///
/// # Panics
/// If `x` is not 4-d or does not match the regions (spatial size, number of groups).
pub fn fractional_max_pool2d(x: &Tensor, regions: &PoolingRegions) -> Tensor {
    let s = x.shape();
    assert!(
        s.len() == 4 && (s[2], s[3]) == regions.input,
        "fractional_max_pool2d: input {s:?} does not match regions for {:?} (expected [N, C, H, W])",
        regions.input
    );
    let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
    assert!(
        h * w <= u32::MAX as usize,
        "fractional_max_pool2d: plane of {h}×{w} too large"
    );
    assert_eq!(
        regions.groups.len(),
        PoolingRegions::group_count(regions.sharing, n, c),
        "fractional_max_pool2d: regions have {} groups, an input of {s:?} with {:?} needs {}",
        regions.groups.len(),
        regions.sharing,
        PoolingRegions::group_count(regions.sharing, n, c)
    );
    let (oh, ow) = regions.output;
    let (plane_in, plane_out) = (h * w, oh * ow);
    let xd = x.data().as_standard_layout();
    let xs = xd.as_slice().expect("standard layout");
    let mut out = Array::zeros(IxDyn(&[n, c, oh, ow]));
    let mut argmax = vec![0u32; n * c * plane_out];
    out.as_slice_mut()
        .expect("fresh arrays are contiguous")
        .par_chunks_mut(plane_out.max(1))
        .zip(argmax.par_chunks_mut(plane_out.max(1)))
        .enumerate()
        .for_each(|(p, (yp, ap))| {
            let xp = &xs[p * plane_in..(p + 1) * plane_in];
            let (rows, cols) = &regions.groups[regions.group_of(p / c, p % c, c)];
            for i in 0..oh {
                for j in 0..ow {
                    let mut best = f32::NEG_INFINITY;
                    let mut at = rows.start[i] * w + cols.start[j];
                    for hh in rows.start[i]..rows.end[i] {
                        for ww in cols.start[j]..cols.end[j] {
                            let v = xp[hh * w + ww];
                            // Branch-free select with bit masks: on random data a branch
                            // mispredicts about every other element (black_box keeps LLVM
                            // from turning the masks back into a branch).
                            let take = std::hint::black_box(((v > best) | v.is_nan()) as u32);
                            let m = take.wrapping_neg();
                            best = f32::from_bits((v.to_bits() & m) | (best.to_bits() & !m));
                            let mi = (take as usize).wrapping_neg();
                            at = ((hh * w + ww) & mi) | (at & !mi);
                        }
                    }
                    yp[i * ow + j] = best;
                    ap[i * ow + j] = at as u32;
                }
            }
        });
    Tensor::from_op(
        out,
        vec![x.clone()],
        FmpBackward {
            argmax,
            plane_in,
            plane_out,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::gradcheck::{GradCheckConfig, assert_gradients_at};
    use nn_core::rng::seeded;

    /// Distinct values, so that a ±ε perturbation never changes an arg-max.
    fn distinct_input(shape: &[usize], seed: u64) -> Array {
        let len: usize = shape.iter().product();
        let mut v: Vec<f32> = (0..len)
            .map(|i| i as f32 * 0.05 - 0.3 * len as f32 * 0.05)
            .collect();
        let mut rng = seeded(seed);
        for i in (1..len).rev() {
            v.swap(i, rng.random_range(0..=i));
        }
        Array::from_shape_vec(IxDyn(shape), v).unwrap()
    }

    #[test]
    fn gradient_for_every_variant() {
        let x = distinct_input(&[2, 3, 9, 7], 1);
        for (k, regions) in [
            FmpRegions::Disjoint,
            FmpRegions::Overlapping,
            FmpRegions::Kernel(2, 3),
        ]
        .into_iter()
        .enumerate()
        {
            for sequence in [FmpSequence::Pseudorandom, FmpSequence::Random] {
                let r = PoolingRegions::sample(
                    (2, 3),
                    (9, 7),
                    (6, 4),
                    regions,
                    sequence,
                    FmpSharing::PerChannel,
                    &mut seeded(k as u64),
                );
                assert_gradients_at(
                    move |t| fractional_max_pool2d(&t[0], &r),
                    std::slice::from_ref(&x),
                    &GradCheckConfig::default(),
                );
            }
        }
    }

    #[test]
    fn equals_a_naive_max_and_disjoint_output_of_same_size_is_identity() {
        let x = Tensor::randn(&[1, 2, 5, 5], 0.0, 1.0, &mut seeded(0));
        let r = PoolingRegions::sample(
            (1, 2),
            (5, 5),
            (5, 5),
            FmpRegions::Disjoint,
            FmpSequence::Pseudorandom,
            FmpSharing::PerImage,
            &mut seeded(1),
        );
        assert_eq!(fractional_max_pool2d(&x, &r).to_vec(), x.to_vec());
        // Kernel 2 from 4 to 3 pseudorandom: windows overlap; compare with a direct max.
        let x = Tensor::randn(&[2, 1, 4, 4], 0.0, 1.0, &mut seeded(2));
        let r = PoolingRegions::sample(
            (2, 1),
            (4, 4),
            (3, 3),
            FmpRegions::Kernel(2, 2),
            FmpSequence::Pseudorandom,
            FmpSharing::PerChannel,
            &mut seeded(3),
        );
        let y = fractional_max_pool2d(&x, &r).to_array();
        let xa = x.to_array();
        for n in 0..2 {
            let (rows, cols) = &r.groups[n];
            for i in 0..3 {
                for j in 0..3 {
                    let mut m = f32::NEG_INFINITY;
                    for h in rows.start[i]..rows.end[i] {
                        for w in cols.start[j]..cols.end[j] {
                            m = m.max(xa[[n, 0, h, w]]);
                        }
                    }
                    assert_eq!(y[[n, 0, i, j]], m);
                }
            }
        }
    }

    #[test]
    fn overlapping_windows_accumulate_gradient() {
        // All-equal input: the first element of each window wins; shared winners sum.
        let x = Tensor::ones(&[1, 1, 3, 3]).with_requires_grad();
        let r = PoolingRegions::from_torch_samples(
            &Array::from_shape_vec(IxDyn(&[1, 1, 2]), vec![0.5, 0.5]).unwrap(),
            (3, 3),
            (2, 2),
            (2, 2),
        );
        let y = fractional_max_pool2d(&x, &r);
        y.sum_all().backward();
        let g = x.grad().unwrap();
        assert_eq!(g.sum(), 4.0);
    }

    #[test]
    fn nan_propagates() {
        let mut v = vec![0.0; 16];
        v[5] = f32::NAN;
        let x = Tensor::from_vec(v, &[1, 1, 4, 4]);
        let r = PoolingRegions::sample(
            (1, 1),
            (4, 4),
            (2, 2),
            FmpRegions::Disjoint,
            FmpSequence::Pseudorandom,
            FmpSharing::PerBatch,
            &mut seeded(0),
        );
        assert!(
            fractional_max_pool2d(&x, &r)
                .to_vec()
                .iter()
                .any(|v| v.is_nan())
        );
    }

    #[test]
    #[should_panic(expected = "cannot pool an input of (4, 4) to (5, 2)")]
    fn output_larger_than_input_panics() {
        let _ = PoolingRegions::sample(
            (1, 1),
            (4, 4),
            (5, 2),
            FmpRegions::Disjoint,
            FmpSequence::Pseudorandom,
            FmpSharing::PerBatch,
            &mut seeded(0),
        );
    }
}
