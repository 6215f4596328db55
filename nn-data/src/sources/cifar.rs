//! CIFAR-10 and CIFAR-100 in their binary format (Krizhevsky, 2009,
//! <https://www.cs.toronto.edu/~kriz/cifar.html>, the "binary version" downloads).
//!
//! CIFAR-10 files (`data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin`) are records of
//! 1 label byte + 3,072 pixel bytes (1,024 red, 1,024 green, 1,024 blue, row-major 32×32) — already
//! CHW. CIFAR-100 files (`train.bin`, `test.bin`) have 2 label bytes (coarse, then fine) before
//! the pixels. Pixels are kept as bytes and scaled by 1/255 on access.

use super::{Split, read_file_limited};
use crate::{DEFAULT_MAX_IDX_BYTES, DataError, InMemoryDataset};
use ndarray::Array4;
use std::path::{Path, PathBuf};

/// Pixel bytes of one 32×32 RGB image.
pub const CIFAR_IMAGE_BYTES: usize = 3 * 32 * 32;

/// The CIFAR-10 class names, by label.
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// The CIFAR-100 fine ("fine_label_names") class names, by label.
pub const CIFAR100_FINE_CLASSES: [&str; 100] = [
    "apple",
    "aquarium_fish",
    "baby",
    "bear",
    "beaver",
    "bed",
    "bee",
    "beetle",
    "bicycle",
    "bottle",
    "bowl",
    "boy",
    "bridge",
    "bus",
    "butterfly",
    "camel",
    "can",
    "castle",
    "caterpillar",
    "cattle",
    "chair",
    "chimpanzee",
    "clock",
    "cloud",
    "cockroach",
    "couch",
    "crab",
    "crocodile",
    "cup",
    "dinosaur",
    "dolphin",
    "elephant",
    "flatfish",
    "forest",
    "fox",
    "girl",
    "hamster",
    "house",
    "kangaroo",
    "keyboard",
    "lamp",
    "lawn_mower",
    "leopard",
    "lion",
    "lizard",
    "lobster",
    "man",
    "maple_tree",
    "motorcycle",
    "mountain",
    "mouse",
    "mushroom",
    "oak_tree",
    "orange",
    "orchid",
    "otter",
    "palm_tree",
    "pear",
    "pickup_truck",
    "pine_tree",
    "plain",
    "plate",
    "poppy",
    "porcupine",
    "possum",
    "rabbit",
    "raccoon",
    "ray",
    "road",
    "rocket",
    "rose",
    "sea",
    "seal",
    "shark",
    "shrew",
    "skunk",
    "skyscraper",
    "snail",
    "snake",
    "spider",
    "squirrel",
    "streetcar",
    "sunflower",
    "sweet_pepper",
    "table",
    "tank",
    "telephone",
    "television",
    "tiger",
    "tractor",
    "train",
    "trout",
    "tulip",
    "turtle",
    "wardrobe",
    "whale",
    "willow_tree",
    "wolf",
    "woman",
    "worm",
];

/// The CIFAR-100 coarse ("coarse_label_names", superclass) names, by label.
pub const CIFAR100_COARSE_CLASSES: [&str; 20] = [
    "aquatic_mammals",
    "fish",
    "flowers",
    "food_containers",
    "fruit_and_vegetables",
    "household_electrical_devices",
    "household_furniture",
    "insects",
    "large_carnivores",
    "large_man-made_outdoor_things",
    "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores",
    "medium_mammals",
    "non-insect_invertebrates",
    "people",
    "reptiles",
    "small_mammals",
    "trees",
    "vehicles_1",
    "vehicles_2",
];

/// Which of CIFAR-100's two labels to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cifar100Labels {
    /// The 100 fine classes (the usual benchmark).
    #[default]
    Fine,
    /// The 20 superclasses.
    Coarse,
}

/// The record layout of a CIFAR binary file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CifarFormat {
    /// 1 label byte (`< 10`) + 3,072 pixels.
    Cifar10,
    /// 2 label bytes (coarse `< 20`, fine `< 100`) + 3,072 pixels; keep the chosen one.
    Cifar100(Cifar100Labels),
}

impl CifarFormat {
    fn label_bytes(self) -> usize {
        match self {
            CifarFormat::Cifar10 => 1,
            CifarFormat::Cifar100(_) => 2,
        }
    }

    /// Bytes per record.
    pub fn record_bytes(self) -> usize {
        self.label_bytes() + CIFAR_IMAGE_BYTES
    }

    /// Number of classes of the kept label.
    pub fn num_classes(self) -> usize {
        match self {
            CifarFormat::Cifar10 => 10,
            CifarFormat::Cifar100(Cifar100Labels::Fine) => 100,
            CifarFormat::Cifar100(Cifar100Labels::Coarse) => 20,
        }
    }

    fn class_names(self) -> &'static [&'static str] {
        match self {
            CifarFormat::Cifar10 => &CIFAR10_CLASSES,
            CifarFormat::Cifar100(Cifar100Labels::Fine) => &CIFAR100_FINE_CLASSES,
            CifarFormat::Cifar100(Cifar100Labels::Coarse) => &CIFAR100_COARSE_CLASSES,
        }
    }
}

/// Parses the bytes of one CIFAR binary file, appending pixels (CHW bytes) and labels.
///
/// Errors (naming `origin`): an empty file, a size that is not a whole number of records (the
/// last record is truncated), or a label out of range (both labels are checked for CIFAR-100).
pub fn parse_cifar(
    bytes: &[u8],
    format: CifarFormat,
    origin: &Path,
    pixels: &mut Vec<u8>,
    labels: &mut Vec<usize>,
) -> Result<(), DataError> {
    let rec = format.record_bytes();
    if bytes.is_empty() || bytes.len() % rec != 0 {
        let whole = bytes.len() / rec;
        return Err(DataError::Truncated {
            path: origin.into(),
            what: format!("record {whole} (records are {rec} bytes)"),
            expected: rec,
            found: bytes.len() % rec,
        });
    }
    pixels.reserve(bytes.len() / rec * CIFAR_IMAGE_BYTES);
    for (record, chunk) in bytes.chunks_exact(rec).enumerate() {
        let label = match format {
            CifarFormat::Cifar10 => check(chunk[0], 10, origin, record)?,
            CifarFormat::Cifar100(which) => {
                let coarse = check(chunk[0], 20, origin, record)?;
                let fine = check(chunk[1], 100, origin, record)?;
                if which == Cifar100Labels::Fine {
                    fine
                } else {
                    coarse
                }
            }
        };
        labels.push(label);
        pixels.extend_from_slice(&chunk[format.label_bytes()..]);
    }
    Ok(())
}

fn check(byte: u8, num_classes: usize, path: &Path, record: usize) -> Result<usize, DataError> {
    let label = usize::from(byte);
    if label < num_classes {
        Ok(label)
    } else {
        Err(DataError::LabelOutOfRange {
            path: path.into(),
            record,
            label,
            num_classes,
        })
    }
}

/// Reads CIFAR binary files (in the given order) into one in-memory data set with class names;
/// each file may hold at most [`DEFAULT_MAX_IDX_BYTES`] (1 GiB, see [`load_cifar_files_limited`]).
pub fn load_cifar_files<P: AsRef<Path>>(
    paths: &[P],
    format: CifarFormat,
) -> Result<InMemoryDataset, DataError> {
    load_cifar_files_limited(paths, format, DEFAULT_MAX_IDX_BYTES)
}

/// [`load_cifar_files`] with a limit on each file's size in bytes (the official files are
/// 30.7 MB per CIFAR-10 batch and 153.6 MB for CIFAR-100's `train.bin`): a larger file is
/// refused with [`DataError::TooLarge`] naming it, from its metadata before it is read (and
/// again while reading, in case it grows), so a huge or endless file never fills the memory.
pub fn load_cifar_files_limited<P: AsRef<Path>>(
    paths: &[P],
    format: CifarFormat,
    max_bytes: u64,
) -> Result<InMemoryDataset, DataError> {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for p in paths {
        let bytes = read_file_limited(p.as_ref(), max_bytes)?;
        parse_cifar(&bytes, format, p.as_ref(), &mut pixels, &mut labels)?;
    }
    let images = Array4::from_shape_vec((labels.len(), 3, 32, 32), pixels).map_err(|e| {
        DataError::invalid("paths", format!("{} files", paths.len()), e.to_string())
    })?;
    InMemoryDataset::from_u8(images, 255.0, labels, format.num_classes())?
        .with_class_names(format.class_names().iter().copied())
}

/// The file names of a CIFAR-10 split inside the extracted `cifar-10-batches-bin` folder.
pub fn cifar10_files(dir: &Path, split: Split) -> Vec<PathBuf> {
    match split {
        Split::Train => (1..=5)
            .map(|k| dir.join(format!("data_batch_{k}.bin")))
            .collect(),
        Split::Test => vec![dir.join("test_batch.bin")],
    }
}

/// CIFAR-10 from the extracted `cifar-10-batches-bin` folder: 50,000 training or 10,000 test
/// images `[3, 32, 32]`, 10 classes. Each file may hold at most [`DEFAULT_MAX_IDX_BYTES`].
///
/// ```no_run
/// use nn_data::{load_cifar10, Dataset, Split};
/// let train = load_cifar10("data/cifar-10-batches-bin".as_ref(), Split::Train)?;
/// assert_eq!(train.len(), 50_000);
/// # Ok::<(), nn_data::DataError>(())
/// ```
pub fn load_cifar10(dir: &Path, split: Split) -> Result<InMemoryDataset, DataError> {
    load_cifar10_limited(dir, split, DEFAULT_MAX_IDX_BYTES)
}

/// [`load_cifar10`] with a limit on each file's size in bytes ([`load_cifar_files_limited`]).
pub fn load_cifar10_limited(
    dir: &Path,
    split: Split,
    max_bytes: u64,
) -> Result<InMemoryDataset, DataError> {
    load_cifar_files_limited(&cifar10_files(dir, split), CifarFormat::Cifar10, max_bytes)
}

/// CIFAR-100 from the extracted `cifar-100-binary` folder (`train.bin` or `test.bin`), of at
/// most [`DEFAULT_MAX_IDX_BYTES`].
pub fn load_cifar100(
    dir: &Path,
    split: Split,
    labels: Cifar100Labels,
) -> Result<InMemoryDataset, DataError> {
    load_cifar100_limited(dir, split, labels, DEFAULT_MAX_IDX_BYTES)
}

/// [`load_cifar100`] with a limit on the file's size in bytes ([`load_cifar_files_limited`]).
pub fn load_cifar100_limited(
    dir: &Path,
    split: Split,
    labels: Cifar100Labels,
    max_bytes: u64,
) -> Result<InMemoryDataset, DataError> {
    let file = match split {
        Split::Train => "train.bin",
        Split::Test => "test.bin",
    };
    load_cifar_files_limited(&[dir.join(file)], CifarFormat::Cifar100(labels), max_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dataset;

    /// A tiny CIFAR-10 file: record `r` has label `r % 10` and pixel `i` = `(r + i) % 256`.
    pub(crate) fn cifar10_bytes(records: usize) -> Vec<u8> {
        let mut v = Vec::new();
        for r in 0..records {
            v.push((r % 10) as u8);
            v.extend((0..CIFAR_IMAGE_BYTES).map(|i| ((r + i) % 256) as u8));
        }
        v
    }

    #[test]
    fn reads_cifar10_split_from_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        for (k, f) in cifar10_files(dir.path(), Split::Train).iter().enumerate() {
            std::fs::write(f, cifar10_bytes(k + 1)).unwrap();
        }
        let ds = load_cifar10(dir.path(), Split::Train).unwrap();
        assert_eq!(ds.len(), 1 + 2 + 3 + 4 + 5);
        assert_eq!(ds.class_names().unwrap()[9], "truck");
        let s = ds.get(2).unwrap(); // second file, record 1
        assert_eq!(s.label, 1);
        // Pixel i of record 1 is (1 + i) % 256; channel 1 starts at i = 1024, i.e. 1025 % 256 = 1.
        assert_eq!(s.image[[0, 0, 0]], 1.0 / 255.0);
        assert_eq!(s.image[[1, 0, 0]], 1.0 / 255.0);
        assert_eq!(s.image[[0, 0, 5]], 6.0 / 255.0);
        let err = load_cifar10(dir.path(), Split::Test).unwrap_err();
        assert!(err.to_string().contains("test_batch.bin"), "{err}");
    }

    #[test]
    fn files_above_the_byte_limit_are_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        for f in cifar10_files(dir.path(), Split::Train) {
            std::fs::write(f, cifar10_bytes(2)).unwrap();
        }
        let ok = load_cifar10_limited(dir.path(), Split::Train, 2 * 3073).unwrap();
        assert_eq!(ok.len(), 10);
        let err = load_cifar10_limited(dir.path(), Split::Train, 2 * 3073 - 1).unwrap_err();
        assert!(
            matches!(
                &err,
                DataError::TooLarge {
                    path,
                    bytes: 6146,
                    max_bytes: 6145,
                    ..
                } if path.ends_with("data_batch_1.bin")
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("data_batch_1.bin")
                && err.to_string().contains("limit of 6145 bytes"),
            "{err}"
        );
        // A sparse file of 2 GiB is refused from its metadata: nothing is read (the default
        // limit is 1 GiB), so this test allocates nothing.
        let huge = dir.path().join("train.bin");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(2 << 30)
            .unwrap();
        let err = load_cifar100(dir.path(), Split::Train, Cifar100Labels::Fine).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::TooLarge {
                    bytes: 2_147_483_648,
                    max_bytes: DEFAULT_MAX_IDX_BYTES,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn cifar100_chooses_fine_or_coarse() {
        let mut rec = vec![19u8, 99];
        rec.extend(std::iter::repeat_n(7u8, CIFAR_IMAGE_BYTES));
        let (mut px, mut fine, mut coarse) = (Vec::new(), Vec::new(), Vec::new());
        let p = Path::new("train.bin");
        parse_cifar(
            &rec,
            CifarFormat::Cifar100(Cifar100Labels::Fine),
            p,
            &mut px,
            &mut fine,
        )
        .unwrap();
        parse_cifar(
            &rec,
            CifarFormat::Cifar100(Cifar100Labels::Coarse),
            p,
            &mut px,
            &mut coarse,
        )
        .unwrap();
        assert_eq!((fine[0], coarse[0]), (99, 19));
        assert_eq!(CIFAR100_FINE_CLASSES[99], "worm");
        rec[1] = 100;
        let err = parse_cifar(
            &rec,
            CifarFormat::Cifar100(Cifar100Labels::Coarse),
            p,
            &mut px,
            &mut coarse,
        );
        assert!(matches!(
            err,
            Err(DataError::LabelOutOfRange { label: 100, .. })
        ));
    }

    #[test]
    fn truncated_and_bad_label_files_are_typed_errors() {
        let p = Path::new("data_batch_1.bin");
        let (mut px, mut l) = (Vec::new(), Vec::new());
        let mut bytes = cifar10_bytes(3);
        bytes.pop();
        let err = parse_cifar(&bytes, CifarFormat::Cifar10, p, &mut px, &mut l).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Truncated {
                    expected: 3073,
                    found: 3072,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("data_batch_1.bin") && err.to_string().contains("record 2")
        );
        assert!(parse_cifar(&[], CifarFormat::Cifar10, p, &mut px, &mut l).is_err());
        let mut bytes = cifar10_bytes(2);
        bytes[3073] = 10;
        let err = parse_cifar(&bytes, CifarFormat::Cifar10, p, &mut px, &mut l).unwrap_err();
        assert!(matches!(
            err,
            DataError::LabelOutOfRange {
                record: 1,
                label: 10,
                ..
            }
        ));
    }
}
