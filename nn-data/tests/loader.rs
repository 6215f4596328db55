//! The loader: order, batching, hooks, errors, and bit-identical epochs for any thread count.

use ndarray::{Array2, Array3, Array4, s};
use nn_data::{
    Batch, BatchHook, DataError, DataLoader, Dataset, InMemoryDataset, LoaderConfig, Sample,
    SampleTransform, Shard,
};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

fn dataset(n: usize) -> Arc<dyn Dataset> {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let data = Array4::from_shape_fn((n, 3, 8, 8), |_| rng.random::<u8>());
    Arc::new(InMemoryDataset::from_u8(data, 255.0, (0..n).map(|i| i % 10).collect(), 10).unwrap())
}

/// Pad-4 random crop + horizontal flip + a little noise: many draws per sample.
fn augment() -> SampleTransform {
    Arc::new(|img: Array3<f32>, rng: &mut ChaCha8Rng| {
        let (c, h, w) = img.dim();
        let mut padded = Array3::zeros((c, h + 8, w + 8));
        padded.slice_mut(s![.., 4..4 + h, 4..4 + w]).assign(&img);
        let (dy, dx) = (rng.random_range(0..=8), rng.random_range(0..=8));
        let mut out = padded.slice(s![.., dy..dy + h, dx..dx + w]).to_owned();
        if rng.random_bool(0.5) {
            out.invert_axis(ndarray::Axis(2));
        }
        out.mapv_inplace(|v| v + rng.random_range(-0.01..0.01));
        out
    })
}

/// Mixup with a random λ and a random pairing: sets soft targets.
fn mixup() -> BatchHook {
    Arc::new(|mut b: Batch, rng: &mut ChaCha8Rng| {
        let lam: f32 = rng.random();
        let mut perm: Vec<usize> = (0..b.len()).collect();
        perm.shuffle(rng);
        let t = b.targets();
        let mixed_t = Array2::from_shape_fn(t.dim(), |(i, j)| {
            lam * t[[i, j]] + (1.0 - lam) * t[[perm[i], j]]
        });
        let imgs = b.images.clone();
        for (i, &p) in perm.iter().enumerate() {
            let m =
                &imgs.slice(s![i, .., .., ..]) * lam + &imgs.slice(s![p, .., .., ..]) * (1.0 - lam);
            b.images.slice_mut(s![i, .., .., ..]).assign(&m);
        }
        b.soft_targets = Some(mixed_t);
        b
    })
}

fn collect(loader: &DataLoader, epoch: u64) -> Vec<Batch> {
    loader.epoch(epoch).collect::<Result<_, _>>().unwrap()
}

#[test]
fn one_and_two_threads_give_bit_identical_epochs() {
    let cfg = LoaderConfig {
        batch_size: 32,
        shuffle: true,
        seed: 11,
        prefetch: 2,
        ..Default::default()
    };
    let make = |threads: usize, prefetch: usize| {
        let pool = Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap(),
        );
        DataLoader::new(
            dataset(200),
            LoaderConfig {
                prefetch,
                ..cfg.clone()
            },
        )
        .unwrap()
        .with_transform(augment())
        .with_batch_hook(mixup())
        .with_thread_pool(pool)
    };
    let (one, two) = (make(1, 2), make(2, 2));
    for epoch in 0..2 {
        let a = collect(&one, epoch);
        let b = collect(&two, epoch);
        assert_eq!(a.len(), 7);
        assert_eq!(a, b, "epoch {epoch}");
        assert!(a[0].soft_targets.is_some());
        // Without prefetch, and by random access, the same batches come out.
        assert_eq!(a, collect(&make(2, 0), epoch));
        assert_eq!(a[3], two.batch(epoch, 3).unwrap());
        // Resuming an epoch at batch k yields exactly its batches k.. (with and without prefetch).
        for loader in [&one, &make(1, 0)] {
            let rest: Vec<Batch> = loader
                .epoch_from(epoch, 4)
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(rest, a[4..]);
            assert_eq!(loader.epoch_from(epoch, 7).count(), 0);
            assert_eq!(loader.epoch_from(epoch, 99).count(), 0);
        }
    }
    assert_ne!(collect(&one, 0)[0], collect(&one, 1)[0]);
}

#[test]
fn shuffle_visits_every_sample_once_per_epoch() {
    let cfg = LoaderConfig {
        batch_size: 16,
        shuffle: true,
        seed: 3,
        ..Default::default()
    };
    let loader = DataLoader::new(dataset(50), cfg).unwrap();
    let mut orders = Vec::new();
    for epoch in 0..3 {
        let idx: Vec<usize> = collect(&loader, epoch)
            .into_iter()
            .flat_map(|b| b.indices)
            .collect();
        let mut sorted = idx.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(idx, loader.order(epoch));
        orders.push(idx);
    }
    assert_ne!(orders[0], orders[1]);
    let plain = DataLoader::new(dataset(5), LoaderConfig::with_batch_size(2)).unwrap();
    let idx: Vec<usize> = collect(&plain, 9)
        .into_iter()
        .flat_map(|b| b.indices)
        .collect();
    assert_eq!(idx, [0, 1, 2, 3, 4]);
}

#[test]
fn batches_carry_the_dataset_samples_and_drop_last_works() {
    let ds = dataset(10);
    let keep = DataLoader::new(ds.clone(), LoaderConfig::with_batch_size(4)).unwrap();
    let sizes: Vec<usize> = collect(&keep, 0).iter().map(Batch::len).collect();
    assert_eq!(sizes, [4, 4, 2]);
    let b = &collect(&keep, 0)[1];
    assert_eq!(b.images.shape(), [4, 3, 8, 8]);
    let s: Sample = ds.get(5).unwrap();
    assert_eq!(b.images.slice(s![1, .., .., ..]), s.image);
    assert_eq!(b.labels[1], s.label);
    assert_eq!(b.num_classes, 10);
    let drop = DataLoader::new(
        ds,
        LoaderConfig {
            batch_size: 4,
            drop_last: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(drop.num_batches(), 2);
    assert_eq!(collect(&drop, 0).len(), 2);
    assert!(drop.batch(0, 2).is_err());
}

#[test]
fn invalid_configs_are_rejected() {
    assert!(DataLoader::new(dataset(3), LoaderConfig::with_batch_size(0)).is_err());
    let cfg = LoaderConfig {
        num_threads: Some(0),
        ..Default::default()
    };
    assert!(DataLoader::new(dataset(3), cfg).is_err());
    let cfg = LoaderConfig {
        num_threads: Some(2),
        batch_size: 2,
        ..Default::default()
    };
    assert_eq!(
        collect(&DataLoader::new(dataset(3), cfg).unwrap(), 0).len(),
        2
    );
}

/// Fails on one index.
struct Broken(usize);

impl Dataset for Broken {
    fn len(&self) -> usize {
        10
    }
    fn get(&self, index: usize) -> Result<Sample, DataError> {
        if index == self.0 {
            return Err(DataError::malformed(
                "broken.bin",
                format!("sample {index}"),
            ));
        }
        Ok(Sample {
            image: Array3::zeros((1, 2, 2)),
            label: 0,
        })
    }
    fn num_classes(&self) -> usize {
        1
    }
}

#[test]
fn a_bad_sample_ends_the_epoch_with_its_error() {
    for prefetch in [0, 2] {
        let cfg = LoaderConfig {
            batch_size: 3,
            prefetch,
            ..Default::default()
        };
        let loader = DataLoader::new(Arc::new(Broken(4)), cfg).unwrap();
        let results: Vec<_> = loader.epoch(0).collect();
        assert_eq!(results.len(), 2, "prefetch {prefetch}");
        assert!(results[0].is_ok());
        let err = results[1].as_ref().unwrap_err();
        assert!(err.to_string().contains("broken.bin"), "{err}");
    }
}

#[test]
fn a_panicking_transform_is_reported_in_prefetch_mode() {
    let cfg = LoaderConfig {
        batch_size: 2,
        prefetch: 1,
        ..Default::default()
    };
    let loader = DataLoader::new(dataset(4), cfg)
        .unwrap()
        .with_transform(Arc::new(|_img, _rng| panic!("transform exploded")));
    let results: Vec<_> = loader.epoch(0).collect();
    assert_eq!(results.len(), 1);
    let err = results[0].as_ref().unwrap_err();
    assert!(
        matches!(err, DataError::WorkerPanicked(m) if m.contains("exploded")),
        "{err}"
    );
}

#[test]
fn dropping_an_epoch_early_stops_the_prefetcher() {
    let cfg = LoaderConfig {
        batch_size: 1,
        prefetch: 1,
        ..Default::default()
    };
    let loader = DataLoader::new(dataset(100), cfg).unwrap();
    for _ in 0..20 {
        let mut it = loader.epoch(0);
        assert!(it.next().unwrap().is_ok());
    } // each drop joins its worker; a hang here would time the test out
    assert_eq!(loader.epoch(0).count(), 100);
}

#[test]
fn mismatched_sample_shapes_are_a_typed_error() {
    let t: SampleTransform = Arc::new(|img, rng: &mut ChaCha8Rng| {
        if rng.random_bool(0.5) {
            img
        } else {
            Array3::zeros((1, 1, 1))
        }
    });
    let loader = DataLoader::new(dataset(64), LoaderConfig::with_batch_size(64))
        .unwrap()
        .with_transform(t);
    let err = loader.batch(0, 0).unwrap_err();
    assert!(matches!(err, DataError::ShapeMismatch { .. }));
}

/// Data-parallel shards: for every batch, the shards of 3 replicas (sizes differing by at most
/// one, augmented with their positions' generators) concatenate to the whole batch, bit for bit.
#[test]
fn shards_concatenate_to_the_whole_batch() {
    let ds = dataset(70);
    let cfg = LoaderConfig {
        batch_size: 16,
        shuffle: true,
        seed: 5,
        ..Default::default()
    };
    let whole = DataLoader::new(ds.clone(), cfg.clone())
        .unwrap()
        .with_transform(augment());
    let shards: Vec<DataLoader> = (0..3)
        .map(|index| {
            let shard = Some(Shard { index, count: 3 });
            DataLoader::new(
                ds.clone(),
                LoaderConfig {
                    shard,
                    ..cfg.clone()
                },
            )
            .unwrap()
            .with_transform(augment())
        })
        .collect();
    let full = collect(&whole, 2);
    let parts: Vec<Vec<Batch>> = shards.iter().map(|l| collect(l, 2)).collect();
    assert_eq!(full.len(), 5); // 4 x 16 + 6
    for (b, batch) in full.iter().enumerate() {
        let pieces: Vec<&Batch> = parts.iter().map(|p| &p[b]).collect();
        let sizes: Vec<usize> = pieces.iter().map(|p| p.len()).collect();
        let n = batch.len();
        assert_eq!(sizes, [n / 3, 2 * n / 3 - n / 3, n - 2 * n / 3]);
        let images: Vec<_> = pieces.iter().map(|p| p.images.view()).collect();
        assert_eq!(
            ndarray::concatenate(ndarray::Axis(0), &images).unwrap(),
            batch.images
        );
        let labels: Vec<usize> = pieces.iter().flat_map(|p| p.labels.clone()).collect();
        let indices: Vec<usize> = pieces.iter().flat_map(|p| p.indices.clone()).collect();
        assert_eq!(
            (labels, indices),
            (batch.labels.clone(), batch.indices.clone())
        );
    }
    assert_eq!(shards[0].num_batches(), whole.num_batches());
}

#[test]
fn invalid_shards_are_config_errors() {
    let bad = |shard, batch_size| {
        let cfg = LoaderConfig {
            batch_size,
            shard: Some(shard),
            ..Default::default()
        };
        DataLoader::new(dataset(10), cfg).unwrap_err().to_string()
    };
    assert!(bad(Shard { index: 2, count: 2 }, 4).contains("shard"));
    assert!(bad(Shard { index: 0, count: 0 }, 4).contains("shard"));
    assert!(bad(Shard { index: 0, count: 5 }, 4).contains("batch_size"));
    // A last batch of 1 sample has an empty shard for replica 0 of 2: an error, not a panic.
    let cfg = LoaderConfig {
        batch_size: 3,
        shard: Some(Shard { index: 0, count: 2 }),
        ..Default::default()
    };
    let loader = DataLoader::new(dataset(10), cfg).unwrap();
    assert!(
        loader
            .batch(0, 3)
            .unwrap_err()
            .to_string()
            .contains("shard")
    );
    assert_eq!(Shard { index: 1, count: 2 }.range(5), 2..5);
    assert_eq!(Shard::min_len(2, 5), 2);
}
