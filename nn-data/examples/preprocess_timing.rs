//! Times fitting the preprocessing on CIFAR-shaped data (3×32×32, D = 3,072):
//! `cargo run --release -p nn-data --example preprocess_timing -- [IMAGES]` (default 10,000).

use ndarray::Array4;
use nn_data::{
    ColorPca, InMemoryDataset, Normalize, Pca, PcaConfig, Zca, ZcaConfig, apply_to_dataset,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

fn main() -> Result<(), nn_data::DataError> {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(10_000, |a| a.parse().expect("IMAGES"));
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let data = Array4::from_shape_fn((n, 3, 32, 32), |_| rng.random::<u8>());
    let ds = InMemoryDataset::from_u8(data, 255.0, vec![0; n], 1)?;
    let time = |what: &str, t: Instant| println!("{what}: {:.2} s", t.elapsed().as_secs_f64());

    let t = Instant::now();
    Normalize::fit(&ds)?;
    time("Normalize::fit", t);
    let t = Instant::now();
    ColorPca::fit(&ds)?;
    time("ColorPca::fit", t);
    let t = Instant::now();
    Pca::fit(&ds, PcaConfig::components(100).whitened(1e-5))?;
    time(
        "Pca::fit (k = 100, whitened; covariance + 3072×3072 eigen-decomposition)",
        t,
    );
    let t = Instant::now();
    let zca = Zca::fit(&ds, ZcaConfig { eps: 0.1 })?;
    time("Zca::fit", t);
    let t = Instant::now();
    apply_to_dataset(&zca, &ds)?;
    time("apply_to_dataset(ZCA)", t);
    Ok(())
}
