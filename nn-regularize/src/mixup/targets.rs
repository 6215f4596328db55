//! Soft targets: one-hot with label smoothing, and the mixing of two targets.
//!
//! Label smoothing (Szegedy et al., "Rethinking the Inception Architecture", CVPR 2016) with
//! strength ε over K classes replaces the one-hot target e_y by
//!
//! ```text
//! t = (1 − ε)·e_y + ε/K          (on-value 1 − ε + ε/K, off-value ε/K; rows sum to 1)
//! ```
//!
//! exactly as PyTorch's `CrossEntropyLoss(label_smoothing=ε)` and timm's `mixup_target`. Mixing
//! two smoothed targets with λ, λ·t_a + (1 − λ)·t_b = (1 − ε)·(λ·e_a + (1 − λ)·e_b) + ε/K, is the
//! same as smoothing the mixed target: the order does not matter.

use ndarray::Array2;

use crate::error::{RegularizeError, Result};

/// Checks every label is below `num_classes`.
pub(crate) fn check_labels(op: &'static str, labels: &[usize], num_classes: usize) -> Result<()> {
    match labels.iter().position(|&l| l >= num_classes) {
        Some(index) => Err(RegularizeError::LabelOutOfRange {
            op,
            index,
            label: labels[index],
            num_classes,
        }),
        None => Ok(()),
    }
}

/// One-hot targets `[N, K]` with label smoothing ε: 1 − ε + ε/K at the label, ε/K elsewhere
/// (ε = 0 gives plain one-hot rows).
///
/// Errors if a label is ≥ `num_classes` or ε is outside [0, 1].
///
/// ```
/// let t = nn_regularize::smooth_one_hot(&[2, 0], 4, 0.1).unwrap();
/// assert!((t[[0, 2]] - 0.925).abs() < 1e-6 && (t[[0, 0]] - 0.025).abs() < 1e-6);
/// ```
pub fn smooth_one_hot(labels: &[usize], num_classes: usize, smoothing: f32) -> Result<Array2<f32>> {
    crate::error::check_range(
        "smooth_one_hot",
        "smoothing",
        smoothing,
        0.0,
        1.0,
        "a value in [0, 1]",
    )?;
    check_labels("smooth_one_hot", labels, num_classes)?;
    let off = smoothing / num_classes as f32;
    let on = 1.0 - smoothing + off;
    let mut t = Array2::from_elem((labels.len(), num_classes), off);
    for (i, &l) in labels.iter().enumerate() {
        t[[i, l]] = on;
    }
    Ok(t)
}

/// Mixed targets: row i is λᵢ·targets\[i\] + (1 − λᵢ)·targets\[partner(i)\], with partner(i) =
/// N − 1 − i (the flipped batch, as timm pairs samples).
///
/// # Panics
/// If `lam.len()` differs from the number of rows.
pub fn mix_targets(targets: &Array2<f32>, lam: &[f32]) -> Array2<f32> {
    let n = targets.nrows();
    assert_eq!(
        lam.len(),
        n,
        "mix_targets: {} λ values for {n} targets",
        lam.len()
    );
    let mut out = targets.clone();
    for (i, mut row) in out.outer_iter_mut().enumerate() {
        let l = lam[i];
        if l != 1.0 {
            let other = targets.row(n - 1 - i);
            row.zip_mut_with(&other, |a, &b| *a = *a * l + b * (1.0 - l));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_sum_to_one_and_errors() {
        let t = smooth_one_hot(&[0, 3, 1], 4, 0.2).unwrap();
        for r in t.outer_iter() {
            assert!((r.sum() - 1.0).abs() < 1e-6);
        }
        assert_eq!(
            smooth_one_hot(&[1], 3, 0.0).unwrap().row(0).to_vec(),
            vec![0.0, 1.0, 0.0]
        );
        let e = smooth_one_hot(&[0, 5], 4, 0.1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "smooth_one_hot: label 5 of sample 1 is out of range for 4 classes"
        );
        assert!(smooth_one_hot(&[0], 4, 1.5).is_err());
    }

    #[test]
    fn mixing_order_does_not_matter() {
        let (lab, k, eps) = ([1usize, 2, 0, 3], 5, 0.1);
        let lam = [0.3, 0.6, 0.6, 0.3];
        let smooth_then_mix = mix_targets(&smooth_one_hot(&lab, k, eps).unwrap(), &lam);
        let mixed = mix_targets(&smooth_one_hot(&lab, k, 0.0).unwrap(), &lam);
        let mix_then_smooth = mixed.mapv(|v| (1.0 - eps) * v + eps / k as f32);
        for (a, b) in smooth_then_mix.iter().zip(mix_then_smooth.iter()) {
            assert!((a - b).abs() < 1e-6);
        }
        // "40 % cat, 60 % dog".
        let t = mix_targets(&smooth_one_hot(&[0, 1], 2, 0.0).unwrap(), &[0.4, 0.6]);
        assert_eq!(t.row(0).to_vec(), vec![0.4, 0.6]);
    }
}
