//! `lab search`: random against grid search on the same budget.

use nn_train::TrainConfig;
use nn_train::lab::search::{SearchLabConfig, best_acc};
use nn_train::tune::Dimension;
use nn_train::zoo::ModelConfig;

use super::{nn_train, png};

fn tiny_job() -> TrainConfig {
    let mut job = TrainConfig {
        model: ModelConfig::mlp(vec![32]),
        ..TrainConfig::default()
    };
    job.data.limit_train = Some(400);
    job
}

#[test]
fn random_search_finds_a_better_learning_rate_than_grid_search_more_often_than_not() {
    let lab = SearchLabConfig {
        epochs: 2,
        repeats: 5,
        ..SearchLabConfig::default()
    };
    assert_eq!(lab.budget(), 9);
    let r = lab.run(&tiny_job(), &mut |_, _, _| {}).unwrap();
    assert_eq!(r.runs.len(), 5);
    let lr_grid: Vec<f64> = Dimension::LogUniform {
        low: 1e-4,
        high: 1.0,
    }
    .grid(3)
    .iter()
    .map(|v| v.as_float().unwrap())
    .collect();
    for run in &r.runs {
        assert_eq!((run.grid.len(), run.random.len()), (9, 9));
        let lrs = |t: &[nn_train::tune::TrialRecord]| {
            let mut v: Vec<f64> = t
                .iter()
                .map(|t| t.values["optimizer.lr"].as_float().unwrap())
                .collect();
            v.sort_by(f64::total_cmp);
            v.dedup();
            v
        };
        // The grid tries 3 learning rates, random search 9.
        assert_eq!(lrs(&run.grid), lr_grid);
        assert_eq!(lrs(&run.random).len(), 9);
        // Every trial's curve is there (trials stopped early have fewer points).
        assert!(
            run.grid
                .iter()
                .chain(&run.random)
                .all(|t| t.curve.len() == t.epochs_run)
        );
    }
    assert!(
        r.random_wins * 2 > r.runs.len(),
        "random won {} of {}: {:?}",
        r.random_wins,
        r.runs.len(),
        r.runs
            .iter()
            .map(|x| (best_acc(&x.grid), best_acc(&x.random)))
            .collect::<Vec<_>>()
    );
    assert!(r.verdict.contains("random search won"), "{}", r.verdict);
}

#[test]
fn cli_lab_search_draws_the_figure() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let job = dir.path().join("job.toml");
    std::fs::write(
        &job,
        "[data]\nlimit_train = 200\n[model]\nkind = \"mlp\"\nhidden = [16]\n",
    )
    .unwrap();
    let (ok, stdout, stderr) = nn_train(&[
        "lab",
        "search",
        "--config",
        job.to_str().unwrap(),
        "--epochs",
        "1",
        "--grid-points",
        "2",
        "--repeats",
        "2",
        "--out",
        d,
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    for f in [
        "search_random_vs_grid.png",
        "search_curves.png",
        "search_repeats.png",
    ] {
        let (_, _, inked) = png(&dir.path().join(f));
        assert!(inked > 5000, "{f}: {inked}");
    }
    assert_eq!(stdout.matches("repeat 1 random").count(), 4, "{stdout}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("search.json")).unwrap()).unwrap();
    assert_eq!(json["budget"], 4);
}
