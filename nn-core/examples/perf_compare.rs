//! The Rust side of the head-to-head with PyTorch (`bench-compare/mlp_gemm.py` drives it): reads
//! one command per line on stdin, runs it, answers one line on stdout.
//!
//! * `gemm N INNER BLOCKS` — C = A·B for N×N matrices: BLOCKS timings, each the mean over INNER
//!   products, in seconds per product.
//! * `mm M N K TA TB INNER BLOCKS` — C (M×N) = A·B with A (M×K) stored transposed if TA = 1
//!   (as Aᵀ, K×M row-major) and B (K×N) stored transposed if TB = 1 (as a linear layer's weight).
//! * `mlp BATCH INNER BLOCKS` / `mlp_fused BATCH INNER BLOCKS` — the MLP training step
//!   3072→1024→1024→10 (ReLU, softmax cross-entropy, plain SGD) through the modules / with the
//!   fused linear+ReLU op, in seconds per step.
//! * `mlp_phases BATCH STEPS` — the modules step timed by phase: the median over STEPS steps of
//!   forward + loss, backward, update (three numbers, seconds).
//! * `layer IN OUT BATCH INNER BLOCKS` — a training step of one linear+ReLU layer (forward, a sum
//!   as the loss, backward, SGD update): for layers whose weight gradient exceeds the system
//!   allocator's mmap threshold (32 MiB with glibc), which then faults in fresh pages every step
//!   unless the buffer pool keeps it.
//! * `pool BYTES` — sets the buffer pool's capacity (0 disables it; for A/B measurements).
//! * `stats` — the buffer pool's counters: hits, misses, returned, released, held bytes.
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
            Some("mm") => {
                let (m, n, k) = (num(1), num(2), num(3));
                let a = Array2::from_shape_fn((m, k), |(i, j)| ((i * 7 + j * 3) % 13) as f32 * 0.1);
                let b = Array2::from_shape_fn((k, n), |(i, j)| ((i * 5 + j) % 11) as f32 * 0.1);
                let (at, bt) = (a.t().to_owned(), b.t().to_owned());
                let av = if num(4) == 1 { at.t() } else { a.view() };
                let bv = if num(5) == 1 { bt.t() } else { b.view() };
                let mut c = Array2::<f32>::zeros((m, n));
                blocks(num(6), num(7), || gemm(1.0, av, bv, 0.0, c.view_mut()))
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
            Some("mlp_phases") => {
                let batch = num(1);
                let net = mlp::Mlp::new(batch, 0);
                net.step();
                let phases: Vec<[f64; 3]> = (0..num(2)).map(|_| net.step_phases()).collect();
                (0..3)
                    .map(|i| {
                        let mut v: Vec<f64> = phases.iter().map(|p| p[i]).collect();
                        v.sort_by(f64::total_cmp);
                        v[v.len() / 2]
                    })
                    .collect()
            }
            Some("layer") => {
                let (d_in, d_out, batch) = (num(1), num(2), num(3));
                let mut rng = nn_core::rng::seeded(1);
                let w = nn_core::Parameter::new(
                    nn_core::Tensor::randn(&[d_out, d_in], 0.0, 0.01, &mut rng).to_array(),
                );
                let x = nn_core::Tensor::randn(&[batch, d_in], 0.0, 1.0, &mut rng);
                blocks(num(4), num(5), || {
                    x.linear_relu(&w.tensor(), None).sum_all().backward();
                    w.update(|mut v, g| v.scaled_add(-1e-3, &g.expect("gradient")));
                    w.zero_grad();
                })
            }
            Some("pool") => {
                nn_core::buffer_pool::set_capacity_bytes(num(1));
                Vec::new()
            }
            Some("stats") => {
                let s = nn_core::buffer_pool::stats();
                [
                    s.hits,
                    s.misses,
                    s.returned,
                    s.released,
                    s.held_bytes as u64,
                ]
                .iter()
                .map(|&v| v as f64)
                .collect()
            }
            Some("quit") | None => break,
            Some(other) => panic!("unknown command {other:?}"),
        };
        let line: Vec<String> = times.iter().map(|t| format!("{t:.9}")).collect();
        writeln!(out, "ok {}", line.join(" ")).expect("stdout");
        out.flush().expect("stdout");
    }
}
