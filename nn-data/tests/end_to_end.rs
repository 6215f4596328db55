//! End to end: CIFAR-10 files on disk → split → fitted normaliser saved and reloaded → augmented,
//! shuffled batches; and the embedded digits through the adapters.

use ndarray::{Array3, s};
use nn_data::sources::cifar::{CIFAR_IMAGE_BYTES, cifar10_files};
use nn_data::{
    ClassFilter, DataLoader, Dataset, ImagePreprocessor, LoaderConfig, Normalize, SampleTransform,
    Split, Subset, as_sample_transform, digits_split, load_cifar10, load_json, save_json,
    train_val_split,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

fn write_fake_cifar10(dir: &std::path::Path) {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for f in cifar10_files(dir, Split::Train) {
        let mut bytes = Vec::new();
        for r in 0..40 {
            bytes.push((r % 10) as u8);
            // Channel-dependent brightness so the per-channel statistics differ.
            for c in 0..3 {
                bytes.extend(
                    (0..CIFAR_IMAGE_BYTES / 3).map(|_| rng.random_range(0..=255u8) / (c + 1)),
                );
            }
        }
        std::fs::write(f, bytes).unwrap();
    }
}

#[test]
fn cifar_files_to_normalised_augmented_batches() {
    let dir = tempfile::tempdir().unwrap();
    write_fake_cifar10(dir.path());
    let all = Arc::new(load_cifar10(dir.path(), Split::Train).unwrap());
    assert_eq!(all.len(), 200);
    let (train, val) = train_val_split(all, 0.1, 0).unwrap();
    assert_eq!((train.len(), val.len()), (180, 20));

    let norm = Normalize::fit(&train).unwrap();
    assert!(norm.mean()[0] > norm.mean()[2]);
    let path = dir.path().join("normalize.json");
    save_json(&norm, &path).unwrap();
    let norm: Normalize = load_json(&path).unwrap();

    let crop_flip: SampleTransform = Arc::new(|img: Array3<f32>, rng: &mut ChaCha8Rng| {
        let mut padded = Array3::zeros((3, 40, 40));
        padded.slice_mut(s![.., 4..36, 4..36]).assign(&img);
        let (y, x) = (rng.random_range(0..=8), rng.random_range(0..=8));
        let mut out = padded.slice(s![.., y..y + 32, x..x + 32]).to_owned();
        if rng.random_bool(0.5) {
            out.invert_axis(ndarray::Axis(2));
        }
        out
    });
    let norm_step = norm.clone();
    let train_tf: SampleTransform = Arc::new(move |img, rng| norm_step.apply(crop_flip(img, rng)));
    let cfg = LoaderConfig {
        batch_size: 64,
        shuffle: true,
        drop_last: true,
        seed: 1,
        ..Default::default()
    };
    let train_loader = DataLoader::new(Arc::new(train), cfg)
        .unwrap()
        .with_transform(train_tf);
    let batches: Vec<_> = train_loader.epoch(0).collect::<Result<_, _>>().unwrap();
    assert_eq!(batches.len(), 2);
    assert!(batches.iter().all(|b| b.images.shape() == [64, 3, 32, 32]));

    let val_loader = DataLoader::new(Arc::new(val), LoaderConfig::with_batch_size(64))
        .unwrap()
        .with_transform(as_sample_transform(norm));
    let vb: Vec<_> = val_loader.epoch(0).collect::<Result<_, _>>().unwrap();
    assert_eq!(vb.len(), 1);
    // Validation images normalised with training statistics: roughly zero mean per channel.
    let m = vb[0].images.mean().unwrap();
    assert!(m.abs() < 0.2, "mean {m}");
}

#[test]
fn digits_through_the_adapters() {
    let split = digits_split(0);
    let five_classes = ClassFilter::new(split.train.clone(), &[5, 6, 7, 8, 9], true).unwrap();
    assert_eq!(five_classes.num_classes(), 5);
    assert_eq!(five_classes.class_names().unwrap()[0], "5");
    let tiny = Subset::first(five_classes, 20);
    let loader = DataLoader::new(Arc::new(tiny), LoaderConfig::with_batch_size(8)).unwrap();
    let labels: Vec<usize> = loader.epoch(0).flat_map(|b| b.unwrap().labels).collect();
    assert_eq!(labels.len(), 20);
    assert!(labels.iter().all(|&l| l < 5));
    let test_ids = split.test.indices();
    assert!(
        split
            .train
            .indices()
            .iter()
            .all(|i| test_ids.binary_search(i).is_err())
    );
}
