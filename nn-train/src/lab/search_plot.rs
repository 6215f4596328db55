//! The pictures of `lab search`: the lecture's figure — validation accuracy against each
//! hyperparameter (log axis for log dimensions), the grid's trials as squares, the random ones
//! as dots (`search_random_vs_grid.png`) — every trial's validation curve on one chart, grid
//! and random side by side (`search_curves.png`), and with several repeats the best accuracy
//! of each search per repeat (`search_repeats.png`).

use std::path::{Path, PathBuf};

use super::search::{SearchLabReport, best_acc};
use crate::error::Result;
use crate::plot::{Legend, Panel, Series, Style, plot_panels};
use crate::tune::{SearchSpace, TrialRecord, TrialStatus};

/// (value, validation accuracy) of every trial with a numeric `dim` that ended ok (`ok`), or
/// that did not (`!ok`: at its accuracy before it was stopped, or 0).
fn points(trials: &[TrialRecord], dim: &str, ok: bool) -> Vec<(f64, f64)> {
    trials
        .iter()
        .filter(|t| (t.status == TrialStatus::Ok) == ok)
        .filter_map(|t| {
            let v = t.values.get(dim)?;
            let x = v.as_float().or_else(|| v.as_integer().map(|i| i as f64))?;
            Some((x, f64::from(t.val_acc.unwrap_or(0.0))))
        })
        .collect()
}

/// Writes the pictures of repeat 0 (and the per-repeat chart if there are several) into `dir`;
/// returns their paths.
pub fn plot_search(
    dir: &Path,
    space: &SearchSpace,
    report: &SearchLabReport,
) -> Result<Vec<PathBuf>> {
    let run = &report.runs[0];
    let mut files = Vec::new();
    let mut panels = Vec::new();
    for (name, dim) in &space.dimensions {
        let (g, r) = (
            points(&run.grid, name, true),
            points(&run.random, name, true),
        );
        let mut failed = points(&run.grid, name, false);
        failed.extend(points(&run.random, name, false));
        if g.is_empty() && r.is_empty() && failed.is_empty() {
            continue; // a non-numeric dimension
        }
        let mut p = Panel::new(
            format!("{name}: grid (squares), random (dots), stopped (x)"),
            if dim.is_log() {
                format!("{name} (log)")
            } else {
                name.clone()
            },
            "best val accuracy",
        );
        p.x_log = dim.is_log();
        p.legend = None;
        p.series = vec![
            Series::new("grid", g, Style::Squares, 0),
            Series::new("random", r, Style::Dots, 3),
            Series::new("exploded or diverged", failed, Style::Crosses, 7),
        ];
        panels.push(p);
    }
    if !panels.is_empty() {
        let path = dir.join("search_random_vs_grid.png");
        let n = panels.len();
        plot_panels(&path, &panels, n, (620, 420))?;
        files.push(path);
    }
    let curves = |trials: &[TrialRecord], title: &str, color: usize| {
        let mut p = Panel::new(
            format!("{title}: every trial's validation accuracy"),
            "epoch",
            "val accuracy",
        );
        p.x_integer = true;
        p.legend = None;
        p.series = trials
            .iter()
            .map(|t| {
                let pts = t
                    .curve
                    .iter()
                    .map(|c| (c.epoch as f64, f64::from(c.val_acc)))
                    .collect();
                Series::new("", pts, Style::ThinLine, color)
            })
            .collect();
        p.y_range = Some((0.0, 1.0));
        p
    };
    let path = dir.join("search_curves.png");
    plot_panels(
        &path,
        &[
            curves(&run.grid, "grid", 0),
            curves(&run.random, "random", 3),
        ],
        2,
        (520, 400),
    )?;
    files.push(path);
    if report.runs.len() > 1 {
        let per = |f: &dyn Fn(&super::search::SearchRun) -> f32| {
            report
                .runs
                .iter()
                .map(|r| (r.repeat as f64, f64::from(f(r))))
                .collect::<Vec<_>>()
        };
        let mut p = Panel::new(
            format!(
                "best val accuracy per repeat: random won {} of {}, grid {}",
                report.random_wins,
                report.runs.len(),
                report.grid_wins
            ),
            "repeat",
            "best val accuracy",
        );
        p.x_integer = true;
        p.legend = Some(Legend::LowerRight);
        p.series = vec![
            Series::new("grid", per(&|r| best_acc(&r.grid)), Style::Squares, 0),
            Series::new("random", per(&|r| best_acc(&r.random)), Style::Dots, 3),
        ];
        let path = dir.join("search_repeats.png");
        plot_panels(&path, &[p], 1, (640, 400))?;
        files.push(path);
    }
    Ok(files)
}
