//! The channels-last batch-norm row loops for any number of channels C (the vector kernels of
//! `channels_last.rs` need a multiple of 16): plain loops over rows of C values, compiled once
//! per instruction set by [`dispatch!`], so that `f32::mul_add` is one FMA instruction there
//! (and the loops may be vectorised) instead of a call to libm's `fmaf` per value, as in code
//! built for baseline x86-64. Same operations in the same order on every instruction set:
//! `mul_add` is fused everywhere, so the results are the same bits.

use super::channels_last::{ReluMask, Then};
use crate::simd::{Simd, dispatch};

/// Σ x into `sum`, then Σ (x − m)² into `m2` with m = Σ x / rows in f32, per channel of one
/// block of rows.
#[inline(always)]
fn moments<S: Simd>(blk: &[f32], c: usize, sum: &mut [f32], m2: &mut [f32]) {
    let rows = blk.len() / c;
    for row in blk.chunks_exact(c) {
        for (s, v) in sum.iter_mut().zip(row) {
            *s += v;
        }
    }
    let neg_mean: Vec<f32> = sum.iter().map(|s| s * (-1.0 / rows as f32)).collect();
    for row in blk.chunks_exact(c) {
        for ((a, v), m) in m2.iter_mut().zip(row).zip(&neg_mean) {
            let d = v + m;
            *a = d.mul_add(d, *a);
        }
    }
}

dispatch!(pub(super) fn moments_rows(blk: &[f32], c: usize, sum: &mut [f32], m2: &mut [f32]) = moments);

/// y = scale[ch]·x + shift[ch] (one fused multiply-add), then `then`, over one block of rows.
#[inline(always)]
fn affine<S: Simd>(
    x: &[f32],
    y: &mut [f32],
    c: usize,
    (scale, shift): (&[f32], &[f32]),
    then: Then<'_>,
) {
    for (i, (yr, xr)) in y.chunks_exact_mut(c).zip(x.chunks_exact(c)).enumerate() {
        for (ch, ((o, &v), (&a, &b))) in yr
            .iter_mut()
            .zip(xr)
            .zip(scale.iter().zip(shift))
            .enumerate()
        {
            let t = a.mul_add(v, b);
            *o = match then {
                Then::Nothing => t,
                Then::Relu => crate::ops::relu::relu(t),
                Then::AddRelu(s) => crate::ops::relu::relu(t + s[i * c + ch]),
            };
        }
    }
}

dispatch!(pub(super) fn affine_rows(x: &[f32], y: &mut [f32], c: usize, p: (&[f32], &[f32]), then: Then<'_>) = affine);

/// Whether the forward ReLU zeroed channel `ch` of value `x` (the scalar form of the mask).
#[inline(always)]
pub(super) fn masked(relu: ReluMask<'_>, ch: usize, x: f32) -> bool {
    relu.is_some_and(|(a, b)| a[ch].mul_add(x, b[ch]) <= 0.0)
}

/// Per channel of one block: Σ dy into `s1`, Σ dy·(x − mean[ch]) into `s2`, with dy = g masked
/// by the ReLU if given.
#[inline(always)]
fn grad_sums<S: Simd>(
    (xb, gb, relu): (&[f32], &[f32], ReluMask<'_>),
    c: usize,
    mean: &[f32],
    s1: &mut [f32],
    s2: &mut [f32],
) {
    for (xr, gr) in xb.chunks_exact(c).zip(gb.chunks_exact(c)) {
        for ch in 0..c {
            let d = if masked(relu, ch, xr[ch]) {
                0.0
            } else {
                gr[ch]
            };
            s1[ch] += d;
            s2[ch] = d.mul_add(xr[ch] - mean[ch], s2[ch]);
        }
    }
}

dispatch!(pub(super) fn grad_sums_rows(
    b: (&[f32], &[f32], ReluMask<'_>),
    c: usize,
    mean: &[f32],
    s1: &mut [f32],
    s2: &mut [f32],
) = grad_sums);

/// dx = a[ch]·dy + b[ch]·x + k[ch] into `out` over one block of rows, dy = `g` (or what `out`
/// holds, if `g` is `None`) masked by the ReLU if given.
#[inline(always)]
fn input_grad<S: Simd>(
    xb: &[f32],
    (gb, ob): (Option<&[f32]>, &mut [f32]),
    relu: ReluMask<'_>,
    c: usize,
    (a, b, k): (&[f32], &[f32], &[f32]),
) {
    for (i, (or, xr)) in ob.chunks_exact_mut(c).zip(xb.chunks_exact(c)).enumerate() {
        for ch in 0..c {
            let d = if masked(relu, ch, xr[ch]) {
                0.0
            } else {
                gb.map_or(or[ch], |g| g[i * c + ch])
            };
            or[ch] = a[ch].mul_add(d, b[ch].mul_add(xr[ch], k[ch]));
        }
    }
}

dispatch!(pub(super) fn input_grad_rows(
    xb: &[f32],
    o: (Option<&[f32]>, &mut [f32]),
    relu: ReluMask<'_>,
    c: usize,
    coef: (&[f32], &[f32], &[f32]),
) = input_grad);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::Isa;

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len as u32)
            .map(|i| ((i.wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)) % 1000) as f32)
            .map(|v| v / 250.0 - 2.0 + 1.0 / 3.0)
            .collect()
    }

    /// Every instruction set gives the scalar code's bits, with and without the ReLU mask and
    /// the residual (20 channels, 37 rows).
    #[test]
    fn every_isa_gives_the_same_bits() {
        let (c, rows) = (20, 37);
        let (x, g, s) = (
            values(c * rows, 1),
            values(c * rows, 2),
            values(c * rows, 3),
        );
        let (a, b, k, mean) = (values(c, 4), values(c, 5), values(c, 6), values(c, 7));
        let run = |isa: Isa| {
            let (mut sum, mut m2) = (vec![0.0; c], vec![0.0; c]);
            moments_rows(isa, &x, c, &mut sum, &mut m2);
            let mut out = vec![sum, m2];
            for then in [Then::Nothing, Then::Relu, Then::AddRelu(&s)] {
                let mut y = vec![0.0; x.len()];
                affine_rows(isa, &x, &mut y, c, (&a, &b), then);
                out.push(y);
            }
            for relu in [None, Some((&a[..], &b[..]))] {
                let (mut s1, mut s2) = (vec![0.0; c], vec![0.0; c]);
                grad_sums_rows(isa, (&x, &g, relu), c, &mean, &mut s1, &mut s2);
                out.extend([s1, s2]);
                let mut dx = vec![0.0; x.len()];
                input_grad_rows(isa, &x, (Some(&g), &mut dx), relu, c, (&a, &b, &k));
                let mut in_place = g.clone();
                input_grad_rows(isa, &x, (None, &mut in_place), relu, c, (&a, &b, &k));
                assert_eq!(dx, in_place, "{isa:?}: in place and into a buffer");
                out.push(dx);
            }
            out.into_iter()
                .flatten()
                .map(f32::to_bits)
                .collect::<Vec<u32>>()
        };
        let want = run(Isa::Scalar);
        for isa in [Isa::Avx2, Isa::Avx512] {
            if isa.is_supported() {
                assert!(run(isa) == want, "{isa:?} differs from the scalar code");
            }
        }
    }
}
