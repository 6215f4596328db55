//! Batch-norm kernels for channels-last inputs: the values form rows of C channels (one row
//! per pixel), so every pass runs along contiguous rows with per-channel accumulators, 16
//! channels per vector ([`crate::simd`]; row loops of `any_channels.rs` when C is not a multiple
//! of 16).
//!
//! Rows are processed in blocks of [`ROWS`] (fixed, so the reduction order never depends on the
//! number of threads): f32 accumulators within a block, f64 across blocks in block order. For the
//! statistics, blocks never straddle two images, so that a convolution can gather them image by
//! image while each output image is in cache ([`ImageMoments`]) with the same result.

use rayon::prelude::*;

use super::{Moments, any_channels};
use crate::simd::{Isa, LANES, Simd, dispatch};

/// Rows per block.
pub(super) const ROWS: usize = 256;

/// Channels from which the row loops of `any_channels.rs` (row by row, accumulators in memory)
/// replace the vector kernels (channel block by channel block, accumulators in registers). The
/// vector kernels walk each 16-channel column down the block's rows, one cache line per row: at
/// 256 channels and more (rows of 1 KiB or more, e.g. BatchNorm1d after a linear layer) that
/// stride defeats the hardware prefetchers, while the row loops read memory in order. Both sum
/// each channel in row order, so they give the same bits.
pub(super) const WIDE: usize = 256;

/// Whether the vector kernels serve rows of `c` channels (else the row loops).
fn vector_kernels(c: usize) -> bool {
    c.is_multiple_of(LANES) && c < WIDE
}

/// Per channel of one block: Σ x into `sum`, then Σ (x − m)² into `m2` with m = Σ x / rows in
/// f32 (channels a multiple of 16).
#[inline(always)]
fn block_moments<S: Simd>(blk: &[f32], c: usize, sum: &mut [f32], m2: &mut [f32]) {
    let rows = blk.len() / c;
    assert!(c.is_multiple_of(LANES) && sum.len() >= c && m2.len() >= c);
    let p = blk.as_ptr();
    for v0 in (0..c).step_by(LANES) {
        // SAFETY: rows·c values in blk, v0 + 16 ≤ c.
        unsafe {
            let mut acc = S::zero();
            for r in 0..rows {
                acc = S::add(acc, S::load(p.add(r * c + v0)));
            }
            S::store(sum.as_mut_ptr().add(v0), acc);
            let neg_mean = S::mul(acc, S::splat(-1.0 / rows as f32));
            let mut sq = S::zero();
            for r in 0..rows {
                let d = S::add(S::load(p.add(r * c + v0)), neg_mean);
                sq = S::fma(d, d, sq);
            }
            S::store(m2.as_mut_ptr().add(v0), sq);
        }
    }
}

dispatch!(fn block_moments_v(blk: &[f32], c: usize, sum: &mut [f32], m2: &mut [f32]) = block_moments);

/// Per-channel moments of one block of rows (two passes over the block, which is in cache).
fn block_stats(isa: Isa, blk: &[f32], c: usize) -> Vec<Moments> {
    let rows = blk.len() / c;
    let mut sum = vec![0.0f32; c];
    let mut m2 = vec![0.0f32; c];
    if vector_kernels(c) {
        block_moments_v(isa, blk, c, &mut sum, &mut m2);
    } else {
        any_channels::moments_rows(isa, blk, c, &mut sum, &mut m2);
    }
    (0..c)
        .map(|ch| {
            let n = rows as f64;
            let exact_mean = sum[ch] as f64 / n;
            // Σ(x − mean)² = Σ(x − m)² − n·(mean − m)² for the f32 mean m used above.
            let m = sum[ch] * (1.0 / rows as f32);
            let shift = exact_mean - m as f64;
            Moments {
                count: n,
                mean: exact_mean,
                m2: (m2[ch] as f64 - n * shift * shift).max(0.0),
            }
        })
        .collect()
}

/// The per-channel moments of each block of one image's rows (`rows·c` values; blocks of
/// [`ROWS`] rows from the image's start, the last one shorter), block after block: the pieces
/// [`moments`] merges, so that statistics gathered image by image (as the convolution's
/// [`ImageMoments`] does, while each output image is in cache) are bit-identical to the pass
/// over the whole tensor.
pub(crate) fn image_block_moments(img: &[f32], c: usize) -> Vec<Moments> {
    let isa = Isa::detect();
    img.chunks(ROWS * c)
        .flat_map(|blk| block_stats(isa, blk, c))
        .collect()
}

/// Merges per-block moments (`c` per block), in order.
fn merge_blocks<'a>(blocks: impl Iterator<Item = &'a [Moments]>, c: usize) -> Vec<Moments> {
    let mut total = vec![Moments::default(); c];
    for b in blocks {
        for blk in b.chunks(c) {
            for (t, m) in total.iter_mut().zip(blk) {
                *t = t.merge(*m);
            }
        }
    }
    total
}

/// Per-channel moments of the rows of `x`, images of `rows_per_image` rows: blocks of at most
/// [`ROWS`] rows that never straddle two images (two passes per block, in parallel), merged in
/// block order.
pub(crate) fn moments(x: &[f32], c: usize, rows_per_image: usize) -> Vec<Moments> {
    let isa = Isa::detect();
    let img = rows_per_image * c;
    if img == 0 || x.is_empty() {
        return vec![Moments::default(); c];
    }
    let per_image = img.div_ceil(ROWS * c);
    let ranges: Vec<std::ops::Range<usize>> = (0..x.len() / img)
        .flat_map(|i| {
            (0..per_image)
                .map(move |j| i * img + j * ROWS * c..i * img + ((j + 1) * ROWS * c).min(img))
        })
        .collect();
    let stats = |r: &std::ops::Range<usize>| block_stats(isa, &x[r.clone()], c);
    let per_block: Vec<Vec<Moments>> = if ranges.len() > 1 {
        ranges.par_iter().map(stats).collect()
    } else {
        ranges.iter().map(stats).collect()
    };
    merge_blocks(per_block.iter().map(Vec::as_slice), c)
}

/// Per-channel moments gathered image by image (in any order, on any thread) and merged in
/// image order: the same values as [`moments`] over the whole tensor.
pub(crate) struct ImageMoments {
    c: usize,
    slots: Vec<std::sync::OnceLock<Vec<Moments>>>,
}

impl ImageMoments {
    /// Room for `n` images of `c` channels.
    pub fn new(n: usize, c: usize) -> Self {
        ImageMoments {
            c,
            slots: (0..n).map(|_| std::sync::OnceLock::new()).collect(),
        }
    }

    /// Records image `i` (its `rows·c` values).
    pub fn record(&self, i: usize, img: &[f32]) {
        let _ = self.slots[i].set(image_block_moments(img, self.c));
    }

    /// The merged moments, if every image was recorded.
    pub fn finish(self) -> Option<Vec<Moments>> {
        let c = self.c;
        let blocks: Vec<Vec<Moments>> = self
            .slots
            .into_iter()
            .map(std::sync::OnceLock::into_inner)
            .collect::<Option<_>>()?;
        Some(merge_blocks(blocks.iter().map(Vec::as_slice), c))
    }
}

/// What follows the per-channel affine map `v = scale·x + shift` in [`affine`].
#[derive(Clone, Copy)]
pub(crate) enum Then<'a> {
    /// Nothing: y = v.
    Nothing,
    /// A ReLU: y = relu(v).
    Relu,
    /// A residual addition, then a ReLU: y = relu(v + s), `s` of the input's length.
    AddRelu(&'a [f32]),
}

/// y = scale·x + shift per channel, then `then`, over the rows of one block (`then`'s residual
/// is this block's part).
#[inline(always)]
fn block_affine<S: Simd>(
    x: &[f32],
    y: &mut [f32],
    c: usize,
    (scale, shift): (&[f32], &[f32]),
    then: Then<'_>,
) {
    let rows = x.len() / c;
    assert!(c.is_multiple_of(LANES) && y.len() == x.len() && scale.len() >= c && shift.len() >= c);
    if let Then::AddRelu(s) = then {
        assert_eq!(s.len(), x.len());
    }
    for v0 in (0..c).step_by(LANES) {
        // SAFETY: rows·c values in x, y (and s), v0 + 16 ≤ c.
        unsafe {
            let a = S::load(scale.as_ptr().add(v0));
            let b = S::load(shift.as_ptr().add(v0));
            for r in 0..rows {
                let at = r * c + v0;
                let v = S::fma(a, S::load(x.as_ptr().add(at)), b);
                let v = match then {
                    Then::Nothing => v,
                    Then::Relu => S::relu(v),
                    Then::AddRelu(s) => S::relu(S::add(v, S::load(s.as_ptr().add(at)))),
                };
                S::store(y.as_mut_ptr().add(at), v);
            }
        }
    }
}

dispatch!(fn block_affine_v(x: &[f32], y: &mut [f32], c: usize, p: (&[f32], &[f32]), then: Then<'_>) = block_affine);

/// y = scale[ch]·x + shift[ch], then `then` (the same roundings as the separate ops: one `fma`,
/// then the addition, then ReLU), into a pooled buffer.
pub(crate) fn affine(
    x: &[f32],
    c: usize,
    scale: &[f32],
    shift: &[f32],
    then: Then<'_>,
) -> Vec<f32> {
    let isa = Isa::detect();
    let mut y = crate::buffer_pool::take(x.len()); // every element is written
    let run = |(blk, yb): (usize, &mut [f32])| {
        let r = blk * ROWS * c..blk * ROWS * c + yb.len();
        let then = match then {
            Then::AddRelu(s) => Then::AddRelu(&s[r.clone()]),
            t => t,
        };
        let xb = &x[r];
        if vector_kernels(c) {
            block_affine_v(isa, xb, yb, c, (scale, shift), then);
            return;
        }
        any_channels::affine_rows(isa, xb, yb, c, (scale, shift), then);
    };
    if x.len() > ROWS * c {
        y.par_chunks_mut(ROWS * c).enumerate().for_each(run);
    } else {
        run((0, &mut y));
    }
    y
}

/// The ReLU that followed the normalisation, as its per-channel affine map: the forward output
/// was `relu(fma(scale, x, shift))`, so `dy` is masked where that value is not positive. The
/// same `fma` as the forward pass gives the same mask as reading the output, without reading it.
pub(crate) type ReluMask<'a> = Option<(&'a [f32], &'a [f32])>;

/// One block's per-channel (Σ dy, Σ dy·(x − mean)), dy = g masked by the ReLU if given.
#[inline(always)]
fn block_grad_sums<S: Simd>(
    (x, g, relu): (&[f32], &[f32], ReluMask<'_>),
    c: usize,
    mean: &[f32],
    s1: &mut [f32],
    s2: &mut [f32],
) {
    let rows = x.len() / c;
    assert!(c.is_multiple_of(LANES) && g.len() == x.len());
    assert!(mean.len() >= c && s1.len() >= c && s2.len() >= c);
    assert!(relu.is_none_or(|(a, b)| a.len() >= c && b.len() >= c));
    for v0 in (0..c).step_by(LANES) {
        // SAFETY: rows·c values in x and g; v0 + 16 ≤ c.
        unsafe {
            let neg_mean = S::mul(S::load(mean.as_ptr().add(v0)), S::splat(-1.0));
            let ab = relu.map(|(a, b)| (S::load(a.as_ptr().add(v0)), S::load(b.as_ptr().add(v0))));
            let (mut a1, mut a2) = (S::zero(), S::zero());
            for r in 0..rows {
                let at = r * c + v0;
                let mut d = S::load(g.as_ptr().add(at));
                let xv = S::load(x.as_ptr().add(at));
                if let Some((a, b)) = ab {
                    d = S::mask_pos(d, S::fma(a, xv, b));
                }
                a1 = S::add(a1, d);
                a2 = S::fma(d, S::add(xv, neg_mean), a2);
            }
            S::store(s1.as_mut_ptr().add(v0), a1);
            S::store(s2.as_mut_ptr().add(v0), a2);
        }
    }
}

dispatch!(fn block_grad_sums_v(
    b: (&[f32], &[f32], ReluMask<'_>),
    c: usize,
    mean: &[f32],
    s1: &mut [f32],
    s2: &mut [f32],
) = block_grad_sums);

/// One block's per-channel (Σ dy, Σ dy·(x − mean[ch])) in f32, with dy = g masked by the ReLU if
/// given (vector kernels when C is a multiple of 16).
pub(super) fn block_sums(
    isa: Isa,
    (xb, gb): (&[f32], &[f32]),
    relu: ReluMask<'_>,
    c: usize,
    mean: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let (mut s1, mut s2) = (vec![0.0f32; c], vec![0.0f32; c]);
    if vector_kernels(c) {
        block_grad_sums_v(isa, (xb, gb, relu), c, mean, &mut s1, &mut s2);
        return (s1, s2);
    }
    any_channels::grad_sums_rows(isa, (xb, gb, relu), c, mean, &mut s1, &mut s2);
    (s1, s2)
}

/// The per-block sums of [`block_sums`] added up per channel in f64, in block order.
pub(super) fn total_sums(per_block: Vec<(Vec<f32>, Vec<f32>)>, c: usize) -> Vec<(f64, f64)> {
    let mut total = vec![(0.0f64, 0.0f64); c];
    for (s1, s2) in per_block {
        for (t, (a, b)) in total.iter_mut().zip(s1.into_iter().zip(s2)) {
            t.0 += a as f64;
            t.1 += b as f64;
        }
    }
    total
}

/// Per channel (Σ dy, Σ dy·(x − mean[ch])), with dy = g masked by the ReLU if given.
pub(crate) fn grad_sums(
    x: &[f32],
    g: &[f32],
    relu: ReluMask<'_>,
    c: usize,
    mean: &[f32],
) -> Vec<(f64, f64)> {
    let isa = Isa::detect();
    let idx: Vec<usize> = (0..x.len().div_ceil(ROWS * c)).collect();
    let block = |&b: &usize| {
        let r = b * ROWS * c..((b + 1) * ROWS * c).min(x.len());
        block_sums(isa, (&x[r.clone()], &g[r]), relu, c, mean)
    };
    let per_block: Vec<(Vec<f32>, Vec<f32>)> = if idx.len() > 1 {
        idx.par_iter().map(block).collect()
    } else {
        idx.iter().map(block).collect()
    };
    total_sums(per_block, c)
}

/// One block of dx = a·dy + b·x + k per channel into `out`, dy read from `g` (or, if `None`, from
/// `out` itself: dx written over the upstream gradient).
#[inline(always)]
fn block_input_grad<S: Simd>(
    x: &[f32],
    (g, out): (Option<&[f32]>, &mut [f32]),
    relu: ReluMask<'_>,
    c: usize,
    (a, b, k): (&[f32], &[f32], &[f32]),
) {
    let rows = x.len() / c;
    assert!(c.is_multiple_of(LANES) && out.len() == x.len());
    assert!(g.is_none_or(|g| g.len() == x.len()));
    assert!(a.len() >= c && b.len() >= c && k.len() >= c);
    assert!(relu.is_none_or(|(a, b)| a.len() >= c && b.len() >= c));
    let op = out.as_mut_ptr();
    let gp = g.map_or(op as *const f32, <[f32]>::as_ptr);
    for v0 in (0..c).step_by(LANES) {
        // SAFETY: rows·c values in x, g and out; v0 + 16 ≤ c.
        unsafe {
            let (av, bv, kv) = (
                S::load(a.as_ptr().add(v0)),
                S::load(b.as_ptr().add(v0)),
                S::load(k.as_ptr().add(v0)),
            );
            let mask =
                relu.map(|(a, b)| (S::load(a.as_ptr().add(v0)), S::load(b.as_ptr().add(v0))));
            for r in 0..rows {
                let at = r * c + v0;
                let mut d = S::load(gp.add(at));
                let xv = S::load(x.as_ptr().add(at));
                if let Some((ma, mb)) = mask {
                    d = S::mask_pos(d, S::fma(ma, xv, mb));
                }
                let v = S::fma(av, d, S::fma(bv, xv, kv));
                S::store(op.add(at), v);
            }
        }
    }
}

dispatch!(fn block_input_grad_v(
    x: &[f32],
    g: (Option<&[f32]>, &mut [f32]),
    relu: ReluMask<'_>,
    c: usize,
    coef: (&[f32], &[f32], &[f32]),
) = block_input_grad);

/// dx = a[ch]·dy + b[ch]·x + k[ch] into `out`, dy read from `g` (`None`: from `out`, dx written
/// over the upstream gradient) and masked by the ReLU if given.
fn input_grad(
    x: &[f32],
    (g, out): (Option<&[f32]>, &mut [f32]),
    relu: ReluMask<'_>,
    c: usize,
    coef: &[(f32, f32, f32)],
) {
    let isa = Isa::detect();
    let a: Vec<f32> = coef.iter().map(|t| t.0).collect();
    let b: Vec<f32> = coef.iter().map(|t| t.1).collect();
    let k: Vec<f32> = coef.iter().map(|t| t.2).collect();
    let run = |(blk, ob): (usize, &mut [f32])| {
        let r = blk * ROWS * c..blk * ROWS * c + ob.len();
        let gb = g.map(|g| &g[r.clone()]);
        let xb = &x[r];
        if vector_kernels(c) {
            block_input_grad_v(isa, xb, (gb, ob), relu, c, (&a, &b, &k));
            return;
        }
        any_channels::input_grad_rows(isa, xb, (gb, ob), relu, c, (&a, &b, &k));
    };
    if out.len() > ROWS * c {
        out.par_chunks_mut(ROWS * c).enumerate().for_each(run);
    } else {
        run((0, out));
    }
}

/// dx = a[ch]·dy + b[ch]·x + k[ch] written over `g` (dy = g masked by the ReLU if given).
pub(crate) fn input_grad_in_place(
    x: &[f32],
    g: &mut [f32],
    relu: ReluMask<'_>,
    c: usize,
    coef: &[(f32, f32, f32)],
) {
    input_grad(x, (None, g), relu, c, coef);
}

/// dx = a[ch]·g + b[ch]·x + k[ch] into `out` (`g` is left as it is).
pub(super) fn input_grad_into(
    x: &[f32],
    g: &[f32],
    out: &mut [f32],
    c: usize,
    coef: &[(f32, f32, f32)],
) {
    input_grad(x, (Some(g), out), None, c, coef);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From [`WIDE`] channels the row loops replace the vector kernels: on every instruction
    /// set the two give the same bits (each channel summed in row order), with and without the
    /// ReLU mask and the residual.
    #[test]
    fn wide_rows_give_the_vector_kernels_bits() {
        let (c, rows) = (WIDE, 37);
        let vals = |len: usize, seed: u64| {
            crate::Tensor::randn(&[len], 0.3, 1.5, &mut crate::rng::seeded(seed)).to_vec()
        };
        let (x, g, s) = (vals(c * rows, 1), vals(c * rows, 2), vals(c * rows, 3));
        let (a, b, k, mean) = (vals(c, 4), vals(c, 5), vals(c, 6), vals(c, 7));
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<u32>>();
        for isa in [Isa::Scalar, Isa::Avx2, Isa::Avx512] {
            if !isa.is_supported() {
                continue;
            }
            let two = || [vec![0.0f32; c], vec![0.0f32; c]];
            let ([mut s0, mut m0], [mut s1, mut m1]) = (two(), two());
            block_moments_v(isa, &x, c, &mut s0, &mut m0);
            any_channels::moments_rows(isa, &x, c, &mut s1, &mut m1);
            assert_eq!(
                (bits(&s0), bits(&m0)),
                (bits(&s1), bits(&m1)),
                "{isa:?} moments"
            );
            for then in [Then::Nothing, Then::Relu, Then::AddRelu(&s)] {
                let (mut y0, mut y1) = (vec![0.0; x.len()], vec![0.0; x.len()]);
                block_affine_v(isa, &x, &mut y0, c, (&a, &b), then);
                any_channels::affine_rows(isa, &x, &mut y1, c, (&a, &b), then);
                assert_eq!(bits(&y0), bits(&y1), "{isa:?} affine");
            }
            for relu in [None, Some((&a[..], &b[..]))] {
                let ([mut p0, mut q0], [mut p1, mut q1]) = (two(), two());
                block_grad_sums_v(isa, (&x, &g, relu), c, &mean, &mut p0, &mut q0);
                any_channels::grad_sums_rows(isa, (&x, &g, relu), c, &mean, &mut p1, &mut q1);
                assert_eq!(
                    (bits(&p0), bits(&q0)),
                    (bits(&p1), bits(&q1)),
                    "{isa:?} sums"
                );
                let (mut d0, mut d1) = (vec![0.0; x.len()], vec![0.0; x.len()]);
                block_input_grad_v(isa, &x, (Some(&g), &mut d0), relu, c, (&a, &b, &k));
                any_channels::input_grad_rows(isa, &x, (Some(&g), &mut d1), relu, c, (&a, &b, &k));
                assert_eq!(bits(&d0), bits(&d1), "{isa:?} input gradient");
            }
        }
    }
}
