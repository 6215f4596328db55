//! Transfer learning through the `nn-train` command: `train --out DIR` on digits 0-4, then
//! `train` with a `[transfer]` block and `finetune --from DIR` on digits 5-9.

use std::process::Command;

#[test]
fn cli_trains_then_transfers_from_the_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run04");
    let source_job = dir.path().join("source.toml");
    std::fs::write(
        &source_job,
        "epochs = 2\n[data]\nclasses = [0, 1, 2, 3, 4]\n[model]\nkind = \"mlp\"\nhidden = [32]\n",
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_nn-train");
    let out = Command::new(bin)
        .args(["train", "--config"])
        .arg(&source_job)
        .arg("--out")
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ckpt = run.join("model.safetensors");
    let job = dir.path().join("finetune.toml");
    std::fs::write(
        &job,
        format!(
            "epochs = 2\n[data]\nclasses = [5, 6, 7, 8, 9]\nlimit_train = 50\n[model]\nkind = \
             \"mlp\"\nhidden = [32]\n[transfer]\ninit_from = {:?}\nfreeze_backbone = true\n",
            ckpt.display().to_string()
        ),
    )
    .unwrap();
    let out = Command::new(bin)
        .args(["train", "--config"])
        .arg(&job)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("test accuracy"), "{stdout}");
    // The convenience subcommand: model from the run, checkpoint from the run, report printed.
    let job2 = dir.path().join("job2.toml");
    std::fs::write(
        &job2,
        "epochs = 2\n[data]\nclasses = [5, 6, 7, 8, 9]\nlimit_train = 50\n",
    )
    .unwrap();
    let out = Command::new(bin)
        .args(["finetune", "--from"])
        .arg(&run)
        .arg("--config")
        .arg(&job2)
        .args(["--freeze", "1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("2 tensors loaded")
            && stdout.contains("re-initialised: 3.weight, 3.bias")
            && stdout.contains("frozen: 2 parameters: 1.weight, 1.bias"),
        "{stdout}"
    );
    let out = Command::new(bin)
        .args(["finetune", "--from"])
        .arg(&run)
        .arg("--config")
        .arg(&job2)
        .args(["--freeze", "features"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\"features\""), "{stderr}");
}
