//! The lecture's experiments (`nn_train::lab`, `nn-train lab …`, `nn-train schedule`,
//! `nn-train doctor`): the numbers behind their pictures, and the CLI. One test binary, a module
//! per experiment.

mod doctor;
mod init;
mod optimizers;
mod regularize;
mod schedule;
mod search;

use std::path::Path;
use std::process::Command;

/// Runs the `nn-train` binary: (success, stdout, stderr).
pub fn nn_train(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nn-train"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Decodes a PNG and returns (width, height, number of non-white pixels).
pub fn png(path: &Path) -> (u32, u32, usize) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    let inked = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    (img.width(), img.height(), inked)
}
