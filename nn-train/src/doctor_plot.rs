//! The pictures of `nn-train doctor`: the overfitting check's loss and accuracy per epoch
//! (`doctor_overfit.png`), the LR range test (`lr_find.png`, [`crate::plot::plot_lr_finder`])
//! and the search: validation accuracy against the learning rate (log axis) of the coarse and
//! the fine trials, with the job's own rate, and every trial's curve (`doctor_search.png`).

use std::path::{Path, PathBuf};

use crate::doctor::DoctorReport;
use crate::error::Result;
use crate::plot::{Legend, Panel, Series, Style, plot_lr_finder, plot_panels};
use crate::tune::TrialStatus;

/// Writes the pictures the report has data for into `dir`; returns their paths.
pub fn plot_doctor(dir: &Path, r: &DoctorReport, job_lr: f64) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    if let Some(o) = &r.overfit {
        let mut loss = Panel::new(
            format!(
                "overfit {} images: loss",
                o.job.data.limit_train.unwrap_or(0)
            ),
            "epoch",
            "loss (log)",
        );
        loss.y_log = true;
        loss.x_integer = true;
        loss.series = vec![Series::new(
            "loss on the sample",
            o.history
                .iter()
                .enumerate()
                .map(|(i, h)| ((i + 1) as f64, f64::from(h.0)))
                .collect(),
            Style::LineDots,
            0,
        )];
        let mut acc = Panel::new("training accuracy on the sample", "epoch", "accuracy");
        acc.x_integer = true;
        acc.y_range = Some((0.0, 1.02));
        acc.hlines = vec![(1.0, "100 %".into())];
        acc.legend = Some(Legend::LowerRight);
        acc.series = vec![Series::new(
            "",
            o.history
                .iter()
                .enumerate()
                .map(|(i, h)| ((i + 1) as f64, f64::from(h.1)))
                .collect(),
            Style::LineDots,
            2,
        )];
        let path = dir.join("doctor_overfit.png");
        plot_panels(&path, &[loss, acc], 2, (480, 360))?;
        files.push(path);
    }
    if let Some(lr) = &r.lr_finder {
        let path = dir.join("lr_find.png");
        plot_lr_finder(&path, lr)?;
        files.push(path);
    }
    if let Some(s) = &r.search {
        let pts = |stage: usize| {
            s.trials
                .iter()
                .filter(|t| t.stage == stage && t.status == TrialStatus::Ok)
                .filter_map(|t| {
                    Some((
                        t.values.get("optimizer.lr")?.as_float()?,
                        f64::from(t.val_acc?),
                    ))
                })
                .collect::<Vec<_>>()
        };
        let mut p = Panel::new(
            "validation accuracy vs learning rate",
            "optimizer.lr (log)",
            "best val accuracy",
        );
        p.x_log = true;
        p.legend = Some(Legend::LowerLeft);
        p.series = vec![
            Series::new("coarse (stage 1)", pts(1), Style::Dots, 0),
            Series::new("fine (stage 2)", pts(2), Style::Squares, 3),
        ];
        if let Some(b) = r.baseline.as_ref().and_then(|b| b.val_acc) {
            p.series.push(Series::new(
                format!("the job's own lr {job_lr:.2e}"),
                vec![(job_lr, f64::from(b))],
                Style::Squares,
                2,
            ));
        }
        let mut curves = Panel::new("every trial's validation accuracy", "epoch", "val accuracy");
        curves.x_integer = true;
        curves.legend = None;
        curves.series = s
            .trials
            .iter()
            .map(|t| {
                Series::new(
                    "",
                    t.curve
                        .iter()
                        .map(|c| (c.epoch as f64, f64::from(c.val_acc)))
                        .collect(),
                    Style::ThinLine,
                    if t.stage == 1 { 0 } else { 3 },
                )
            })
            .collect();
        let path = dir.join("doctor_search.png");
        plot_panels(&path, &[p, curves], 2, (520, 400))?;
        files.push(path);
    }
    Ok(files)
}
