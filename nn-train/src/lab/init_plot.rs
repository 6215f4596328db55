//! The pictures and the table of `lab init`: per net, a row of activation histograms and a row
//! of gradient histograms, one panel per layer (the lecture's figure); for all nets together,
//! the std of the activations and of the gradients per layer, and the saturated/dead fractions.

use std::path::{Path, PathBuf};

use super::init::InitCaseReport;
use super::stats::OutputKind;
use crate::error::Result;
use crate::plot::{HistPanel, Panel, Series, Style, plot_histograms, plot_panels};

/// At most this many layers get a histogram panel (evenly spaced, first and last included).
pub const MAX_PANELS: usize = 12;

/// Indices of at most `max` evenly spaced items of `n`, first and last included.
fn spread(n: usize, max: usize) -> Vec<usize> {
    if n <= max {
        return (0..n).collect();
    }
    let mut v: Vec<usize> = (0..max)
        .map(|k| (k as f64 * (n - 1) as f64 / (max - 1) as f64).round() as usize)
        .collect();
    v.dedup();
    v
}

/// Writes `init_<name>.png` for the net into `dir`; returns its path.
pub fn plot_case(dir: &Path, r: &InitCaseReport) -> Result<PathBuf> {
    let idx = spread(r.layers.len(), MAX_PANELS);
    let row = |grad: bool| -> Vec<HistPanel> {
        idx.iter()
            .map(|&i| {
                let l = &r.layers[i];
                let extra = match l.kind {
                    OutputKind::Bounded { .. } if !grad => {
                        format!(" sat {:.0}%", 100.0 * l.saturated)
                    }
                    OutputKind::Rectifier if !grad => format!(" dead {:.0}%", 100.0 * l.dead),
                    _ => String::new(),
                };
                let name = if l.name.len() > 14 {
                    format!("..{}", &l.name[l.name.len() - 12..])
                } else {
                    l.name.clone()
                };
                HistPanel {
                    title: if grad {
                        format!("{name}: dL/dh std {:.1e}", l.grad_std)
                    } else {
                        format!("{name}: std {:.1e}{extra}", l.std)
                    },
                    hist: if grad {
                        l.grad_hist.clone()
                    } else {
                        l.act_hist.clone()
                    },
                    color: usize::from(grad),
                }
            })
            .collect()
    };
    let path = dir.join(format!("init_{}.png", r.name));
    let title = format!(
        "{}: {} (top: activations h, bottom: gradients dL/dh)",
        r.description, r.diagnosis.health
    );
    plot_histograms(&path, &title, &[row(false), row(true)], (210, 170))?;
    Ok(path)
}

/// Writes `init_summary.png` (std of h and of dL/dh per layer, log scale; saturated and dead
/// fractions) for all nets into `dir`; returns its path.
pub fn plot_summary(dir: &Path, reports: &[InitCaseReport]) -> Result<PathBuf> {
    let per_layer = |f: &dyn Fn(&super::stats::LayerStats) -> f64| -> Vec<Series> {
        reports
            .iter()
            .enumerate()
            .map(|(c, r)| {
                let pts = r
                    .layers
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l.kind != OutputKind::Other)
                    .map(|(i, l)| ((i + 1) as f64, f(l)))
                    .collect();
                Series::new(r.name.clone(), pts, Style::LineDots, c)
            })
            .collect()
    };
    let mut std = Panel::new("activation std per layer", "layer", "std of h (log)");
    std.y_log = true;
    std.x_integer = true;
    std.series = per_layer(&|l| l.std);
    let mut grad = Panel::new("gradient std per layer", "layer", "std of dL/dh (log)");
    grad.y_log = true;
    grad.x_integer = true;
    grad.series = per_layer(&|l| l.grad_std);
    let mut bad = Panel::new(
        "saturated (tanh) or dead (ReLU) fraction",
        "layer",
        "fraction",
    );
    bad.y_range = Some((0.0, 1.0));
    bad.x_integer = true;
    bad.series = per_layer(&|l| l.saturated.max(l.dead));
    let path = dir.join("init_summary.png");
    plot_panels(&path, &[std, grad, bad], 3, (460, 360))?;
    Ok(path)
}

/// A text table: one line per layer (mean, std, saturated, dead, gradient std, weight-gradient
/// rms), then the verdict.
pub fn table(r: &InitCaseReport) -> String {
    let mut s = format!("{}\n", r.description);
    s += &format!(
        "  {:<22} {:>10} {:>10} {:>6} {:>6} {:>10} {:>10}\n",
        "layer", "mean", "std", "sat%", "dead%", "dL/dh std", "dL/dW rms"
    );
    for l in &r.layers {
        let w = l
            .weight_grad_rms
            .map(|g| format!("{g:.2e}"))
            .unwrap_or_else(|| "-".into());
        s += &format!(
            "  {:<22} {:>10.2e} {:>10.2e} {:>6.1} {:>6.1} {:>10.2e} {:>10}\n",
            l.name,
            l.mean,
            l.std,
            100.0 * l.saturated,
            100.0 * l.dead,
            l.grad_std,
            w
        );
    }
    s += &format!("  => {}\n", r.diagnosis.words);
    s
}

#[cfg(test)]
mod tests {
    use super::spread;

    #[test]
    fn spread_keeps_first_and_last() {
        assert_eq!(spread(3, 12), vec![0, 1, 2]);
        let s = spread(30, 12);
        assert_eq!((s.len(), s[0], s[11]), (12, 0, 29));
    }
}
