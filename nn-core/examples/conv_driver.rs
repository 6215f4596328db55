//! The Rust side of `bench-compare/resnet_convs_vs_torch.py`: times one convolution shape per
//! command, channels-last (the memory format of the direct kernels) or contiguous.
//! Reads one command per line on stdin and answers `ok t1 t2 ...` (seconds per call, one figure
//! per timed block):
//!
//! * `conv BATCH CIN COUT HW K STRIDE LAYOUT MODE XGRAD INNER BLOCKS` — a `K×K` convolution
//!   (padding K/2, no bias) of a `[BATCH, CIN, HW, HW]` input; LAYOUT `cl` (channels-last) or
//!   `nchw`; MODE `fwd` (no graph), `fwdbwd` (forward, then backward of a ones gradient) or
//!   `bwd` (the same, timing the backward pass alone); XGRAD 1 if the input needs a gradient, 0
//!   for a network's first layer.
//! * `isa` — the instruction set the kernels use (answers `ok` and prints it on stderr).
//! * `quit`.
//!
//! Each command runs on a worker of the thread pool (`nn_core::workers::run`), as nn-train's
//! steps do: the thread that calls an op takes part in its work, as PyTorch's calling thread
//! does in its OpenMP team, instead of handing every op to the pool and sleeping until it is
//! done (`NN_BENCH_ON_CALLER=1` times from the main thread instead: 32→64 3×3 stride 2 @16²,
//! batch 128, 2 threads, AMD EPYC family 26 model 2, 6 alternating rounds: on a worker the
//! forward ran 1.02-1.05x, the backward 1.00-1.07x and fwd+bwd 0.99-1.04x as fast).
//!
//! Every command runs one untimed block first (buffers pooled, caches warm). With
//! `NN_BENCH_CPU=1` in the environment the figures are the process's CPU time (user + system,
//! all threads; 10 ms resolution) instead of wall time: a steadier measure on a busy machine.

use std::io::{BufRead, Write};
use std::time::Instant;

use nn_core::ops::Conv2dOptions;
use nn_core::rng::seeded;
use nn_core::{Array, Tensor, with_no_grad};

/// CPU time of this process (user + system, all threads) in seconds, from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (f.get(11).unwrap_or(&0.0) + f.get(12).unwrap_or(&0.0)) / 100.0
}

fn blocks(inner: usize, blocks: usize, mut f: impl FnMut()) -> Vec<f64> {
    let cpu = std::env::var("NN_BENCH_CPU").is_ok_and(|v| v == "1");
    for _ in 0..inner {
        f();
    }
    (0..blocks)
        .map(|_| {
            let (t, c) = (Instant::now(), cpu_seconds());
            for _ in 0..inner {
                f();
            }
            let secs = if cpu {
                cpu_seconds() - c
            } else {
                t.elapsed().as_secs_f64()
            };
            secs / inner as f64
        })
        .collect()
}

/// A copy of `a` (same shape and strides) made on all threads, as PyTorch's `clone()` of a
/// tensor this size is (its copy kernel runs in parallel from 32,768 elements: measured 0.13-0.15
/// ms on 2 threads against 0.29 ms on 1 for the 3→16 stem's 8 MiB output gradient): the timed
/// `gy.clone()` of both sides then costs the same.
fn par_clone(a: &Array) -> Array {
    use rayon::prelude::*;
    let src = a.as_slice_memory_order().expect("a contiguous gradient");
    let mut v: Vec<f32> = Vec::with_capacity(src.len());
    const CHUNK: usize = 1 << 15;
    v.spare_capacity_mut()
        .par_chunks_mut(CHUNK)
        .zip(src.par_chunks(CHUNK))
        .for_each(|(d, s)| {
            for (d, s) in d.iter_mut().zip(s) {
                d.write(*s);
            }
        });
    // SAFETY: every element of the first `src.len()` was written above.
    unsafe { v.set_len(src.len()) };
    let strides: Vec<usize> = a.strides().iter().map(|&s| s as usize).collect();
    use ndarray::ShapeBuilder;
    Array::from_shape_vec(a.raw_dim().strides(ndarray::IxDyn(&strides)), v)
        .expect("the source's shape and strides")
}

/// [`blocks`] for a call that times itself (returns its seconds; wall time only).
fn timed_blocks(inner: usize, blocks: usize, mut f: impl FnMut() -> f64) -> Vec<f64> {
    for _ in 0..inner {
        f();
    }
    (0..blocks)
        .map(|_| (0..inner).map(|_| f()).sum::<f64>() / inner as f64)
        .collect()
}

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    let on_caller = std::env::var("NN_BENCH_ON_CALLER").is_ok_and(|v| v == "1");
    for line in stdin.lock().lines() {
        let line = line.expect("stdin");
        let w: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| -> usize { w[i].parse().expect("a number") };
        if matches!(w.first().copied(), Some("quit") | None) {
            break;
        }
        let cmd = || match w.first().copied() {
            Some("conv") => {
                let (batch, cin, cout, hw, k, stride) =
                    (num(1), num(2), num(3), num(4), num(5), num(6));
                let (layout, mode, xgrad) = (w[7], w[8], num(9) == 1);
                let (inner, n_blocks) = (num(10), num(11));
                let mut rng = seeded(0);
                let x = Tensor::randn(&[batch, cin, hw, hw], 0.0, 1.0, &mut rng);
                let x = if layout == "cl" {
                    x.to_channels_last().detach()
                } else {
                    x
                };
                let x = if xgrad { x.with_requires_grad() } else { x };
                let wt = Tensor::randn(&[cout, cin, k, k], 0.0, 0.1, &mut rng).with_requires_grad();
                let o = Conv2dOptions::default()
                    .with_stride(stride)
                    .with_padding(k / 2);
                if mode == "fwd" {
                    blocks(inner, n_blocks, || {
                        with_no_grad(|| std::hint::black_box(x.conv2d(&wt, None, o)));
                    })
                } else {
                    // The output gradient, in the output's memory format; each call gets a copy
                    // (backward consumes it), as the Python side passes `gy.clone()`; made on
                    // both threads (`par_clone`), as PyTorch's is.
                    // (A one-channel input is row-major memory too: its output is row-major.)
                    let y0 = with_no_grad(|| x.conv2d(&wt, None, o));
                    let ones = Tensor::ones(y0.shape());
                    let gy: Array = if y0.is_channels_last() {
                        ones.to_channels_last().data().to_owned()
                    } else {
                        ones.to_array()
                    };
                    if mode == "bwd" {
                        // The backward pass alone: the forward and the gradient's copy untimed.
                        timed_blocks(inner, n_blocks, || {
                            let y = x.conv2d(&wt, None, o);
                            let g = par_clone(&gy);
                            let t = Instant::now();
                            y.backward_with(g);
                            let secs = t.elapsed().as_secs_f64();
                            wt.zero_grad();
                            x.zero_grad();
                            secs
                        })
                    } else {
                        blocks(inner, n_blocks, || {
                            let y = x.conv2d(&wt, None, o);
                            y.backward_with(par_clone(&gy));
                            wt.zero_grad();
                            x.zero_grad();
                        })
                    }
                }
            }
            Some("isa") => {
                eprintln!("{:?}", nn_core::simd::Isa::detect());
                vec![]
            }
            other => panic!("unknown command {other:?}"),
        };
        let times = if on_caller {
            cmd()
        } else {
            nn_core::workers::run(cmd)
        };
        let line: Vec<String> = times.iter().map(|t| format!("{t:.9}")).collect();
        writeln!(out, "ok {}", line.join(" ")).expect("stdout");
        out.flush().expect("stdout");
    }
}
