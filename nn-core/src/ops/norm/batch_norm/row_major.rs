//! Batch-norm kernels for contiguous (row-major) `[N, C, L]` buffers: each channel's values
//! are L-long runs, one per sample (see [`super`] for the formulas).
//!
//! With L = 1 (a `[N, C]` input: BatchNorm1d after a linear layer) the buffer is N rows of C
//! channels, the channels-last layout: those calls run the row kernels of
//! [`channels_last`](super::super::channels_last) (contiguous vector loads along each row,
//! blocks of rows in parallel), not one strided gather and one f64 sum per (sample, channel).

use rayon::prelude::*;

use super::super::channels_last::{self, Then};
use super::super::{Moments, dot_centered, sum64};

/// Per-channel moments of a contiguous `[N, C, L]` buffer (parallel over channels, each channel's
/// planes merged in batch order).
pub(crate) fn channel_moments(x: &[f32], (n, c, l): (usize, usize, usize)) -> Vec<Moments> {
    if l == 1 {
        return channels_last::moments(x, c, n);
    }
    (0..c)
        .into_par_iter()
        .map(|ci| {
            (0..n).fold(Moments::default(), |m, ni| {
                m.merge(Moments::of(&x[(ni * c + ci) * l..(ni * c + ci + 1) * l]))
            })
        })
        .collect()
}

/// y = scale[c]·x + shift[c] (then ReLU if `relu`) over a contiguous `[N, C, L]` buffer.
pub(crate) fn channel_affine(
    x: &[f32],
    (c, l): (usize, usize),
    scale: &[f32],
    shift: &[f32],
    relu: bool,
) -> Vec<f32> {
    if l == 1 {
        let then = if relu { Then::Relu } else { Then::Nothing };
        return channels_last::affine(x, c, scale, shift, then);
    }
    let mut y = crate::buffer_pool::take(x.len()); // every element is written
    if l == 0 {
        return y;
    }
    y.par_chunks_mut(l * c)
        .zip(x.par_chunks(l * c))
        .for_each(|(yr, xr)| {
            for ((yp, xp), (&a, &b)) in yr
                .chunks_mut(l)
                .zip(xr.chunks(l))
                .zip(scale.iter().zip(shift))
            {
                for (o, &v) in yp.iter_mut().zip(xp) {
                    let t = a * v + b;
                    *o = if relu && t <= 0.0 { 0.0 } else { t };
                }
            }
        });
    y
}

/// Per channel (Σ dy, Σ dy·(x − mean[c])) over a contiguous `[N, C, L]` pair.
pub(crate) fn channel_grad_sums(
    x: &[f32],
    dy: &[f32],
    (n, c, l): (usize, usize, usize),
    mean: &[f32],
) -> Vec<(f64, f64)> {
    if l == 1 {
        return channels_last::grad_sums(x, dy, None, c, mean);
    }
    (0..c)
        .into_par_iter()
        .map(|ci| {
            let (mut s1, mut s2) = (0.0f64, 0.0f64);
            for ni in 0..n {
                let r = (ni * c + ci) * l..(ni * c + ci + 1) * l;
                s1 += sum64(&dy[r.clone()]);
                s2 += dot_centered(&dy[r.clone()], &x[r], mean[ci]);
            }
            (s1, s2)
        })
        .collect()
}

/// dx = a[c]·dy + b[c]·x + k[c] over a contiguous `[N, C, L]` pair.
pub(crate) fn channel_dx(
    x: &[f32],
    dy: &[f32],
    (c, l): (usize, usize),
    coef: &[(f32, f32, f32)],
) -> Vec<f32> {
    let mut dx = crate::buffer_pool::take(x.len()); // every element is written
    if l == 1 {
        channels_last::input_grad_into(x, dy, &mut dx, c, coef);
        return dx;
    }
    if l == 0 {
        return dx;
    }
    dx.par_chunks_mut(l * c)
        .zip(x.par_chunks(l * c).zip(dy.par_chunks(l * c)))
        .for_each(|(dr, (xr, gr))| {
            for (((dp, xp), gp), &(a, b, k)) in dr
                .chunks_mut(l)
                .zip(xr.chunks(l))
                .zip(gr.chunks(l))
                .zip(coef)
            {
                for ((d, &xv), &gv) in dp.iter_mut().zip(xp).zip(gp) {
                    *d = a * gv + b * xv + k;
                }
            }
        });
    dx
}
