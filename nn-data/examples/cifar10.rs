//! CIFAR-10 from the downloaded binary files: split, fit a normaliser on the training part, save
//! it, iterate augmented shuffled batches, evaluate-style batches with the reloaded statistics.
//!
//! `cargo run --release -p nn-data --example cifar10 -- path/to/cifar-10-batches-bin`

use ndarray::{Array3, s};
use nn_data::{
    DataLoader, Dataset, ImagePreprocessor, LoaderConfig, Normalize, SampleTransform, Split,
    as_sample_transform, load_cifar10, load_json, save_json, train_val_split,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use std::sync::Arc;

fn main() -> Result<(), nn_data::DataError> {
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: cifar10 DIR"));
    let train_all = Arc::new(load_cifar10(&dir, Split::Train)?); // 50,000 × [3, 32, 32]
    let test = Arc::new(load_cifar10(&dir, Split::Test)?); // 10,000
    let (train, val) = train_val_split(train_all, 0.1, 0)?; // stratified: 45,000 / 5,000

    // Fit on the training part only, and keep the statistics for evaluation.
    let norm = Normalize::fit(&train)?;
    save_json(&norm, "cifar10-normalize.json".as_ref())?;
    println!("mean {:?} std {:?}", norm.mean(), norm.std());

    // Training: random crop (pad 4) + flip, then normalise; shuffled, parallel, prefetched.
    let augment: SampleTransform = Arc::new(move |img: Array3<f32>, rng: &mut ChaCha8Rng| {
        let mut padded = Array3::zeros((3, 40, 40));
        padded.slice_mut(s![.., 4..36, 4..36]).assign(&img);
        let (y, x) = (rng.random_range(0..=8), rng.random_range(0..=8));
        let mut out = padded.slice(s![.., y..y + 32, x..x + 32]).to_owned();
        if rng.random_bool(0.5) {
            out.invert_axis(ndarray::Axis(2));
        }
        norm.apply(out)
    });
    let cfg = LoaderConfig {
        batch_size: 128,
        shuffle: true,
        drop_last: true,
        seed: 42,
        ..Default::default()
    };
    let train_loader = DataLoader::new(Arc::new(train), cfg)?.with_transform(augment);
    for epoch in 0..2 {
        let mut n = 0;
        for batch in train_loader.epoch(epoch) {
            let batch = batch?; // images [128, 3, 32, 32], labels Vec<usize>
            n += batch.len();
        }
        println!("epoch {epoch}: {n} training images");
    }

    // Evaluation reuses the saved statistics.
    let norm: Normalize = load_json("cifar10-normalize.json".as_ref())?;
    for (name, ds) in [("val", Arc::new(val) as Arc<dyn Dataset>), ("test", test)] {
        let loader = DataLoader::new(ds, LoaderConfig::with_batch_size(256))?
            .with_transform(as_sample_transform(norm.clone()));
        let n: usize = loader
            .epoch(0)
            .map(|b| b.map(|b| b.len()))
            .sum::<Result<_, _>>()?;
        println!("{name}: {n} images");
    }
    Ok(())
}
