//! U = G g Gᵀ of the convolution's kernels for the Winograd products, packed
//! `[group][e][c_in][cb·16]` ([`pack_u`]): the forward pass's kernels, or the input gradient's
//! (flipped or transposed).

// The transforms read one column of several rows (r[0][j], r[1][j], ...): index loops are clearer.
#![allow(clippy::needless_range_loop)]

use super::tile::{MAX_Q, Tile, by_kind, each};
use super::weight::min_len;
use super::{F4, Kind, f4};
use crate::simd::{Isa, LANES, Simd, dispatch};
use rayon::prelude::*;

/// Which kernel [`pack_u`] transforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Packing {
    /// The forward pass's: w[o][i].
    Forward,
    /// The stride-1 input gradient's, a forward pass over dy: channels swapped, taps reversed.
    Flipped,
    /// The transposed products of the stride-2 input gradient (`strided_dx`): channels swapped,
    /// taps as they are.
    Transposed,
}

/// U = G g Gᵀ of the tile algorithm `kind` packed `[group][e][c_in][cb·16]` for the products,
/// of the kernel `packing` names. `scale` multiplies output channel o's kernels (a folded
/// BatchNorm; forward only).
pub(crate) fn pack_u(
    kind: Kind,
    w: &[f32],
    (cout, cin): (usize, usize),
    cb: usize,
    packing: Packing,
    scale: Option<&[f32]>,
) -> Vec<f32> {
    match kind {
        Kind::F4 => pack_f4(w, (cout, cin), cb, packing, scale),
        _ => by_kind!(kind, T => pack_u_of::<T>(w, (cout, cin), cb, packing, scale)),
    }
}

/// The products' (out, in) channels for the convolution's (`cout`, `cin`): swapped for the
/// input gradient's kernels.
fn product_channels(packing: Packing, (cout, cin): (usize, usize)) -> (usize, usize) {
    match packing {
        Packing::Forward => (cout, cin),
        _ => (cin, cout),
    }
}

/// The 3×3 kernel of the product's output channel `o` and input channel `i`, as `packing` says
/// (`scale`: the forward pass's folded BatchNorm).
#[inline(always)]
fn kernel_of(
    w: &[f32],
    cin: usize,
    packing: Packing,
    scale: Option<&[f32]>,
    (o, i): (usize, usize),
) -> [f32; 9] {
    match packing {
        Packing::Forward => {
            let s = scale.map_or(1.0, |s| s[o]);
            std::array::from_fn(|t| s * w[(o * cin + i) * 9 + t])
        }
        // Kernel of (out = ci, in = co): w[co = i][ci = o], taps reversed if flipped.
        Packing::Flipped => std::array::from_fn(|t| w[(i * cin + o) * 9 + 8 - t]),
        Packing::Transposed => std::array::from_fn(|t| w[(i * cin + o) * 9 + t]),
    }
}

/// The raw output of [`pack_f4`]'s parallel writers.
struct Shared(*mut f32);
// SAFETY: the writers never write the same element (each owns an input channel's lanes).
unsafe impl Sync for Shared {}

/// [`pack_u`] for F(4×4), 16 output channels at a time: U = G g Gᵀ as two small matrix
/// products over vectors of 16 kernels (G's columns are G e_a), written straight into the
/// products' layout `[group][e][c_in][cb·16]`, each input channel on any thread. The per-pair
/// transform with a copy through `[c_in][group][e][cb·16]` (`pack_u_of`) took 7 % of a
/// 64→64 @7² forward pass.
fn pack_f4(
    w: &[f32],
    (cout, cin): (usize, usize),
    cb: usize,
    packing: Packing,
    scale: Option<&[f32]>,
) -> Vec<f32> {
    let (po, pi) = product_channels(packing, (cout, cin));
    let (gw, p) = (cb * LANES, F4::Q * F4::Q);
    let groups = po.div_ceil(gw);
    let mut u = vec![0.0f32; groups * p * pi * gw];
    let cols: [[f32; 6]; 3] =
        std::array::from_fn(|a| f4::g(std::array::from_fn(|b| f32::from(u8::from(a == b)))));
    let g: [[f32; 3]; 6] = std::array::from_fn(|r| [cols[0][r], cols[1][r], cols[2][r]]);
    let isa = Isa::detect();
    let out = Shared(u.as_mut_ptr());
    let per_input = |i: usize| {
        let out = &out;
        for grp in 0..groups {
            for lb in (0..gw).step_by(LANES) {
                let o0 = grp * gw + lb;
                let mut k = [[0.0f32; LANES]; 9];
                for l in 0..LANES.min(po.saturating_sub(o0)) {
                    let taps = kernel_of(w, cin, packing, scale, (o0 + l, i));
                    for (t, v) in taps.into_iter().enumerate() {
                        k[t][l] = v;
                    }
                }
                // SAFETY: lanes lb .. lb + 16 of input channel i in group grp, positions e < p,
                // lie in u; no other input channel writes them.
                let at = unsafe { out.0.add((grp * p * pi + i) * gw + lb) };
                f4_lanes(isa, &g, &k, at, pi * gw);
            }
        }
    };
    (0..pi)
        .into_par_iter()
        .with_min_len(min_len(po * pi))
        .for_each(per_input);
    u
}

dispatch!(fn f4_lanes(g: &[[f32; 3]; 6], k: &[[f32; LANES]; 9], out: *mut f32, stride: usize) = f4_lanes_of);

/// G k Gᵀ of 16 kernels at once (lane l of `k[t]` is tap t of kernel l): position e = 6r + s to
/// `out + e·stride`.
#[inline(always)]
fn f4_lanes_of<S: Simd>(g: &[[f32; 3]; 6], k: &[[f32; LANES]; 9], out: *mut f32, stride: usize) {
    // A function, not a closure (see `each!`).
    #[inline(always)]
    unsafe fn dot<S: Simd>(g: &[f32; 3], v: [S::V; 3]) -> S::V {
        unsafe {
            S::fma(
                S::splat(g[2]),
                v[2],
                S::fma(S::splat(g[1]), v[1], S::mul(S::splat(g[0]), v[0])),
            )
        }
    }
    // SAFETY: the caller's bounds (36 positions of 16 values from `out`).
    unsafe {
        let kv: [S::V; 9] = each!(t in [0, 1, 2, 3, 4, 5, 6, 7, 8] => S::load(k[t].as_ptr()));
        for r in 0..6 {
            let t = each!(c in [0, 1, 2] => dot::<S>(&g[r], [kv[c], kv[3 + c], kv[6 + c]]));
            for s in 0..6 {
                S::store(out.add((r * 6 + s) * stride), dot::<S>(&g[s], t));
            }
        }
    }
}

fn pack_u_of<T: Tile>(
    w: &[f32],
    (cout, cin): (usize, usize),
    cb: usize,
    packing: Packing,
    scale: Option<&[f32]>,
) -> Vec<f32> {
    let (po, pi) = product_channels(packing, (cout, cin));
    let gw = cb * LANES;
    let groups = po.div_ceil(gw);
    let p = T::Q * T::Q;
    // First each input channel's transformed kernels, `[i][group][e][gw]` (one contiguous
    // block per input channel, so the channels can run in parallel), then the layout the
    // products read, `[group][e][i][gw]`: a copy of whole lanes.
    let per_input = |(i, out): (usize, &mut [f32])| {
        let mut t = [0.0f32; MAX_Q * MAX_Q];
        for g in 0..groups {
            let block = &mut out[g * p * gw..(g + 1) * p * gw];
            for lane in 0..gw.min(po - g * gw) {
                let o = g * gw + lane;
                let k = kernel_of(w, cin, packing, scale, (o, i));
                T::kernel(&k, &mut t[..p]);
                for (e, &v) in t[..p].iter().enumerate() {
                    block[e * gw + lane] = v;
                }
            }
        }
    };
    let gather = |(ge, lanes): (usize, &mut [f32]), by_input: &[f32]| {
        let (g, e) = (ge / p, ge % p);
        for (i, dst) in lanes.chunks_exact_mut(gw).enumerate() {
            let at = ((i * groups + g) * p + e) * gw;
            dst.copy_from_slice(&by_input[at..at + gw]);
        }
    };
    let mut by_input = vec![0.0f32; pi * groups * p * gw];
    let mut u = vec![0.0f32; groups * p * pi * gw];
    let piece = min_len(po * pi);
    by_input
        .par_chunks_mut(groups * p * gw)
        .with_min_len(piece)
        .enumerate()
        .for_each(per_input);
    u.par_chunks_mut(pi * gw)
        .with_min_len(piece)
        .enumerate()
        .for_each(|job| gather(job, &by_input));
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectorised F(4×4) packing gives U = G g Gᵀ as the per-pair transform does, to
    /// rounding (it sums G's products in another order, with fused multiply-adds), for every
    /// packing, with and without a folded scale, with a partial group of output channels.
    #[test]
    fn vectorised_f4_packing_matches_the_per_pair_transform() {
        let (cout, cin) = (48, 32);
        let w =
            crate::Tensor::randn(&[cout * cin * 9], 0.0, 1.0, &mut crate::rng::seeded(7)).to_vec();
        let scale: Vec<f32> = (0..cout).map(|o| 0.5 + o as f32 / 64.0).collect();
        for cb in [1, 2, 4] {
            for packing in [Packing::Forward, Packing::Flipped, Packing::Transposed] {
                let s = (packing == Packing::Forward).then_some(scale.as_slice());
                let got = pack_u(Kind::F4, &w, (cout, cin), cb, packing, s);
                let want = pack_u_of::<F4>(&w, (cout, cin), cb, packing, s);
                assert_eq!(got.len(), want.len());
                for (k, (a, b)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-6 * (1.0 + b.abs()),
                        "cb {cb}, {packing:?}, element {k}: {a} against {b}"
                    );
                }
            }
        }
    }
}
