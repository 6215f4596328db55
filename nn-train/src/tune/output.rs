//! The results of a search on disk and on screen: `trials.json` and `trials.csv` (one record
//! per trial, best first), `best.toml` (the best job, ready for `nn-train train --config`) and
//! `spaces.toml` (the space of every stage), all written atomically; [`format_table`] for the
//! terminal.

use std::path::Path;

use super::error::TuneError;
use super::search::SearchResult;
use super::trial::TrialRecord;
use crate::write_atomic;

/// Writes `trials.json`, `trials.csv`, `spaces.toml` and (if a trial ended ok) `best.toml`
/// into `dir` (created if missing).
pub fn write_results(dir: &Path, result: &SearchResult) -> Result<(), TuneError> {
    let json = serde_json::to_string_pretty(&result.trials).expect("trial records serialise");
    write_atomic(&dir.join("trials.json"), json.as_bytes())?;
    write_atomic(&dir.join("trials.csv"), to_csv(&result.trials).as_bytes())?;
    let mut spaces = String::new();
    for (i, space) in result.spaces.iter().enumerate() {
        spaces += &format!("[stage{}.dimensions]\n{}\n", i + 1, space.dimension_lines());
    }
    write_atomic(&dir.join("spaces.toml"), spaces.as_bytes())?;
    if let Some(config) = &result.best_config {
        write_atomic(&dir.join("best.toml"), config.to_toml().as_bytes())?;
    }
    Ok(())
}

/// The dimension names occurring in `trials`, sorted.
fn dimension_names(trials: &[TrialRecord]) -> Vec<String> {
    let mut names: Vec<String> = trials
        .iter()
        .flat_map(|t| t.values.keys().cloned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A value as a CSV/table cell: numbers and booleans bare, strings unquoted, the rest as TOML.
fn cell(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Float(f) => format!("{f}"),
        other => other.to_string(),
    }
}

/// RFC 4180 quoting: fields with commas, quotes or newlines are quoted, quotes doubled.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The trials as CSV: `stage,trial,status,val_acc,val_loss,best_epoch,epochs_run,epochs,
/// seconds`, one column per dimension, then `message`.
pub fn to_csv(trials: &[TrialRecord]) -> String {
    let names = dimension_names(trials);
    let mut header = vec![
        "stage",
        "trial",
        "status",
        "val_acc",
        "val_loss",
        "best_epoch",
        "epochs_run",
        "epochs",
        "seconds",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    header.extend(names.iter().cloned());
    header.push("message".into());
    let mut out = header
        .iter()
        .map(|h| csv_field(h))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    let opt = |x: Option<f32>| x.map(|v| v.to_string()).unwrap_or_default();
    for t in trials {
        let mut row = vec![
            t.stage.to_string(),
            t.trial.to_string(),
            t.status.to_string(),
            opt(t.val_acc),
            opt(t.val_loss),
            t.best_epoch.to_string(),
            t.epochs_run.to_string(),
            t.epochs.to_string(),
            format!("{:.3}", t.seconds),
        ];
        row.extend(
            names
                .iter()
                .map(|n| t.values.get(n).map(cell).unwrap_or_default()),
        );
        row.push(t.message.clone().unwrap_or_default());
        out += &row
            .iter()
            .map(|f| csv_field(f))
            .collect::<Vec<_>>()
            .join(",");
        out.push('\n');
    }
    out
}

/// One line describing a finished trial (the CLI's progress line).
pub fn progress_line(t: &TrialRecord) -> String {
    let values: Vec<String> = t
        .values
        .iter()
        .map(|(k, v)| format!("{k}={}", short(v)))
        .collect();
    let acc = t
        .val_acc
        .map(|a| format!("{a:.4}"))
        .unwrap_or_else(|| "-".into());
    format!(
        "stage {} trial {:>3}: {:<8} val acc {:>6} ({}/{} epochs, {:.1} s)  {}",
        t.stage,
        t.trial,
        t.status.to_string(),
        acc,
        t.epochs_run,
        t.epochs,
        t.seconds,
        values.join(" ")
    )
}

/// A value shortened for the terminal (4 significant digits for floats).
fn short(v: &toml::Value) -> String {
    match v {
        toml::Value::Float(f) => format!("{f:.4e}").replace("e0", "").replace(".0000", ""),
        other => cell(other),
    }
}

/// The trials as an aligned text table, best first, at most `max_rows` rows.
pub fn format_table(trials: &[TrialRecord], max_rows: usize) -> String {
    let names = dimension_names(trials);
    let mut rows: Vec<Vec<String>> = vec![
        [
            "rank", "stage", "trial", "status", "val_acc", "val_loss", "epochs",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(names.iter().cloned())
        .collect(),
    ];
    let opt = |x: Option<f32>| x.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into());
    for (i, t) in trials.iter().take(max_rows).enumerate() {
        let mut row = vec![
            (i + 1).to_string(),
            t.stage.to_string(),
            t.trial.to_string(),
            t.status.to_string(),
            opt(t.val_acc),
            opt(t.val_loss),
            format!("{}/{}", t.epochs_run, t.epochs),
        ];
        row.extend(
            names
                .iter()
                .map(|n| t.values.get(n).map(short).unwrap_or_default()),
        );
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:>w$}"))
            .collect();
        out += line.join("  ").trim_end();
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::TrialStatus;

    fn record(trial: usize, lr: f64, acc: Option<f32>) -> TrialRecord {
        TrialRecord {
            stage: 1,
            trial,
            values: [("optimizer.lr".to_string(), lr.into())]
                .into_iter()
                .chain([("note".to_string(), "a,\"b\"".into())])
                .collect(),
            val_acc: acc,
            val_loss: acc.map(|a| 1.0 - a),
            best_epoch: 1,
            epochs_run: 1,
            epochs: 2,
            status: if acc.is_some() {
                TrialStatus::Ok
            } else {
                TrialStatus::Diverged
            },
            message: acc.is_none().then(|| "loss is NaN".into()),
            seconds: 0.5,
            curve: Vec::new(),
        }
    }

    #[test]
    fn csv_has_a_column_per_dimension_and_quotes() {
        let csv = to_csv(&[record(0, 0.1, Some(0.9)), record(1, 10.0, None)]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "stage,trial,status,val_acc,val_loss,best_epoch,epochs_run,epochs,seconds,note,optimizer.lr,message"
        );
        assert!(lines[1].starts_with("1,0,ok,0.9,"), "{}", lines[1]);
        assert!(lines[1].contains(",\"a,\"\"b\"\"\",0.1,"), "{}", lines[1]);
        assert!(lines[2].starts_with("1,1,diverged,,,"), "{}", lines[2]);
        assert!(lines[2].ends_with(",10,loss is NaN"), "{}", lines[2]);
    }

    #[test]
    fn table_and_progress_lines() {
        let t = format_table(&[record(0, 0.1, Some(0.9)), record(1, 10.0, None)], 10);
        assert_eq!(t.lines().count(), 3);
        assert!(t.contains("optimizer.lr") && t.contains("diverged"), "{t}");
        let p = progress_line(&record(0, 0.012345, Some(0.9)));
        assert!(
            p.contains("optimizer.lr=1.2345e-2") && p.contains("0.9000"),
            "{p}"
        );
    }
}
