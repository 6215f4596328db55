//! Seeded, stratified splits (train/validation, train/validation/test).
//!
//! Within each class the indices are shuffled with a seeded [`ChaCha8Rng`] (stream = class), then
//! cut at `round(n_c · cumulative fraction)`: every part gets each class in proportion (up to
//! rounding), the result depends only on the labels and the seed, and the parts are returned in
//! ascending index order (shuffling is the loader's job). Like scikit-learn's
//! `train_test_split(..., stratify=y)`.

use super::{Dataset, Subset, labels};
use crate::DataError;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Splits indices `0..labels.len()` into `fractions.len()` parts, stratified by label.
///
/// `fractions` are the parts' shares: each in `[0, 1]`, summing to 1 (±1e-9).
pub fn stratified_split(
    labels: &[usize],
    fractions: &[f64],
    seed: u64,
) -> Result<Vec<Vec<usize>>, DataError> {
    if fractions.is_empty() || fractions.iter().any(|f| !(0.0..=1.0).contains(f)) {
        return Err(DataError::invalid(
            "fractions",
            format!("{fractions:?}"),
            "one or more fractions in [0, 1]",
        ));
    }
    let total: f64 = fractions.iter().sum();
    if (total - 1.0).abs() > 1e-9 {
        return Err(DataError::invalid(
            "fractions",
            format!("{fractions:?}"),
            "a sum of 1",
        ));
    }
    let num_classes = labels.iter().max().map_or(0, |&m| m + 1);
    let mut by_class = vec![Vec::new(); num_classes];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l].push(i);
    }
    let mut parts = vec![Vec::new(); fractions.len()];
    for (class, mut members) in by_class.into_iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(class as u64);
        members.shuffle(&mut rng);
        let n = members.len();
        let mut start = 0;
        let mut cumulative = 0.0;
        for (k, f) in fractions.iter().enumerate() {
            cumulative += f;
            let end = if k + 1 == fractions.len() {
                n
            } else {
                ((n as f64 * cumulative).round() as usize).clamp(start, n)
            };
            parts[k].extend_from_slice(&members[start..end]);
            start = end;
        }
    }
    for p in &mut parts {
        p.sort_unstable();
    }
    Ok(parts)
}

fn check_fraction(field: &'static str, f: f64) -> Result<(), DataError> {
    if (0.0..1.0).contains(&f) {
        Ok(())
    } else {
        Err(DataError::invalid(field, f, "a fraction in [0, 1)"))
    }
}

/// Splits `dataset` into (train, validation) with `val_fraction` of every class in validation.
///
/// `D` is typically an `Arc<…>` or a cheap-to-clone [`InMemoryDataset`](crate::InMemoryDataset).
pub fn train_val_split<D: Dataset + Clone>(
    dataset: D,
    val_fraction: f64,
    seed: u64,
) -> Result<(Subset<D>, Subset<D>), DataError> {
    check_fraction("val_fraction", val_fraction)?;
    let labels = labels(&dataset)?;
    let mut parts = stratified_split(&labels, &[1.0 - val_fraction, val_fraction], seed)?;
    let val = parts.pop().unwrap_or_default();
    let train = parts.pop().unwrap_or_default();
    Ok((
        Subset::new(dataset.clone(), train)?,
        Subset::new(dataset, val)?,
    ))
}

/// The three parts of a [`train_val_test_split`].
#[derive(Debug, Clone)]
pub struct ThreeWaySplit<D> {
    /// The training part.
    pub train: Subset<D>,
    /// The validation part.
    pub val: Subset<D>,
    /// The test part.
    pub test: Subset<D>,
}

/// Splits `dataset` into (train, validation, test), stratified; the fractions of validation and
/// test must sum to less than 1.
pub fn train_val_test_split<D: Dataset + Clone>(
    dataset: D,
    val_fraction: f64,
    test_fraction: f64,
    seed: u64,
) -> Result<ThreeWaySplit<D>, DataError> {
    check_fraction("val_fraction", val_fraction)?;
    check_fraction("test_fraction", test_fraction)?;
    let train_fraction = 1.0 - val_fraction - test_fraction;
    if train_fraction <= 0.0 {
        return Err(DataError::invalid(
            "val_fraction + test_fraction",
            val_fraction + test_fraction,
            "a sum < 1",
        ));
    }
    let labels = labels(&dataset)?;
    let mut parts = stratified_split(
        &labels,
        &[train_fraction, val_fraction, test_fraction],
        seed,
    )?;
    let test = parts.pop().unwrap_or_default();
    let val = parts.pop().unwrap_or_default();
    let train = parts.pop().unwrap_or_default();
    Ok(ThreeWaySplit {
        train: Subset::new(dataset.clone(), train)?,
        val: Subset::new(dataset.clone(), val)?,
        test: Subset::new(dataset, test)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parts_partition_and_stratify(
            labels in proptest::collection::vec(0usize..5, 0..200),
            f in 0.0f64..1.0,
            seed in any::<u64>(),
        ) {
            let parts = stratified_split(&labels, &[1.0 - f, f], seed).unwrap();
            let mut all: Vec<usize> = parts.concat();
            all.sort_unstable();
            prop_assert_eq!(all, (0..labels.len()).collect::<Vec<_>>());
            for c in 0..5 {
                let n_c = labels.iter().filter(|&&l| l == c).count();
                let v_c = parts[1].iter().filter(|&&i| labels[i] == c).count();
                prop_assert!((v_c as f64 - n_c as f64 * f).abs() <= 0.5 + 1e-9);
            }
            prop_assert_eq!(&parts, &stratified_split(&labels, &[1.0 - f, f], seed).unwrap());
        }
    }

    #[test]
    fn seeds_differ_and_bad_fractions_are_errors() {
        let labels: Vec<usize> = (0..100).map(|i| i % 2).collect();
        let a = stratified_split(&labels, &[0.5, 0.5], 1).unwrap();
        let b = stratified_split(&labels, &[0.5, 0.5], 2).unwrap();
        assert_ne!(a, b);
        assert!(stratified_split(&labels, &[0.5, 0.6], 1).is_err());
        assert!(stratified_split(&labels, &[-0.1, 1.1], 1).is_err());
        assert!(stratified_split(&labels, &[], 1).is_err());
    }
}
