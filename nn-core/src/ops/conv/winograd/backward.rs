//! Backward of the Winograd convolution: the exact adjoint of the forward's linear steps.
//!
//! dM = A dY Aᵀ per output tile; dV_e = U_eᵀ dM_e; the input gradient tiles B dV Bᵀ are
//! summed where they overlap (by 2; done separably, see `input.rs`); dU_e = Σ_tiles dM_e V_eᵀ accumulated per batch slice and
//! summed in slice order; dg = Gᵀ dU G.

use ndarray::{ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

use super::super::backward::ConvGrads;
use super::super::forward::{GemmFn, gemm_for};
use super::super::geometry::Geom;
use super::super::slices::{BatchSlices, Fill, SliceJob};
use super::super::workspace::with_workspace;
use super::input::input_transform_adjoint;
use super::{input_transform, samples_per_block, tiles, weight_transform};

/// Backward over samples `lo..hi`: writes the slice's input gradients into `dxs` (overwritten)
/// and its partial dU (transposed, `[16][C_in][C_out]`) into `part`.
#[allow(clippy::too_many_arguments)]
fn slice_backward(
    g: &Geom,
    x: &[f32],
    ut: &[f32],
    dy: &[f32],
    (lo, hi): (usize, usize),
    part: &mut [f32],
    dxs: &mut [f32],
    (need_x, need_w): (bool, bool),
    mm: GemmFn,
) {
    let (th, tw) = tiles(g);
    let t = th * tw;
    let (p, cout, cin) = (g.p(), g.cout, g.cin);
    let (xs, ys) = (cin * g.hw(), cout * p);
    let nb = samples_per_block(g);
    let mut first = true;
    let mut n0 = lo;
    while n0 < hi {
        let nbc = nb.min(hi - n0);
        let ld = nbc * t;
        let v_len = if need_w { 16 * cin * ld } else { 0 };
        let dv_len = if need_x { 16 * cin * ld } else { 0 };
        with_workspace(v_len + dv_len + 16 * cout * ld, |ws| {
            let (v, rest) = ws.split_at_mut(v_len);
            let (dv, dm) = rest.split_at_mut(dv_len);
            // dM = A dY Aᵀ per tile, a row of tiles at a time from a zero-padded copy of dY.
            let plane = cout * ld;
            let pw2 = 2 * tw;
            let mut pad = vec![0.0f32; 2 * th * pw2];
            // tr[r][j][tile]: A over the columns of tile row r, for every tile of the plane.
            let mut tr = vec![0.0f32; 8 * t];
            for bi in 0..nbc {
                let dy_n = &dy[(n0 + bi) * ys..(n0 + bi + 1) * ys];
                for co in 0..cout {
                    let dyp = &dy_n[co * p..(co + 1) * p];
                    for oy in 0..g.oh {
                        pad[oy * pw2..oy * pw2 + g.ow]
                            .copy_from_slice(&dyp[oy * g.ow..(oy + 1) * g.ow]);
                    }
                    for r in 0..2 {
                        let (t0, rest) = tr[r * 4 * t..(r + 1) * 4 * t].split_at_mut(t);
                        let (t1, rest) = rest.split_at_mut(t);
                        let (t2, t3) = rest.split_at_mut(t);
                        for ty in 0..th {
                            let row = &pad[(2 * ty + r) * pw2..(2 * ty + r + 1) * pw2];
                            let o = ty * tw;
                            for tx in 0..tw {
                                let (y0, y1) = (row[2 * tx], row[2 * tx + 1]);
                                t0[o + tx] = y0;
                                t1[o + tx] = y0 + y1;
                                t2[o + tx] = y0 - y1;
                                t3[o + tx] = -y1;
                            }
                        }
                    }
                    let base = co * ld + bi * t;
                    for j in 0..4 {
                        let (q0, q1) = (&tr[j * t..(j + 1) * t], &tr[(4 + j) * t..(5 + j) * t]);
                        let at = |i: usize| (i * 4 + j) * plane + base;
                        dm[at(0)..at(0) + t].copy_from_slice(q0);
                        for (d, (a, b)) in dm[at(1)..at(1) + t].iter_mut().zip(q0.iter().zip(q1)) {
                            *d = a + b;
                        }
                        for (d, (a, b)) in dm[at(2)..at(2) + t].iter_mut().zip(q0.iter().zip(q1)) {
                            *d = a - b;
                        }
                        for (d, b) in dm[at(3)..at(3) + t].iter_mut().zip(q1) {
                            *d = -b;
                        }
                    }
                }
            }
            if need_w {
                for bi in 0..nbc {
                    input_transform(g, &x[(n0 + bi) * xs..(n0 + bi + 1) * xs], v, ld, bi * t);
                }
                for e in 0..16 {
                    let dme = ArrayView2::from_shape((cout, ld), &dm[e * plane..(e + 1) * plane])
                        .expect("dM_e");
                    let ve =
                        ArrayView2::from_shape((cin, ld), &v[e * cin * ld..(e + 1) * cin * ld])
                            .expect("V_e");
                    // dU_e (C_out × C_in) stored transposed: a column-major destination.
                    let due = ArrayViewMut2::from_shape(
                        (cin, cout),
                        &mut part[e * cin * cout..(e + 1) * cin * cout],
                    )
                    .expect("dU_e")
                    .reversed_axes();
                    mm(1.0, dme, ve.t(), if first { 0.0 } else { 1.0 }, due);
                }
            }
            if need_x {
                for e in 0..16 {
                    let ute = ArrayView2::from_shape(
                        (cin, cout),
                        &ut[e * cin * cout..(e + 1) * cin * cout],
                    )
                    .expect("U_eᵀ");
                    let dme = ArrayView2::from_shape((cout, ld), &dm[e * plane..(e + 1) * plane])
                        .expect("dM_e");
                    let dve = ArrayViewMut2::from_shape(
                        (cin, ld),
                        &mut dv[e * cin * ld..(e + 1) * cin * ld],
                    )
                    .expect("dV_e");
                    mm(1.0, ute, dme, 0.0, dve);
                }
                let vplane = cin * ld;
                let mut dh = Vec::new();
                for bi in 0..nbc {
                    let dx_n = &mut dxs[(n0 - lo + bi) * xs..(n0 - lo + bi + 1) * xs];
                    for (ci, dxp) in dx_n.chunks_exact_mut(g.hw()).enumerate() {
                        input_transform_adjoint(g, dv, vplane, ci * ld + bi * t, &mut dh, dxp);
                    }
                }
            }
        });
        first = false;
        n0 += nbc;
    }
}

/// Input and weight gradients (the bias gradient is the generic one).
pub(crate) fn backward(
    g: &Geom,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    need_x: bool,
    need_w: bool,
) -> ConvGrads {
    let (cin, cout) = (g.cin, g.cout);
    // Every element of dx is written (each channel plane once, by the adjoint transform).
    let mut dx = need_x.then(|| crate::buffer_pool::take(g.n * cin * g.hw()));
    let ut = if need_x {
        weight_transform(g, w, true)
    } else {
        Vec::new()
    };
    let ulen = 16 * cin * cout;
    let nb = samples_per_block(g);
    let mut slices = BatchSlices::new(g.n, nb, need_w.then_some((ulen, Fill::Overwritten)));
    let parallel = slices.parallel();
    let mm = gemm_for(parallel);
    let xs = cin * g.hw();
    let work = |((part, dxs), &(lo, hi)): SliceJob<'_>| {
        slice_backward(g, x, &ut, dy, (lo, hi), part, dxs, (need_x, need_w), mm);
    };
    slices.run(parallel, dx.as_deref_mut(), xs, work);
    let dw = need_w.then(|| {
        slices.reduce(true, |du| {
            // dg = Gᵀ dU G for every (o, i); du is [16][C_in][C_out].
            let mut dw = crate::buffer_pool::take(cout * cin * 9); // every element is written
            dw.par_chunks_mut(cin * 9)
                .enumerate()
                .for_each(|(co, dwo)| {
                    for ci in 0..cin {
                        let m: [[f32; 4]; 4] = std::array::from_fn(|r| {
                            std::array::from_fn(|c| du[((r * 4 + c) * cin + ci) * cout + co])
                        });
                        // Gᵀ applied to rows then columns: 4×4 → 3×3.
                        let gt = |u: [f32; 4]| {
                            [
                                u[0] + 0.5 * (u[1] + u[2]),
                                0.5 * (u[1] - u[2]),
                                0.5 * (u[1] + u[2]) + u[3],
                            ]
                        };
                        let rows: [[f32; 3]; 4] = std::array::from_fn(|r| gt(m[r]));
                        for c in 0..3 {
                            let col = gt(std::array::from_fn(|r| rows[r][c]));
                            for r in 0..3 {
                                dwo[ci * 9 + r * 3 + c] = col[r];
                            }
                        }
                    }
                });
            dw
        })
    });
    ConvGrads { dx, dw, db: None }
}
