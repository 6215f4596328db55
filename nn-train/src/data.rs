//! Loading the data of a job: the three splits, the fitted preprocessing and the loaders.

use std::sync::Arc;

use nn_data::{
    ChannelMean, ClassFilter, DataLoader, Dataset, ImagePreprocessor, LoaderConfig, MeanImage,
    Normalize, SampleTransform, Split, Subset, digits_split, load_cifar10, load_cifar100,
    load_fashion_mnist, load_fashion_mnist_system, load_mnist, train_val_split,
};

use crate::config::{DataConfig, DataSource, Preprocess};
use crate::error::{Result, invalid};
use crate::image_source::load_image_folder;

/// The splits of a job, with the preprocessing fitted on the training split.
pub struct PreparedData {
    /// Training images.
    pub train: Arc<dyn Dataset>,
    /// Validation images (model selection, early stopping).
    pub val: Arc<dyn Dataset>,
    /// Test images (reported once, at the end).
    pub test: Arc<dyn Dataset>,
    /// CHW shape of every image.
    pub input_shape: [usize; 3],
    /// Number of classes.
    pub num_classes: usize,
    /// Class names by label (the data set's, else `"0"`, `"1"`, …).
    pub class_names: Vec<String>,
    /// The fitted preprocessing (identity for `Preprocess::None`).
    pub preprocess: Arc<dyn ImagePreprocessor>,
}

/// The identity preprocessing.
struct Identity;

impl ImagePreprocessor for Identity {
    fn apply(&self, image: ndarray::Array3<f32>) -> ndarray::Array3<f32> {
        image
    }
}

/// Loads the splits described by `config` (`seed` drives the train/validation split) and fits
/// the preprocessing on the training split.
pub fn prepare(config: &DataConfig, seed: u64) -> Result<PreparedData> {
    let seed = config.split_seed.unwrap_or(seed);
    let (train, val, test): (Arc<dyn Dataset>, Arc<dyn Dataset>, Arc<dyn Dataset>) =
        match &config.source {
            DataSource::Digits => {
                let s = digits_split(seed);
                (Arc::new(s.train), Arc::new(s.val), Arc::new(s.test))
            }
            DataSource::ImageFolder(spec) => {
                let s = load_image_folder(spec, config.val_fraction, seed)?;
                (s.train, s.val, s.test)
            }
            source => {
                let load = |split| -> Result<nn_data::InMemoryDataset> {
                    Ok(match source {
                        DataSource::Cifar10(dir) => load_cifar10(dir, split)?,
                        DataSource::Cifar100(dir) => {
                            load_cifar100(dir, split, nn_data::Cifar100Labels::Fine)?
                        }
                        DataSource::Mnist(dir) => load_mnist(dir, split)?,
                        DataSource::FashionMnist(Some(dir)) => load_fashion_mnist(dir, split)?,
                        DataSource::FashionMnist(None) => load_fashion_mnist_system(split)?,
                        DataSource::Digits | DataSource::ImageFolder(_) => {
                            unreachable!("handled above")
                        }
                    })
                };
                let full = load(Split::Train)?;
                let test = load(Split::Test)?;
                let (train, val) = train_val_split(full, config.val_fraction, seed)?;
                (Arc::new(train), Arc::new(val), Arc::new(test))
            }
        };
    let (train, val, test) = match &config.classes {
        Some(classes) => {
            let keep = |d: Arc<dyn Dataset>| -> Result<Arc<dyn Dataset>> {
                Ok(Arc::new(ClassFilter::new(d, classes, true)?))
            };
            (keep(train)?, keep(val)?, keep(test)?)
        }
        None => (train, val, test),
    };
    let train: Arc<dyn Dataset> = match config.limit_train {
        Some(n) if n < train.len() => Arc::new(Subset::first(train, n)),
        _ => train,
    };
    // Empty splits would train on nothing, select the model on nothing (validation "0.0000",
    // best epoch 1) or report a test accuracy of nothing: each is an error naming its cause.
    let source = format!("{:?}", config.source);
    if train.is_empty() {
        return Err(invalid(
            "data",
            format!("{source} (after data.classes / data.limit_train)"),
            "a training split with at least one image",
        ));
    }
    if val.is_empty() {
        return Err(invalid(
            "data.val_fraction",
            config.val_fraction,
            &format!(
                "a fraction that leaves at least one validation image (model selection and early \
                 stopping need one; {source} has {} training images after the split)",
                train.len()
            ),
        ));
    }
    if test.is_empty() {
        return Err(invalid(
            "data.source",
            source,
            "a data set whose test split has at least one image (after data.classes)",
        ));
    }
    let first = train.get(0)?;
    let (c, h, w) = first.image.dim();
    let preprocess: Arc<dyn ImagePreprocessor> = match config.preprocess {
        Preprocess::None => Arc::new(Identity),
        Preprocess::MeanImage => Arc::new(MeanImage::fit(train.as_ref())?),
        Preprocess::ChannelMean => Arc::new(ChannelMean::fit(train.as_ref())?),
        Preprocess::Standardize => Arc::new(Normalize::fit(train.as_ref())?),
    };
    let class_names = match train.class_names() {
        Some(names) if names.len() == train.num_classes() => names.to_vec(),
        _ => crate::metrics::numbered_classes(train.num_classes()),
    };
    Ok(PreparedData {
        num_classes: train.num_classes(),
        class_names,
        train,
        val,
        test,
        input_shape: [c, h, w],
        preprocess,
    })
}

/// A loader over `dataset` whose per-sample transform is `augment` (if any) followed by
/// `preprocess`.
pub fn loader(
    dataset: Arc<dyn Dataset>,
    config: LoaderConfig,
    augment: Option<Arc<nn_augment::Pipeline>>,
    preprocess: Arc<dyn ImagePreprocessor>,
) -> Result<DataLoader> {
    use nn_augment::Transform as _;
    let transform: SampleTransform = match augment {
        Some(pipeline) => Arc::new(move |image, rng| {
            let image = pipeline.apply_random(&image, rng);
            preprocess.apply(image)
        }),
        None => Arc::new(move |image, _rng| preprocess.apply(image)),
    };
    Ok(DataLoader::new(dataset, config)?.with_transform(transform))
}
