//! CutMix boxes (Yun et al., "CutMix: Regularization Strategy to Train Strong Classifiers with
//! Localizable Features", ICCV 2019), as timm draws them.
//!
//! **From λ** ([`CutMixBox::from_lam`], timm's `rand_bbox`): a box of about (1 − λ) of the image,
//! cut_h = ⌊H·√(1 − λ)⌋, cut_w = ⌊W·√(1 − λ)⌋, centred at a uniform (cy, cx) and clipped:
//! rows [cy − ⌊cut_h/2⌋, cy + ⌈cut_h/2⌉) ∩ [0, H) (columns alike).
//!
//! **From min/max ratios** ([`CutMixBox::from_minmax`], timm's `rand_bbox_minmax`, after
//! Darknet): cut_h uniform in [⌊H·min⌋, ⌊H·max⌋), top-left corner uniform so the box fits.
//!
//! **λ correction** (timm's `correct_lam`): the pasted area decides the label weights, so after
//! clipping λ = 1 − area / (H·W) ([`CutMixBox::lam`]).

use rand::Rng;

/// A pasted region: rows `y0..y1`, columns `x0..x1` (within the image).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutMixBox {
    /// First row.
    pub y0: usize,
    /// One past the last row.
    pub y1: usize,
    /// First column.
    pub x0: usize,
    /// One past the last column.
    pub x1: usize,
}

impl CutMixBox {
    /// The box for λ centred at (`cy`, `cx`) in an `(h, w)` image (deterministic part of
    /// timm's `rand_bbox`).
    pub fn centered((h, w): (usize, usize), lam: f32, cy: usize, cx: usize) -> CutMixBox {
        let ratio = (1.0 - lam as f64).max(0.0).sqrt();
        let (ch, cw) = ((h as f64 * ratio) as isize, (w as f64 * ratio) as isize);
        let clip = |v: isize, hi: usize| v.clamp(0, hi as isize) as usize;
        let (cy, cx) = (cy as isize, cx as isize);
        CutMixBox {
            y0: clip(cy - ch / 2, h),
            y1: clip(cy + (ch + 1) / 2, h),
            x0: clip(cx - cw / 2, w),
            x1: clip(cx + (cw + 1) / 2, w),
        }
    }

    /// timm's `rand_bbox`: a uniform centre, then [`CutMixBox::centered`]. Draws cy then cx.
    pub fn from_lam<R: Rng + ?Sized>((h, w): (usize, usize), lam: f32, rng: &mut R) -> CutMixBox {
        let cy = rng.random_range(0..h.max(1));
        let cx = rng.random_range(0..w.max(1));
        CutMixBox::centered((h, w), lam, cy, cx)
    }

    /// timm's `rand_bbox_minmax` for ratios 0 ≤ `min` < `max` ≤ 1. Draws cut_h, cut_w, y0, x0.
    pub fn from_minmax<R: Rng + ?Sized>(
        (h, w): (usize, usize),
        (min, max): (f32, f32),
        rng: &mut R,
    ) -> CutMixBox {
        let mut side = |n: usize| {
            let (lo, hi) = ((n as f32 * min) as usize, (n as f32 * max) as usize);
            if hi > lo {
                rng.random_range(lo..hi)
            } else {
                lo
            }
        };
        let (ch, cw) = (side(h).min(h), side(w).min(w));
        let y0 = rng.random_range(0..=h - ch);
        let x0 = rng.random_range(0..=w - cw);
        CutMixBox {
            y0,
            y1: y0 + ch,
            x0,
            x1: x0 + cw,
        }
    }

    /// Number of pixels in the box.
    pub fn area(&self) -> usize {
        (self.y1 - self.y0) * (self.x1 - self.x0)
    }

    /// The corrected λ = 1 − area / (H·W): the fraction of the image that stays the original.
    pub fn lam(&self, (h, w): (usize, usize)) -> f32 {
        (1.0 - self.area() as f64 / (h * w) as f64) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::rng::seeded;

    #[test]
    fn centred_box_area_matches_lambda_inside_the_image() {
        // λ = 0.75 on 16×16: cut 8×8 at the centre, no clipping.
        let b = CutMixBox::centered((16, 16), 0.75, 8, 8);
        assert_eq!((b.y0, b.y1, b.x0, b.x1), (4, 12, 4, 12));
        assert!((b.lam((16, 16)) - 0.75).abs() < 1e-6);
        // Odd cut: ⌊9/2⌋ before the centre, ⌈9/2⌉ from it.
        let b = CutMixBox::centered((18, 18), 0.75, 9, 9);
        assert_eq!((b.y0, b.y1), (5, 14));
        // At the corner, clipped: the corrected λ is larger.
        let b = CutMixBox::centered((16, 16), 0.75, 0, 0);
        assert_eq!(b.area(), 16);
        assert!((b.lam((16, 16)) - (1.0 - 16.0 / 256.0)).abs() < 1e-6);
        // λ = 1: empty box.
        assert_eq!(CutMixBox::centered((8, 8), 1.0, 3, 3).area(), 0);
    }

    #[test]
    fn minmax_boxes_fit() {
        let mut rng = seeded(0);
        for _ in 0..200 {
            let b = CutMixBox::from_minmax((10, 12), (0.2, 0.8), &mut rng);
            assert!(b.y1 <= 10 && b.x1 <= 12);
            assert!((2..8).contains(&(b.y1 - b.y0)) && (2..9).contains(&(b.x1 - b.x0)));
        }
    }
}
