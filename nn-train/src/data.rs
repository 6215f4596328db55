//! Loading the data of a job: the three splits, the fitted preprocessing and the loaders.

use std::sync::Arc;

use nn_data::{
    Batch, BatchHook, ClassFilter, ColorPca, Concat, DataLoader, Dataset, FASHION_MNIST_DEBIAN_DIR,
    ImagePreprocessor, LoaderConfig, Sample, SampleTransform, Split, Subset, digits_split,
    find_fashion_mnist, load_cifar10_limited, load_cifar100_limited, load_fashion_mnist_limited,
    load_mnist_limited, train_val_split,
};

use crate::config::{DataConfig, DataSource};
use crate::error::{Result, invalid, limit_named};
use crate::image_source::load_image_folder;
use crate::preprocess::{Fitted, FittedPreprocessing, Preprocess};
use crate::regularize::chain;

/// The splits of a job, with the preprocessing fitted on the training split.
pub struct PreparedData {
    /// Training images.
    pub train: Arc<dyn Dataset>,
    /// Validation images (model selection, early stopping).
    pub val: Arc<dyn Dataset>,
    /// Test images (reported once, at the end).
    pub test: Arc<dyn Dataset>,
    /// CHW shape of every image (after `data.channels`): what augmentation and preprocessing
    /// see.
    pub image_shape: [usize; 3],
    /// CHW shape of the model's input: the image shape after preprocessing (`[k, 1, 1]` for a
    /// PCA projection on k components).
    pub input_shape: [usize; 3],
    /// Number of classes.
    pub num_classes: usize,
    /// Class names by label (the data set's, else `"0"`, `"1"`, …).
    pub class_names: Vec<String>,
    /// The job's `data.preprocess`.
    pub setting: Preprocess,
    /// The fitted (or reloaded) preprocessing.
    pub preprocess: Arc<Fitted>,
    /// AlexNet's colour statistics of the training split, for `[pca_lighting]` jobs (set by
    /// [`crate::Session::new`]).
    pub color_pca: Option<ColorPca>,
}

impl PreparedData {
    /// What a run keeps of the data preparation (`preprocess.json`).
    pub fn fitted(&self) -> FittedPreprocessing {
        FittedPreprocessing {
            setting: self.setting.clone(),
            image_shape: self.image_shape,
            fitted: (*self.preprocess).clone(),
            color_pca: self.color_pca,
        }
    }
}

/// A data set with its images converted to `channels` channels: 3 replicates a grayscale image
/// into R = G = B; 1 converts RGB to luma (0.2989·R + 0.587·G + 0.114·B, torchvision's
/// `Grayscale`).
struct Channels {
    inner: Arc<dyn Dataset>,
    channels: usize,
}

impl Dataset for Channels {
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn get(&self, index: usize) -> std::result::Result<Sample, nn_data::DataError> {
        let mut s = self.inner.get(index)?;
        let (c, h, w) = s.image.dim();
        s.image = match (c, self.channels) {
            (a, b) if a == b => s.image,
            (1, 3) => s
                .image
                .broadcast((3, h, w))
                .expect("one channel broadcasts to three")
                .to_owned(),
            (3, 1) => nn_augment::functional::rgb_to_grayscale(&s.image, 1),
            (found, wanted) => {
                return Err(nn_data::DataError::invalid(
                    "channels",
                    format!("{wanted} (image {index} has {found})"),
                    "1 → 3 or 3 → 1 channel conversions",
                ));
            }
        };
        Ok(s)
    }
    fn num_classes(&self) -> usize {
        self.inner.num_classes()
    }
    fn class_names(&self) -> Option<&[String]> {
        self.inner.class_names()
    }
    fn label(&self, index: usize) -> std::result::Result<usize, nn_data::DataError> {
        self.inner.label(index)
    }
}

/// Loads the splits described by `config` (`seed` drives the train/validation split), converts
/// their channels (`config.channels`) and fits the preprocessing on the training split — or,
/// with `config.preprocess_from`, reloads the fit a run saved (checked against
/// `config.preprocess` and the image shape).
pub fn prepare(config: &DataConfig, seed: u64) -> Result<PreparedData> {
    config.preprocess.validate()?;
    let seed = config.split_seed.unwrap_or(seed);
    let (train, val, test): (Arc<dyn Dataset>, Arc<dyn Dataset>, Arc<dyn Dataset>) = match &config
        .source
    {
        DataSource::Digits => {
            let s = digits_split(seed);
            (Arc::new(s.train), Arc::new(s.val), Arc::new(s.test))
        }
        DataSource::ImageFolder(spec) => {
            let s = load_image_folder(spec, config.val_fraction, seed)?;
            (s.train, s.val, s.test)
        }
        source => {
            let max_bytes = config.max_bytes;
            let load = |split| -> Result<nn_data::InMemoryDataset> {
                let limited = limit_named("data.max_bytes");
                Ok(match source {
                    DataSource::Cifar10(dir) => {
                        load_cifar10_limited(dir, split, max_bytes).map_err(limited)?
                    }
                    DataSource::Cifar100(dir) => {
                        load_cifar100_limited(dir, split, nn_data::Cifar100Labels::Fine, max_bytes)
                            .map_err(limited)?
                    }
                    DataSource::Mnist(dir) => {
                        load_mnist_limited(dir, split, max_bytes).map_err(limited)?
                    }
                    DataSource::FashionMnist(Some(dir)) => {
                        load_fashion_mnist_limited(dir, split, max_bytes).map_err(limited)?
                    }
                    DataSource::FashionMnist(None) => {
                        let dir = find_fashion_mnist(&[FASHION_MNIST_DEBIAN_DIR.as_ref()])?;
                        load_fashion_mnist_limited(&dir, split, max_bytes).map_err(limited)?
                    }
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
    let (train, val, test) = match config.channels {
        Some(channels) => {
            let convert = |inner| -> Arc<dyn Dataset> { Arc::new(Channels { inner, channels }) };
            (convert(train), convert(val), convert(test))
        }
        None => (train, val, test),
    };
    // Without validation (an explicit choice), a fixed validation split joins the training set.
    let (train, val): (Arc<dyn Dataset>, Arc<dyn Dataset>) = if config.no_validation {
        let train: Arc<dyn Dataset> = if val.is_empty() {
            train
        } else {
            Arc::new(Concat::new(vec![train, val.clone()])?)
        };
        (train, Arc::new(Subset::first(val, 0)))
    } else {
        (train, val)
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
    if val.is_empty() && !config.no_validation {
        return Err(invalid(
            "data.val_fraction",
            config.val_fraction,
            &format!(
                "a fraction that leaves at least one validation image (model selection and early \
                 stopping need one; {source} has {} training images after the split), or \
                 data.no_validation = true to train without model selection (the last epoch is kept)",
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
    // The splits must agree on the image shape before anything trains (a test split of
    // another size would otherwise fail after the whole training).
    for (split, data) in [("validation", &val), ("test", &test)] {
        if let Some(other) = (!data.is_empty()).then(|| data.get(0)).transpose()?
            && other.image.dim() != (c, h, w)
        {
            return Err(invalid(
                "data.source",
                format!(
                    "{source}: {split} images of shape {:?}",
                    other.image.shape()
                ),
                &format!("the training images' shape [{c}, {h}, {w}] in every split"),
            ));
        }
    }
    let image_shape = [c, h, w];
    let fitted = match &config.preprocess_from {
        Some(path) => {
            let saved = FittedPreprocessing::load(path)?;
            saved.check(&config.preprocess, image_shape, path)?;
            saved.fitted
        }
        None => config.preprocess.fit(train.as_ref())?,
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
        image_shape,
        input_shape: fitted.output_shape(image_shape),
        setting: config.preprocess.clone(),
        preprocess: Arc::new(fitted),
        color_pca: None,
    })
}

/// A loader over `dataset`: per image, `augment` (if any) then the per-image preprocessing; per
/// batch, the batched preprocessing (PCA / ZCA: one matrix product per batch), then `hooks` in
/// order.
pub fn loader(
    dataset: Arc<dyn Dataset>,
    config: LoaderConfig,
    augment: Option<Arc<nn_augment::Pipeline>>,
    preprocess: Arc<Fitted>,
    hooks: Vec<BatchHook>,
) -> Result<DataLoader> {
    use nn_augment::Transform as _;
    let per_image = (!preprocess.is_batched()).then(|| preprocess.clone());
    let transform: SampleTransform = match (augment, per_image) {
        (Some(pipeline), Some(pre)) => Arc::new(move |image, rng| {
            let image = pipeline.apply_random(&image, rng);
            pre.apply(image)
        }),
        (Some(pipeline), None) => Arc::new(move |image, rng| pipeline.apply_random(&image, rng)),
        (None, Some(pre)) => Arc::new(move |image, _rng| pre.apply(image)),
        (None, None) => Arc::new(|image, _rng| image),
    };
    let mut steps: Vec<BatchHook> = Vec::with_capacity(hooks.len() + 1);
    if preprocess.is_batched() {
        steps.push(Arc::new(move |mut batch: Batch, _rng: &mut _| {
            preprocess.apply_batch(&mut batch.images);
            batch
        }));
    }
    steps.extend(hooks);
    let loader = DataLoader::new(dataset, config)?.with_transform(transform);
    Ok(match chain(steps) {
        Some(hook) => loader.with_batch_hook(hook),
        None => loader,
    })
}
