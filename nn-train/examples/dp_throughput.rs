//! Training throughput of a job, in one process or data-parallel under `mpirun` (the README's
//! scaling figures): times `--steps` training steps after `--warmup` steps and prints, on rank
//! 0, the median step time, images per second of the global batch, and how much of the
//! gradient communication backward did not hide.
//!
//! ```text
//! cargo build --release -p nn-train --features mpi --example dp_throughput
//! RAYON_NUM_THREADS=2 target/release/examples/dp_throughput --config job.toml
//! RAYON_NUM_THREADS=1 mpirun -np 2 target/release/examples/dp_throughput --config job.toml
//! ```

use std::sync::Arc;
use std::time::Instant;

use nn_train::dist::Dist;
use nn_train::dist::mpi::MpiCollective;
use nn_train::{Session, TrainConfig};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = TrainConfig::load(arg("--config", "job.toml").as_ref())?;
    let steps: usize = arg("--steps", "30").parse()?;
    let warmup: usize = arg("--warmup", "5").parse()?;
    let dist = if std::env::var("OMPI_COMM_WORLD_SIZE").is_ok() {
        Dist::new(Arc::new(
            MpiCollective::init()?.expect("MPI not yet initialised"),
        ))
    } else {
        Dist::single()
    };
    let mut s = Session::distributed(&config, dist.clone())?;
    let (mut times, mut exposed, mut started, mut buckets) = (Vec::new(), Vec::new(), 0, 0);
    let mut step = 0u64;
    'outer: for epoch in 0.. {
        for batch in s.train_loader.clone().epoch(epoch) {
            let batch = batch?;
            let t = Instant::now();
            s.train_step(batch, epoch as usize, step, &mut [])?;
            if step as usize >= warmup {
                times.push(t.elapsed().as_secs_f64());
                if let Some(r) = s.reduce_stats() {
                    exposed.push(r.exposed_seconds);
                    (started, buckets) = (r.started_in_backward, r.buckets);
                }
            }
            step += 1;
            if times.len() == steps {
                break 'outer;
            }
        }
    }
    if dist.is_root() {
        let t = median(times);
        let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into());
        print!(
            "ranks {} x threads {threads}: step {:.1} ms (median of {steps}), {:.0} img/s",
            dist.size(),
            t * 1e3,
            config.batch_size as f64 / t
        );
        if !exposed.is_empty() {
            print!(
                "; gradient sums: {buckets} buckets, {started} started during backward, {:.2} ms \
                 exposed after backward (median)",
                median(exposed) * 1e3
            );
        }
        println!();
    }
    Ok(())
}
