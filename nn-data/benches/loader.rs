//! Loader throughput (images/s) for CIFAR-shaped samples with a crop+flip transform, on rayon
//! pools of 1 and 2 threads. `cargo bench -p nn-data --bench loader`.
#![allow(missing_docs)] // criterion_group! generates an undocumented function

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nn_data::{DataLoader, LoaderConfig};
use std::hint::black_box;
use std::sync::Arc;

#[path = "common/loader_cases.rs"]
mod common;

const IMAGES: usize = 10_000;

fn loader(c: &mut Criterion) {
    let ds = common::cifar_like(IMAGES);
    let mut group = c.benchmark_group("loader_cifar_crop_flip");
    group.throughput(Throughput::Elements(IMAGES as u64));
    group.sample_size(10);
    for threads in [1usize, 2] {
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
        let loader = DataLoader::new(ds.clone(), cfg)
            .unwrap()
            .with_transform(common::crop_flip())
            .with_thread_pool(pool);
        let mut epoch = 0;
        group.bench_function(format!("threads_{threads}"), |b| {
            b.iter(|| {
                epoch += 1;
                for batch in loader.epoch(epoch) {
                    black_box(batch.unwrap());
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, loader);
criterion_main!(benches);
