//! The run folder keeps the fitted preprocessing (`preprocess.json`), and `eval` and `finetune`
//! use it instead of fitting again — through the `nn-train` command.

use std::path::Path;
use std::process::{Command, Output};

use nn_train::data::prepare;
use nn_train::preprocess::FittedPreprocessing;
use nn_train::{DataConfig, Preprocess};

fn nn_train(args: &[&str], paths: &[&Path]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nn-train"));
    cmd.args(args);
    for p in paths {
        cmd.arg(p);
    }
    cmd.output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn eval_scores_with_the_runs_saved_zca() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("zca.toml");
    std::fs::write(
        &job,
        "epochs = 3\n[data]\npreprocess = { zca = { eps = 0.1 } }\n[model]\nkind = \"mlp\"\nhidden = [32]\n",
    )
    .unwrap();
    let run = dir.path().join("run");
    ok(&nn_train(
        &["train", "--config"],
        &[&job, Path::new("--out"), &run],
    ));
    let saved = FittedPreprocessing::load(&run.join("preprocess.json")).unwrap();
    assert_eq!(
        saved.setting,
        Preprocess::Zca(nn_train::ZcaSettings { eps: 0.1 })
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    let stdout = ok(&nn_train(&["eval", "--run"], &[&run]));
    let want = format!(
        "test loss {:.4}, test accuracy {:.4}",
        report["test_loss"].as_f64().unwrap(),
        report["test_acc"].as_f64().unwrap()
    );
    assert!(stdout.contains(&want), "{stdout} vs {want}");
    // eval, predict and export load runs with SavedRun, which takes the fit from the file.
    let loaded = nn_train::SavedRun::load(&run).unwrap();
    assert_eq!(
        loaded.config.data.preprocess_from.as_deref(),
        Some(run.join("preprocess.json").as_path())
    );
    assert_eq!(*loaded.data.preprocess, saved.fitted);
}

#[test]
fn finetune_reuses_the_runs_statistics_instead_of_refitting() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.toml");
    std::fs::write(
        &source,
        "epochs = 2\n[data]\nclasses = [0, 1, 2, 3, 4]\n[model]\nkind = \"mlp\"\nhidden = [32]\n",
    )
    .unwrap();
    let run = dir.path().join("run04");
    ok(&nn_train(
        &["train", "--config"],
        &[&source, Path::new("--out"), &run],
    ));
    let target = dir.path().join("target.toml");
    std::fs::write(&target, "epochs = 1\n[data]\nclasses = [5, 6, 7, 8, 9]\n").unwrap();
    let tuned = dir.path().join("run59");
    ok(&nn_train(
        &["finetune", "--from"],
        &[
            &run,
            Path::new("--config"),
            &target,
            Path::new("--out"),
            &tuned,
        ],
    ));
    let a = FittedPreprocessing::load(&run.join("preprocess.json")).unwrap();
    let b = FittedPreprocessing::load(&tuned.join("preprocess.json")).unwrap();
    assert_eq!(a, b, "the fine-tune uses the source run's statistics");
    let refit = prepare(
        &DataConfig {
            classes: Some(vec![5, 6, 7, 8, 9]),
            ..DataConfig::default()
        },
        0,
    )
    .unwrap();
    assert_ne!(
        *refit.preprocess, b.fitted,
        "digits 5-9 have other statistics"
    );
    // Its own eval then uses the same statistics again.
    let stdout = ok(&nn_train(&["eval", "--run"], &[&tuned]));
    assert!(stdout.contains("test accuracy"), "{stdout}");
}
