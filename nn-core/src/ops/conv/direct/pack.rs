//! Weight packing and zero-padded image copies for the channels-last direct convolution.

use crate::simd::LANES;

/// Copies the channels-last image `src` (`[hs][ws][c]`) into `dst` (`[hp][wp][c]`) so that
/// `dst[y][x] = src[y − top][x − left]`, zero where that falls outside `src`.
#[allow(clippy::too_many_arguments)]
pub(super) fn pad_nhwc(
    src: &[f32],
    (hs, ws, c): (usize, usize, usize),
    dst: &mut [f32],
    (hp, wp): (usize, usize),
    (top, left): (isize, isize),
) {
    debug_assert!(src.len() >= hs * ws * c && dst.len() >= hp * wp * c);
    // Columns of dst that come from src: x in [x0, x1).
    let x0 = left.clamp(0, wp as isize) as usize;
    let x1 = (left + ws as isize).clamp(x0 as isize, wp as isize) as usize;
    let sx0 = (x0 as isize - left) as usize;
    for y in 0..hp {
        let d = &mut dst[y * wp * c..(y + 1) * wp * c];
        let sy = y as isize - top;
        if sy < 0 || sy >= hs as isize || x0 == x1 {
            d.fill(0.0);
            continue;
        }
        d[..x0 * c].fill(0.0);
        d[x1 * c..].fill(0.0);
        let s = &src[(sy as usize * ws + sx0) * c..];
        d[x0 * c..x1 * c].copy_from_slice(&s[..(x1 - x0) * c]);
    }
}

/// Forward weights `[cout][cin][kh][kw]` packed as `[group][kh][kw][cin][cb·16]`: output
/// channel `o` is lane `o mod (cb·16)` of group `o / (cb·16)`; missing lanes are 0.
pub(super) fn pack_forward(
    w: &[f32],
    (cout, cin, kh, kw): (usize, usize, usize, usize),
    cb: usize,
    scale: Option<&[f32]>,
) -> Vec<f32> {
    let gw = cb * LANES;
    let groups = cout.div_ceil(gw);
    let mut p = vec![0.0f32; groups * kh * kw * cin * gw];
    for o in 0..cout {
        let (g, lane) = (o / gw, o % gw);
        let s = scale.map_or(1.0, |s| s[o]);
        for c in 0..cin {
            for i in 0..kh {
                for j in 0..kw {
                    let at = (((g * kh + i) * kw + j) * cin + c) * gw + lane;
                    p[at] = s * w[((o * cin + c) * kh + i) * kw + j];
                }
            }
        }
    }
    p
}

/// Input-gradient weights: `[group][kh][kw][cout][cb·16]` with input channel `c` as lane
/// `c mod (cb·16)` of group `c / (cb·16)`; with `flip` the taps are reversed (tap (i, j) holds
/// w[.., kh−1−i, kw−1−j]) for the gather form of a stride-1 input gradient.
pub(super) fn pack_input_grad(
    w: &[f32],
    (cout, cin, kh, kw): (usize, usize, usize, usize),
    cb: usize,
    flip: bool,
) -> Vec<f32> {
    let gw = cb * LANES;
    let groups = cin.div_ceil(gw);
    let mut p = vec![0.0f32; groups * kh * kw * cout * gw];
    for o in 0..cout {
        for c in 0..cin {
            let (g, lane) = (c / gw, c % gw);
            for i in 0..kh {
                for j in 0..kw {
                    let (ti, tj) = if flip {
                        (kh - 1 - i, kw - 1 - j)
                    } else {
                        (i, j)
                    };
                    let at = (((g * kh + ti) * kw + tj) * cout + o) * gw + lane;
                    p[at] = w[((o * cin + c) * kh + i) * kw + j];
                }
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_shifts_and_zero_fills() {
        // 2×3 image, 2 channels.
        let src: Vec<f32> = (1..=12).map(|v| v as f32).collect();
        let mut dst = vec![f32::NAN; 4 * 5 * 2];
        pad_nhwc(&src, (2, 3, 2), &mut dst, (4, 5), (1, 1));
        let px = |y: usize, x: usize| [dst[(y * 5 + x) * 2], dst[(y * 5 + x) * 2 + 1]];
        assert_eq!(px(0, 0), [0.0, 0.0]);
        assert_eq!(px(1, 1), [1.0, 2.0]);
        assert_eq!(px(2, 3), [11.0, 12.0]);
        assert_eq!(px(2, 4), [0.0, 0.0]);
        assert_eq!(px(3, 2), [0.0, 0.0]);
        // A negative shift crops.
        let mut crop = vec![f32::NAN; 2 * 2];
        pad_nhwc(&src, (2, 3, 2), &mut crop, (1, 2), (-1, -2));
        assert_eq!(crop, vec![11.0, 12.0, 0.0, 0.0]);
    }

    #[test]
    fn packing_places_every_weight() {
        let (cout, cin, kh, kw) = (18, 3, 2, 3);
        let w: Vec<f32> = (0..cout * cin * kh * kw).map(|v| v as f32 + 1.0).collect();
        let p = pack_forward(&w, (cout, cin, kh, kw), 1, None);
        assert_eq!(p.len(), 2 * kh * kw * cin * 16);
        // o = 17 is lane 1 of group 1; c = 2, tap (1, 2).
        let at = (((kh + 1) * kw + 2) * cin + 2) * 16 + 1;
        assert_eq!(p[at], w[((17 * cin + 2) * kh + 1) * kw + 2]);
        let sum: f32 = p.iter().sum();
        assert_eq!(sum, w.iter().sum::<f32>());
        let q = pack_input_grad(&w, (cout, cin, kh, kw), 1, true);
        // c = 2 is lane 2 of group 0; o = 5, flipped tap of (0, 1) is (1, 1).
        let at = (((kw) + 1) * cout + 5) * 16 + 2;
        assert_eq!(q[at], w[((5 * cin + 2) * kh) * kw + 1]);
        assert_eq!(q.iter().sum::<f32>(), w.iter().sum::<f32>());
    }
}
