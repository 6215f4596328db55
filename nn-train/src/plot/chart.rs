//! [`plot_panels`]: a grid of x/y charts — lines, dots or squares per series, each axis linear or
//! logarithmic — the one chart the labs, `schedule --plot` and `doctor` draw everything with
//! (learning-rate schedules, loss curves, accuracy against a hyperparameter, per-layer
//! statistics).
//!
//! Log axes are drawn by plotting log10 of the values on a linear axis with labels 10^v, so
//! every panel has the same coordinate type; values ≤ 0 or not finite are left out of a log
//! axis (and non-finite values out of a linear one).

use std::path::Path;

use plotters::prelude::*;

use super::{FAMILY, PlotResult, e2s, range, render};
use crate::error::Result;

/// How the points of a [`Series`] are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A polyline through the points.
    Line,
    /// A thin polyline (for many series at once, e.g. every trial of a search).
    ThinLine,
    /// Filled dots.
    Dots,
    /// Hollow squares (e.g. the points of a grid search).
    Squares,
    /// A polyline with a dot at every point.
    LineDots,
    /// A dashed polyline.
    Dashed,
    /// Crosses (e.g. failed trials).
    Crosses,
}

/// One named set of points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text (ASCII: the embedded font has no other glyphs); empty: not in the legend.
    pub label: String,
    /// The (x, y) points, in drawing order.
    pub points: Vec<(f64, f64)>,
    /// How they are drawn.
    pub style: Style,
    /// Index into [`COLORS`] (taken modulo its length).
    pub color: usize,
}

impl Series {
    /// A series with `label`, `points`, `style` and colour `color`.
    pub fn new(
        label: impl Into<String>,
        points: Vec<(f64, f64)>,
        style: Style,
        color: usize,
    ) -> Self {
        Series {
            label: label.into(),
            points,
            style,
            color,
        }
    }
}

/// One chart of a grid.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Panel {
    /// Caption.
    pub title: String,
    /// Description of the x axis.
    pub x_label: String,
    /// Description of the y axis.
    pub y_label: String,
    /// Whether the x axis is logarithmic.
    pub x_log: bool,
    /// Whether the y axis is logarithmic.
    pub y_log: bool,
    /// Fixed y range (in data units); `None`: fitted to the data.
    pub y_range: Option<(f64, f64)>,
    /// The series, drawn in order.
    pub series: Vec<Series>,
    /// Horizontal reference lines (y, label), dashed grey.
    pub hlines: Vec<(f64, String)>,
    /// Where the legend goes; `None`: no legend.
    pub legend: Option<Legend>,
    /// Integer x axis (layers, epochs): ticks only at whole numbers.
    pub x_integer: bool,
    /// Names of the x positions 0, 1, …, n − 1 (a categorical axis: ticks at whole numbers,
    /// labelled with the names); empty: numeric labels.
    pub x_names: Vec<String>,
}

/// A corner for the legend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legend {
    /// Upper left.
    UpperLeft,
    /// Upper right.
    UpperRight,
    /// Lower left.
    LowerLeft,
    /// Lower right.
    LowerRight,
}

impl Legend {
    fn position(self) -> SeriesLabelPosition {
        match self {
            Legend::UpperLeft => SeriesLabelPosition::UpperLeft,
            Legend::UpperRight => SeriesLabelPosition::UpperRight,
            Legend::LowerLeft => SeriesLabelPosition::LowerLeft,
            Legend::LowerRight => SeriesLabelPosition::LowerRight,
        }
    }
}

impl Panel {
    /// A panel with a title and axis descriptions, linear axes, legend at the upper right.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Panel {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            legend: Some(Legend::UpperRight),
            ..Panel::default()
        }
    }
}

/// The palette (matplotlib's tab10): distinguishable on white, in this order.
pub const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The colour of index `i` of [`COLORS`] (modulo its length).
pub fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

/// A coordinate mapped for an axis: log10 on a log axis (`None` if ≤ 0 or not finite).
fn map(v: f64, log: bool) -> Option<f64> {
    if !v.is_finite() {
        None
    } else if log {
        (v > 0.0).then(|| v.log10())
    } else {
        Some(v)
    }
}

/// Tick label of a mapped coordinate.
fn label(v: f64, log: bool) -> String {
    if log {
        let x = 10f64.powf(v);
        if (v - v.round()).abs() < 1e-9 {
            format!("1e{}", v.round() as i64)
        } else {
            format!("{x:.1e}")
        }
    } else if v.abs() < 1e-12 {
        // Tick positions computed as lo + k·step land a rounding error off 0 (-1.1e-16).
        "0".to_string()
    } else if v.abs() < 1e-2 || v.abs() >= 1e4 {
        format!("{v:.1e}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Writes `panels` as a PNG grid of `cols` columns, each panel `size` pixels.
pub fn plot_panels(path: &Path, panels: &[Panel], cols: usize, size: (u32, u32)) -> Result<()> {
    let cols = cols.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(cols).max(1);
    let (w, h) = (size.0 * cols as u32, size.1 * rows as u32);
    render(path, (w, h), |root| {
        root.fill(&WHITE).map_err(e2s)?;
        let areas = root.split_evenly((rows, cols));
        for (panel, area) in panels.iter().zip(areas.iter()) {
            draw_panel(area, panel)?;
        }
        root.present().map_err(e2s)
    })
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    p: &Panel,
) -> PlotResult {
    let mapped: Vec<Vec<(f64, f64)>> = p
        .series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .filter_map(|&(x, y)| Some((map(x, p.x_log)?, map(y, p.y_log)?)))
                .collect()
        })
        .collect();
    let (xlo, xhi) = range(mapped.iter().flatten().map(|q| q.0));
    let (ylo, yhi) = match p.y_range {
        Some((a, b)) => match (map(a, p.y_log), map(b, p.y_log)) {
            (Some(a), Some(b)) if a < b => (a, b),
            _ => range(mapped.iter().flatten().map(|q| q.1)),
        },
        None => range(
            mapped
                .iter()
                .flatten()
                .map(|q| q.1)
                .chain(p.hlines.iter().filter_map(|h| map(h.0, p.y_log))),
        ),
    };
    let mut c = ChartBuilder::on(area)
        .caption(&p.title, (FAMILY, 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(xlo..xhi, ylo..yhi)
        .map_err(e2s)?;
    let (xl, yl) = (p.x_log, p.y_log);
    let named = !p.x_names.is_empty();
    let int_ticks = if named {
        ((xhi - xlo).ceil() as usize + 1).max(2)
    } else {
        ((xhi - xlo).floor() as usize + 1).clamp(2, 12)
    };
    c.configure_mesh()
        .x_desc(&p.x_label)
        .y_desc(&p.y_label)
        .x_labels(if p.x_integer || named { int_ticks } else { 10 })
        .x_label_formatter(&|v| {
            if (p.x_integer || named) && (v - v.round()).abs() > 1e-6 {
                String::new()
            } else if named {
                let i = v.round();
                if i >= 0.0 && (i as usize) < p.x_names.len() {
                    p.x_names[i as usize].clone()
                } else {
                    String::new()
                }
            } else {
                label(*v, xl)
            }
        })
        .y_label_formatter(&|v| label(*v, yl))
        .label_style((FAMILY, 11))
        .draw()
        .map_err(e2s)?;
    for (y, text) in &p.hlines {
        if let Some(y) = map(*y, yl) {
            let style = RGBColor(120, 120, 120).stroke_width(1);
            c.draw_series(DashedLineSeries::new([(xlo, y), (xhi, y)], 6, 4, style))
                .map_err(e2s)?
                .label(text.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
    }
    let clip = |(x, y): (f64, f64)| (x, y.clamp(ylo, yhi));
    for (s, pts) in p.series.iter().zip(mapped) {
        let col = color(s.color);
        let pts: Vec<(f64, f64)> = pts.into_iter().map(clip).collect();
        let anno = match s.style {
            Style::Line | Style::ThinLine => {
                let width = if s.style == Style::Line { 2 } else { 1 };
                c.draw_series(LineSeries::new(pts, col.stroke_width(width)))
                    .map_err(e2s)?
            }
            Style::Dashed => c
                .draw_series(DashedLineSeries::new(pts, 8, 5, col.stroke_width(2)))
                .map_err(e2s)?,
            Style::Dots => c
                .draw_series(pts.into_iter().map(|q| Circle::new(q, 3, col.filled())))
                .map_err(e2s)?,
            Style::Squares => c
                .draw_series(pts.into_iter().map(|q| {
                    EmptyElement::at(q) + Rectangle::new([(-5, -5), (5, 5)], col.stroke_width(2))
                }))
                .map_err(e2s)?,
            Style::Crosses => c
                .draw_series(
                    pts.into_iter()
                        .map(|q| Cross::new(q, 5, col.stroke_width(2))),
                )
                .map_err(e2s)?,
            Style::LineDots => {
                c.draw_series(LineSeries::new(pts.clone(), col.stroke_width(2)))
                    .map_err(e2s)?;
                c.draw_series(pts.into_iter().map(|q| Circle::new(q, 3, col.filled())))
                    .map_err(e2s)?
            }
        };
        if !s.label.is_empty() {
            let style = s.style;
            anno.label(s.label.clone())
                .legend(move |(x, y)| match style {
                    Style::Dots => Circle::new((x + 10, y), 3, col.filled()).into_dyn(),
                    Style::Crosses => Cross::new((x + 10, y), 4, col.stroke_width(2)).into_dyn(),
                    Style::Squares => {
                        Rectangle::new([(x + 5, y - 4), (x + 13, y + 4)], col.stroke_width(2))
                            .into_dyn()
                    }
                    _ => {
                        PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2)).into_dyn()
                    }
                });
        }
    }
    if let Some(pos) = p.legend {
        let labelled = p.series.iter().any(|s| !s.label.is_empty()) || !p.hlines.is_empty();
        if labelled {
            c.configure_series_labels()
                .position(pos.position())
                .label_font((FAMILY, 11))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(e2s)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_mapping_drops_non_positive_values() {
        assert_eq!(map(100.0, true), Some(2.0));
        assert_eq!(map(0.0, true), None);
        assert_eq!(map(-1.0, false), Some(-1.0));
        assert_eq!(map(f64::NAN, false), None);
        assert_eq!(label(-3.0, true), "1e-3");
        assert_eq!(label(0.25, false), "0.25");
        assert_eq!(label(2.0, false), "2");
        assert_eq!(label(-1.1e-16, false), "0");
        assert_eq!(label(5e-3, false), "5.0e-3");
    }
}
