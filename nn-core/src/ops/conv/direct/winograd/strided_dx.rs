//! The input gradient of a stride-2 3×3 convolution by Winograd in phases ([`S2`]): the
//! transpose of its forward pass. Per tile of the output gradient (2×2 pixels), the positions
//! dM = A dY Aᵀ (as in the weight gradient), per position the products with the transposed
//! kernels, dV_e = Σ_co U_e[co]ᵀ dM_e[co], and the 5×5 input tile's gradient B dV Bᵀ, added
//! into the input gradient (neighbouring tiles share a row or column of input pixels):
//!
//! ```text
//! forward   y  = Aᵀ [ U ⊙ (Bᵀ d B) ] A
//! transpose dd = B [ U ⊙ (A dy Aᵀ) ] Bᵀ,   B v = (v0, v3, v1 − v0 − v2, v4, v2)
//! ```
//!
//! 25 multiplications per 2×2 output-gradient tile and channel pair against the scatter's 36.
//! Tiles are added in a fixed order, so the bits depend on the shape alone.

// The transforms read one column of several rows: index loops are clearer.
#![allow(clippy::needless_range_loop)]

use super::s2::S2;
use super::tile::{Tile, each};
use super::weight::grad_tiles;
use super::{Wino, group_products};
use crate::simd::{LANES, Simd};

/// B v of a 5-vector (the adjoint of the input transform Bᵀ: `s2::bt`).
#[inline(always)]
unsafe fn b<S: Simd>(v: [S::V; 5]) -> [S::V; 5] {
    unsafe { [v[0], v[3], S::sub(S::sub(v[1], v[0]), v[2]), v[4], v[2]] }
}

/// One image's input gradient `dx` (`[src.0][src.1][cout]`, where `w` is the geometry of the
/// products: `cin` the output gradient's channels, `cout` the input's) from the output gradient
/// `dy` (`[oh][ow][cin]`) and the [`Packing::Transposed`](super::Packing) U.
#[inline(always)]
pub(crate) fn image_input_grad<S: Simd>(
    w: &Wino,
    dy: &[f32],
    u: &[f32],
    dx: &mut [f32],
    scratch: &mut [f32],
) {
    assert!(w.kind == super::Kind::S2);
    let (h, wd) = w.src;
    assert!(dx.len() >= h * wd * w.cout && dy.len() >= w.oh * w.ow * w.cin);
    let gw = w.cb * LANES;
    let (v, m, _) = w.split_scratch(scratch);
    // dy as grad_tiles reads it: all of its channels at once, into V's layout.
    let wdy = Wino { cout: w.cin, ..*w };
    dx.fill(0.0);
    let tiles = w.th * w.tw;
    let ulen = w.positions() * w.cin * gw;
    for t0 in (0..tiles).step_by(w.tiles) {
        let nt = w.tiles.min(tiles - t0);
        grad_tiles::<S, S2>(&wdy, dy, (t0, nt), (0, w.cin), v);
        for grp in 0..w.cout / gw {
            let ug = &u[grp * ulen..(grp + 1) * ulen];
            group_products::<S>(w, v, ug, nt, m);
            add_tiles::<S>(w, m, (t0, nt), (grp * gw, gw), dx);
        }
    }
}

/// B dV Bᵀ of tiles `t0 .. t0 + nt` for input channels `c0 .. c0 + gw`, added into the image
/// `dx` at each tile's 5×5 input pixels that lie in it.
#[inline(always)]
fn add_tiles<S: Simd>(
    w: &Wino,
    m: &[f32],
    (t0, nt): (usize, usize),
    (c0, gw): (usize, usize),
    dx: &mut [f32],
) {
    let (h, wd) = w.src;
    let (top, left) = w.off;
    assert!(m.len() >= w.positions() * w.tiles * gw && c0 + gw <= w.cout);
    assert!(dx.len() >= h * wd * w.cout);
    let xp = dx.as_mut_ptr();
    for k in 0..nt {
        let t = t0 + k;
        let (fy, fx) = (S2::STEP * (t / w.tw), S2::STEP * (t % w.tw));
        for c in (0..gw).step_by(LANES) {
            // SAFETY: M holds the positions × w.tiles tiles × gw values; the adds are to the
            // input pixels of this tile that lie in the image, channels c0 + c .. + 16 ≤ cout.
            unsafe {
                let p = m.as_ptr().add(k * gw + c);
                let ld = |e: usize| S::load(p.add(e * w.tiles * gw));
                let r = each!(i in [0, 1, 2, 3, 4] => {
                    let e = 5 * i;
                    b::<S>([ld(e), ld(e + 1), ld(e + 2), ld(e + 3), ld(e + 4)])
                });
                for j in 0..5 {
                    let col = b::<S>([r[0][j], r[1][j], r[2][j], r[3][j], r[4][j]]);
                    let x = (fx + j).wrapping_sub(left);
                    if x >= wd {
                        continue;
                    }
                    for (i, val) in col.into_iter().enumerate() {
                        let y = (fy + i).wrapping_sub(top);
                        if y < h {
                            let q = xp.add((y * wd + x) * w.cout + c0 + c);
                            S::store(q, S::add(S::load(q), val));
                        }
                    }
                }
            }
        }
    }
}
