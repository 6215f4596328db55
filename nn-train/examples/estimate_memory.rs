//! How close `ModelConfig::estimate` comes to the memory a training step really uses (Linux).
//!
//! For one model per run (a fresh process, so that the peak is that model's): builds it, runs
//! one SGD-with-momentum step on a random batch and reports the resident-set growth from before
//! the model was built to the step's peak (`VmHWM`, reset through `/proc/self/clear_refs`) next
//! to `training_bytes(batch, 1)`, and the graph's values (`Tensor::graph_size`) next to
//! `activations_per_sample · batch`.
//!
//! ```sh
//! for m in mlp cnn resnet20 resnet18-cifar vgg-small; do
//!   cargo run -p nn-train --example estimate_memory -- $m 128; done
//! ```

use nn_core::loss::cross_entropy;
use nn_core::rng::seeded;
use nn_core::{Ctx, Tensor};
use nn_train::ModelConfig;

fn status(key: &str) -> usize {
    let s = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let line = s.lines().find(|l| l.starts_with(key)).expect("field");
    let kb: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let name = args.get(1).map_or("resnet20", String::as_str);
    let batch: usize = args.get(2).map_or(128, |b| b.parse().unwrap());
    let (table, input) = match name {
        "mlp" => ("kind = \"mlp\"\nhidden = [1024, 1024]", [3, 32, 32]),
        "cnn" => ("kind = \"cnn\"\nchannels = [64, 128, 256]", [3, 32, 32]),
        "resnet20" => ("kind = \"resnet\"", [3, 32, 32]),
        "resnet18-cifar" => ("kind = \"resnet18\"\nstem = \"cifar\"", [3, 32, 32]),
        "vgg-small" => (
            "kind = \"vgg\"\nwidth = 32\nhidden = 256\npool_size = 1\nnorm = { kind = \"batch\" }",
            [3, 32, 32],
        ),
        other => panic!("unknown model {other}"),
    };
    let config: ModelConfig = toml::from_str(table).unwrap();
    let e = config.estimate(input, 10).unwrap();
    let x = Tensor::randn(
        &[batch, input[0], input[1], input[2]],
        0.0,
        1.0,
        &mut seeded(1),
    );
    let labels: Vec<usize> = (0..batch).map(|i| i % 10).collect();
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status("VmRSS:");
    let model = config.build(input, 10, &mut seeded(0)).unwrap();
    let mut momentum: Vec<Vec<f32>> = Vec::new();
    let mut graph = 0;
    for step in 0..2 {
        let y = model.forward(&x, &mut Ctx::train(step));
        graph = y.graph_size().values;
        let loss = cross_entropy(&y, &labels);
        loss.backward();
        for (i, (_, p)) in model.named_parameters().into_iter().enumerate() {
            if momentum.len() <= i {
                momentum.push(vec![0.0; p.len()]);
            }
            let m = &mut momentum[i];
            p.update(|mut w, g| {
                let g = g.expect("gradient");
                for ((w, g), m) in w.iter_mut().zip(g.iter()).zip(m.iter_mut()) {
                    *m = 0.9 * *m + g;
                    *w -= 0.01 * *m;
                }
            });
            p.zero_grad();
        }
    }
    let peak = status("VmHWM:");
    let measured = peak.saturating_sub(before);
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "{name:<15} batch {batch:>4}: {:>9} parameters; graph values {:>10} vs estimate {:>10} \
         ({:.3}x); step peak RSS growth {:>8.1} MiB vs training_bytes {:>8.1} MiB ({:.2}x), \
         upper {:>8.1} MiB ({:.2}x)",
        e.parameters,
        graph,
        e.activations_per_sample * batch + e.per_step_values,
        graph as f64 / (e.activations_per_sample * batch + e.per_step_values) as f64,
        mib(measured as u64),
        mib(e.training_bytes(batch, 1)),
        measured as f64 / e.training_bytes(batch, 1) as f64,
        mib(e.training_bytes_upper(batch, 1)),
        measured as f64 / e.training_bytes_upper(batch, 1) as f64,
    );
}
