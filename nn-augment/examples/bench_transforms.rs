//! Timing driver for `bench-compare/compare.py`: prints one JSON line per (transform, size) with
//! the median time per image over several repeats, single-threaded. Time is the thread's CPU time
//! (`/proc/thread-self/schedstat`, falling back to wall time), which is robust on a shared machine;
//! the Python side uses `time.thread_time()`.
//!
//! `cargo run -p nn-augment --example bench_transforms --release -- [repeats] [seconds per repeat]`

#[path = "../benches/common/cases.rs"]
mod cases;

use nn_augment::Transform;
use nn_augment::synthetic::test_image;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;
use std::time::Instant;

/// CPU time of this thread in seconds (wall time where schedstat is unavailable).
fn now(start: Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|t| t.parse::<f64>().ok())
        })
        .map(|ns| ns * 1e-9)
        .unwrap_or_else(|| start.elapsed().as_secs_f64())
}

fn main() {
    let origin = Instant::now();
    let mut args = std::env::args().skip(1);
    let repeats: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let budget: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(0.15);
    for s in [32usize, 224] {
        let img = test_image(s, s);
        for (name, json) in cases::cases(s) {
            let t = cases::build(&json);
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            // Calibrate the iteration count to the time budget.
            let mut n = 1usize;
            loop {
                let t0 = now(origin);
                for _ in 0..n {
                    black_box(t.apply_random(black_box(&img), &mut rng));
                }
                if now(origin) - t0 > budget / 4.0 || n > 1 << 24 {
                    break;
                }
                n *= 2;
            }
            let mut times: Vec<f64> = (0..repeats)
                .map(|_| {
                    let t0 = now(origin);
                    for _ in 0..n {
                        black_box(t.apply_random(black_box(&img), &mut rng));
                    }
                    (now(origin) - t0) / n as f64
                })
                .collect();
            times.sort_by(f64::total_cmp);
            println!(
                r#"{{"case": "{name}", "size": {s}, "seconds": {:.9}}}"#,
                times[times.len() / 2]
            );
        }
    }
}
