//! Times one optimizer step over N parameters and prints the median in milliseconds as JSON;
//! used by `bench-compare/compare.py` (which runs PyTorch alternately in the same run).
//! Usage: `bench_step <adam|adamw|sgd_momentum> <n> <reps> [tensors]`

use std::time::Instant;

use ndarray::{ArrayD, IxDyn};
use nn_optim::{AdamConfig, AdamWConfig, Optimizer, ParamMut, SgdConfig};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map_or("adam", String::as_str);
    let n: usize = args.get(2).map_or(10_000_000, |s| s.parse().expect("n"));
    let reps: usize = args.get(3).map_or(20, |s| s.parse().expect("reps"));
    let tensors: usize = args.get(4).map_or(1, |s| s.parse().expect("tensors"));
    let mut opt: Box<dyn Optimizer> = match which {
        "adam" => Box::new(
            AdamConfig {
                lr: 1e-3,
                ..Default::default()
            }
            .init()
            .unwrap(),
        ),
        "adamw" => Box::new(
            AdamWConfig {
                lr: 1e-3,
                ..Default::default()
            }
            .init()
            .unwrap(),
        ),
        "sgd_momentum" => Box::new(
            SgdConfig {
                lr: 0.01,
                momentum: 0.9,
                weight_decay: 5e-4,
                ..Default::default()
            }
            .init()
            .unwrap(),
        ),
        other => panic!("unknown optimizer {other}"),
    };
    let per = n / tensors;
    let mut ps: Vec<ArrayD<f32>> = (0..tensors)
        .map(|k| {
            ArrayD::from_shape_fn(IxDyn(&[per]), |i| {
                (((i[0] + k) % 1000) as f32 - 500.0) * 1e-3
            })
        })
        .collect();
    let gs: Vec<ArrayD<f32>> = (0..tensors)
        .map(|k| {
            ArrayD::from_shape_fn(IxDyn(&[per]), |i| {
                (((i[0] + k) % 777) as f32 - 388.0) * 1e-4
            })
        })
        .collect();
    let names: Vec<String> = (0..tensors).map(|k| format!("p{k}")).collect();
    let mut times = Vec::with_capacity(reps);
    for r in 0..reps + 3 {
        let mut params: Vec<ParamMut<'_>> = ps
            .iter_mut()
            .zip(&gs)
            .zip(&names)
            .map(|((p, g), name)| ParamMut::new(name, p.view_mut(), g.view()))
            .collect();
        let t0 = Instant::now();
        opt.step(&mut params).unwrap();
        let dt = t0.elapsed().as_secs_f64() * 1e3;
        if r >= 3 {
            times.push(dt);
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{{\"opt\": \"{which}\", \"n\": {n}, \"tensors\": {tensors}, \"median_ms\": {:.4}, \"threads\": {}}}",
        times[times.len() / 2],
        rayon::current_num_threads()
    );
}
