//! Winograd minimal filtering F(2×2, 3×3) (Lavin & Gray 2016, "Fast algorithms for convolutional
//! neural networks") for 3×3, stride-1, undilated, ungrouped convolutions: 16 multiplications per
//! 2×2 output tile instead of 36, i.e. 2.25x fewer in the products.
//!
//! For an input tile d (4×4), kernel g (3×3) and output tile y (2×2):
//!
//! ```text
//! y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
//! Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
//! Aᵀ = [1 1 1 0; 0 1 −1 −1]
//! ```
//!
//! Summed over input channels, each of the 16 transformed positions e is a matrix product
//! M_e = U_e · V_e (U_e: C_out × C_in transformed weights, V_e: C_in × tiles transformed inputs),
//! done through the GEMM seam. The backward pass is the exact adjoint of these linear steps:
//! dM = A dY Aᵀ, dV_e = U_eᵀ dM_e, dx tile = B dV Bᵀ (scatter-added, tiles overlap by 2),
//! dU_e = Σ_tiles dM_e V_eᵀ, dg = Gᵀ dU G.

mod backward;
mod input;
#[cfg(test)]
mod tests;

pub(crate) use backward::backward;
use input::input_transform;

use ndarray::{ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

use super::forward::gemm_for;
use super::geometry::Geom;
use super::workspace::with_workspace;

/// Whether the Winograd path applies to (and is used for) this convolution.
pub(crate) fn applies(g: &Geom) -> bool {
    g.kh == 3
        && g.kw == 3
        && (g.sh, g.sw, g.dh, g.dw, g.groups) == (1, 1, 1, 1, 1)
        && g.ph <= 2
        && g.pw <= 2
        && g.cin >= 16
        && g.cout >= 16
}

/// Output tiles per sample (rows, columns).
fn tiles(g: &Geom) -> (usize, usize) {
    (g.oh.div_ceil(2), g.ow.div_ceil(2))
}

/// Tile columns per block of samples: measured (CPU time, batch 128, Zen 4) 64 beats 128-512 for
/// 16×16 and 8×8 images by 5-20 %: the transformed blocks (16·C·columns values) stay closer to
/// L2.
const TARGET_TILES: usize = 64;

/// Samples per block: about `TARGET_TILES` tile columns per product (shape-only, so results do
/// not depend on the thread count).
fn samples_per_block(g: &Geom) -> usize {
    let (th, tw) = tiles(g);
    TARGET_TILES.div_ceil(th * tw).clamp(1, g.n.max(1))
}

/// U = G g Gᵀ for every (out, in) channel pair, laid out `[16][rows][cols]` where (row, col) is
/// (o, i) or, with `transposed`, (i, o).
fn weight_transform(g: &Geom, w: &[f32], transposed: bool) -> Vec<f32> {
    let (ci_n, co_n) = (g.cin, g.cout);
    let mut u = vec![0.0f32; 16 * ci_n * co_n];
    for co in 0..co_n {
        for ci in 0..ci_n {
            let k = &w[(co * ci_n + ci) * 9..(co * ci_n + ci + 1) * 9];
            let gk: [[f32; 3]; 3] = std::array::from_fn(|r| [k[3 * r], k[3 * r + 1], k[3 * r + 2]]);
            // G·g (4×3) then (G·g)·Gᵀ (4×4).
            let gg: [[f32; 3]; 4] = {
                let mut t = [[0.0f32; 3]; 4];
                for c in 0..3 {
                    let v = [gk[0][c], gk[1][c], gk[2][c]];
                    let col = [
                        v[0],
                        0.5 * (v[0] + v[1] + v[2]),
                        0.5 * (v[0] - v[1] + v[2]),
                        v[2],
                    ];
                    for (row, val) in t.iter_mut().zip(col) {
                        row[c] = val;
                    }
                }
                t
            };
            for (r, v) in gg.iter().enumerate() {
                let row = [
                    v[0],
                    0.5 * (v[0] + v[1] + v[2]),
                    0.5 * (v[0] - v[1] + v[2]),
                    v[2],
                ];
                for (c, &val) in row.iter().enumerate() {
                    let e = r * 4 + c;
                    let at = if transposed {
                        (e * ci_n + ci) * co_n + co
                    } else {
                        (e * co_n + co) * ci_n + ci
                    };
                    u[at] = val;
                }
            }
        }
    }
    u
}

/// Size of the zero-padded plane that covers every tile: (2·tiles_h + 2) × (2·tiles_w + 2).
fn padded_dims(g: &Geom) -> (usize, usize) {
    let (th, tw) = tiles(g);
    (2 * th + 2, 2 * tw + 2)
}

/// Forward: `[N, C_out, oH, oW]`.
pub(crate) fn forward(g: &Geom, x: &[f32], w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let (th, tw) = tiles(g);
    let t = th * tw;
    let (p, cout, cin) = (g.p(), g.cout, g.cin);
    let u = weight_transform(g, w, false);
    let mut y = crate::buffer_pool::take(g.n * cout * p); // every output is written
    let nb = samples_per_block(g);
    let chunks = g.n.div_ceil(nb);
    let parallel = chunks >= 2 && rayon::current_num_threads() > 1;
    let mm = gemm_for(parallel);
    let (xs, ys) = (cin * g.hw(), cout * p);
    let work = |(yc, xc): (&mut [f32], &[f32])| {
        let nbc = xc.len() / xs;
        let ld = nbc * t;
        with_workspace(16 * (cin + cout) * ld, |ws| {
            let (v, m) = ws.split_at_mut(16 * cin * ld);
            for (bi, x_n) in xc.chunks(xs).enumerate() {
                input_transform(g, x_n, v, ld, bi * t);
            }
            for e in 0..16 {
                let ue =
                    ArrayView2::from_shape((cout, cin), &u[e * cout * cin..(e + 1) * cout * cin])
                        .expect("U_e");
                let ve = ArrayView2::from_shape((cin, ld), &v[e * cin * ld..(e + 1) * cin * ld])
                    .expect("V_e");
                let me = ArrayViewMut2::from_shape(
                    (cout, ld),
                    &mut m[e * cout * ld..(e + 1) * cout * ld],
                )
                .expect("M_e");
                mm(1.0, ue, ve, 0.0, me);
            }
            let plane = cout * ld;
            // Aᵀ M A for all tiles of a plane at once: s[i][c] over the columns of M's row i,
            // then o[r][c] over the rows, then the 2×2 blocks go to their places.
            let mut sc = vec![0.0f32; 8 * t];
            let mut oc = vec![0.0f32; 4 * t];
            for (bi, y_n) in yc.chunks_mut(ys).enumerate() {
                for co in 0..cout {
                    let base = co * ld + bi * t;
                    let me = |e: usize| &m[e * plane + base..e * plane + base + t];
                    for i in 0..4 {
                        let (m0, m1, m2, m3) =
                            (me(4 * i), me(4 * i + 1), me(4 * i + 2), me(4 * i + 3));
                        let (s0, s1) = sc[i * 2 * t..(i + 1) * 2 * t].split_at_mut(t);
                        for k in 0..t {
                            s0[k] = m0[k] + m1[k] + m2[k];
                            s1[k] = m1[k] - m2[k] - m3[k];
                        }
                    }
                    for c in 0..2 {
                        let si = |i: usize| &sc[(i * 2 + c) * t..(i * 2 + c + 1) * t];
                        let (s0, s1, s2, s3) = (si(0), si(1), si(2), si(3));
                        let (o0, o1) = oc[c * 2 * t..(c + 1) * 2 * t].split_at_mut(t);
                        for k in 0..t {
                            o0[k] = s0[k] + s1[k] + s2[k];
                            o1[k] = s1[k] - s2[k] - s3[k];
                        }
                    }
                    let yp = &mut y_n[co * p..(co + 1) * p];
                    let b0 = bias.map_or(0.0, |b| b[co]);
                    for ty in 0..th {
                        for r in 0..2 {
                            let oy = 2 * ty + r;
                            if oy >= g.oh {
                                break;
                            }
                            let row = &mut yp[oy * g.ow..(oy + 1) * g.ow];
                            for c in 0..2 {
                                let o =
                                    &oc[(c * 2 + r) * t + ty * tw..(c * 2 + r) * t + (ty + 1) * tw];
                                let cols = (g.ow - c).div_ceil(2).min(tw);
                                for tx in 0..cols {
                                    row[2 * tx + c] = o[tx] + b0;
                                }
                            }
                        }
                    }
                }
            }
        });
    };
    if parallel {
        y.par_chunks_mut(nb * ys)
            .zip(x.par_chunks(nb * xs))
            .for_each(work);
    } else {
        y.chunks_mut(nb * ys).zip(x.chunks(nb * xs)).for_each(work);
    }
    y
}
