//! U = G g Gᵀ of the convolution's kernels for the Winograd products, packed
//! `[group][e][c_in][cb·16]` ([`pack_u`]): the forward pass's kernels, or the input gradient's
//! (flipped or transposed).

// The transforms read one column of several rows (r[0][j], r[1][j], ...): index loops are clearer.
#![allow(clippy::needless_range_loop)]

use super::tile::{MAX_Q, Tile, by_kind, each};
use super::weight::min_len;
use super::{Kind, f4, f7};
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
        Kind::F4 => pack_sep(f4::g, f4_lanes, w, (cout, cin), cb, packing, scale),
        Kind::F7 => pack_sep(f7::g, f7_lanes, w, (cout, cin), cb, packing, scale),
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

/// The raw output of [`pack_sep`]'s parallel writers.
struct Shared(*mut f32);
// SAFETY: the writers never write the same element (each owns an input channel's lanes).
unsafe impl Sync for Shared {}

/// A dispatched [`sep_lanes`]: G k Gᵀ of 16 kernels for one tile algorithm's G (N × 3).
type Lanes = fn(Isa, &[[f32; 3]], &[[f32; LANES]; 9], *mut f32, usize);

/// [`pack_u`] for F(4×4) and F(7×7) (G with `N` rows, `g1`: G v of one column v), 16 output
/// channels at a time: U = G g Gᵀ as two small matrix products over vectors of 16 kernels (G's
/// columns are G e_a), written straight into the products' layout `[group][e][c_in][cb·16]`,
/// each input channel on any thread. The per-pair transform with a copy through
/// `[c_in][group][e][cb·16]` (`pack_u_of`) took 7 % of a 64→64 @7² forward pass with F(4×4).
#[allow(clippy::too_many_arguments)]
fn pack_sep<const N: usize>(
    g1: fn([f32; 3]) -> [f32; N],
    lanes: Lanes,
    w: &[f32],
    (cout, cin): (usize, usize),
    cb: usize,
    packing: Packing,
    scale: Option<&[f32]>,
) -> Vec<f32> {
    let (po, pi) = product_channels(packing, (cout, cin));
    let (gw, p) = (cb * LANES, N * N);
    let groups = po.div_ceil(gw);
    let mut u = vec![0.0f32; groups * p * pi * gw];
    let cols: [[f32; N]; 3] =
        std::array::from_fn(|a| g1(std::array::from_fn(|b| f32::from(u8::from(a == b)))));
    let g: [[f32; 3]; N] = std::array::from_fn(|r| [cols[0][r], cols[1][r], cols[2][r]]);
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
                lanes(isa, &g, &k, at, pi * gw);
            }
        }
    };
    (0..pi)
        .into_par_iter()
        .with_min_len(min_len(po * pi))
        .for_each(per_input);
    u
}

dispatch!(fn f4_lanes(g: &[[f32; 3]], k: &[[f32; LANES]; 9], out: *mut f32, stride: usize) = sep_lanes::<6>);
dispatch!(fn f7_lanes(g: &[[f32; 3]], k: &[[f32; LANES]; 9], out: *mut f32, stride: usize) = sep_lanes::<9>);

/// G k Gᵀ of 16 kernels at once (lane l of `k[t]` is tap t of kernel l; G is N × 3): position
/// e = N·r + s to `out + e·stride`.
#[inline(always)]
fn sep_lanes<S: Simd, const N: usize>(
    g: &[[f32; 3]],
    k: &[[f32; LANES]; 9],
    out: *mut f32,
    stride: usize,
) {
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
    assert!(g.len() == N);
    // SAFETY: the caller's bounds (N² positions of 16 values from `out`).
    unsafe {
        let kv: [S::V; 9] = each!(t in [0, 1, 2, 3, 4, 5, 6, 7, 8] => S::load(k[t].as_ptr()));
        for r in 0..N {
            let t = each!(c in [0, 1, 2] => dot::<S>(&g[r], [kv[c], kv[3 + c], kv[6 + c]]));
            for s in 0..N {
                S::store(out.add((r * N + s) * stride), dot::<S>(&g[s], t));
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
    use super::super::{F4, F7};
    use super::*;

    /// The vectorised F(4×4) and F(7×7) packings give U = G g Gᵀ as the per-pair transform does, to
    /// rounding (it sums G's products in another order, with fused multiply-adds), for every
    /// packing, with and without a folded scale, with a partial group of output channels.
    #[test]
    fn vectorised_packing_matches_the_per_pair_transform() {
        let (cout, cin) = (48, 32);
        let w =
            crate::Tensor::randn(&[cout * cin * 9], 0.0, 1.0, &mut crate::rng::seeded(7)).to_vec();
        let scale: Vec<f32> = (0..cout).map(|o| 0.5 + o as f32 / 64.0).collect();
        for cb in [1, 2, 4] {
            for packing in [Packing::Forward, Packing::Flipped, Packing::Transposed] {
                let s = (packing == Packing::Forward).then_some(scale.as_slice());
                for (kind, want) in [
                    (Kind::F4, pack_u_of::<F4>(&w, (cout, cin), cb, packing, s)),
                    (Kind::F7, pack_u_of::<F7>(&w, (cout, cin), cb, packing, s)),
                ] {
                    let got = pack_u(kind, &w, (cout, cin), cb, packing, s);
                    assert_eq!(got.len(), want.len());
                    for (k, (a, b)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            (a - b).abs() <= 1e-6 * (1.0 + b.abs()),
                            "{kind:?}, cb {cb}, {packing:?}, element {k}: {a} against {b}"
                        );
                    }
                }
            }
        }
    }
}
