//! The Rust side of `bench-compare/profile_resnet.py`: a per-op profile of a ResNet training step
//! and evaluation step (nn-core's [`nn_core::autograd::profile`]), one line per (phase, op,
//! shapes) on stdout:
//!
//! ```text
//! op MODE PHASE NAME OUT_SHAPE IN_SHAPES CALLS_PER_STEP MS_PER_STEP   (MODE: train, eval)
//! step PART MS_PER_STEP        (PART: forward, loss, backward, optimizer, total, eval)
//! ```
//!
//! Shapes are written without spaces (`128x16x32x32`, inputs joined by `,`).
//!
//! `cargo run --release -p nn-train --example resnet_profile -- MODEL [STEPS] [BATCH] [EVAL_BATCH]
//! [FORMAT]` with MODEL `resnet8` or `resnet20` (CIFAR ResNets), `cnn` (the zoo's CNN, channels
//! 32-64), `cnn3` (channels 64-128-256), `vgg11` (width 16, hidden 256, 1×1 pooling) or
//! `resnet18` (torchvision's), `mlp` / `mlp_bn` (3072-1024-1024-10, ReLU; `mlp_bn` with
//! BatchNorm and dropout 0.5, as `step_driver`'s) (defaults: 10 steps, batch 128, evaluation batch 256) and FORMAT
//! `rm` (row-major) or `cl` (channels-last), by default the model's own
//! (`ModelConfig::memory_format`).

use std::time::Instant;

use nn_core::autograd::profile::{self, OpTiming, Phase};
use nn_core::layers::Activation;
use nn_core::loss::cross_entropy;
use nn_core::{Ctx, Tensor, rng, with_no_grad};
use nn_optim::{OptimizerConfig, SgdConfig};
use nn_train::zoo::{MemoryFormat, NormConfig, TorchResnetConfig, VggConfig};
use nn_train::{ModelConfig, optimizer_step};
use rand::Rng as _;

fn dims(s: &[usize]) -> String {
    if s.is_empty() {
        return "scalar".into();
    }
    s.iter().map(usize::to_string).collect::<Vec<_>>().join("x")
}

fn print_ops(mode: &str, ops: &[OpTiming], steps: usize) {
    for t in ops {
        let phase = match t.phase {
            Phase::Forward => "fwd",
            Phase::Backward => "bwd",
        };
        let inputs: Vec<String> = t.inputs.iter().map(|s| dims(s)).collect();
        println!(
            "op {mode} {phase} {} {} {} {:.3} {:.4}",
            t.op,
            dims(&t.shape),
            if inputs.is_empty() {
                "-".to_string()
            } else {
                inputs.join(",")
            },
            t.calls as f64 / steps as f64,
            t.seconds * 1e3 / steps as f64
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model_name = args.get(1).map_or("resnet20", String::as_str);
    let arg = |i: usize, d: usize| args.get(i).map_or(d, |s| s.parse().expect("a number"));
    let (steps, batch, eval_batch) = (arg(2, 10), arg(3, 128), arg(4, 256));
    let config = match model_name {
        "resnet8" => ModelConfig::resnet(1, 16),
        "resnet20" => ModelConfig::resnet(3, 16),
        "cnn" => ModelConfig::cnn(vec![32, 64]),
        "cnn3" => ModelConfig::cnn(vec![64, 128, 256]),
        "vgg11" => ModelConfig::Vgg(VggConfig {
            width: 16,
            hidden: 256,
            pool_size: 1,
            ..VggConfig::default()
        }),
        "resnet18" => ModelConfig::Resnet18(TorchResnetConfig::default()),
        "mlp" => ModelConfig::mlp(vec![1024, 1024]).with_activation(Activation::Relu),
        "mlp_bn" => ModelConfig::mlp(vec![1024, 1024])
            .with_norm(NormConfig::Batch)
            .with_dropout(0.5),
        other => panic!(
            "unknown model {other:?} (resnet8, resnet20, cnn, cnn3, vgg11, resnet18, mlp, mlp_bn)"
        ),
    };
    let format = match args.get(5).map(String::as_str) {
        None => config.memory_format(),
        Some("rm") => MemoryFormat::Contiguous,
        Some("cl") => MemoryFormat::ChannelsLast,
        Some(other) => panic!("unknown memory format {other:?} (rm or cl)"),
    };
    let mut r = rng::seeded(0);
    let model = config
        .build_with_format([3, 32, 32], 10, format, &mut r)
        .expect("valid model");
    let x = Tensor::randn(&[batch, 3, 32, 32], 0.0, 1.0, &mut r);
    let labels: Vec<usize> = (0..batch).map(|_| r.random_range(0..10)).collect();
    let mut opt = OptimizerConfig::Sgd(SgdConfig {
        lr: 0.01,
        momentum: 0.9,
        weight_decay: 5e-4,
        ..SgdConfig::default()
    })
    .build(vec![])
    .expect("valid optimizer");
    let mut parts = [0.0f64; 5];
    for step in 0..2 + steps {
        let timed = step >= 2;
        profile::enable(timed);
        let t0 = Instant::now();
        profile::mark();
        let logits = model.forward(&x, &mut Ctx::train(step as u64));
        let t1 = Instant::now();
        let loss = cross_entropy(&logits, &labels);
        model.zero_grad();
        let t2 = Instant::now();
        loss.backward();
        drop((loss, logits));
        let t3 = Instant::now();
        profile::enable(false);
        optimizer_step(opt.as_mut(), model.as_ref()).expect("step");
        let t4 = Instant::now();
        if timed {
            for (p, d) in parts
                .iter_mut()
                .zip([t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0])
            {
                *p += d.as_secs_f64();
            }
        }
    }
    print_ops("train", &profile::take(), steps);
    for (name, v) in ["forward", "loss", "backward", "optimizer", "total"]
        .iter()
        .zip(parts)
    {
        println!("step {name} {:.4}", v * 1e3 / steps as f64);
    }
    // Evaluation: no graph, batch `eval_batch`.
    let xe = Tensor::randn(&[eval_batch, 3, 32, 32], 0.0, 1.0, &mut r);
    let mut total = 0.0;
    for step in 0..2 + steps {
        let timed = step >= 2;
        profile::enable(timed);
        let t0 = Instant::now();
        profile::mark();
        with_no_grad(|| model.forward(&xe, &mut Ctx::eval()).sum_all().item());
        profile::enable(false);
        if timed {
            total += t0.elapsed().as_secs_f64();
        }
    }
    print_ops("eval", &profile::take(), steps);
    println!("step eval {:.4}", total * 1e3 / steps as f64);
}
