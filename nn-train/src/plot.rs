//! PNG plots for babysitting a run (CS231n, "Babysitting the learning process", step 6: "look
//! at loss and accuracy curves"):
//!
//! * [`plot_curves`]: the training loss of every step as a scatter ("losses may be noisy")
//!   plus its moving average, next to train and validation accuracy per epoch (their gap shows
//!   over- or under-fitting);
//! * [`plot_lr_finder`]: the LR range test's loss and smoothed loss against a log-scaled
//!   learning rate, with the suggestion marked (Smith 2017, see [`crate::lr_finder`]);
//! * [`plot_ratios`]: update/weight ratios per parameter on a log scale, with the 1e-3 target
//!   and the flag thresholds (see [`crate::monitor`]).
//!
//! For the labs, `schedule --plot` and `doctor`, three general charts live in submodules:
//! [`chart::plot_panels`] (a grid of x/y charts, linear or log axes), [`histogram::plot_histograms`]
//! (rows of small histograms) and [`contour::plot_contours`] (paths over a filled contour plot).
//!
//! Drawn with `plotters` into an RGB buffer and encoded with `image`; text uses an embedded
//! 14 KB subset of DejaVu Sans (Bitstream Vera licence, `assets/LICENSE-DejaVu.txt`), so no
//! system font is needed. Files are written atomically.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;

use crate::error::{Result, TrainError};
use crate::lr_finder::LrFinderResult;
use crate::monitor::{MonitorConfig, RatioRecord};
use crate::trainer::EpochRecord;
use crate::write_atomic;

pub mod chart;
pub mod contour;
pub mod histogram;

pub use chart::{Legend, Panel, Series, Style, plot_panels};
pub use contour::{ContourPanel, plot_contours};
pub use histogram::{HistPanel, Histogram, plot_histograms};

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans-ascii.ttf");
/// The family the embedded font is registered under.
pub(crate) const FAMILY: &str = "sans-serif";
/// The most dots [`plot_curves`] draws for the per-step losses.
pub const MAX_DOTS: usize = 4000;

/// Registers the embedded font with plotters (once per process).
pub(crate) fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("the embedded font parses"));
    });
}

/// The trailing moving average: out_i = mean(values[i+1−w ..= i]) (fewer values at the start),
/// w = `window` (≥ 1). Non-finite values are skipped.
pub fn moving_average(values: &[f32], window: usize) -> Vec<f32> {
    let w = window.max(1);
    (0..values.len())
        .map(|i| {
            let s = &values[(i + 1).saturating_sub(w)..=i];
            let (sum, n) = s
                .iter()
                .filter(|v| v.is_finite())
                .fold((0.0f64, 0usize), |(a, n), &v| (a + f64::from(v), n + 1));
            if n == 0 {
                f32::NAN
            } else {
                (sum / n as f64) as f32
            }
        })
        .collect()
}

/// The default moving-average window for `n` steps: n / 20, at least 1 and at most 50.
pub fn default_window(n: usize) -> usize {
    (n / 20).clamp(1, 50)
}

/// Renders into a `w`×`h` RGB image and writes it as PNG to `path`.
pub(crate) fn render(
    path: &Path,
    (w, h): (u32, u32),
    draw: impl FnOnce(DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> PlotResult,
) -> Result<()> {
    register_font();
    let mut buf = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        draw(root).map_err(|message| TrainError::Plot {
            path: path.to_path_buf(),
            message,
        })?;
    }
    let img = image::RgbImage::from_raw(w, h, buf).expect("buffer is w·h·3 bytes");
    let mut png = Vec::new();
    let encoder = image::codecs::png::PngEncoder::new_with_quality(
        &mut png,
        image::codecs::png::CompressionType::Best,
        image::codecs::png::FilterType::Adaptive,
    );
    img.write_with_encoder(encoder)
        .map_err(|e| TrainError::Plot {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    write_atomic(path, &png)
}

pub(crate) type PlotResult = std::result::Result<(), String>;

pub(crate) fn e2s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// (min, max) of the finite values, padded by 5 % (or ±0.5 if they are all equal); (0, 1)
/// if there is none.
pub(crate) fn range(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo > hi {
        (0.0, 1.0)
    } else if hi - lo < 1e-12 {
        (lo - 0.5, hi + 0.5)
    } else {
        let pad = 0.05 * (hi - lo);
        (lo - pad, hi + pad)
    }
}

/// Writes `curves.png`-style plots (960×360): left, the loss of every step (`steps`:
/// (global step, loss)) as a scatter (every k-th step beyond [`MAX_DOTS`] steps) with a trailing
/// moving average of `window` steps over all of them; right, train and validation accuracy per
/// epoch, the title giving the last epoch's gap train − val in percentage points.
pub fn plot_curves(
    path: &Path,
    steps: &[(u64, f32)],
    epochs: &[EpochRecord],
    window: usize,
) -> Result<()> {
    render(path, (960, 360), |root| {
        root.fill(&WHITE).map_err(e2s)?;
        let (left, right) = root.split_horizontally(480);
        let losses: Vec<f32> = steps.iter().map(|s| s.1).collect();
        let ma = moving_average(&losses, window);
        let xmax = steps.last().map_or(1.0, |s| s.0 as f64 + 1.0);
        let (ylo, yhi) = range(losses.iter().map(|&v| f64::from(v)));
        let mut c = ChartBuilder::on(&left)
            .caption("training loss per step", (FAMILY, 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..xmax, ylo.max(0.0)..yhi)
            .map_err(e2s)?;
        c.configure_mesh()
            .x_desc("step")
            .y_desc("loss")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FAMILY, 12))
            .draw()
            .map_err(e2s)?;
        let finite = |&(s, l): &(u64, f32)| l.is_finite().then_some((s as f64, f64::from(l)));
        // At most MAX_DOTS dots (every k-th step); the moving average uses every step.
        let stride = steps.len().div_ceil(MAX_DOTS).max(1);
        c.draw_series(
            steps
                .iter()
                .step_by(stride)
                .filter_map(finite)
                .map(|p| Circle::new(p, 2, BLUE.mix(0.35).filled())),
        )
        .map_err(e2s)?
        .label("loss (mini-batch)")
        .legend(|(x, y)| Circle::new((x + 10, y), 3, BLUE.filled()));
        c.draw_series(LineSeries::new(
            steps
                .iter()
                .zip(&ma)
                .filter(|(_, m)| m.is_finite())
                .map(|(s, &m)| (s.0 as f64, f64::from(m))),
            RED.stroke_width(2),
        ))
        .map_err(e2s)?
        .label(format!("moving average ({window} steps)"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        c.configure_series_labels()
            .label_font((FAMILY, 12))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(e2s)?;

        let emax = epochs.last().map_or(1, |e| e.epoch) as f64;
        let caption = match epochs.last() {
            Some(e) => format!(
                "accuracy per epoch (last gap {:+.1} pp)",
                100.0 * (e.train_acc - e.val_acc)
            ),
            None => "accuracy per epoch".to_string(),
        };
        let accs = epochs
            .iter()
            .flat_map(|e| [f64::from(e.train_acc), f64::from(e.val_acc)]);
        let (alo, ahi) = range(accs);
        let mut c = ChartBuilder::on(&right)
            .caption(caption, (FAMILY, 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(50)
            .build_cartesian_2d(0.5..emax + 0.5, alo.max(0.0)..ahi.min(1.0).max(alo + 1e-3))
            .map_err(e2s)?;
        c.configure_mesh()
            .x_desc("epoch")
            .y_desc("accuracy")
            .x_labels(epochs.len().clamp(2, 12))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FAMILY, 12))
            .draw()
            .map_err(e2s)?;
        let series = [
            (
                "train",
                BLUE,
                (|e: &EpochRecord| e.train_acc) as fn(&EpochRecord) -> f32,
            ),
            ("val", RED, |e: &EpochRecord| e.val_acc),
        ];
        for (name, color, get) in series {
            let pts: Vec<(f64, f64)> = epochs
                .iter()
                .map(|e| (e.epoch as f64, f64::from(get(e))))
                .collect();
            c.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(e2s)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            c.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled())))
                .map_err(e2s)?;
        }
        c.configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FAMILY, 12))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(e2s)?;
        root.present().map_err(e2s)
    })
}

/// Writes the LR range test (640×420): loss (dots) and smoothed loss (line) against the
/// learning rate on a log axis, the suggestion as a vertical green line.
pub fn plot_lr_finder(path: &Path, result: &LrFinderResult) -> Result<()> {
    render(path, (640, 420), |root| {
        root.fill(&WHITE).map_err(e2s)?;
        let pts = &result.points;
        let (xlo, xhi) = (result.config.start_lr, result.config.end_lr);
        let (ylo, mut yhi) = range(
            pts.iter()
                .flat_map(|p| [f64::from(p.loss), f64::from(p.smoothed)]),
        );
        // Keep the interesting part: clip the blow-up at the end to 1.5× the first loss.
        if let Some(first) = pts.first() {
            yhi = yhi.min(1.5 * f64::from(first.smoothed).max(f64::from(first.loss)));
        }
        let mut c = ChartBuilder::on(&root)
            .caption("learning-rate range test", (FAMILY, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d((xlo..xhi).log_scale(), ylo.max(0.0)..yhi.max(ylo + 1e-3))
            .map_err(e2s)?;
        c.configure_mesh()
            .x_desc("learning rate (log scale)")
            .y_desc("loss")
            .x_label_formatter(&|v| format!("{v:.0e}"))
            .label_style((FAMILY, 12))
            .draw()
            .map_err(e2s)?;
        let clip = |v: f32| f64::from(v).min(yhi);
        c.draw_series(
            pts.iter()
                .filter(|p| p.loss.is_finite())
                .map(|p| Circle::new((p.lr, clip(p.loss)), 2, BLUE.mix(0.4).filled())),
        )
        .map_err(e2s)?
        .label("loss")
        .legend(|(x, y)| Circle::new((x + 10, y), 3, BLUE.filled()));
        c.draw_series(LineSeries::new(
            pts.iter().map(|p| (p.lr, clip(p.smoothed))),
            RED.stroke_width(2),
        ))
        .map_err(e2s)?
        .label(format!("smoothed (EMA, β = {})", result.config.smoothing))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        if let Some(lr) = result.suggested {
            let g = GREEN.stroke_width(2);
            c.draw_series(LineSeries::new(
                [(lr, ylo.max(0.0)), (lr, yhi)],
                GREEN.stroke_width(2),
            ))
            .map_err(e2s)?
            .label(format!("suggested lr {lr:.2e}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], g));
        }
        c.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FAMILY, 12))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(e2s)?;
        root.present().map_err(e2s)
    })
}

/// Writes update/weight ratios per parameter against the step (640×420, log-scaled y), with the
/// 1e-3 target (dashed black) and the monitor's flag thresholds (dashed red).
pub fn plot_ratios(path: &Path, ratios: &[RatioRecord], thresholds: &MonitorConfig) -> Result<()> {
    render(path, (640, 420), |root| {
        root.fill(&WHITE).map_err(e2s)?;
        let pos: Vec<&RatioRecord> = ratios
            .iter()
            .filter(|r| r.ratio.is_finite() && r.ratio > 0.0)
            .collect();
        let xmax = pos.iter().map(|r| r.step).max().unwrap_or(1) as f64 + 1.0;
        let lo = pos.iter().map(|r| r.ratio).fold(thresholds.low, f64::min) / 2.0;
        let hi = pos.iter().map(|r| r.ratio).fold(thresholds.high, f64::max) * 2.0;
        let mut c = ChartBuilder::on(&root)
            .caption("update / weight ratio per parameter", (FAMILY, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .right_y_label_area_size(0)
            .build_cartesian_2d(0.0..xmax, (lo..hi).log_scale())
            .map_err(e2s)?;
        c.configure_mesh()
            .x_desc("step")
            .y_desc("||dW|| / ||W||")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .label_style((FAMILY, 12))
            .draw()
            .map_err(e2s)?;
        for (y, style) in [
            (thresholds.low, RGBColor(220, 60, 60).stroke_width(1)),
            (thresholds.high, RGBColor(220, 60, 60).stroke_width(1)),
            (1e-3, BLACK.stroke_width(1)),
        ] {
            c.draw_series(DashedLineSeries::new([(0.0, y), (xmax, y)], 6, 4, style))
                .map_err(e2s)?;
        }
        let mut names: Vec<&str> = Vec::new();
        for r in &pos {
            if !names.contains(&r.param.as_str()) {
                names.push(&r.param);
            }
        }
        for (i, name) in names.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let pts: Vec<(f64, f64)> = pos
                .iter()
                .filter(|r| r.param == *name)
                .map(|r| (r.step as f64, r.ratio))
                .collect();
            c.draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(e2s)?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        c.configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FAMILY, 11))
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(e2s)?;
        root.present().map_err(e2s)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_average_is_a_trailing_mean() {
        let ma = moving_average(&[1.0, 2.0, 3.0, 4.0, f32::NAN, 6.0], 3);
        assert_eq!(&ma[..4], &[1.0, 1.5, 2.0, 3.0]);
        assert_eq!(ma[4], 3.5); // mean of 3, 4 (NaN skipped)
        assert_eq!(ma[5], 5.0);
        assert_eq!(moving_average(&[], 5), Vec::<f32>::new());
        assert_eq!(default_window(10), 1);
        assert_eq!(default_window(400), 20);
        assert_eq!(default_window(100_000), 50);
    }

    #[test]
    fn ranges_pad_and_survive_degenerate_input() {
        assert_eq!(range([f64::NAN]), (0.0, 1.0));
        assert_eq!(range([2.0, 2.0]), (1.5, 2.5));
        let (a, b) = range([0.0, 10.0, f64::INFINITY]);
        assert!((a + 0.5).abs() < 1e-12 && (b - 10.5).abs() < 1e-12);
    }
}
