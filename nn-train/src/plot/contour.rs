//! [`plot_contours`]: optimizer paths on a filled contour plot of a 2-D function (grey bands of
//! log(f − min f), darker towards higher values, band edges drawn darker still), the start
//! marked by a black circle and the minimiser by a black cross.

use std::path::Path;

use plotters::prelude::*;

use super::chart::{Series, color};
use super::{FAMILY, PlotResult, e2s, render};
use crate::error::Result;

/// One panel: a function sampled on a grid, and paths over it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContourPanel {
    /// Caption (ASCII).
    pub title: String,
    /// The x range of the window.
    pub x: (f64, f64),
    /// The y range of the window.
    pub y: (f64, f64),
    /// f at the centres of an `nx` × `ny` grid of cells, row-major from the lowest y
    /// (`values[j * nx + i]` at x = x₀ + (i + ½)·Δx, y = y₀ + (j + ½)·Δy).
    pub values: Vec<f64>,
    /// Cells along x.
    pub nx: usize,
    /// Where the paths start (drawn once, as a black circle).
    pub start: Option<(f64, f64)>,
    /// Minimisers (black crosses).
    pub minima: Vec<(f64, f64)>,
    /// The paths (only the points inside the window are drawn, up to the first one outside).
    pub paths: Vec<Series>,
}

impl ContourPanel {
    /// Samples `f` on an `n` × `n` grid over the window `x` × `y`.
    pub fn sample(
        title: impl Into<String>,
        x: (f64, f64),
        y: (f64, f64),
        n: usize,
        f: impl Fn(f64, f64) -> f64,
    ) -> Self {
        let n = n.max(2);
        let (dx, dy) = ((x.1 - x.0) / n as f64, (y.1 - y.0) / n as f64);
        let values = (0..n * n)
            .map(|k| {
                let (i, j) = (k % n, k / n);
                f(x.0 + (i as f64 + 0.5) * dx, y.0 + (j as f64 + 0.5) * dy)
            })
            .collect();
        ContourPanel {
            title: title.into(),
            x,
            y,
            values,
            nx: n,
            start: None,
            minima: Vec::new(),
            paths: Vec::new(),
        }
    }
}

/// Number of grey bands.
const BANDS: f64 = 14.0;

/// The band of every cell: log(f − min + δ) cut into [`BANDS`] equal bands, δ = 1e-3 of the
/// range of f (so that the minimum does not stretch the log scale to −∞).
fn bands(values: &[f64]) -> Vec<usize> {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let delta = ((hi - lo) * 1e-3).max(1e-12);
    let g = |v: f64| (v - lo + delta).ln();
    let (glo, ghi) = (g(lo), g(hi.max(lo)));
    let span = (ghi - glo).max(1e-12);
    values
        .iter()
        .map(|&v| {
            let t = if v.is_finite() {
                (g(v) - glo) / span
            } else {
                1.0
            };
            (t * BANDS).floor().clamp(0.0, BANDS - 1.0) as usize
        })
        .collect()
}

/// Writes the panels side by side (each `size` pixels).
pub fn plot_contours(path: &Path, panels: &[ContourPanel], size: (u32, u32)) -> Result<()> {
    let n = panels.len().max(1);
    render(path, (size.0 * n as u32, size.1), |root| {
        root.fill(&WHITE).map_err(e2s)?;
        for (p, area) in panels.iter().zip(root.split_evenly((1, n)).iter()) {
            draw_contour(area, p)?;
        }
        root.present().map_err(e2s)
    })
}

fn draw_contour<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    p: &ContourPanel,
) -> PlotResult {
    let mut c = ChartBuilder::on(area)
        .caption(&p.title, (FAMILY, 15))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(p.x.0..p.x.1, p.y.0..p.y.1)
        .map_err(e2s)?;
    c.configure_mesh()
        .disable_mesh()
        .label_style((FAMILY, 11))
        .x_label_formatter(&|v| format!("{v:.1}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .draw()
        .map_err(e2s)?;
    let nx = p.nx.max(1);
    let ny = p.values.len() / nx;
    let band = bands(&p.values);
    let (dx, dy) = (
        (p.x.1 - p.x.0) / nx as f64,
        (p.y.1 - p.y.0) / ny.max(1) as f64,
    );
    let at = |i: usize, j: usize| band[j * nx + i];
    c.draw_series((0..nx * ny).map(|k| {
        let (i, j) = (k % nx, k / nx);
        let b = at(i, j);
        let edge = (i + 1 < nx && at(i + 1, j) != b) || (j + 1 < ny && at(i, j + 1) != b);
        let shade = 252.0 - 60.0 * b as f64 / (BANDS - 1.0);
        let v = if edge { shade - 35.0 } else { shade } as u8;
        let (x0, y0) = (p.x.0 + i as f64 * dx, p.y.0 + j as f64 * dy);
        Rectangle::new([(x0, y0), (x0 + dx, y0 + dy)], RGBColor(v, v, v).filled())
    }))
    .map_err(e2s)?;
    let inside = |&(x, y): &(f64, f64)| {
        x.is_finite()
            && y.is_finite()
            && (p.x.0..=p.x.1).contains(&x)
            && (p.y.0..=p.y.1).contains(&y)
    };
    for s in &p.paths {
        let col = color(s.color);
        let pts: Vec<(f64, f64)> = s.points.iter().copied().take_while(inside).collect();
        c.draw_series(LineSeries::new(pts.clone(), col.stroke_width(2)))
            .map_err(e2s)?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2)));
        if let Some(&last) = pts.last() {
            c.draw_series([Circle::new(last, 3, col.filled())])
                .map_err(e2s)?;
        }
    }
    if let Some(s) = p.start {
        c.draw_series([Circle::new(s, 5, BLACK.stroke_width(2))])
            .map_err(e2s)?;
    }
    c.draw_series(
        p.minima
            .iter()
            .map(|&m| Cross::new(m, 6, BLACK.stroke_width(2))),
    )
    .map_err(e2s)?;
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FAMILY, 11))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(e2s)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_grow_with_the_value() {
        let p = ContourPanel::sample("q", (-1.0, 1.0), (-1.0, 1.0), 9, |x, y| x * x + y * y);
        let b = bands(&p.values);
        assert_eq!(b[4 * 9 + 4], 0, "the centre is the lowest band");
        assert!(b[0] > b[4 * 9 + 2] && b[4 * 9 + 2] > b[4 * 9 + 4]);
        assert!(b.iter().all(|&k| k < BANDS as usize));
    }
}
