//! The Rust side of `bench-compare/steps_vs_torch.py`: whole-model training and inference steps
//! of the model zoo, timed for the head-to-head with PyTorch. Reads one command per line on
//! stdin, answers one line `ok t1 t2 ...` (seconds per step, one figure per timed block).
//!
//! * `train MODEL BATCH INNER BLOCKS` — one training step: forward in training mode, softmax
//!   cross-entropy, backward, SGD with momentum 0.9 and weight decay 5e-4 (nn-optim), gradients
//!   cleared. MODEL is `mlp_bn` (3072-1024-1024-10 with BatchNorm, ReLU and dropout 0.5), `mlp`
//!   (the same without BatchNorm and dropout), `resnet8` or `resnet20` (CIFAR ResNets, 3×32×32
//!   inputs; `wrn20_2` and `wrn20_4` the same ResNet-20 at widths 32 and 64), `cnn` (the
//!   zoo's default CNN, channels 32-64 with BatchNorm) or `vgg11` (VGG-11 at width 16, hidden
//!   256, 1×1 pooling: CIFAR-sized, no BatchNorm) or `resnet18` (torchvision's,
//!   ImageNet stem, width 64; `resnet18_cifar` with the 3×3 CIFAR stem).
//! * `eval MODEL BATCH INNER BLOCKS` — inference in evaluation mode without a graph, as
//!   nn-train evaluates (`nn_core::infer::infer`: the channels-last CIFAR ResNets, CNN and VGG
//!   in chunks of `nn_train::zoo::INFERENCE_CHUNK` images, depth first); `NN_INFER_CHUNK=0` in the
//!   environment runs the whole batch layer by layer instead, `NN_INFER_CHUNK=N` chunks of N.
//! * Optional last words on `train`/`eval`: `rm` or `cl` builds the model row-major or
//!   channels-last (`ModelConfig::build_with_format`) instead of in its default format, for A/B
//!   runs of the memory formats; `CxHxW` sets the input's shape (default `3x32x32`; `1x28x28`
//!   is Fashion-MNIST's).
//! * `rss` — peak and current resident memory of the process (VmHWM, VmRSS) in bytes.
//! * `quit`.
//!
//! Every command warms up with one block first (buffers pooled, caches warm), as the Python side
//! does. With `NN_BENCH_CPU=1` in the environment the figures are the process's CPU time (user +
//! system, all threads; 10 ms resolution) instead of wall time.

use std::io::{BufRead, Write};
use std::time::Instant;

use nn_core::layers::Activation;
use nn_core::loss::cross_entropy;
use nn_core::{Ctx, Tensor, infer, rng, with_no_grad, workers};
use nn_optim::{OptimizerConfig, SgdConfig};
use nn_train::zoo::{MemoryFormat, NormConfig, Stem, TorchResnetConfig, VggConfig};
use nn_train::{ModelConfig, optimizer_step};
use rand::Rng as _;

fn model_config(name: &str) -> ModelConfig {
    match name {
        "mlp" => ModelConfig::mlp(vec![1024, 1024]).with_activation(Activation::Relu),
        "mlp_bn" => ModelConfig::mlp(vec![1024, 1024])
            .with_norm(NormConfig::Batch)
            .with_dropout(0.5),
        "resnet8" => ModelConfig::resnet(1, 16),
        "resnet20" => ModelConfig::resnet(3, 16),
        "wrn20_2" => ModelConfig::resnet(3, 32),
        "wrn20_4" => ModelConfig::resnet(3, 64),
        "cnn" => ModelConfig::cnn(vec![32, 64]),
        "resnet18" => ModelConfig::Resnet18(TorchResnetConfig::default()),
        "resnet18_cifar" => ModelConfig::Resnet18(TorchResnetConfig {
            stem: Stem::Cifar,
            ..TorchResnetConfig::default()
        }),
        "vgg11" => ModelConfig::Vgg(VggConfig {
            width: 16,
            hidden: 256,
            pool_size: 1,
            ..VggConfig::default()
        }),
        other => panic!("unknown model {other:?}"),
    }
}

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

fn status_bytes(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb * 1024.0)
}

/// `NN_INFER_CHUNK` from the environment, if set: images per chunk of the evaluation (0: the
/// whole batch).
fn chunk_override() -> Option<usize> {
    let v = std::env::var("NN_INFER_CHUNK").ok()?;
    Some(v.parse().expect("NN_INFER_CHUNK: a number of images"))
}

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line.expect("stdin");
        let words: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| -> usize { words[i].parse().expect("a number") };
        let times = match words.first().copied() {
            Some(cmd @ ("train" | "eval")) => {
                let (batch, inner, n_blocks) = (num(2), num(3), num(4));
                let mut r = rng::seeded(0);
                let config = model_config(words[1]);
                let mut format = config.memory_format();
                let mut chw = [3, 32, 32];
                for word in &words[5..] {
                    match *word {
                        "rm" => format = MemoryFormat::Contiguous,
                        "cl" => format = MemoryFormat::ChannelsLast,
                        other => {
                            let dims: Vec<usize> =
                                other.split('x').filter_map(|d| d.parse().ok()).collect();
                            chw = dims.try_into().unwrap_or_else(|_| {
                                panic!("{other:?} is neither rm, cl nor an input CxHxW")
                            });
                        }
                    }
                }
                let model = config
                    .build_with_format(chw, 10, format, &mut r)
                    .expect("valid model");
                let x = Tensor::randn(&[batch, chw[0], chw[1], chw[2]], 0.0, 1.0, &mut r);
                let labels: Vec<usize> = (0..batch).map(|_| r.random_range(0..10)).collect();
                if cmd == "eval" {
                    let chunk = chunk_override();
                    blocks(inner, n_blocks, || {
                        with_no_grad(|| {
                            match chunk {
                                Some(c) => {
                                    infer::infer_in_chunks(model.as_ref(), &x, (c > 0).then_some(c))
                                }
                                None => infer::infer(model.as_ref(), &x),
                            }
                            .sum_all()
                            .item()
                        });
                    })
                } else {
                    let mut opt = OptimizerConfig::Sgd(SgdConfig {
                        lr: 0.01,
                        momentum: 0.9,
                        weight_decay: 5e-4,
                        ..SgdConfig::default()
                    })
                    .build(vec![])
                    .expect("valid optimizer");
                    let mut step = 0u64;
                    blocks(inner, n_blocks, || {
                        // As nn-train's step: forward and backward on a worker of the pool.
                        model.zero_grad();
                        workers::run(|| {
                            let logits = model.forward(&x, &mut Ctx::train(step));
                            cross_entropy(&logits, &labels).backward();
                        });
                        optimizer_step(opt.as_mut(), model.as_ref()).expect("step");
                        step += 1;
                    })
                }
            }
            Some("rss") => vec![status_bytes("VmHWM:"), status_bytes("VmRSS:")],
            Some("quit") | None => break,
            Some(other) => panic!("unknown command {other:?}"),
        };
        let line: Vec<String> = times.iter().map(|t| format!("{t:.9}")).collect();
        writeln!(out, "ok {}", line.join(" ")).expect("stdout");
        out.flush().expect("stdout");
    }
}
