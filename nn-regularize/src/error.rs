//! The crate's error type: invalid hyperparameters and invalid batches.
//!
//! Hyperparameters are validated once, when a config is turned into a regulariser
//! (`XConfig::init`); batch-level transforms (mixup, CutMix, cutout, label smoothing) validate the
//! batch they are given (labels in range, labels matching the images). Shape mismatches inside the
//! autograd ops are programmer errors and panic with the op's name and the shapes instead.

use thiserror::Error;

/// Everything that can go wrong when configuring or applying a regulariser.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RegularizeError {
    /// A hyperparameter is out of its valid range.
    #[error("{config}: `{field}` = {value} is invalid; expected {expected}")]
    InvalidHyperparameter {
        /// The config type (e.g. `DropoutConfig`).
        config: &'static str,
        /// The field name (e.g. `drop_prob`).
        field: &'static str,
        /// The rejected value, formatted.
        value: String,
        /// What would have been accepted (e.g. `a probability in [0, 1]`).
        expected: &'static str,
    },
    /// A class label is not below the number of classes.
    #[error("{op}: label {label} of sample {index} is out of range for {num_classes} classes")]
    LabelOutOfRange {
        /// The transform that rejected the label.
        op: &'static str,
        /// The sample's position in the batch.
        index: usize,
        /// The offending label.
        label: usize,
        /// The configured number of classes.
        num_classes: usize,
    },
    /// The parts of a batch do not fit together (e.g. 32 images but 31 labels).
    #[error("{op}: {detail}")]
    BatchMismatch {
        /// The transform that rejected the batch.
        op: &'static str,
        /// What does not fit, with the sizes.
        detail: String,
    },
}

/// Shorthand for `Result<T, RegularizeError>`.
pub type Result<T> = std::result::Result<T, RegularizeError>;

/// Checks that `value` is a probability in `[lo, hi]` (inclusive bounds given by the caller).
pub(crate) fn check_range(
    config: &'static str,
    field: &'static str,
    value: f32,
    lo: f32,
    hi: f32,
    expected: &'static str,
) -> Result<()> {
    if value.is_finite() && value >= lo && value <= hi {
        Ok(())
    } else {
        Err(RegularizeError::InvalidHyperparameter {
            config,
            field,
            value: value.to_string(),
            expected,
        })
    }
}

/// Builds an [`RegularizeError::InvalidHyperparameter`].
pub(crate) fn invalid(
    config: &'static str,
    field: &'static str,
    value: impl ToString,
    expected: &'static str,
) -> RegularizeError {
    RegularizeError::InvalidHyperparameter {
        config,
        field,
        value: value.to_string(),
        expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_field_and_value() {
        let e = check_range(
            "DropoutConfig",
            "drop_prob",
            1.5,
            0.0,
            1.0,
            "a probability in [0, 1]",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "DropoutConfig: `drop_prob` = 1.5 is invalid; expected a probability in [0, 1]"
        );
        assert!(check_range("C", "f", f32::NAN, 0.0, 1.0, "x").is_err());
        assert!(check_range("C", "f", 1.0, 0.0, 1.0, "x").is_ok());
    }
}
