//! # nn-data
//!
//! Data sets, preprocessing and a fast deterministic loader for training neural networks on the
//! CPU — ndarray in, ndarray out (no dependency on `nn-core`, so it also serves other
//! frameworks).
//!
//! | module | what |
//! |---|---|
//! | [`dataset`] | the [`Dataset`] trait ([`Sample`] = CHW `f32` image in `[0, 1]` + label), [`InMemoryDataset`], adapters [`Subset`], [`Concat`], [`ClassFilter`], seeded stratified splits |
//! | [`sources`] | the embedded UCI [`digits`] (+ [`digits_split`]), CIFAR-10/100 binary ([`load_cifar10`], [`load_cifar100`]), MNIST/Fashion-MNIST IDX ([`load_mnist`], [`load_fashion_mnist`]), [`ImageFolder`] |
//! | [`preprocess`] | fitted, serialisable preprocessing: [`MeanImage`], [`ChannelMean`], [`Normalize`], [`Pca`] (+ whitening), [`Zca`], [`ColorPca`] (AlexNet colour statistics) |
//! | [`loader`] | [`DataLoader`]: batches, per-epoch shuffle, drop-last, per-sample [`SampleTransform`] and per-batch [`BatchHook`], rayon-parallel, prefetched, bit-identical for any thread count |
//! | [`error`] | [`DataError`]: every bad input is a typed error naming the file/field |
//!
//! ## Example: fit a normaliser on the training split and iterate shuffled batches
//!
//! ```
//! use std::sync::Arc;
//! use nn_data::{digits_split, as_sample_transform, DataLoader, Dataset, LoaderConfig, Normalize};
//!
//! let split = digits_split(0); // stratified 70/15/15, embedded data, no file access
//! let norm = Normalize::fit(&split.train)?; // per-channel mean/std of the training images
//! let config = LoaderConfig { batch_size: 128, shuffle: true, drop_last: true, seed: 42, ..Default::default() };
//! let loader = DataLoader::new(Arc::new(split.train), config)?
//!     .with_transform(as_sample_transform(norm.clone()));
//! for batch in loader.epoch(0) {
//!     let batch = batch?;
//!     assert_eq!(batch.images.shape(), [128, 1, 8, 8]);
//!     assert_eq!(batch.labels.len(), 128);
//! }
//! // Evaluation reuses the training statistics (serialisable with serde / `save_json`).
//! let json = serde_json::to_string(&norm).unwrap();
//! let restored: Normalize = serde_json::from_str(&json).unwrap();
//! assert_eq!(restored, norm);
//! # Ok::<(), nn_data::DataError>(())
//! ```
//!
//! CIFAR-10 from the downloaded binary files works the same way:
//! `load_cifar10("cifar-10-batches-bin".as_ref(), Split::Train)` (see the crate README).

pub mod dataset;
pub mod error;
pub mod loader;
pub mod preprocess;
pub mod sources;

pub use dataset::{
    ClassFilter, Concat, Dataset, InMemoryDataset, Pixels, Sample, Subset, ThreeWaySplit, labels,
    stratified_split, train_val_split, train_val_test_split,
};
pub use error::DataError;
pub use loader::{
    Batch, BatchHook, DataLoader, Epoch, LoaderConfig, SampleTransform, Shard, batch_rng,
    sample_rng, shuffle_rng, shuffled_order,
};
pub use preprocess::{
    ChannelMean, ColorPca, ImagePreprocessor, MeanImage, Normalize, Pca, PcaConfig, SymmetricEigen,
    Zca, ZcaConfig, apply_to_dataset, as_sample_transform, load_json, save_json, symmetric_eigen,
};
pub use sources::Split;
pub use sources::cifar::{
    CIFAR10_CLASSES, CIFAR100_COARSE_CLASSES, CIFAR100_FINE_CLASSES, Cifar100Labels, CifarFormat,
    load_cifar_files, load_cifar_files_limited, load_cifar10, load_cifar10_limited, load_cifar100,
    load_cifar100_limited, parse_cifar,
};
pub use sources::digits::{DigitsSplit, digits, digits_split};
pub use sources::idx::{
    DEFAULT_MAX_IDX_BYTES, IdxArray, parse_idx, parse_idx_limited, read_idx, read_idx_limited,
};
pub use sources::image_folder::{
    ColorMode, DEFAULT_MAX_PIXELS, ImageCache, ImageFolder, ImageFolderConfig, decode_bounded,
    decode_image, image_decoder,
};
pub use sources::mnist::{
    FASHION_MNIST_CLASSES, FASHION_MNIST_DEBIAN_DIR, FASHION_MNIST_DEBIAN_PACKAGE, MNIST_CLASSES,
    find_fashion_mnist, idx_pair_dataset, load_fashion_mnist, load_fashion_mnist_limited,
    load_fashion_mnist_system, load_idx_pair, load_idx_pair_limited, load_mnist,
    load_mnist_limited,
};
