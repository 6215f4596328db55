//! Criterion benches: every transform at 32×32 and 224×224 (one image per iteration, random
//! parameters drawn from a fixed-seed generator).
//!
//! `cargo bench -p nn-augment --bench transforms -- --warm-up-time 1 --measurement-time 3`

// criterion's macros generate undocumented public functions.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use nn_augment::Transform;
use nn_augment::synthetic::test_image;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

#[path = "common/cases.rs"]
mod cases;

fn transforms(c: &mut Criterion) {
    for s in [32usize, 224] {
        let img = test_image(s, s);
        let mut g = c.benchmark_group(format!("transform_{s}x{s}"));
        for (name, json) in cases::cases(s) {
            let t = cases::build(&json);
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            g.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter(|| black_box(t.apply_random(black_box(&img), &mut rng)))
            });
        }
        // No torchvision counterpart (so not in the head-to-head cases).
        let t = cases::build(r#"{"type": "cutout", "size": 8, "n_holes": 2}"#);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        g.bench_function(BenchmarkId::from_parameter("cutout"), |b| {
            b.iter(|| black_box(t.apply_random(black_box(&img), &mut rng)))
        });
        g.finish();
    }
}

criterion_group!(benches, transforms);
criterion_main!(benches);
