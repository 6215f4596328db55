//! Exact resume of a real `nn-train train` process: SIGKILL at random moments (some during a
//! checkpoint write), SIGINT and SIGTERM; after each, `--resume`; the final model.safetensors
//! and report.json must be byte-identical to those of a run that was never interrupted.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_nn-train");

/// A short job that exercises every piece of loop state: momentum, the warm-up + cosine
/// schedule, EMA, mixup (batch randomness), and a checkpoint every step (so that kills often
/// land inside a checkpoint write).
const JOB: &str = r#"
epochs = 5
grad_accumulation = 2
[checkpoint]
every_steps = 1
[ema]
decay = 0.99
[mixup]
"#;

fn start(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nn-train starts")
}

fn run_to_end(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("nn-train runs")
}

fn outputs(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    (
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        std::fs::read(dir.join("report.json")).unwrap(),
    )
}

/// The uninterrupted run.
fn reference(tmp: &Path, job: &Path) -> (Vec<u8>, Vec<u8>) {
    let dir = tmp.join("reference");
    let out = run_to_end(&["train", "--config", s(job), "--out", s(&dir)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    outputs(&dir)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A small xorshift generator (the moments are random; the seed is printed on failure).
struct Moments(u64);

impl Moments {
    fn next_ms(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + self.0 % (hi - lo)
    }
}

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1
}

/// Whether a temporary checkpoint file is left (the kill landed inside a checkpoint write).
fn torn_checkpoint_write(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(".checkpoint.safetensors") && n.contains(".tmp")
        })
    })
}

/// Waits for `child` up to `limit`; `None` if it is still running.
fn wait_for(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let t = Instant::now();
    while t.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

fn send(child: &Child, signal: i32) {
    // SAFETY: kill(2) with the pid of our own child process and a valid signal number.
    let r = unsafe { libc::kill(child.id() as i32, signal) };
    assert_eq!(r, 0, "kill failed");
}

/// Starts the job in `dir` (or resumes it if it has begun).
fn start_or_resume(job: &Path, dir: &Path, begun: bool) -> Child {
    if begun {
        start(&["train", "--resume", s(dir)])
    } else {
        start(&["train", "--config", s(job), "--out", s(dir), "--overwrite"])
    }
}

#[test]
fn sigkill_at_random_moments_then_resume_gives_identical_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let job = tmp.path().join("job.toml");
    std::fs::write(&job, JOB).unwrap();
    let expected = reference(tmp.path(), &job);
    let seed = seed();
    let mut moments = Moments(seed);
    let dir: PathBuf = tmp.path().join("killed");
    let (mut kills, mut torn) = (0, 0);
    let mut begun = false;
    // At least 5 kills, at least one of them inside a checkpoint write; at most 40 attempts.
    for _ in 0..40 {
        if kills >= 5 && torn >= 1 {
            break;
        }
        let mut child = start_or_resume(&job, &dir, begun);
        // Killed before config.toml is written, the folder holds no run yet: start it anew.
        let wait = Duration::from_millis(moments.next_ms(60, 400));
        if let Some(status) = wait_for(&mut child, wait) {
            // The run finished before the kill: start over to keep killing.
            assert!(status.success(), "seed {seed}: exit {status:?}");
            begun = false;
            continue;
        }
        send(&child, libc::SIGKILL);
        child.wait().unwrap();
        kills += 1;
        if torn_checkpoint_write(&dir) {
            torn += 1;
        }
        begun = dir.join("config.toml").exists();
    }
    assert!(
        kills >= 5 && torn >= 1,
        "seed {seed}: {kills} kills, {torn} during a checkpoint write"
    );
    let out = run_to_end(&["train", "--resume", s(&dir)]);
    assert!(
        out.status.success(),
        "seed {seed}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        outputs(&dir) == expected,
        "seed {seed}: resumed outputs differ from the uninterrupted run's"
    );
    // Nothing left behind: no checkpoint, no temporary files; the manifest verifies.
    nn_train::run_dir::verify(&dir).unwrap();
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp") || n.starts_with("checkpoint"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    eprintln!("seed {seed}: {kills} kills ({torn} during a checkpoint write), identical outputs");
}

#[test]
fn sigint_and_sigterm_checkpoint_exit_130_143_and_resume_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let job = tmp.path().join("job.toml");
    // Checkpoints only at epoch ends and on the signal: the signal's own checkpoint is tested.
    std::fs::write(&job, JOB.replace("every_steps = 1", "every_steps = 0")).unwrap();
    let expected = reference(tmp.path(), &job);
    let seed = seed();
    let mut moments = Moments(seed);
    let dir = tmp.path().join("interrupted");
    let mut begun = false;
    let mut signals = vec![libc::SIGINT, libc::SIGTERM, libc::SIGINT];
    let mut interrupted = 0;
    while let Some(&signal) = signals.last() {
        let mut child = start_or_resume(&job, &dir, begun);
        // Let it get into training (config.toml written) before the signal.
        let t = Instant::now();
        while !dir.join("config.toml").exists() && t.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(5));
        }
        begun = true;
        let wait = Duration::from_millis(moments.next_ms(100, 400));
        if let Some(status) = wait_for(&mut child, wait) {
            assert!(status.success(), "seed {seed}: {status:?}");
            // Finished first: start the job over and try again.
            begun = false;
            continue;
        }
        send(&child, signal);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            // The signal came during the final writes, after the last check: a clean finish.
            begun = false;
            continue;
        }
        if std::os::unix::process::ExitStatusExt::signal(&out.status) == Some(signal) {
            // The signal came before the process installed its handlers (the first
            // milliseconds after exec): the default action ended it and the run folder is as
            // it was; resume again.
            continue;
        }
        assert_eq!(
            out.status.code(),
            Some(128 + signal),
            "seed {seed}: {stderr}"
        );
        assert!(
            stderr.contains("nn-train train --resume")
                && dir.join("checkpoint.safetensors").exists(),
            "seed {seed}: {stderr}"
        );
        signals.pop();
        interrupted += 1;
    }
    let out = run_to_end(&["train", "--resume", s(&dir)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(interrupted, 3);
    assert!(
        outputs(&dir) == expected,
        "seed {seed}: resumed outputs differ from the uninterrupted run's"
    );
    // Resuming a complete run does nothing.
    let out = run_to_end(&["train", "--resume", s(&dir)]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to resume"));
}
