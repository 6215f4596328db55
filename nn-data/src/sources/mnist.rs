//! MNIST (LeCun et al., 1998) and Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017) from their IDX
//! files, plain or gzipped: 28×28 grayscale images `[1, 28, 28]` scaled by 1/255, 10 classes.

use super::Split;
use super::idx::{DEFAULT_MAX_IDX_BYTES, IdxArray, read_idx_limited};
use crate::{DataError, InMemoryDataset};
use ndarray::Array4;
use std::path::{Path, PathBuf};

/// The MNIST class names (the digits).
pub const MNIST_CLASSES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// The Fashion-MNIST class names, by label.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// An image/label pair of IDX files as one data set: images must be `N×H×W` bytes, labels `N`
/// bytes each `< class_names.len()`.
pub fn load_idx_pair(
    images: &Path,
    labels: &Path,
    class_names: &[&str],
) -> Result<InMemoryDataset, DataError> {
    load_idx_pair_limited(images, labels, class_names, DEFAULT_MAX_IDX_BYTES)
}

/// [`load_idx_pair`] with a limit on each file's decoded size in bytes ([`read_idx_limited`]):
/// a gzipped file is refused from its header, before it is inflated.
pub fn load_idx_pair_limited(
    images: &Path,
    labels: &Path,
    class_names: &[&str],
    max_bytes: u64,
) -> Result<InMemoryDataset, DataError> {
    idx_pair_dataset(
        read_idx_limited(images, max_bytes)?,
        read_idx_limited(labels, max_bytes)?,
        images,
        labels,
        class_names,
    )
}

/// A data set from parsed IDX images (`N×H×W`) and labels (`N`); the paths name the sources in
/// errors.
pub fn idx_pair_dataset(
    img: IdxArray,
    lab: IdxArray,
    images: &Path,
    labels: &Path,
    class_names: &[&str],
) -> Result<InMemoryDataset, DataError> {
    let [n, h, w] = img.dims[..] else {
        return Err(DataError::malformed(
            images,
            format!(
                "expected 3 IDX dimensions (N, H, W) for images, found {:?}",
                img.dims
            ),
        ));
    };
    if lab.dims.len() != 1 {
        return Err(DataError::malformed(
            labels,
            format!(
                "expected 1 IDX dimension (N) for labels, found {:?}",
                lab.dims
            ),
        ));
    }
    if lab.dims[0] != n {
        return Err(DataError::malformed(
            labels,
            format!(
                "{} labels for {n} images in {}",
                lab.dims[0],
                images.display()
            ),
        ));
    }
    let num_classes = class_names.len();
    let mut label_vec = Vec::with_capacity(n);
    for (record, &l) in lab.data.iter().enumerate() {
        let label = usize::from(l);
        if label >= num_classes {
            return Err(DataError::LabelOutOfRange {
                path: labels.into(),
                record,
                label,
                num_classes,
            });
        }
        label_vec.push(label);
    }
    let pixels = Array4::from_shape_vec((n, 1, h, w), img.data)
        .map_err(|e| DataError::malformed(images, e.to_string()))?;
    InMemoryDataset::from_u8(pixels, 255.0, label_vec, num_classes)?
        .with_class_names(class_names.iter().copied())
}

/// The image and label files of an MNIST-style split in `dir`: the first existing one of
/// `train-images-idx3-ubyte`, `train-images.idx3-ubyte` (either possibly with `.gz`), and
/// likewise for labels (`t10k-…` for the test split).
pub fn mnist_files(dir: &Path, split: Split) -> Result<(PathBuf, PathBuf), DataError> {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let find = |kind: &str, idx: u8| {
        let names = [
            format!("{prefix}-{kind}-idx{idx}-ubyte"),
            format!("{prefix}-{kind}.idx{idx}-ubyte"),
        ];
        let candidates: Vec<PathBuf> = names
            .iter()
            .flat_map(|n| [dir.join(n), dir.join(format!("{n}.gz"))])
            .collect();
        candidates
            .iter()
            .find(|p| p.is_file())
            .cloned()
            .ok_or_else(|| {
                DataError::io(
                    &candidates[1],
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("no MNIST {kind} file (tried {} and variants)", names[0]),
                    ),
                )
            })
    };
    Ok((find("images", 3)?, find("labels", 1)?))
}

/// MNIST from a folder holding the four IDX files (as downloaded, gzipped or not).
pub fn load_mnist(dir: &Path, split: Split) -> Result<InMemoryDataset, DataError> {
    load_mnist_limited(dir, split, DEFAULT_MAX_IDX_BYTES)
}

/// [`load_mnist`] with a limit on each file's decoded size in bytes ([`load_idx_pair_limited`]).
pub fn load_mnist_limited(
    dir: &Path,
    split: Split,
    max_bytes: u64,
) -> Result<InMemoryDataset, DataError> {
    let (images, labels) = mnist_files(dir, split)?;
    load_idx_pair_limited(&images, &labels, &MNIST_CLASSES, max_bytes)
}

/// Fashion-MNIST from a folder holding its four IDX files (same names as MNIST's).
pub fn load_fashion_mnist(dir: &Path, split: Split) -> Result<InMemoryDataset, DataError> {
    load_fashion_mnist_limited(dir, split, DEFAULT_MAX_IDX_BYTES)
}

/// [`load_fashion_mnist`] with a limit on each file's decoded size in bytes.
pub fn load_fashion_mnist_limited(
    dir: &Path,
    split: Split,
    max_bytes: u64,
) -> Result<InMemoryDataset, DataError> {
    let (images, labels) = mnist_files(dir, split)?;
    load_idx_pair_limited(&images, &labels, &FASHION_MNIST_CLASSES, max_bytes)
}

/// Where Debian's `dataset-fashion-mnist` package installs the four gzipped IDX files.
pub const FASHION_MNIST_DEBIAN_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The Debian package that installs Fashion-MNIST.
pub const FASHION_MNIST_DEBIAN_PACKAGE: &str = "dataset-fashion-mnist";

/// The first of `candidates` that holds Fashion-MNIST's four IDX files (plain or gzipped), or
/// [`DataError::NotInstalled`] naming the Debian package.
pub fn find_fashion_mnist(candidates: &[&Path]) -> Result<PathBuf, DataError> {
    candidates
        .iter()
        .find(|dir| mnist_files(dir, Split::Train).is_ok() && mnist_files(dir, Split::Test).is_ok())
        .map(|dir| dir.to_path_buf())
        .ok_or_else(|| DataError::NotInstalled {
            dataset: "Fashion-MNIST",
            paths: candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            package: FASHION_MNIST_DEBIAN_PACKAGE,
        })
}

/// Fashion-MNIST from the system's data sets: the files of Debian's `dataset-fashion-mnist`
/// package in [`FASHION_MNIST_DEBIAN_DIR`], no path needed. When the package is not installed
/// the error names it.
pub fn load_fashion_mnist_system(split: Split) -> Result<InMemoryDataset, DataError> {
    let dir = find_fashion_mnist(&[Path::new(FASHION_MNIST_DEBIAN_DIR)])?;
    load_fashion_mnist(&dir, split)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_system_data_set_names_the_package() {
        let none = tempfile::tempdir().unwrap();
        let err = find_fashion_mnist(&[none.path()]).unwrap_err();
        assert!(matches!(err, DataError::NotInstalled { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("dataset-fashion-mnist") && text.contains("apt-get install"),
            "{text}"
        );
        assert!(text.contains(&none.path().display().to_string()), "{text}");
    }

    #[test]
    fn the_debian_package_is_found_without_a_path() {
        if !Path::new(FASHION_MNIST_DEBIAN_DIR).is_dir() {
            assert!(
                std::env::var_os("NN_REQUIRE_SYSTEM_DATASETS").is_none(),
                "{FASHION_MNIST_DEBIAN_PACKAGE} is not installed but NN_REQUIRE_SYSTEM_DATASETS is set"
            );
            eprintln!("skipped: {FASHION_MNIST_DEBIAN_PACKAGE} is not installed");
            return;
        }
        let test = load_fashion_mnist_system(Split::Test).unwrap();
        assert_eq!(test.len(), 10_000);
        assert_eq!(test.image_shape(), [1, 28, 28]);
        assert_eq!(test.class_names().unwrap()[9], "Ankle boot");
    }
    use crate::Dataset;
    use crate::sources::idx::encode_idx;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn write_gz(path: &Path, bytes: &[u8]) {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(bytes).unwrap();
        std::fs::write(path, e.finish().unwrap()).unwrap();
    }

    #[test]
    fn loads_gzipped_and_plain_files() {
        let dir = tempfile::tempdir().unwrap();
        let px: Vec<u8> = (0..3 * 28 * 28).map(|i| (i % 256) as u8).collect();
        write_gz(
            &dir.path().join("train-images-idx3-ubyte.gz"),
            &encode_idx(&[3, 28, 28], &px),
        );
        std::fs::write(
            dir.path().join("train-labels-idx1-ubyte"),
            encode_idx(&[3], &[7, 0, 9]),
        )
        .unwrap();
        let ds = load_fashion_mnist(dir.path(), Split::Train).unwrap();
        assert_eq!(ds.len(), 3);
        assert_eq!(ds.image_shape(), [1, 28, 28]);
        let s = ds.get(2).unwrap();
        assert_eq!(s.label, 9);
        assert_eq!(ds.class_names().unwrap()[9], "Ankle boot");
        assert_eq!(s.image[[0, 0, 1]], ((2 * 784 + 1) % 256) as f32 / 255.0);
        let err = load_mnist(dir.path(), Split::Test).unwrap_err();
        assert!(err.to_string().contains("t10k-images"), "{err}");
    }

    #[test]
    fn inconsistent_pairs_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (i, l) = (dir.path().join("i"), dir.path().join("l"));
        std::fs::write(&i, encode_idx(&[2, 2, 2], &[0; 8])).unwrap();
        std::fs::write(&l, encode_idx(&[3], &[0; 3])).unwrap();
        let err = load_idx_pair(&i, &l, &MNIST_CLASSES).unwrap_err();
        assert!(err.to_string().contains("3 labels for 2 images"), "{err}");
        std::fs::write(&l, encode_idx(&[2], &[0, 10])).unwrap();
        let err = load_idx_pair(&i, &l, &MNIST_CLASSES).unwrap_err();
        assert!(matches!(
            err,
            DataError::LabelOutOfRange {
                record: 1,
                label: 10,
                ..
            }
        ));
        std::fs::write(&i, encode_idx(&[8], &[0; 8])).unwrap();
        assert!(
            load_idx_pair(&i, &l, &MNIST_CLASSES)
                .unwrap_err()
                .to_string()
                .contains("(N, H, W)")
        );
    }
}
