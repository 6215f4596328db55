//! Prints the loader's throughput (images/s) for CIFAR-shaped samples with crop+flip, one line
//! per repetition: `cargo run --release -p nn-data --example loader_throughput -- THREADS [IMAGES] [REPS]`.
//! Used by `bench-compare/compare_loader.py` against torchvision's DataLoader.

use nn_data::{DataLoader, LoaderConfig};
use std::sync::Arc;
use std::time::Instant;

#[path = "../benches/common/loader_cases.rs"]
mod common;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numeric argument"))
        .collect();
    let threads = args.first().copied().unwrap_or(1);
    let images = args.get(1).copied().unwrap_or(20_000);
    let reps = args.get(2).copied().unwrap_or(3);
    let ds = common::cifar_like(images);
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap(),
    );
    let cfg = LoaderConfig {
        batch_size: 128,
        shuffle: true,
        seed: 0,
        prefetch: 2,
        ..Default::default()
    };
    let loader = DataLoader::new(ds, cfg)
        .unwrap()
        .with_transform(common::crop_flip())
        .with_thread_pool(pool);
    // Warm-up epoch (page faults, pool start-up).
    loader.epoch(0).for_each(|b| drop(b.unwrap()));
    for rep in 0..reps {
        let t = Instant::now();
        let mut n = 0;
        for b in loader.epoch(rep as u64 + 1) {
            n += b.unwrap().len();
        }
        println!("{:.1}", n as f64 / t.elapsed().as_secs_f64());
    }
}
