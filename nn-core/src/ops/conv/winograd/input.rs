//! The Winograd input transform V = Bᵀ d B of every 4×4 input tile d (stride 2, overlapping by
//! 2), with Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1].
//!
//! Separable: first along each image row, h = d·B for every tile column tx of every (zero-padded)
//! row pr, with e/o the even/odd entries of the padded row (e_k = row[2k], o_k = row[2k+1]):
//!
//! ```text
//! h0 = e_tx − e_tx+1,   h1 = o_tx + e_tx+1,   h2 = e_tx+1 − o_tx,   h3 = o_tx − o_tx+1
//! ```
//!
//! computed once per padded row (each row serves two tile rows), then down the columns for every
//! tile row ty: V[i][j] = (Bᵀ [h_j(2ty), h_j(2ty+1), h_j(2ty+2), h_j(2ty+3)])_i. Both passes run
//! over contiguous runs of tiles (vectorisable); the zero padding is applied row by row while
//! splitting a row into e/o, so no padded copy of the plane is made. The arithmetic is the same
//! as a direct evaluation of Bᵀ d B, in the same order, so results are bitwise those of the
//! straightforward form (see the test).

use super::super::geometry::Geom;
use super::{padded_dims, tiles};

/// V (`[16][C_in][ld]`, columns `col0 + tile`) of one sample `x` (`[C_in, H, W]`).
pub(super) fn input_transform(g: &Geom, x: &[f32], v: &mut [f32], ld: usize, col0: usize) {
    let (th, tw) = tiles(g);
    let t = th * tw;
    let (hp, wp) = padded_dims(g);
    let plane_len = g.cin * ld;
    // h[j][pr][tx] for the padded rows pr of one channel, even rows first then odd ones (row
    // pr at `row_at(pr)`), so that rows 2ty + r over all tile rows ty are one contiguous run;
    // e/o: one padded row split.
    let hlen = hp * tw;
    let mut h = vec![0.0f32; 4 * hlen];
    let mut eo = vec![0.0f32; wp];
    for ci in 0..g.cin {
        let plane = &x[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        let (h0, rest) = h.split_at_mut(hlen);
        let (h1, rest) = rest.split_at_mut(hlen);
        let (h2, h3) = rest.split_at_mut(hlen);
        for pr in 0..hp {
            let hr = row_at(pr, hp, tw)..row_at(pr, hp, tw) + tw;
            let (h0, h1, h2, h3) = (
                &mut h0[hr.clone()],
                &mut h1[hr.clone()],
                &mut h2[hr.clone()],
                &mut h3[hr],
            );
            let r = pr.wrapping_sub(g.ph);
            if r >= g.h {
                h0.fill(0.0);
                h1.fill(0.0);
                h2.fill(0.0);
                h3.fill(0.0);
                continue;
            }
            split_row(&plane[r * g.w..(r + 1) * g.w], g.pw, &mut eo);
            let (e, o) = eo.split_at(wp / 2);
            let (e0, e1, o0, o1) = (&e[..tw], &e[1..=tw], &o[..tw], &o[1..=tw]);
            for k in 0..tw {
                h0[k] = e0[k] - e1[k];
                h1[k] = o0[k] + e1[k];
                h2[k] = e1[k] - o0[k];
                h3[k] = o0[k] - o1[k];
            }
        }
        let base = ci * ld + col0;
        for (j, hj) in [&*h0, &*h1, &*h2, &*h3].into_iter().enumerate() {
            let at = |i: usize| (i * 4 + j) * plane_len + base;
            // Rows 2ty + r for all ty: even/odd rows from tile row 0 (r = 0, 1) or 1 (r = 2, 3).
            let (even, odd) = hj.split_at(hp / 2 * tw);
            let (q0, q1, q2, q3) = (&even[..t], &odd[..t], &even[tw..tw + t], &odd[tw..tw + t]);
            for (d, (a, b)) in v[at(0)..at(0) + t].iter_mut().zip(q0.iter().zip(q2)) {
                *d = a - b;
            }
            for (d, (a, b)) in v[at(1)..at(1) + t].iter_mut().zip(q1.iter().zip(q2)) {
                *d = a + b;
            }
            for (d, (a, b)) in v[at(2)..at(2) + t].iter_mut().zip(q2.iter().zip(q1)) {
                *d = a - b;
            }
            for (d, (a, b)) in v[at(3)..at(3) + t].iter_mut().zip(q1.iter().zip(q3)) {
                *d = a - b;
            }
        }
        debug_assert!(t <= ld);
    }
}

/// The adjoint of [`input_transform`] for one channel plane: from dV (`dv`, planes of `vplane`
/// floats for the 16 positions, this channel's tiles at `base ..`) to the input gradient
/// `dx` (`[H, W]`, overwritten; `dh` is scratch space reused across calls): dd = B dV Bᵀ per
/// tile, overlapping tiles summed. Separable as
/// the forward: down the columns first (per tile column j, for tile row ty),
///
/// ```text
/// dh_j(2ty) += dV0j,  dh_j(2ty+1) += dV1j − dV2j + dV3j,
/// dh_j(2ty+2) += dV1j + dV2j − dV0j,  dh_j(2ty+3) −= dV3j
/// ```
///
/// then along each padded row (de/do: even/odd entries of the padded row's gradient)
/// de_tx += dh0, de_tx+1 += dh1 + dh2 − dh0, do_tx += dh1 − dh2 + dh3, do_tx+1 −= dh3, of which
/// the image part is kept.
pub(super) fn input_transform_adjoint(
    g: &Geom,
    dv: &[f32],
    vplane: usize,
    base: usize,
    dh: &mut Vec<f32>,
    dx: &mut [f32],
) {
    let (th, tw) = tiles(g);
    let (hp, wp) = padded_dims(g);
    let hlen = hp * tw;
    let half = wp / 2;
    dh.clear();
    dh.resize(4 * hlen + 2 * half, 0.0);
    let (dh, eo) = dh.split_at_mut(4 * hlen);
    let (de, dodd) = eo.split_at_mut(half);
    let t = th * tw;
    for (j, dhj) in dh.chunks_exact_mut(hlen).enumerate() {
        let dve = |i: usize| &dv[(i * 4 + j) * vplane + base..(i * 4 + j) * vplane + base + t];
        let (v0, v1, v2, v3) = (dve(0), dve(1), dve(2), dve(3));
        // Even/odd row layout as in the forward: rows 2ty (2ty + 1) of all ty are even[..t]
        // (odd[..t]), rows 2ty + 2 (2ty + 3) are even[tw..tw + t] (odd[tw..tw + t]).
        let (even, odd) = dhj.split_at_mut(hp / 2 * tw);
        for (d, a) in even[..t].iter_mut().zip(v0) {
            *d = *a;
        }
        for (d, (a, (b, c))) in odd[..t].iter_mut().zip(v1.iter().zip(v2.iter().zip(v3))) {
            *d = a - b + c;
        }
        for (d, (a, (b, c))) in even[tw..tw + t]
            .iter_mut()
            .zip(v1.iter().zip(v2.iter().zip(v0)))
        {
            *d += a + b - c;
        }
        for (d, a) in odd[tw..tw + t].iter_mut().zip(v3) {
            *d -= a;
        }
    }
    for r in 0..g.h {
        let pr = row_at(r + g.ph, hp, tw);
        let row = |j: usize| &dh[j * hlen + pr..j * hlen + pr + tw];
        let (h0, h1, h2, h3) = (row(0), row(1), row(2), row(3));
        // de_k = h0_k + (h1 + h2 − h0)_k−1, do_k = (h1 − h2 + h3)_k − h3_k−1 (terms outside
        // 0..tw are absent), written without a loop-carried dependence.
        de[0] = h0[0];
        dodd[0] = h1[0] - h2[0] + h3[0];
        for k in 1..tw {
            de[k] = h0[k] + (h1[k - 1] + h2[k - 1] - h0[k - 1]);
            dodd[k] = (h1[k] - h2[k] + h3[k]) - h3[k - 1];
        }
        de[tw] = h1[tw - 1] + h2[tw - 1] - h0[tw - 1];
        dodd[tw] = -h3[tw - 1];
        merge_row(de, dodd, g.pw, &mut dx[r * g.w..(r + 1) * g.w]);
    }
}

/// The adjoint of [`split_row`] on the image part: `dst[i]` is padded column c = pw + i of the
/// row whose even entries are `e` and odd entries are `o`.
fn merge_row(e: &[f32], o: &[f32], pw: usize, dst: &mut [f32]) {
    let (first, second, off1, off2) = if pw.is_multiple_of(2) {
        (e, o, pw / 2, pw / 2)
    } else {
        (o, e, pw / 2, pw / 2 + 1)
    };
    let np = dst.len() / 2;
    let mut pairs = dst.chunks_exact_mut(2);
    for ((pair, a), b) in (&mut pairs)
        .zip(&first[off1..off1 + np])
        .zip(&second[off2..off2 + np])
    {
        pair[0] = *a;
        pair[1] = *b;
    }
    if let [last] = pairs.into_remainder() {
        *last = first[off1 + np];
    }
}

/// Where padded row `pr` starts in a `[hp][tw]` block stored even rows first, then odd rows.
#[inline]
fn row_at(pr: usize, hp: usize, tw: usize) -> usize {
    ((pr % 2) * (hp / 2) + pr / 2) * tw
}

/// Splits the image row `src` shifted right by `pw` zeros (and zero-filled to `eo.len()` =
/// the padded width, even) into its even entries (`eo[..len/2]`) and odd ones (`eo[len/2..]`).
fn split_row(src: &[f32], pw: usize, eo: &mut [f32]) {
    let half = eo.len() / 2;
    let (e, o) = eo.split_at_mut(half);
    e.fill(0.0);
    o.fill(0.0);
    // Padded column c = pw + i holds src[i]; only columns below 2·half are kept.
    let n = src.len().min((2 * half).saturating_sub(pw));
    let src = &src[..n];
    // Source pairs (src[2k], src[2k+1]) land on (e, o) at pw/2 + k (pw even) or on (o, e) at
    // (pw−1)/2 + k and (pw+1)/2 + k (pw odd).
    let (first, second, off1, off2) = if pw.is_multiple_of(2) {
        (e, o, pw / 2, pw / 2)
    } else {
        (o, e, pw / 2, pw / 2 + 1)
    };
    let pairs = src.chunks_exact(2);
    let rem = pairs.remainder();
    let np = n / 2;
    for ((a, b), pair) in first[off1..off1 + np]
        .iter_mut()
        .zip(&mut second[off2..off2 + np])
        .zip(pairs)
    {
        *a = pair[0];
        *b = pair[1];
    }
    if let [last] = rem {
        first[off1 + np] = *last;
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::geometry::{Conv2dOptions, Geom};
    use super::*;
    use crate::rng::seeded;
    use crate::tensor::Tensor;

    /// The straightforward form: a zero-padded copy of the plane, Bᵀ d B per tile.
    fn reference(g: &Geom, x: &[f32], v: &mut [f32], ld: usize, col0: usize) {
        let (th, tw) = tiles(g);
        let (hp, wp) = padded_dims(g);
        let mut pad = vec![0.0f32; hp * wp];
        for ci in 0..g.cin {
            pad.fill(0.0);
            for r in 0..g.h.min(hp - g.ph) {
                for c in 0..g.w.min(wp - g.pw) {
                    pad[(r + g.ph) * wp + c + g.pw] = x[(ci * g.h + r) * g.w + c];
                }
            }
            for ty in 0..th {
                for tx in 0..tw {
                    let d = |r: usize, c: usize| pad[(2 * ty + r) * wp + 2 * tx + c];
                    // d·B per row, then Bᵀ· per column.
                    let hb: [[f32; 4]; 4] = std::array::from_fn(|r| {
                        [
                            d(r, 0) - d(r, 2),
                            d(r, 1) + d(r, 2),
                            d(r, 2) - d(r, 1),
                            d(r, 1) - d(r, 3),
                        ]
                    });
                    for j in 0..4 {
                        let col = [
                            hb[0][j] - hb[2][j],
                            hb[1][j] + hb[2][j],
                            hb[2][j] - hb[1][j],
                            hb[1][j] - hb[3][j],
                        ];
                        for (i, val) in col.into_iter().enumerate() {
                            v[((i * 4 + j) * g.cin + ci) * ld + col0 + ty * tw + tx] = val;
                        }
                    }
                }
            }
        }
    }

    /// Bitwise equal to the straightforward form, for odd and even sizes and paddings 0-2.
    #[test]
    fn equals_the_direct_transform() {
        for (cin, h, w, p) in [
            (16, 8, 8, 1),
            (16, 7, 5, 1),
            (17, 6, 9, 0),
            (16, 4, 4, 2),
            (16, 3, 3, 1),
            (16, 1, 2, 2),
        ] {
            let o = Conv2dOptions::default().with_padding(p);
            let g = Geom::new(&[1, cin, h, w], &[16, cin, 3, 3], &o);
            let x = Tensor::randn(&[cin, h, w], 0.0, 1.0, &mut seeded(h as u64)).to_vec();
            let (th, tw) = tiles(&g);
            let (ld, col0) = (th * tw + 3, 2);
            let mut a = vec![f32::NAN; 16 * cin * ld];
            let mut b = a.clone();
            input_transform(&g, &x, &mut a, ld, col0);
            reference(&g, &x, &mut b, ld, col0);
            assert_eq!(
                a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                b.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{g:?}"
            );
        }
    }

    /// ⟨T x, c⟩ = ⟨x, Tᵀ c⟩: the input gradient transform is the adjoint of the input transform.
    #[test]
    fn adjoint_of_the_input_transform() {
        for (cin, h, w, p) in [
            (16, 8, 8, 1),
            (16, 7, 5, 1),
            (17, 6, 9, 0),
            (16, 4, 4, 2),
            (16, 1, 2, 2),
        ] {
            let o = Conv2dOptions::default().with_padding(p);
            let g = Geom::new(&[1, cin, h, w], &[16, cin, 3, 3], &o);
            let x = Tensor::randn(&[cin, h, w], 0.0, 1.0, &mut seeded(7)).to_vec();
            let (th, tw) = tiles(&g);
            let ld = th * tw;
            let c = Tensor::randn(&[16 * cin * ld], 0.0, 1.0, &mut seeded(8)).to_vec();
            let mut v = vec![0.0; 16 * cin * ld];
            input_transform(&g, &x, &mut v, ld, 0);
            let mut dx = vec![f32::NAN; x.len()];
            let mut dh = Vec::new();
            for ci in 0..cin {
                let plane = &mut dx[ci * h * w..(ci + 1) * h * w];
                input_transform_adjoint(&g, &c, cin * ld, ci * ld, &mut dh, plane);
            }
            let lhs: f64 = v.iter().zip(&c).map(|(a, b)| (a * b) as f64).sum();
            let rhs: f64 = x.iter().zip(&dx).map(|(a, b)| (a * b) as f64).sum();
            assert!(
                (lhs - rhs).abs() <= 1e-3 * (1.0 + lhs.abs()),
                "{lhs} vs {rhs} ({g:?})"
            );
        }
    }
}
