//! The pictures of `lab optimizers`: the paths on contour plots (`optimizers_paths.png`), the
//! value of f − min f per step on a log scale (`optimizers_2d_loss.png`), and the training loss
//! (moving average) and validation accuracy per method on the job (`optimizers_job.png`).

use std::path::{Path, PathBuf};

use super::optimizers::{Method, Surface, SurfaceReport};
use super::optimizers_job::JobCurve;
use crate::error::Result;
use crate::plot::{
    ContourPanel, Legend, Panel, Series, Style, moving_average, plot_contours, plot_panels,
};

/// Colour of a method (its index in [`Method::ALL`]), the same in every picture.
pub fn method_color(m: Method) -> usize {
    Method::ALL.iter().position(|x| *x == m).unwrap_or(0)
}

/// Writes `optimizers_paths.png` and `optimizers_2d_loss.png` into `dir`; returns their paths.
pub fn plot_surfaces(
    dir: &Path,
    surfaces: &[Surface],
    reports: &[SurfaceReport],
) -> Result<Vec<PathBuf>> {
    let mut contours = Vec::new();
    let mut losses = Vec::new();
    for (s, r) in surfaces.iter().zip(reports) {
        let obj = s.objective.as_ref();
        let mut c = ContourPanel::sample(s.name, s.x, s.y, 160, |x, y| {
            f64::from(obj.eval(&[x as f32, y as f32]).0)
        });
        let start = obj.start();
        c.start = Some((f64::from(start[0]), f64::from(start[1])));
        c.minima = s.minima.clone();
        let fmin = s
            .minima
            .iter()
            .map(|m| f64::from(obj.eval(&[m.0 as f32, m.1 as f32]).0))
            .fold(f64::INFINITY, f64::min);
        let mut lp = Panel::new(
            format!("{}: f - min f per step", s.name),
            "step (L-BFGS: iteration)",
            "f - min f (log)",
        );
        lp.y_log = true;
        lp.legend = Some(Legend::LowerLeft);
        for p in &r.paths {
            let label = format!("{} lr {}", p.method.name(), p.lr);
            let col = method_color(p.method);
            c.paths.push(Series::new(
                label.clone(),
                p.points.clone(),
                Style::Line,
                col,
            ));
            let pts = p
                .losses
                .iter()
                .enumerate()
                .map(|(i, &f)| (i as f64, (f - fmin).max(1e-12)))
                .collect();
            lp.series.push(Series::new(label, pts, Style::Line, col));
        }
        contours.push(c);
        losses.push(lp);
    }
    let a = dir.join("optimizers_paths.png");
    plot_contours(&a, &contours, (520, 520))?;
    let b = dir.join("optimizers_2d_loss.png");
    plot_panels(&b, &losses, losses.len(), (520, 400))?;
    Ok(vec![a, b])
}

/// Writes `optimizers_job.png` (training loss per step as a moving average, validation accuracy
/// per epoch) into `dir`; returns its path.
pub fn plot_job(dir: &Path, curves: &[JobCurve]) -> Result<PathBuf> {
    let mut loss = Panel::new(
        "training loss (moving average over 1/30 of the run)",
        "epoch",
        "loss (log)",
    );
    loss.y_log = true;
    let mut acc = Panel::new("validation accuracy", "epoch", "accuracy");
    acc.legend = Some(Legend::LowerRight);
    acc.x_integer = true;
    for c in curves {
        let window = (c.steps.len() / 30).clamp(1, 50);
        let per = c.steps_per_epoch.max(1) as f64;
        let col = method_color(c.method);
        let label = format!("{} lr {:.0e}", c.method.name(), c.lr);
        let values: Vec<f32> = c.steps.iter().map(|s| s.1).collect();
        let ma = moving_average(&values, window);
        loss.series.push(Series::new(
            label.clone(),
            c.steps
                .iter()
                .zip(ma)
                .map(|(s, m)| ((s.0 + 1) as f64 / per, f64::from(m)))
                .collect(),
            Style::Line,
            col,
        ));
        acc.series.push(Series::new(
            label,
            c.epochs
                .iter()
                .map(|e| (e.epoch as f64, f64::from(e.val_acc)))
                .collect(),
            Style::LineDots,
            col,
        ));
    }
    let path = dir.join("optimizers_job.png");
    plot_panels(&path, &[loss, acc], 2, (560, 400))?;
    Ok(path)
}
