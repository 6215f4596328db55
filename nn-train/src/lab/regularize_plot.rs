//! The pictures of `nn-train lab regularize`:
//! - `regularize_curves.png`: one panel per run, clean-train and validation accuracy per epoch
//!   (the gap between the two lines), the baseline's validation accuracy dashed;
//! - `regularize_gap.png`: per run, the last epoch's clean-train, validation and test accuracy,
//!   and the gaps (train − val accuracy, val − train loss);
//! - `regularize_mc.png`: per run with a test-time rule, test accuracy and NLL against the
//!   number K of averaged masks (draws), the rule as a dashed line.

use std::path::{Path, PathBuf};

use super::regularize::Regularizer;
use super::regularize_report::RegularizeReport;
use super::regularize_run::RegularizeRun;
use crate::error::Result;
use crate::plot::{Legend, Panel, Series, Style, plot_panels};

/// A short label of a run: its regulariser, and its model when it is not the job's.
pub fn run_label(r: &RegularizeReport, run: &RegularizeRun) -> String {
    let main = r.runs.first().map(|x| x.model.as_str()).unwrap_or("");
    let name = match run.regularizer {
        Regularizer::StochasticDepth => "stoch-depth",
        Regularizer::FractionalPool => "frac-pool",
        Regularizer::DropConnect => "dropconn",
        reg => reg.name(),
    };
    if run.model == main {
        name.to_string()
    } else {
        format!("{name}/{}", run.model)
    }
}

fn curves(r: &RegularizeReport) -> Vec<Panel> {
    r.runs
        .iter()
        .map(|run| {
            let gap = run
                .acc_gap()
                .map_or("failed".to_string(), |g| format!("gap {:.1} pt", 100.0 * g));
            let mut p = Panel::new(format!("{}: {gap}", run_label(r, run)), "epoch", "accuracy");
            p.x_integer = true;
            p.legend = Some(Legend::LowerRight);
            let pts = |f: &dyn Fn(&super::regularize_run::GapRecord) -> f32| {
                run.epochs
                    .iter()
                    .map(|e| (e.epoch as f64, f64::from(f(e))))
                    .collect::<Vec<_>>()
            };
            p.series.push(Series::new(
                "train (clean)",
                pts(&|e| e.train_acc),
                Style::Line,
                0,
            ));
            p.series
                .push(Series::new("val", pts(&|e| e.val_acc), Style::Line, 1));
            if run.regularizer != Regularizer::None
                && let Some(base) = r.baseline_of(&run.model)
            {
                let b = base
                    .epochs
                    .iter()
                    .map(|e| (e.epoch as f64, f64::from(e.val_acc)))
                    .collect();
                p.series.push(Series::new("val, none", b, Style::Dashed, 7));
            }
            p
        })
        .collect()
}

fn summary(r: &RegularizeReport) -> Vec<Panel> {
    let names: Vec<String> = r.runs.iter().map(|x| run_label(r, x)).collect();
    let at = |f: &dyn Fn(&RegularizeRun) -> Option<f32>| -> Vec<(f64, f64)> {
        r.runs
            .iter()
            .enumerate()
            .filter_map(|(i, x)| f(x).map(|v| (i as f64, f64::from(v))))
            .collect()
    };
    let mut acc = Panel::new(
        "accuracy at the last epoch (test: best validation snapshot)",
        "",
        "accuracy",
    );
    acc.x_names = names.clone();
    acc.legend = Some(Legend::LowerLeft);
    acc.y_range = headroom(r.runs.iter().flat_map(|x| {
        let e = x.last();
        [
            e.map(|e| e.train_acc),
            e.map(|e| e.val_acc),
            Some(x.test_acc),
        ]
    }));
    acc.series = vec![
        Series::new(
            "train (clean)",
            at(&|x| x.last().map(|e| e.train_acc)),
            Style::Squares,
            0,
        ),
        Series::new("val", at(&|x| x.last().map(|e| e.val_acc)), Style::Dots, 1),
        Series::new(
            "test",
            at(&|x| x.error.is_none().then_some(x.test_acc)),
            Style::Crosses,
            2,
        ),
    ];
    let mut gap = Panel::new("the train/validation gap at the last epoch", "", "gap");
    gap.x_names = names;
    gap.series = vec![
        Series::new("train - val accuracy", at(&|x| x.acc_gap()), Style::Dots, 3),
        Series::new("val - train loss", at(&|x| x.loss_gap()), Style::Squares, 4),
    ];
    gap.y_range = headroom(
        r.runs
            .iter()
            .flat_map(|x| [x.acc_gap(), x.loss_gap(), Some(0.0)]),
    );
    gap.legend = Some(Legend::LowerLeft);
    vec![acc, gap]
}

/// The range of `values` with room below for the legend (a third of the panel).
fn headroom(values: impl Iterator<Item = Option<f32>>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .flatten()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(f64::from(v)), b.max(f64::from(v)))
        });
    (lo <= hi).then(|| {
        let span = (hi - lo).max(1e-3);
        (lo - 0.6 * span, hi + 0.05 * span)
    })
}

fn mc_panels(r: &RegularizeReport) -> (Vec<Panel>, usize) {
    let runs: Vec<&RegularizeRun> = r.runs.iter().filter(|x| x.mc.is_some()).collect();
    let mut acc_row = Vec::new();
    let mut nll_row = Vec::new();
    for run in &runs {
        let mc = run.mc.as_ref().expect("filtered");
        let what = if run.regularizer == Regularizer::FractionalPool {
            "region draws K"
        } else {
            "random masks K"
        };
        let label = run_label(r, run);
        let mut a = Panel::new(format!("{label}: test accuracy"), what, "accuracy");
        a.x_log = true;
        a.legend = Some(Legend::LowerRight);
        let pts = |f: &dyn Fn(&super::regularize_run::McPoint) -> f32| {
            mc.points
                .iter()
                .map(|p| (p.draws as f64, f64::from(f(p))))
                .collect::<Vec<_>>()
        };
        a.series.push(Series::new(
            "average of K",
            pts(&|p| p.acc),
            Style::LineDots,
            0,
        ));
        a.hlines.push((f64::from(mc.rule_acc), mc.rule.clone()));
        let mut n = Panel::new(format!("{label}: test NLL"), what, "-ln p(label)");
        n.x_log = true;
        n.series.push(Series::new(
            "average of K",
            pts(&|p| p.nll),
            Style::LineDots,
            1,
        ));
        n.hlines.push((f64::from(mc.rule_nll), mc.rule.clone()));
        acc_row.push(a);
        nll_row.push(n);
    }
    let cols = acc_row.len();
    acc_row.extend(nll_row);
    (acc_row, cols)
}

/// Writes the pictures into `dir` and returns their paths (`regularize_mc.png` only when a run
/// has a rule-against-averaging curve).
pub fn plot_regularize(dir: &Path, r: &RegularizeReport) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let c = curves(r);
    let p = dir.join("regularize_curves.png");
    plot_panels(&p, &c, 4, (340, 250))?;
    written.push(p);
    let p = dir.join("regularize_gap.png");
    let width = (90 * r.runs.len() as u32).max(560);
    plot_panels(&p, &summary(r), 1, (width, 300))?;
    written.push(p);
    let (mc, cols) = mc_panels(r);
    if cols > 0 {
        let p = dir.join("regularize_mc.png");
        plot_panels(&p, &mc, cols, (330, 250))?;
        written.push(p);
    }
    Ok(written)
}
