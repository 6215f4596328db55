//! The Rust side of the head-to-head with PyTorch (`bench-compare/mlp_gemm.py` drives it): reads
//! one command per line on stdin, runs it, answers one line on stdout.
//!
//! * `gemm N INNER BLOCKS` — C = A·B for N×N matrices: BLOCKS timings, each the mean over INNER
//!   products, in seconds per product.
//! * `mlp BATCH INNER BLOCKS` / `mlp_fused BATCH INNER BLOCKS` — the MLP training step
//!   3072→1024→1024→10 (ReLU, softmax cross-entropy, plain SGD) through the modules / with the
//!   fused linear+ReLU op, in seconds per step.
//! * `pool BYTES` — sets the buffer pool's capacity (0 disables it; for A/B measurements).
//! * `quit`.
//!
//! Answers are `ok t1 t2 ...`. Each command warms up first (one block) so buffers are pooled
//! and caches are warm, as on the Python side.

#[path = "../benches/common/mlp.rs"]
mod mlp;

use std::io::{BufRead, Write};
use std::time::Instant;

use ndarray::Array2;
use nn_core::linalg::gemm;

fn blocks(inner: usize, blocks: usize, mut f: impl FnMut()) -> Vec<f64> {
    for _ in 0..inner {
        f();
    }
    (0..blocks)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..inner {
                f();
            }
            t.elapsed().as_secs_f64() / inner as f64
        })
        .collect()
}

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    let mut nets: Vec<(usize, mlp::Mlp)> = Vec::new();
    for line in stdin.lock().lines() {
        let line = line.expect("stdin");
        let words: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| -> usize { words[i].parse().expect("a number") };
        let times = match words.first().copied() {
            Some("gemm") => {
                let n = num(1);
                let a = Array2::from_shape_fn((n, n), |(i, j)| ((i * 7 + j * 3) % 13) as f32 * 0.1);
                let b = Array2::from_shape_fn((n, n), |(i, j)| ((i * 5 + j) % 11) as f32 * 0.1);
                let mut c = Array2::<f32>::zeros((n, n));
                blocks(num(2), num(3), || {
                    gemm(1.0, a.view(), b.view(), 0.0, c.view_mut())
                })
            }
            Some(cmd @ ("mlp" | "mlp_fused")) => {
                let batch = num(1);
                if !nets.iter().any(|(b, _)| *b == batch) {
                    nets.push((batch, mlp::Mlp::new(batch, 0)));
                }
                let net = &nets.iter().find(|(b, _)| *b == batch).expect("built").1;
                let fused = cmd == "mlp_fused";
                blocks(num(2), num(3), || {
                    if fused {
                        net.step_fused();
                    } else {
                        net.step();
                    }
                })
            }
            Some("pool") => {
                nn_core::pool::set_capacity_bytes(num(1));
                Vec::new()
            }
            Some("quit") | None => break,
            Some(other) => panic!("unknown command {other:?}"),
        };
        let line: Vec<String> = times.iter().map(|t| format!("{t:.9}")).collect();
        writeln!(out, "ok {}", line.join(" ")).expect("stdout");
        out.flush().expect("stdout");
    }
}
