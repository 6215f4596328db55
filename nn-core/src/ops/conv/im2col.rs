//! im2col / col2im: unfolding the receptive fields of one sample into the columns of a matrix, and
//! scattering (adding) such a matrix back into an image.
//!
//! For one sample and one group, the unfolded matrix has K = (C_in/groups)·kH·kW rows, ordered
//! (channel, kernel row, kernel column) like the weight's `[C_out, C_in/groups, kH, kW]` layout,
//! and one column per output pixel (oy, ox):
//!
//! ```text
//! col[(c, i, j), (oy, ox)] = x[c, oy·sH − pH + i·dH, ox·sW − pW + j·dW]   (0 outside the image)
//! ```
//!
//! so that the convolution of the sample is the product `W_g · col` (W_g: C_out/groups × K).
//! Several samples can share one matrix side by side (columns `col_off .. col_off + P` of rows of
//! length `ld`), which makes the products wider for small images.

use super::geometry::Geom;

/// The output columns `ox` whose input column `ox·s + j·d − p` lies inside `0..w`, as a range.
#[inline]
pub(crate) fn valid_cols(out: usize, w: usize, s: usize, p: usize, jd: usize) -> (usize, usize) {
    let lo = if jd >= p { 0 } else { (p - jd).div_ceil(s) };
    let hi = if w + p > jd {
        ((w + p - jd - 1) / s + 1).min(out)
    } else {
        0
    };
    (lo.min(hi), hi)
}

/// Unfolds channels `c0 .. c0 + C_in/groups` of the sample `x` (`[C_in, H, W]`, contiguous) into
/// `col` (rows of length `ld`, this sample's columns starting at `col_off`).
pub(crate) fn im2col(g: &Geom, x: &[f32], c0: usize, col: &mut [f32], ld: usize, col_off: usize) {
    let (h, w, oh, ow) = (g.h, g.w, g.oh, g.ow);
    let mut row = 0;
    for c in c0..c0 + g.cin_g() {
        let plane = &x[c * h * w..(c + 1) * h * w];
        for i in 0..g.kh {
            for j in 0..g.kw {
                let (lo, hi) = valid_cols(ow, w, g.sw, g.pw, j * g.dw);
                let dst_row = &mut col[row * ld + col_off..row * ld + col_off + oh * ow];
                for oy in 0..oh {
                    let dst = &mut dst_row[oy * ow..(oy + 1) * ow];
                    let iy = (oy * g.sh + i * g.dh) as isize - g.ph as isize;
                    if iy < 0 || iy >= h as isize || lo == hi {
                        dst.fill(0.0);
                        continue;
                    }
                    dst[..lo].fill(0.0);
                    dst[hi..].fill(0.0);
                    let base = iy as usize * w + lo * g.sw + j * g.dw - g.pw;
                    if g.sw == 1 {
                        dst[lo..hi].copy_from_slice(&plane[base..base + hi - lo]);
                    } else {
                        for (t, d) in dst[lo..hi].iter_mut().enumerate() {
                            *d = plane[base + t * g.sw];
                        }
                    }
                }
                row += 1;
            }
        }
    }
}

/// Adds the unfolded gradient `col` (layout as in [`im2col`]) back into the image gradient `dx`
/// (`[C_in, H, W]`, channels `c0 .. c0 + C_in/groups`): the adjoint of [`im2col`].
pub(crate) fn col2im(g: &Geom, col: &[f32], ld: usize, col_off: usize, dx: &mut [f32], c0: usize) {
    let (h, w, oh, ow) = (g.h, g.w, g.oh, g.ow);
    let mut row = 0;
    for c in c0..c0 + g.cin_g() {
        let plane = &mut dx[c * h * w..(c + 1) * h * w];
        for i in 0..g.kh {
            for j in 0..g.kw {
                let (lo, hi) = valid_cols(ow, w, g.sw, g.pw, j * g.dw);
                let src_row = &col[row * ld + col_off..row * ld + col_off + oh * ow];
                for oy in 0..oh {
                    let iy = (oy * g.sh + i * g.dh) as isize - g.ph as isize;
                    if iy < 0 || iy >= h as isize || lo == hi {
                        continue;
                    }
                    let src = &src_row[oy * ow + lo..oy * ow + hi];
                    let base = iy as usize * w + lo * g.sw + j * g.dw - g.pw;
                    if g.sw == 1 {
                        for (d, s) in plane[base..base + hi - lo].iter_mut().zip(src) {
                            *d += s;
                        }
                    } else {
                        for (t, s) in src.iter().enumerate() {
                            plane[base + t * g.sw] += s;
                        }
                    }
                }
                row += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::geometry::{Conv2dOptions, Geom};
    use super::*;

    #[test]
    fn valid_column_ranges() {
        // w = 5, kernel tap j·d = 0, padding 1, stride 1: ox = 0 reads column −1.
        assert_eq!(valid_cols(5, 5, 1, 1, 0), (1, 5));
        assert_eq!(valid_cols(5, 5, 1, 1, 2), (0, 4));
        assert_eq!(valid_cols(3, 5, 2, 1, 0), (1, 3));
        // A tap entirely in the padding.
        assert_eq!(valid_cols(4, 1, 1, 3, 0), (3, 4));
        assert_eq!(valid_cols(4, 1, 1, 3, 6), (0, 0));
    }

    /// ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩ for random x, c: col2im is im2col's adjoint.
    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        let o = Conv2dOptions {
            stride: (2, 1),
            padding: (1, 2),
            dilation: (1, 2),
            groups: 2,
        };
        let g = Geom::new(&[1, 4, 6, 7], &[2, 2, 3, 2], &o);
        let x: Vec<f32> = (0..4 * 6 * 7)
            .map(|i| ((i * 37) % 11) as f32 - 5.0)
            .collect();
        let (k, p) = (g.k(), g.p());
        let c: Vec<f32> = (0..k * p).map(|i| ((i * 13) % 7) as f32 - 3.0).collect();
        let mut col = vec![f32::NAN; k * p];
        im2col(&g, &x, 2, &mut col, p, 0);
        let mut dx = vec![0.0; x.len()];
        col2im(&g, &c, p, 0, &mut dx, 2);
        let lhs: f32 = col.iter().zip(&c).map(|(a, b)| a * b).sum();
        let rhs: f32 = x.iter().zip(&dx).map(|(a, b)| a * b).sum();
        assert_eq!(lhs, rhs);
        assert!(dx[..2 * 42].iter().all(|&v| v == 0.0), "group 0 untouched");
    }
}
