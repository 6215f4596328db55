//! `nn-train` under `mpirun` (feature `mpi`; Open MPI's `mpirun` on the PATH): real processes
//! on the loopback, each with one rayon thread. What `tests/distributed.rs` checks on thread
//! ranks, checked here through the command line: bit-identical 2-rank runs, 1 and 2 ranks
//! agreeing, only rank 0 writing, a failure on either rank stopping both, distributed tuning.
#![cfg(feature = "mpi")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_nn-train");

/// `mpirun --oversubscribe` with one program (`-np n`) or several (`:`-separated, MPMD).
fn mpirun(apps: &[(usize, Vec<String>)]) -> Output {
    let mut cmd = Command::new("mpirun");
    cmd.args(["--oversubscribe", "--bind-to", "none"]);
    for (i, (np, args)) in apps.iter().enumerate() {
        if i > 0 {
            cmd.arg(":");
        }
        cmd.args(["-np", &np.to_string(), BIN]).args(args);
    }
    cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .expect("mpirun (Open MPI) is installed")
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn path(p: &Path) -> String {
    p.to_str().expect("utf-8 temp path").to_string()
}

/// A small job: an MLP on the embedded digits.
fn job(dir: &Path, extra: &str) -> PathBuf {
    let file = dir.join("job.toml");
    let text =
        format!("epochs = 2\nbatch_size = 64\n{extra}\n[model]\nkind = \"mlp\"\nhidden = [64]\n");
    std::fs::write(&file, text).unwrap();
    file
}

fn train(np: usize, config: &Path, out: &Path) -> Output {
    let o = mpirun(&[(
        np,
        args(&["train", "--config", &path(config), "--out", &path(out)]),
    )]);
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn report(dir: &Path) -> serde_json::Value {
    let mut r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    for e in r["history"].as_array_mut().unwrap() {
        e["seconds"] = 0.into();
    }
    r
}

fn weights(dir: &Path) -> Vec<(String, Vec<f32>)> {
    nn_core::checkpoint::read_file(dir.join("model.safetensors"))
        .unwrap()
        .into_iter()
        .map(|(name, a)| (name, a.iter().copied().collect()))
        .collect()
}

#[test]
fn a_two_rank_run_is_bit_identical_run_to_run_and_only_rank_0_writes() {
    let dir = tempfile::tempdir().unwrap();
    let config = job(dir.path(), "");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let o = train(2, &config, &a);
    train(2, &config, &b);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("data-parallel: 2 ranks"), "{stdout}");
    assert_eq!(
        stdout.matches("test accuracy").count(),
        1,
        "rank 0 alone reports: {stdout}"
    );
    assert_eq!(
        std::fs::read(a.join("model.safetensors")).unwrap(),
        std::fs::read(b.join("model.safetensors")).unwrap()
    );
    assert_eq!(report(&a), report(&b));
    // Two programs (MPMD), rank 1 given another --out: only rank 0's folder is written.
    let (r0, r1) = (dir.path().join("r0"), dir.path().join("r1"));
    let o = mpirun(&[
        (
            1,
            args(&["train", "--config", &path(&config), "--out", &path(&r0)]),
        ),
        (
            1,
            args(&["train", "--config", &path(&config), "--out", &path(&r1)]),
        ),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(r0.join("model.safetensors").exists());
    assert!(!r1.exists(), "rank 1 wrote its --out");
    assert_eq!(
        std::fs::read(r0.join("model.safetensors")).unwrap(),
        std::fs::read(a.join("model.safetensors")).unwrap()
    );
}

#[test]
fn one_and_two_ranks_agree() {
    let dir = tempfile::tempdir().unwrap();
    // One step: 64 training images, one epoch, a constant lr (the default warm-up starts at 0).
    let config = job(
        dir.path(),
        "epochs = 1\nschedule = { kind = \"constant\" }\n[data]\nlimit_train = 64",
    );
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("epochs = 2\n", "");
    std::fs::write(&config, text).unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    train(1, &config, &one);
    train(2, &config, &two);
    let (w1, w2) = (weights(&one), weights(&two));
    let max = w1
        .iter()
        .zip(&w2)
        .flat_map(|((_, a), (_, b))| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
        .fold(0.0f32, f32::max);
    eprintln!("1 vs 2 ranks, max |Δw| after one step: {max:e}");
    assert!(max < 1e-5, "max |Δw| after one step: {max}");
    assert!(!w1.is_empty() && report(&one)["history"][0]["lr"].as_f64().unwrap() > 0.0);
    // The whole job: the same test accuracy (270 test images; one is 0.37 points).
    let config = job(dir.path(), "epochs = 6");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("epochs = 2\n", "");
    std::fs::write(&config, text).unwrap();
    let (one, two) = (dir.path().join("one6"), dir.path().join("two6"));
    train(1, &config, &one);
    train(2, &config, &two);
    let acc = |d: &Path| report(d)["test_acc"].as_f64().unwrap();
    assert!(
        (acc(&one) - acc(&two)).abs() <= 0.004,
        "{} vs {}",
        acc(&one),
        acc(&two)
    );
}

#[test]
fn a_failure_on_either_rank_stops_both() {
    let dir = tempfile::tempdir().unwrap();
    let config = job(dir.path(), "");
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "epochs = 2\n[data]\nsource = { mnist = \"/nonexistent/mnist\" }\n[model]\nkind = \"mlp\"\nhidden = [64]\n",
    )
    .unwrap();
    // Rank 1 cannot read its data.
    let out = dir.path().join("run");
    let o = mpirun(&[
        (
            1,
            args(&["train", "--config", &path(&config), "--out", &path(&out)]),
        ),
        (
            1,
            args(&["train", "--config", &path(&bad), "--out", &path(&out)]),
        ),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("error: rank 1 failed") && stderr.contains("/nonexistent/mnist"),
        "{stderr}"
    );
    // Rank 0 opened (and locked) the run folder before the data was loaded: it holds no run.
    assert!(!out.join("model.safetensors").exists() && !out.join("manifest.json").exists());
    // Rank 0 cannot open its run folder (a file is in the way): rank 1, which has no run
    // folder to open, stops too, before loading any data.
    let file = dir.path().join("file");
    std::fs::write(&file, "not a directory").unwrap();
    let o = mpirun(&[(
        2,
        args(&[
            "train",
            "--config",
            &path(&config),
            "--out",
            &path(&file.join("run")),
        ]),
    )]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(
        stderr.contains("error: ") && stderr.contains("run folder"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&o.stdout).contains("epoch"));
}

#[test]
fn tuning_trials_spread_over_ranks_equal_the_sequential_search() {
    let dir = tempfile::tempdir().unwrap();
    let config = job(dir.path(), "[data]\nlimit_train = 256");
    let space = dir.path().join("space.toml");
    std::fs::write(
        &space,
        "dimensions.\"optimizer.lr\" = { log_uniform = { low = 1e-3, high = 1.0 } }\n",
    )
    .unwrap();
    let run = |np: usize, out: &Path| {
        let o = mpirun(&[(
            np,
            args(&[
                "tune",
                "--config",
                &path(&config),
                "--space",
                &path(&space),
                "--out",
                &path(out),
                "--trials",
                "3",
                "--epochs",
                "1",
                "--stages",
                "2",
                "--top-k",
                "1",
                "--refine-epochs",
                "1",
            ]),
        )]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let (seq, spread) = (dir.path().join("seq"), dir.path().join("spread"));
    run(1, &seq);
    let stdout = run(2, &spread);
    assert!(stdout.contains("trials spread over 2 ranks"), "{stdout}");
    let trials = |d: &Path| {
        let mut t: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join("trials.json")).unwrap()).unwrap();
        for r in t.as_array_mut().unwrap() {
            r["seconds"] = 0.into();
        }
        t
    };
    assert_eq!(trials(&seq), trials(&spread));
    assert_eq!(
        std::fs::read(seq.join("best.toml")).unwrap(),
        std::fs::read(spread.join("best.toml")).unwrap()
    );
}

/// `mpirun` in its own process group, so that a test can kill every rank at once.
fn spawn_mpirun(np: usize, args: &[String]) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    Command::new("mpirun")
        .args([
            "--oversubscribe",
            "--bind-to",
            "none",
            "-np",
            &np.to_string(),
            BIN,
        ])
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("RAYON_NUM_THREADS", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .expect("mpirun starts")
}

#[test]
fn a_distributed_run_resumes_after_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    // EMA and momentum state, a checkpoint every 3 steps; 20 steps per epoch.
    let config = job(
        dir.path(),
        "epochs = 6\n[checkpoint]\nevery_steps = 3\n[ema]\ndecay = 0.99",
    );
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("epochs = 2\n", "");
    std::fs::write(&config, text).unwrap();
    let full = dir.path().join("full");
    train(2, &config, &full);
    // The same run, killed (SIGKILL to mpirun and both ranks) once its first checkpoint exists
    // and again later, resumed each time.
    let killed = dir.path().join("killed");
    let checkpoint = killed.join("checkpoint.safetensors");
    let mut args = args(&["train", "--config", &path(&config), "--out", &path(&killed)]);
    let mut kills = 0;
    for delay_ms in [0, 150] {
        let mut child = spawn_mpirun(2, &args);
        let t = std::time::Instant::now();
        while !checkpoint.exists() && t.elapsed() < std::time::Duration::from_secs(60) {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            // SAFETY: kill(2) of the process group of our own child (mpirun and its ranks).
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            kills += 1;
        }
        child.wait().unwrap();
        args = self::args(&["train", "--resume", &path(&killed)]);
    }
    assert!(kills >= 1, "the run ended before it could be killed");
    let o = mpirun(&[(2, args.clone())]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(full.join("model.safetensors")).unwrap(),
        std::fs::read(killed.join("model.safetensors")).unwrap()
    );
    assert_eq!(
        std::fs::read(full.join("report.json")).unwrap(),
        std::fs::read(killed.join("report.json")).unwrap()
    );
}
