//! `train` refuses, before allocating the model, a job whose estimated training memory exceeds
//! the machine's available memory (or `NN_TRAIN_MEMORY_LIMIT`), with exit code 1 and an error
//! naming the model's size fields and the estimate.

use std::process::{Command, Output};

fn train(job: &str, limit: Option<&str>) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("job.toml");
    std::fs::write(&path, job).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nn-train"));
    cmd.args(["train", "--epochs", "1", "--config", path.to_str().unwrap()]);
    match limit {
        Some(l) => cmd.env("NN_TRAIN_MEMORY_LIMIT", l),
        None => cmd.env_remove("NN_TRAIN_MEMORY_LIMIT"),
    };
    cmd.output().unwrap()
}

#[test]
fn a_job_larger_than_memory_is_refused_naming_the_fields() {
    // 64·1e9 first-layer weights alone are 256 GB as f32: more than any machine has available.
    let huge = "[model]\nkind = \"mlp\"\nhidden = [1000000000]\n";
    let out = train(huge, None);
    let err = String::from_utf8_lossy(&out.stderr);
    if std::path::Path::new("/proc/meminfo").exists() {
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("not enough memory")
                && err.contains("model.hidden = [1000000000]")
                && err.contains("MemAvailable")
                && err.contains("GiB"),
            "{err}"
        );
    }
    // The override: a tiny budget refuses even the default model, `off` skips the check.
    let out = train("epochs = 1\n", Some("1KiB"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("NN_TRAIN_MEMORY_LIMIT=1KiB") && err.contains("model.hidden"),
        "{err}"
    );
    let out = train("[model]\nkind = \"mlp\"\nhidden = [16]\n", Some("off"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = train("epochs = 1\n", Some("plenty"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("NN_TRAIN_MEMORY_LIMIT") && err.contains("plenty"),
        "{err}"
    );
}
