//! Separable resampling (resize) with PyTorch's `interpolate` semantics.
//!
//! Every output index `i` along an axis reads a contiguous window of input indices
//! `start[i] .. start[i] + len[i]` with weights `w[i][·]`:
//!
//! * antialiased bilinear / bicubic (PyTorch `_upsample_*_aa`, PIL's algorithm): with
//!   `s = in/out`, `center = s·(i + ½)`, `support = r·max(s, 1)` (r = 1 bilinear, 2 bicubic),
//!   taps `j ∈ [⌊center − support + ½⌋, ⌊center + support + ½⌋)`, weight
//!   `filter((j − center + ½) / max(s, 1))`, normalised to sum 1. Triangle filter for bilinear,
//!   Keys cubic with a = −0.5 for bicubic.
//! * plain bilinear (`align_corners=False`): `x = max(s·(i + ½) − ½, 0)`, taps `⌊x⌋`, `⌊x⌋+1`.
//! * plain bicubic: `x = s·(i + ½) − ½`, taps `⌊x⌋−1 … ⌊x⌋+2` (clamped), Keys a = −0.75.
//! * nearest: `⌊i·s⌋`; nearest-exact: `⌊(i + ½)·s⌋` (both clamped to `in − 1`).
//!
//! The horizontal pass runs first, then the vertical one (as PyTorch does).

use super::{contiguous, from_vec};
use crate::interpolation::Interpolation;
use ndarray::{Array3, ArrayBase, Data, Ix3};

/// Precomputed taps of one axis.
#[derive(Debug, Clone)]
pub(crate) struct AxisWeights {
    pub start: Vec<usize>,
    pub len: Vec<usize>,
    /// `k` weights per output index (zero-padded past `len`).
    pub k: usize,
    pub w: Vec<f32>,
}

fn tri(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 { 1.0 - x } else { 0.0 }
}

fn cubic(x: f64, a: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    } else {
        0.0
    }
}

impl AxisWeights {
    pub(crate) fn new(input: usize, output: usize, interp: Interpolation, antialias: bool) -> Self {
        assert!(
            input > 0,
            "resize: cannot resample an empty axis to {output}"
        );
        let scale = input as f32 / output as f32; // PyTorch computes the scale in f32
        let s = scale as f64;
        match interp {
            Interpolation::Nearest | Interpolation::NearestExact => {
                let exact = interp == Interpolation::NearestExact;
                let start = (0..output)
                    .map(|i| {
                        let idx = if input == output {
                            i
                        } else if !exact && output == 2 * input {
                            i >> 1
                        } else {
                            let x = if exact {
                                (i as f32 + 0.5) * scale
                            } else {
                                i as f32 * scale
                            };
                            x.floor() as usize
                        };
                        idx.min(input - 1)
                    })
                    .collect();
                AxisWeights {
                    start,
                    len: vec![1; output],
                    k: 1,
                    w: vec![1.0; output],
                }
            }
            Interpolation::Bilinear | Interpolation::Bicubic if antialias => {
                let (radius, bicubic) = if interp == Interpolation::Bilinear {
                    (1.0, false)
                } else {
                    (2.0, true)
                };
                let support = if s >= 1.0 { radius * s } else { radius };
                let invscale = if s >= 1.0 { 1.0 / s } else { 1.0 };
                let k = (support.ceil() as usize) * 2 + 1;
                let mut start = Vec::with_capacity(output);
                let mut len = Vec::with_capacity(output);
                let mut w = vec![0.0f32; output * k];
                let mut tmp = vec![0.0f64; k];
                for i in 0..output {
                    let center = s * (i as f64 + 0.5);
                    let xmin = ((center - support + 0.5) as i64).max(0) as usize;
                    let xmax = ((center + support + 0.5) as i64).min(input as i64) as usize;
                    let n = xmax.saturating_sub(xmin).min(k);
                    let mut total = 0.0;
                    for (j, t) in tmp.iter_mut().enumerate().take(n) {
                        let x = (j as f64 + xmin as f64 - center + 0.5) * invscale;
                        *t = if bicubic { cubic(x, -0.5) } else { tri(x) };
                        total += *t;
                    }
                    for j in 0..n {
                        w[i * k + j] = if total != 0.0 {
                            (tmp[j] / total) as f32
                        } else {
                            0.0
                        };
                    }
                    start.push(xmin);
                    len.push(n);
                }
                AxisWeights { start, len, k, w }
            }
            Interpolation::Bilinear => {
                let mut start = Vec::with_capacity(output);
                let mut len = Vec::with_capacity(output);
                let mut w = vec![0.0f32; output * 2];
                for i in 0..output {
                    let x = ((scale * (i as f32 + 0.5)) - 0.5).max(0.0);
                    let x0 = (x as usize).min(input - 1);
                    let l1 = x - x0 as f32;
                    let l0 = 1.0 - l1;
                    start.push(x0);
                    if x0 + 1 < input {
                        len.push(2);
                        w[2 * i] = l0;
                        w[2 * i + 1] = l1;
                    } else {
                        len.push(1);
                        w[2 * i] = l0 + l1;
                    }
                }
                AxisWeights {
                    start,
                    len,
                    k: 2,
                    w,
                }
            }
            Interpolation::Bicubic => {
                let mut start = Vec::with_capacity(output);
                let mut len = Vec::with_capacity(output);
                let mut w = vec![0.0f32; output * 4];
                for i in 0..output {
                    let x = scale * (i as f32 + 0.5) - 0.5;
                    let x0 = x.floor();
                    let t = (x - x0) as f64;
                    let x0 = x0 as isize;
                    let taps = [
                        cubic(t + 1.0, -0.75),
                        cubic(t, -0.75),
                        cubic(1.0 - t, -0.75),
                        cubic(2.0 - t, -0.75),
                    ];
                    let idx: Vec<usize> = (0..4)
                        .map(|m| (x0 - 1 + m as isize).clamp(0, input as isize - 1) as usize)
                        .collect();
                    let lo = idx[0];
                    let hi = idx[3];
                    start.push(lo);
                    len.push(hi - lo + 1);
                    for m in 0..4 {
                        w[4 * i + idx[m] - lo] += taps[m] as f32;
                    }
                }
                AxisWeights {
                    start,
                    len,
                    k: 4,
                    w,
                }
            }
        }
    }
}

impl AxisWeights {
    /// Re-expresses every window with exactly `k` taps inside `0..input` (zero weights where a
    /// window was shorter), so the inner loops have a constant trip count.
    fn fixed_windows(mut self, input: usize) -> Self {
        let k = self.k.min(input);
        let mut w = vec![0.0f32; self.start.len() * k];
        for i in 0..self.start.len() {
            let s = self.start[i].min(input - k);
            let shift = self.start[i] - s;
            for m in 0..self.len[i] {
                if shift + m < k {
                    w[i * k + shift + m] = self.w[i * self.k + m];
                }
            }
            self.start[i] = s;
            self.len[i] = k;
        }
        self.k = k;
        self.w = w;
        self
    }
}

fn hpass<const K: usize>(rows: &[&[f32]], ax: &AxisWeights, out: &mut Vec<f32>) {
    for row in rows {
        for (s, wt) in ax.start.iter().zip(ax.w.chunks_exact(K)) {
            let px = &row[*s..*s + K];
            let mut acc = 0.0f32;
            for t in 0..K {
                acc += wt[t] * px[t];
            }
            out.push(acc);
        }
    }
}

fn hpass_dyn(rows: &[&[f32]], ax: &AxisWeights, out: &mut Vec<f32>) {
    let k = ax.k;
    for row in rows {
        for (s, wt) in ax.start.iter().zip(ax.w.chunks_exact(k)) {
            let px = &row[*s..*s + k];
            out.push(wt.iter().zip(px).map(|(a, b)| a * b).sum());
        }
    }
}

/// Resizes `img` to `height × width` (`align_corners = False`).
///
/// `antialias` only affects bilinear and bicubic, as in torchvision (nearest ignores it).
/// Values are not clamped: bicubic may overshoot `[0, 1]` slightly, exactly like torchvision on
/// float tensors.
pub fn resize<S: Data<Elem = f32>>(
    img: &ArrayBase<S, Ix3>,
    height: usize,
    width: usize,
    interp: Interpolation,
    antialias: bool,
) -> Array3<f32> {
    let (c, h, w) = img.dim();
    assert!(
        height > 0 && width > 0,
        "resize: output size {height}x{width} must be ≥ 1"
    );
    if (h, w) == (height, width) {
        return img.to_owned();
    }
    assert!(
        h > 0 && w > 0,
        "resize: cannot resize an empty {h}x{w} image"
    );
    let aa = antialias && !interp.is_nearest();
    // Horizontal pass: c×h×w → c×h×width, reading the rows in place when they are contiguous
    // (e.g. a crop view), copying otherwise.
    let tmp: Vec<f32>;
    let copy: std::borrow::Cow<'_, [f32]>;
    let mid: &[f32] = if w != width {
        let ax = AxisWeights::new(w, width, interp, aa).fixed_windows(w);
        let mut t = Vec::with_capacity(c * h * width);
        let direct: Option<Vec<&[f32]>> = img.rows().into_iter().map(|r| r.to_slice()).collect();
        let owned: Vec<f32>;
        let rows: Vec<&[f32]> = match direct {
            Some(r) => r,
            None => {
                owned = img.iter().copied().collect();
                owned.chunks_exact(w).collect()
            }
        };
        let rows = rows.as_slice();
        match ax.k {
            1 => hpass::<1>(rows, &ax, &mut t),
            2 => hpass::<2>(rows, &ax, &mut t),
            3 => hpass::<3>(rows, &ax, &mut t),
            4 => hpass::<4>(rows, &ax, &mut t),
            5 => hpass::<5>(rows, &ax, &mut t),
            6 => hpass::<6>(rows, &ax, &mut t),
            7 => hpass::<7>(rows, &ax, &mut t),
            _ => hpass_dyn(rows, &ax, &mut t),
        }
        tmp = t;
        &tmp
    } else {
        copy = contiguous(img);
        &copy
    };
    // Vertical pass: c×h×width → c×height×width, row-axpy (vectorises over columns).
    if h == height {
        return from_vec(c, height, width, mid.to_vec());
    }
    let ay = AxisWeights::new(h, height, interp, aa);
    let mut out = vec![0.0f32; c * height * width];
    for ch in 0..c {
        let plane = &mid[ch * h * width..(ch + 1) * h * width];
        let oplane = &mut out[ch * height * width..(ch + 1) * height * width];
        for (i, orow) in oplane.chunks_exact_mut(width).enumerate() {
            let s = ay.start[i];
            let n = ay.len[i];
            for m in 0..n {
                let wt = ay.w[i * ay.k + m];
                let irow = &plane[(s + m) * width..(s + m + 1) * width];
                for (o, x) in orow.iter_mut().zip(irow) {
                    *o += wt * x;
                }
            }
        }
    }
    from_vec(c, height, width, out)
}

/// Output `(height, width)` of torchvision's `resize(size=[s])`: the shorter side becomes `s`,
/// the longer one `⌊s · long / short⌋`; with `max_size`, the longer side is capped.
pub fn short_side_size(h: usize, w: usize, s: usize, max_size: Option<usize>) -> (usize, usize) {
    let (short, long) = if w <= h { (w, h) } else { (h, w) };
    let mut new_short = s;
    let mut new_long = (s as f64 * long as f64 / short as f64) as usize;
    if let Some(m) = max_size {
        if new_long > m {
            new_short = (m as f64 * new_short as f64 / new_long as f64) as usize;
            new_long = m;
        }
    }
    if w <= h {
        (new_long, new_short)
    } else {
        (new_short, new_long)
    }
}
