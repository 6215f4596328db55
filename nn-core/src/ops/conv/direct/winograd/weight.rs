//! The Winograd weight gradient: per block of tiles, dM = A dY Aᵀ of the output gradient, and
//! dU_e += V_eᵀ dM_e for the Q² positions e (products in the direct kernel's weight-gradient
//! register blocks); [`weight_from_du`] maps the summed dU to dW = Gᵀ dU G.

// The transforms read one column of several rows: index loops are clearer.
#![allow(clippy::needless_range_loop)]

use super::super::kernels::weight_tap;
use super::tile::{Kind, MAX_Q, Tile, by_kind};
use super::{Wino, input_tiles};
use crate::simd::{LANES, Simd};
use rayon::prelude::*;

/// Channel pairs (c_out · c_in) from which [`weight_from_du`] and `pack_u` split their work
/// across the pool: 32→32 and wider (below that they take a few microseconds).
const PARALLEL_PAIRS: usize = 1024;

/// The smallest piece of work (`with_min_len`) for a transform of `pairs` channel pairs: one
/// item (split freely) from [`PARALLEL_PAIRS`] up, else all of them (one piece, on the calling
/// thread).
pub(super) fn min_len(pairs: usize) -> usize {
    if pairs >= PARALLEL_PAIRS {
        1
    } else {
        usize::MAX
    }
}

/// dM = A dY Aᵀ of tiles `t0 .. t0 + nt` for output channels `co0 .. co0 + gw` of the output
/// gradient images `dy` (`w.images` of `[oh][ow][cout]`, zero beyond each image), into `dm`
/// (`[e][tile][gw]`).
#[inline(always)]
pub(super) fn grad_tiles<S: Simd, T: Tile>(
    w: &Wino,
    dy: &[f32],
    (t0, nt): (usize, usize),
    (co0, gw): (usize, usize),
    dm: &mut [f32],
) {
    let (tpi, ys) = (w.th * w.tw, w.oh * w.ow * w.cout);
    assert!(w.kind.q() == T::Q && dm.len() >= w.positions() * w.tiles * gw);
    assert!(dy.len() >= w.images * ys && co0 + gw <= w.cout && t0 + nt <= w.images * tpi);
    for k in 0..nt {
        // Tile t of image t / tpi.
        let (img, t) = ((t0 + k) / tpi, (t0 + k) % tpi);
        let dy = &dy[img * ys..(img + 1) * ys];
        let (ty, tx) = (t / w.tw, t % w.tw);
        for b in (0..gw).step_by(LANES) {
            // SAFETY: loads only from output pixels that exist; dm holds the block.
            unsafe {
                let ld = |i: usize, j: usize| {
                    let (oy, ox) = (T::M * ty + i, T::M * tx + j);
                    if oy < w.oh && ox < w.ow {
                        S::load(dy.as_ptr().add((oy * w.ow + ox) * w.cout + co0 + b))
                    } else {
                        S::zero()
                    }
                };
                let out = dm.as_mut_ptr().add(k * gw + b);
                T::grad_tile::<S>(ld, out, w.tiles * gw);
            }
        }
    }
}

/// Adds `w.images` images' dU_e = Σ_tiles V_eᵀ dM_e to `part` (`[e][cin][cout]`): V from the
/// unpadded inputs `x` (`[src.0][src.1][cin]` each), dM from the output gradients `dy`.
/// With the tile algorithm `T` (which must be `w.kind`'s; see `image_forward`).
#[inline(always)]
pub(crate) fn image_weight<S: Simd, T: Tile>(
    w: &Wino,
    x: &[f32],
    dy: &[f32],
    part: &mut [f32],
    scratch: &mut [f32],
) {
    let gw = w.cb * LANES;
    assert!(part.len() >= w.positions() * w.cin * w.cout);
    let (v, dm, zeros) = w.split_scratch(scratch);
    let tiles = w.images * w.th * w.tw;
    for t0 in (0..tiles).step_by(w.tiles) {
        let nt = w.tiles.min(tiles - t0);
        input_tiles::<S, T>(w, x, zeros, (t0, nt), v);
        for grp in 0..w.cout / gw {
            grad_tiles::<S, T>(w, dy, (t0, nt), (grp * gw, gw), dm);
            match w.cb {
                1 => weight_products::<S, 1>(w, v, dm, nt, grp, part),
                2 => weight_products::<S, 2>(w, v, dm, nt, grp, part),
                _ => weight_products::<S, 4>(w, v, dm, nt, grp, part),
            }
        }
    }
}

/// Input channels per register block of the weight products.
const fn weight_channels<S: Simd>(cb: usize) -> usize {
    if S::REGS >= 32 {
        match cb {
            1 => 16,
            2 => 8,
            _ => 4,
        }
    } else if cb == 1 {
        4
    } else {
        2
    }
}

#[inline(always)]
fn weight_products<S: Simd, const CB: usize>(
    w: &Wino,
    v: &[f32],
    dm: &[f32],
    nt: usize,
    grp: usize,
    part: &mut [f32],
) {
    let (c, gw) = (w.cin, CB * LANES);
    let n = weight_channels::<S>(CB);
    assert!(c % n == 0);
    for e in 0..w.positions() {
        for ci in (0..c).step_by(n) {
            // SAFETY: nt tiles of V_e (c values each, from channel ci) and of dM_e (gw values);
            // part holds [Q²][cin][cout] with cout ≥ (grp + 1)·gw.
            unsafe {
                let x = v.as_ptr().add(e * w.tiles * c + ci);
                let d = dm.as_ptr().add(e * w.tiles * gw);
                let at = (e * c + ci) * w.cout + grp * gw;
                match n {
                    16 => wtap::<S, 16, CB>(x, c, d, nt, part, at, w.cout),
                    8 => wtap::<S, 8, CB>(x, c, d, nt, part, at, w.cout),
                    4 => wtap::<S, 4, CB>(x, c, d, nt, part, at, w.cout),
                    2 => wtap::<S, 2, CB>(x, c, d, nt, part, at, w.cout),
                    _ => wtap::<S, 1, CB>(x, c, d, nt, part, at, w.cout),
                }
            }
        }
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn wtap<S: Simd, const CI: usize, const CB: usize>(
    x: *const f32,
    c: usize,
    d: *const f32,
    nt: usize,
    part: &mut [f32],
    at: usize,
    cout: usize,
) {
    unsafe {
        let mut acc = [[S::zero(); CB]; CI];
        weight_tap::<S, CI, CB>(
            x,
            (0, c),
            d,
            (0, CB * LANES),
            CB * LANES,
            (1, nt),
            &mut acc,
            false,
        );
        let p0 = part.as_mut_ptr().add(at);
        for (ci, a) in acc.iter().enumerate() {
            for (b, v) in a.iter().enumerate() {
                let p = p0.add(ci * cout + b * LANES);
                S::store(p, S::add(S::load(p), *v));
            }
        }
    }
}

/// dW = Gᵀ dU G of the tile algorithm `kind` for every (out, in) channel pair: `du` is `[e][cin][cout]`,
/// the result `[cout][cin][3][3]`.
pub(crate) fn weight_from_du(kind: Kind, du: &[f32], (cout, cin): (usize, usize)) -> Vec<f32> {
    by_kind!(kind, T => weight_from_du_of::<T>(du, (cout, cin)))
}

fn weight_from_du_of<T: Tile>(du: &[f32], (cout, cin): (usize, usize)) -> Vec<f32> {
    let mut dw = vec![0.0f32; cout * cin * 9];
    let p = T::Q * T::Q;
    // Each group of 16 output channels owns its own `16·cin·9` floats of dW: the groups run in
    // parallel when there are enough pairs (every value is computed the same way either way).
    let group = |(g, dw_g): (usize, &mut [f32])| {
        let o0 = g * LANES;
        let n = LANES.min(cout - o0);
        // dU of one input channel and 16 output channels at a time, copied position by position
        // (the positions are cin·cout floats apart: read value by value, they fall in one cache
        // set).
        let mut block = [0.0f32; MAX_Q * MAX_Q * LANES];
        let mut pair = [0.0f32; MAX_Q * MAX_Q];
        for i in 0..cin {
            for e in 0..p {
                let at = (e * cin + i) * cout + o0;
                block[e * LANES..e * LANES + n].copy_from_slice(&du[at..at + n]);
            }
            for o in 0..n {
                for (e, v) in pair[..p].iter_mut().enumerate() {
                    *v = block[e * LANES + o];
                }
                let k = T::kernel_grad(&pair[..p]);
                dw_g[(o * cin + i) * 9..(o * cin + i + 1) * 9]
                    .iter_mut()
                    .zip(k.iter().flatten())
                    .for_each(|(d, v)| *d = *v);
            }
        }
    };
    dw.par_chunks_mut(LANES * cin * 9)
        .with_min_len(min_len(cout * cin))
        .enumerate()
        .for_each(group);
    dw
}
