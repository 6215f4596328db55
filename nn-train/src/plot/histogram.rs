//! [`Histogram`] and [`plot_histograms`]: rows of small histograms, e.g. the lecture's
//! activation-statistics figure (one histogram of activations per layer, side by side).

use std::path::Path;

use plotters::prelude::*;

use super::chart::color;
use super::{FAMILY, PlotResult, e2s, render};
use crate::error::Result;

/// Counts of values in `bins` equal bins on [lo, hi] (values outside are clamped into the end
/// bins; non-finite values are not counted).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Histogram {
    /// Lower edge of the first bin.
    pub lo: f64,
    /// Upper edge of the last bin.
    pub hi: f64,
    /// Count per bin.
    pub counts: Vec<u64>,
}

impl Histogram {
    /// The histogram of `values` on [lo, hi] with `bins` bins (at least 1; hi > lo, else the
    /// range is widened to lo ± 0.5).
    pub fn of(values: impl IntoIterator<Item = f32>, bins: usize, lo: f64, hi: f64) -> Self {
        let bins = bins.max(1);
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, lo + 0.5)
        };
        let mut counts = vec![0u64; bins];
        let scale = bins as f64 / (hi - lo);
        for v in values {
            let v = f64::from(v);
            if v.is_finite() {
                let i = ((v - lo) * scale).floor().clamp(0.0, (bins - 1) as f64) as usize;
                counts[i] += 1;
            }
        }
        Histogram { lo, hi, counts }
    }

    /// The total count.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The centre of bin `i`.
    pub fn centre(&self, i: usize) -> f64 {
        self.lo + (i as f64 + 0.5) * (self.hi - self.lo) / self.counts.len() as f64
    }
}

/// One panel of [`plot_histograms`].
#[derive(Debug, Clone, PartialEq)]
pub struct HistPanel {
    /// Caption (ASCII).
    pub title: String,
    /// The histogram (drawn as fractions of its total).
    pub hist: Histogram,
    /// Bar colour index (see [`super::chart::COLORS`]).
    pub color: usize,
}

/// Writes rows of histogram panels (each `size` pixels) under a figure `title`; the y axis of
/// each panel is the fraction of the values in a bin.
pub fn plot_histograms(
    path: &Path,
    title: &str,
    rows: &[Vec<HistPanel>],
    size: (u32, u32),
) -> Result<()> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let nrows = rows.len().max(1);
    let head = 36u32;
    let (w, h) = (size.0 * cols as u32, size.1 * nrows as u32 + head);
    render(path, (w, h), |root| {
        root.fill(&WHITE).map_err(e2s)?;
        let (top, body) = root.split_vertically(head);
        top.draw_text(title, &(FAMILY, 18).into_text_style(&top), (10, 8))
            .map_err(e2s)?;
        let areas = body.split_evenly((nrows, cols));
        for (r, row) in rows.iter().enumerate() {
            for (c, panel) in row.iter().enumerate() {
                draw_hist(&areas[r * cols + c], panel)?;
            }
        }
        root.present().map_err(e2s)
    })
}

fn draw_hist<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    p: &HistPanel,
) -> PlotResult {
    let h = &p.hist;
    let total = h.total().max(1) as f64;
    let ymax = h
        .counts
        .iter()
        .map(|&c| c as f64 / total)
        .fold(0.0, f64::max)
        .max(1e-3)
        * 1.08;
    let mut c = ChartBuilder::on(area)
        .caption(&p.title, (FAMILY, 12))
        .margin(6)
        .x_label_area_size(22)
        .y_label_area_size(38)
        .build_cartesian_2d(h.lo..h.hi, 0.0..ymax)
        .map_err(e2s)?;
    c.configure_mesh()
        .disable_mesh()
        .x_labels(3)
        .y_labels(3)
        .x_label_formatter(&|v| short(*v))
        .y_label_formatter(&|v| format!("{v:.2}"))
        .label_style((FAMILY, 10))
        .draw()
        .map_err(e2s)?;
    let width = (h.hi - h.lo) / h.counts.len() as f64;
    let col = color(p.color);
    c.draw_series(
        h.counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, &n)| {
                let x0 = h.lo + i as f64 * width;
                Rectangle::new([(x0, 0.0), (x0 + width, n as f64 / total)], col.filled())
            }),
    )
    .map_err(e2s)?;
    Ok(())
}

/// A compact tick label.
fn short(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() < 1e-2 || v.abs() >= 1e3 {
        format!("{v:.0e}")
    } else {
        format!("{v:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_clamp_and_skip_non_finite() {
        let h = Histogram::of([-2.0, -0.5, 0.0, 0.49, 0.5, 3.0, f32::NAN], 2, -1.0, 1.0);
        assert_eq!(h.counts, vec![2, 4]);
        assert_eq!(h.total(), 6);
        assert!((h.centre(0) + 0.5).abs() < 1e-12);
        let d = Histogram::of([1.0], 3, 1.0, 1.0);
        assert_eq!((d.lo, d.hi, d.total()), (0.5, 1.5, 1));
    }
}
