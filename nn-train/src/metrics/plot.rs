//! [`plot_confusion`]: the confusion matrix as a PNG heat map.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ClassMetrics;
use crate::error::Result;
use crate::plot::{FAMILY, PlotResult, e2s, render};

/// Largest class count whose cells carry their counts as text.
const MAX_LABELLED: usize = 20;

/// Writes the confusion matrix of `metrics` as a heat map: rows are true classes (named on the
/// left, with their per-class accuracy on the right), columns predicted classes (numbered
/// along the top); a cell's colour is its share of the row (white 0 → dark blue 1), and up to
/// 20 classes each cell shows its count. `title` heads the picture (e.g. the split).
pub fn plot_confusion(path: &Path, metrics: &ClassMetrics, title: &str) -> Result<()> {
    let k = metrics.num_classes().max(1);
    let cell: u32 = if k <= MAX_LABELLED {
        (560 / k as u32).clamp(24, 56)
    } else {
        (720 / k as u32).max(4)
    };
    let name_w: u32 = if k <= 60 { 150 } else { 20 };
    let (left, top, right) = (name_w + 10, 70u32, 80u32);
    let grid = cell * k as u32;
    let size = (left + grid + right, top + grid + 30);
    render(path, size, |root| {
        draw(root, metrics, title, cell, (left, top))
    })
}

/// The embedded font at `size` pixels.
fn font(size: i32) -> TextStyle<'static> {
    TextStyle::from(FontDesc::new(
        FontFamily::Name(FAMILY),
        f64::from(size),
        FontStyle::Normal,
    ))
}

fn draw(
    root: DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    m: &ClassMetrics,
    title: &str,
    cell: u32,
    (left, top): (u32, u32),
) -> PlotResult {
    root.fill(&WHITE).map_err(e2s)?;
    let k = m.num_classes();
    let (cell, left, top) = (cell as i32, left as i32, top as i32);
    let heading = format!(
        "{title}: {} images, accuracy {:.1} %  (rows: true class, columns: predicted)",
        m.images,
        100.0 * m.accuracy
    );
    root.draw(&Text::new(heading, (10, 10), font(16)))
        .map_err(e2s)?;
    let small = (cell / 2).clamp(9, 13);
    let centred = |size: i32| font(size).pos(Pos::new(HPos::Center, VPos::Center));
    for t in 0..k {
        let row_total = m.support[t].max(1) as f64;
        for p in 0..k {
            let n = m.confusion[t][p];
            let share = n as f64 / row_total;
            // White → dark blue by the share of the row.
            let colour = RGBColor(
                (255.0 - 225.0 * share) as u8,
                (255.0 - 190.0 * share) as u8,
                (255.0 - 100.0 * share) as u8,
            );
            let (x, y) = (left + p as i32 * cell, top + t as i32 * cell);
            root.draw(&Rectangle::new(
                [(x, y), (x + cell, y + cell)],
                colour.filled(),
            ))
            .map_err(e2s)?;
            if k <= MAX_LABELLED && n > 0 {
                let ink = if share > 0.5 { WHITE } else { BLACK };
                root.draw(&Text::new(
                    n.to_string(),
                    (x + cell / 2, y + cell / 2),
                    centred((cell / 3).clamp(9, 14)).color(&ink),
                ))
                .map_err(e2s)?;
            }
        }
        if k <= 60 {
            let name: String = m.classes[t].chars().take(18).collect();
            let style = font(small).pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(
                format!("{t}: {name}"),
                (left - 6, top + t as i32 * cell + cell / 2),
                style,
            ))
            .map_err(e2s)?;
            let acc =
                m.per_class_accuracy[t].map_or("-".to_string(), |a| format!("{:.0} %", 100.0 * a));
            let style = font(small).pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(
                acc,
                (left + k as i32 * cell + 6, top + t as i32 * cell + cell / 2),
                style,
            ))
            .map_err(e2s)?;
        }
    }
    if k <= 60 {
        for p in 0..k {
            root.draw(&Text::new(
                p.to_string(),
                (left + p as i32 * cell + cell / 2, top - 10),
                centred(small),
            ))
            .map_err(e2s)?;
        }
    }
    let grid = k as i32 * cell;
    root.draw(&Rectangle::new(
        [(left, top), (left + grid, top + grid)],
        BLACK.stroke_width(1),
    ))
    .map_err(e2s)?;
    root.draw(&Text::new("predicted class", (left, top - 34), font(12)))
        .map_err(e2s)?;
    root.present().map_err(e2s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::numbered_classes;

    #[test]
    fn draws_small_and_large_matrices() {
        let dir = tempfile::tempdir().unwrap();
        for k in [2, 10, 100] {
            let labels: Vec<usize> = (0..5 * k).map(|i| i % k).collect();
            // Four of every five images right: diagonal cells at 80 % of their row.
            let predicted: Vec<usize> = labels
                .iter()
                .enumerate()
                .map(|(i, &l)| if (i / k) % 5 == 0 { (l + 1) % k } else { l })
                .collect();
            let m = ClassMetrics::new(&predicted, &labels, numbered_classes(k));
            let path = dir.path().join(format!("c{k}.png"));
            plot_confusion(&path, &m, "test").unwrap();
            let img = image::open(&path).unwrap().to_rgb8();
            assert!(img.width() > 200 && img.height() > 100);
            // Some cells are coloured (not all white).
            assert!(img.pixels().any(|p| p.0[0] < 100 && p.0[2] > 120));
        }
    }
}
