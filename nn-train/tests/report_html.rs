//! `report.html` of `nn-train train --out DIR --monitor`: self-contained, and rendered by a real
//! headless browser (Debian's `chromium`): every image decodes, the screenshot is not blank.
//!
//! Without chromium the browser part is skipped with a message, unless `NN_REQUIRE_CHROMIUM`
//! is set (as `.ci/run` does after installing it): then a missing browser fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

/// Runs chromium headless on `page` with `extra` flags; its stdout. Killed after 120 s.
/// Its output goes to files beside the (new, empty) `profile` folder: an unread pipe would
/// fill up and block the browser.
fn run_chromium(bin: &Path, page: &Path, extra: &[String], profile: &Path) -> String {
    let out_path = profile.with_extension("stdout");
    let err_path = profile.with_extension("stderr");
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("chromium starts");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let read =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    assert!(status.success(), "chromium failed: {}", read(&err_path));
    read(&out_path)
}

#[test]
fn the_run_report_is_self_contained_and_renders_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.toml");
    std::fs::write(&job, "epochs = 3\n[model]\nkind = \"mlp\"\nhidden = [32]\n").unwrap();
    let run = dir.path().join("run");
    let out = Command::new(env!("CARGO_BIN_EXE_nn-train"))
        .args(["train", "--monitor", "5", "--config"])
        .arg(&job)
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = run.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: figures inline, nothing fetched.
    assert_eq!(
        html.matches("class=\"figure\"").count(),
        3,
        "curves, confusion, ratios"
    );
    assert_eq!(html.matches("class=\"sample-image\"").count(), 16);
    let images = html.matches("<img ").count();
    assert_eq!(html.matches("src=\"data:image/png;base64,").count(), images);
    for needle in ["http:", "https:", "<link", "@import", "url("] {
        assert!(!html.contains(needle), "report.html refers to {needle}");
    }
    for id in [
        "summary",
        "per-class",
        "ratios",
        "samples",
        "history",
        "config",
        "cpu",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "no #{id}");
    }
    assert!(html.contains("kind = &quot;mlp&quot;") || html.contains("kind = \"mlp\""));

    let Some(bin) = chromium() else {
        assert!(
            std::env::var_os("NN_REQUIRE_CHROMIUM").is_none(),
            "NN_REQUIRE_CHROMIUM is set but no chromium is on PATH"
        );
        eprintln!(
            "skipped the browser check: chromium is not installed (apt-get install chromium)"
        );
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let profile = work.path().join("profile-1");
    std::fs::create_dir(&profile).unwrap();
    let dom = run_chromium(&bin, &page, &["--dump-dom".into()], &profile);
    assert!(
        dom.contains(&format!("data-images-loaded=\"{images}/{images}\"")),
        "not every image decoded in the browser: {}",
        dom.lines()
            .find(|l| l.contains("<body"))
            .unwrap_or("no <body>")
    );
    let shot = dir.path().join("shot.png");
    let profile = work.path().join("profile-2");
    std::fs::create_dir(&profile).unwrap();
    run_chromium(
        &bin,
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000".into(),
            "--hide-scrollbars".into(),
        ],
        &profile,
    );
    let img = image::open(&shot)
        .expect("chromium wrote the screenshot")
        .to_rgb8();
    assert_eq!((img.width(), img.height()), (1280, 2000));
    let total = img.pixels().count();
    let inked = img
        .pixels()
        .filter(|p| p.0.iter().any(|&v| v < 200))
        .count();
    let mut colours: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        inked * 100 > total && colours.len() > 50,
        "the screenshot looks blank: {inked} of {total} pixels inked, {} colours",
        colours.len()
    );
}
