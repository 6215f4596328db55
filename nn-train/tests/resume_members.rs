//! Killed ensembles and searches continue with what they finished.
//!
//! `nn-train ensemble --out DIR` is killed with SIGKILL while a member trains (after an earlier
//! member finished), resumed with `--resume DIR`, stopped again with SIGINT (exit 130, a
//! checkpoint written) and resumed to the end: the members' models and reports and
//! ensemble.json are byte-identical to an uninterrupted ensemble's, and the finished member was
//! not trained again. `nn-train tune` killed after some trials and run again with `--resume`
//! keeps those trials and ends with the uninterrupted search's trials and best job.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_nn-train");

const JOB: &str = "epochs = 4\n[checkpoint]\nevery_steps = 3\n";
const MEMBERS: &str = "3";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn start(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nn-train starts")
}

/// Waits until `ready()` (then returns true) or until `child` ends (false); 120 s at most.
fn wait_until(child: &mut Child, ready: impl Fn() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(120) {
        if ready() {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("the ensemble ran past the time limit");
}

fn send(child: &Child, signal: i32) {
    // SAFETY: kill(2) with the pid of our own child process and a valid signal number.
    let r = unsafe { libc::kill(child.id() as i32, signal) };
    assert_eq!(r, 0, "kill failed");
}

fn outputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = vec!["ensemble.json".to_string(), "config.toml".to_string()];
    for i in 0..3 {
        for f in [
            "model.safetensors",
            "report.json",
            "config.toml",
            "classes.json",
        ] {
            files.push(format!("member-{i}/{f}"));
        }
    }
    files
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(dir.join(&f)).unwrap_or_else(|e| panic!("{f}: {e}"));
            (f, bytes)
        })
        .collect()
}

#[test]
fn a_killed_ensemble_resumes_with_its_finished_members() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let job = d.join("job.toml");
    std::fs::write(&job, JOB).unwrap();
    let reference = d.join("reference");
    let out = Command::new(BIN)
        .args(["ensemble", "--config", s(&job), "--members", MEMBERS])
        .args(["--out", s(&reference)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = d.join("killed");
    let exists = |f: &str| dir.join(f).is_file();
    // SIGKILL while member 1 trains (member 0 finished, member 1 has a checkpoint).
    let mut child = start(&[
        "ensemble",
        "--config",
        s(&job),
        "--members",
        MEMBERS,
        "--out",
        s(&dir),
    ]);
    let ready = wait_until(&mut child, || {
        exists("member-0/manifest.json") && exists("member-1/checkpoint.safetensors")
    });
    assert!(ready, "the ensemble ended before member 1 checkpointed");
    send(&child, libc::SIGKILL);
    child.wait().unwrap();
    assert!(!exists("manifest.json"));
    let member0 = std::fs::read(dir.join("member-0/model.safetensors")).unwrap();
    let member0_time = std::fs::metadata(dir.join("member-0/model.safetensors"))
        .unwrap()
        .modified()
        .unwrap();
    // An incomplete ensemble is not readable as a run.
    let status = Command::new(BIN)
        .args(["eval", "--run", s(&dir)])
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(1));

    // Resume, then SIGINT while member 2 trains: exit 130 with member 2's checkpoint written.
    let mut child = start(&["ensemble", "--resume", s(&dir), "--members", MEMBERS]);
    let ready = wait_until(&mut child, || {
        exists("member-1/manifest.json") && exists("member-2/checkpoint.safetensors")
    });
    assert!(
        ready,
        "the resumed ensemble ended before member 2 checkpointed"
    );
    send(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    assert!(exists("member-2/checkpoint.safetensors"));

    // Resume to the end.
    let out = Command::new(BIN)
        .args(["ensemble", "--resume", s(&dir), "--members", MEMBERS])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(!printed.contains("member 0 trained"), "{printed}");
    assert!(!printed.contains("member 1 trained"), "{printed}");
    assert!(printed.contains("member 2 trained"), "{printed}");
    assert_eq!(
        std::fs::metadata(dir.join("member-0/model.safetensors"))
            .unwrap()
            .modified()
            .unwrap(),
        member0_time
    );
    assert_eq!(
        std::fs::read(dir.join("member-0/model.safetensors")).unwrap(),
        member0
    );
    assert!(!exists("member-2/checkpoint.safetensors"));
    for ((name, want), (_, got)) in outputs(&reference).iter().zip(outputs(&dir)) {
        assert!(
            *want == got,
            "{name} differs from the uninterrupted ensemble's"
        );
    }
    // Complete: eval reads it, and a further --resume has nothing to do.
    let out = Command::new(BIN)
        .args(["ensemble", "--resume", s(&dir), "--members", MEMBERS])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to resume"));
}

/// The trials of a search without their timings (which differ between runs).
fn trials(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("trials.json")).unwrap();
    let mut v: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    for t in &mut v {
        t.as_object_mut().unwrap().remove("seconds");
    }
    v
}

#[test]
fn a_killed_search_resumes_with_its_finished_trials() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let space = d.join("space.toml");
    std::fs::write(
        &space,
        "[dimensions]\n\"optimizer.lr\" = { log_uniform = { low = 0.01, high = 0.3 } }\n",
    )
    .unwrap();
    let job = d.join("job.toml");
    std::fs::write(&job, "epochs = 2\n").unwrap();
    let args = |out: &Path| {
        [
            "tune",
            "--config",
            s(&job),
            "--space",
            s(&space),
            "--out",
            s(out),
            "--trials",
            "4",
            "--epochs",
            "2",
            "--stages",
            "2",
            "--top-k",
            "1",
            "--refine-epochs",
            "2",
        ]
        .map(String::from)
        .to_vec()
    };
    let reference = d.join("reference");
    let out = Command::new(BIN).args(args(&reference)).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = d.join("killed");
    let mut child = Command::new(BIN)
        .args(args(&dir))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = wait_until(&mut child, || {
        std::fs::read_to_string(dir.join("trials.json"))
            .is_ok_and(|t| t.matches("\"trial\"").count() >= 2)
    });
    assert!(ready, "the search ended before two trials were done");
    send(&child, libc::SIGKILL);
    child.wait().unwrap();
    let kept = trials(&dir).len();
    assert!((2..6).contains(&kept), "{kept}");

    let mut resume = args(&dir);
    resume.push("--resume".into());
    let out = Command::new(BIN).args(&resume).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(printed.matches("(kept)").count(), kept, "{printed}");
    assert_eq!(trials(&dir), trials(&reference));
    assert_eq!(
        std::fs::read(dir.join("best.toml")).unwrap(),
        std::fs::read(reference.join("best.toml")).unwrap()
    );
    // Another job cannot resume this search.
    std::fs::write(&job, "epochs = 3\n").unwrap();
    let out = Command::new(BIN).args(&resume).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("job.toml"));
}
