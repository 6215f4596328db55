//! The embedded default data set: the UCI "Optical Recognition of Handwritten Digits" test set
//! (E. Alpaydin, C. Kaynak, 1998; CC BY 4.0; the copy distributed with scikit-learn as
//! `load_digits`). 1,797 grayscale 8×8 images of the digits 0–9, pixel values 0–16.
//!
//! The gzipped CSV (57 KB) is compiled into the crate with `include_bytes!`: no file access, no
//! download. Pixels are scaled to `[0, 1]` by dividing by 16.

use crate::dataset::{ThreeWaySplit, train_val_test_split};
use crate::{DataError, InMemoryDataset};
use flate2::read::GzDecoder;
use ndarray::Array4;
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

/// The embedded file `data/digits.csv.gz` (1,797 rows of 64 pixels in `0..=16` then the label).
pub const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// Number of samples of the digits data set.
pub const DIGITS_LEN: usize = 1797;

/// Fraction of every class that [`digits_split`] puts in the validation set.
pub const DIGITS_VAL_FRACTION: f64 = 0.15;

/// Fraction of every class that [`digits_split`] puts in the test set.
pub const DIGITS_TEST_FRACTION: f64 = 0.15;

/// The UCI digits: 1,797 images `[1, 8, 8]` in `[0, 1]`, 10 classes named `"0"`…`"9"`.
///
/// Parsed once per process from the embedded file, then shared (cloning is cheap).
pub fn digits() -> InMemoryDataset {
    static DIGITS: OnceLock<InMemoryDataset> = OnceLock::new();
    DIGITS
        .get_or_init(|| {
            parse_digits_csv_gz(DIGITS_CSV_GZ, Path::new("<embedded digits.csv.gz>"))
                .expect("the embedded digits.csv.gz is valid (checked by the crate's tests)")
        })
        .clone()
}

/// The three parts of the deterministic digits split (70/15/15 per class).
pub type DigitsSplit = ThreeWaySplit<InMemoryDataset>;

/// The stratified train/validation/test split of [`digits`] for `seed` (70/15/15 per class,
/// [`DIGITS_VAL_FRACTION`], [`DIGITS_TEST_FRACTION`]).
pub fn digits_split(seed: u64) -> DigitsSplit {
    train_val_test_split(digits(), DIGITS_VAL_FRACTION, DIGITS_TEST_FRACTION, seed)
        .expect("the digits split fractions are valid constants")
}

/// Parses a gzipped digits CSV (`origin` names it in errors).
pub fn parse_digits_csv_gz(bytes: &[u8], origin: &Path) -> Result<InMemoryDataset, DataError> {
    let mut text = String::new();
    GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .map_err(|e| DataError::io(origin, e))?;
    parse_digits_csv(&text, origin)
}

/// Parses the digits CSV: one row per image, 64 integers in `0..=16` then a label in `0..=9`.
pub fn parse_digits_csv(text: &str, origin: &Path) -> Result<InMemoryDataset, DataError> {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (row, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let fields: Vec<&str> = line.trim().split(',').collect();
        if fields.len() != 65 {
            return Err(DataError::malformed(
                origin,
                format!(
                    "row {}: expected 65 fields, found {}",
                    row + 1,
                    fields.len()
                ),
            ));
        }
        for (col, f) in fields.iter().enumerate() {
            let v: u8 = f.trim().parse().map_err(|_| {
                DataError::malformed(origin, format!("row {}, field {}: {f:?}", row + 1, col + 1))
            })?;
            if col < 64 {
                if v > 16 {
                    return Err(DataError::malformed(
                        origin,
                        format!("row {}, pixel {}: {v} is not in 0..=16", row + 1, col + 1),
                    ));
                }
                pixels.push(v);
            } else if v > 9 {
                return Err(DataError::LabelOutOfRange {
                    path: origin.into(),
                    record: row,
                    label: v.into(),
                    num_classes: 10,
                });
            } else {
                labels.push(usize::from(v));
            }
        }
    }
    let images = Array4::from_shape_vec((labels.len(), 1, 8, 8), pixels)
        .map_err(|e| DataError::malformed(origin, e.to_string()))?;
    InMemoryDataset::from_u8(images, 16.0, labels, 10)?
        .with_class_names((0..10).map(|d| d.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dataset;

    #[test]
    fn embedded_digits_match_the_readme() {
        let ds = digits();
        assert_eq!(ds.len(), DIGITS_LEN);
        assert_eq!(ds.image_shape(), [1, 8, 8]);
        let first = ds.get(0).unwrap();
        // First row of the CSV: 0,0,5,13,9,1,0,0,… label 0.
        assert_eq!(first.label, 0);
        assert_eq!(first.image[[0, 0, 2]], 5.0 / 16.0);
        assert_eq!(first.image[[0, 0, 3]], 13.0 / 16.0);
        let mut counts = [0usize; 10];
        for &l in ds.labels() {
            counts[l] += 1;
        }
        assert_eq!(counts, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]);
    }

    #[test]
    fn split_is_deterministic_and_stratified() {
        let a = digits_split(0);
        let b = digits_split(0);
        assert_eq!(a.train.indices(), b.train.indices());
        assert_eq!(a.train.len() + a.val.len() + a.test.len(), DIGITS_LEN);
        assert!((a.test.len() as f64 - 0.15 * DIGITS_LEN as f64).abs() <= 10.0);
        assert_ne!(digits_split(1).test.indices(), a.test.indices());
    }

    #[test]
    fn bad_csv_is_a_typed_error() {
        let p = Path::new("x.csv");
        let row = |label: &str| format!("{}{label}\n", "0,".repeat(64));
        assert!(parse_digits_csv(&row("3"), p).is_ok());
        assert!(matches!(
            parse_digits_csv(&row("12"), p),
            Err(DataError::LabelOutOfRange { .. })
        ));
        assert!(matches!(
            parse_digits_csv("1,2\n", p),
            Err(DataError::Malformed { .. })
        ));
        assert!(
            parse_digits_csv(&row("x"), p)
                .unwrap_err()
                .to_string()
                .contains("x.csv")
        );
        assert!(matches!(
            parse_digits_csv_gz(b"not gzip", p),
            Err(DataError::Io { .. })
        ));
    }
}
