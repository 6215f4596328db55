//! Malformed inputs to the `nn-train` command, each run under a memory cap (`ulimit -v` 1 GiB)
//! and a time limit: each must end in a typed error naming the file, field or value, with exit
//! status 1 — never a panic (101), an abort or a hang. The cases are grouped by kind in
//! `bad_input/` (data files, images, job files, checkpoints and models); resource bombs are
//! generated small on disk (a header that lies, or a stream of zeros that deflates 1000:1).

#[path = "bad_input/checkpoints.rs"]
mod checkpoints;
#[path = "bad_input/data_files.rs"]
mod data_files;
#[path = "bad_input/images.rs"]
mod images;
#[path = "bad_input/jobs.rs"]
mod jobs;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_nn-train");

/// Runs `nn-train ARGS` in `dir` under `ulimit -v` 1 GiB, killed after 60 s; (status, stderr).
pub(crate) fn capped(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = Command::new("sh");
    cmd.current_dir(dir)
        .arg("-c")
        .arg("ulimit -v 1048576; exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(args);
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("nn-train {args:?} ran past the time limit");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts a typed error (exit 1, `error: ...` naming `needle`).
pub(crate) fn rejects(dir: &Path, args: &[&str], needle: &str) {
    let (code, stderr) = capped(dir, args);
    assert_eq!(code, Some(1), "nn-train {args:?}: {stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains(needle) && !stderr.contains("panicked"),
        "nn-train {args:?}: expected an error naming {needle:?}, got: {stderr}"
    );
}

pub(crate) fn job(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).unwrap();
    name.to_string()
}

#[test]
fn job_files_and_splits() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cases: &[(&str, &str)] = &[
        (
            "[data]\nval_fraction = 0.0\nsource = { mnist = \"x\" }",
            "x",
        ),
        ("[data]\nthreads = 100000", "data.threads"),
        ("[data]\nthreads = 0", "data.threads"),
        ("epochs = -1", "epochs"),
        ("epochs = 0", "epochs"),
        ("batch_size = 0", "batch_size"),
        ("[checkpoint]\nevery_steps = -3", "every_steps"),
        ("[checkpoint]\nevry_steps = 3", "evry_steps"),
        ("this is not toml", "job8.toml"),
        ("class_weights = [1.0, 1.0]", "class_weights"),
        ("[data]\nclasses = []", "data.classes"),
        ("[data]\nlimit_train = 0", "data.limit_train"),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let f = job(d, &format!("job{i}.toml"), text);
        rejects(d, &["train", "--config", &f, "--epochs", "1"], needle);
    }
    rejects(d, &["train", "--config", "missing.toml"], "missing.toml");
    // Digits with every class filtered except one: a validation split remains, so only the
    // empty-split checks of file sources are exercised above; an empty training split:
    let f = job(d, "empty.toml", "[data]\nclasses = [99]");
    rejects(d, &["train", "--config", &f, "--epochs", "1"], "99");
}

#[test]
fn run_folders_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("afile"), "x").unwrap();
    rejects(
        d,
        &["train", "--out", "afile", "--epochs", "1"],
        "not a directory",
    );
    std::fs::create_dir(d.join("mine")).unwrap();
    std::fs::write(d.join("mine/notes.txt"), "keep me").unwrap();
    rejects(
        d,
        &["train", "--out", "mine", "--epochs", "1"],
        "--overwrite",
    );
    rejects(
        d,
        &["train", "--out", "mine", "--overwrite", "--epochs", "1"],
        "not an nn-train run folder",
    );
    assert_eq!(
        std::fs::read_to_string(d.join("mine/notes.txt")).unwrap(),
        "keep me"
    );
    rejects(d, &["train", "--resume", "nowhere"], "nothing to resume");
    rejects(d, &["train", "--resume", "mine"], "nothing to resume");
    rejects(d, &["eval", "--run", "mine"], "manifest.json");
    rejects(d, &["finetune", "--from", "mine"], "manifest.json");
    // A checkpoint of garbage, and one truncated.
    std::fs::create_dir(d.join("bad")).unwrap();
    std::fs::write(d.join("bad/config.toml"), "epochs = 1\n").unwrap();
    std::fs::write(
        d.join("bad/checkpoint.safetensors"),
        b"\x08\0\0\0\0\0\0\0{}",
    )
    .unwrap();
    rejects(d, &["train", "--resume", "bad"], "checkpoint.safetensors");
    std::fs::write(d.join("bad/checkpoint.safetensors"), [0xffu8; 3]).unwrap();
    rejects(d, &["train", "--resume", "bad"], "checkpoint.safetensors");
}

#[test]
fn arguments_and_resource_bombs() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (code, stderr) = capped(d, &["train", "--out", "run", "--epochs", "1"]);
    assert_eq!(code, Some(0), "{stderr}");
    rejects(
        d,
        &[
            "eval",
            "--run",
            "run",
            "--tta",
            "five-crop",
            "--tta-pad",
            "1000000000",
        ],
        "--tta-pad",
    );
    // A changed model file is refused by the manifest check.
    let model = d.join("run/model.safetensors");
    let mut bytes = std::fs::read(&model).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0x40;
    std::fs::write(&model, &bytes).unwrap();
    rejects(d, &["eval", "--run", "run"], "model.safetensors");
    // clap's own errors exit with 2 (usage), not a panic.
    let (code, _) = capped(d, &["train", "--epochs", "many"]);
    assert_eq!(code, Some(2));
}
