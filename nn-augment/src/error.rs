//! Typed errors for configuration and input problems.

use thiserror::Error;

/// Everything that can go wrong when building or configuring a transform.
///
/// Bad hyperparameters and unreadable configs are reported here (never by a panic); shape
/// mismatches between a transform and an image it was not built for are programmer errors and
/// panic with a message naming the operation and the shapes.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AugmentError {
    /// A hyperparameter is outside its valid range.
    #[error("{transform}: invalid `{field}` = {value}; expected {expected}")]
    InvalidParameter {
        /// Config name of the transform (`random_crop`, `color_jitter`, ...).
        transform: String,
        /// Field path inside the config (`padding`, `transforms[2].p`, ...).
        field: String,
        /// The offending value, formatted.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// A JSON or TOML pipeline config could not be parsed.
    #[error("cannot parse {format} augmentation config: {message}")]
    Parse {
        /// `"JSON"` or `"TOML"`.
        format: &'static str,
        /// The parser's message (it names the line/field).
        message: String,
    },
    /// A transform cannot take the images it would be given (a crop larger than the padded
    /// image, 3 means for 1-channel images, ...), or a pipeline's output shape varies where one
    /// fixed shape is needed. Found by [`crate::Transform::output_size`] before any data is
    /// loaded.
    #[error("{at}{transform}: cannot take images of shape {input} (C×H×W); expected {expected}")]
    Shape {
        /// Where the transform sits in the pipeline (`transforms[2].`, empty at the top).
        at: String,
        /// Config name of the transform (`random_crop`, `normalize`, `pipeline`, ...).
        transform: String,
        /// The input shapes, formatted as a [`crate::ShapeRange`] (`3×[24, 32]×32`).
        input: String,
        /// What the transform needs.
        expected: String,
    },
}

impl AugmentError {
    /// Builds an [`AugmentError::InvalidParameter`].
    pub fn invalid(
        transform: &str,
        field: &str,
        value: impl std::fmt::Debug,
        expected: impl Into<String>,
    ) -> Self {
        AugmentError::InvalidParameter {
            transform: transform.to_string(),
            field: field.to_string(),
            value: format!("{value:?}"),
            expected: expected.into(),
        }
    }

    /// Builds an [`AugmentError::Shape`] for inputs in `input`.
    pub fn shape(transform: &str, input: crate::ShapeRange, expected: impl Into<String>) -> Self {
        AugmentError::Shape {
            at: String::new(),
            transform: transform.to_string(),
            input: input.to_string(),
            expected: expected.into(),
        }
    }

    /// Prefixes the field path (or the transform's place) with `prefix` (used by containers:
    /// `transforms[3].` + field).
    pub fn nested(self, prefix: &str) -> Self {
        match self {
            AugmentError::InvalidParameter {
                transform,
                field,
                value,
                expected,
            } => AugmentError::InvalidParameter {
                transform,
                field: format!("{prefix}{field}"),
                value,
                expected,
            },
            AugmentError::Shape {
                at,
                transform,
                input,
                expected,
            } => AugmentError::Shape {
                at: format!("{prefix}{at}"),
                transform,
                input,
                expected,
            },
            other => other,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = AugmentError> = std::result::Result<T, E>;

/// Validation helpers shared by the config structs.
pub(crate) mod check {
    use super::AugmentError;

    pub fn prob(t: &str, field: &str, p: f64) -> Result<(), AugmentError> {
        if (0.0..=1.0).contains(&p) {
            Ok(())
        } else {
            Err(AugmentError::invalid(
                t,
                field,
                p,
                "a probability in [0, 1]",
            ))
        }
    }

    pub fn finite(t: &str, field: &str, v: f64) -> Result<(), AugmentError> {
        if v.is_finite() {
            Ok(())
        } else {
            Err(AugmentError::invalid(t, field, v, "a finite number"))
        }
    }

    /// `[lo, hi]` with `lo <= hi`, both within `[min, max]`.
    pub fn range(
        t: &str,
        field: &str,
        r: [f64; 2],
        min: f64,
        max: f64,
    ) -> Result<(), AugmentError> {
        if r[0].is_finite() && r[1].is_finite() && min <= r[0] && r[0] <= r[1] && r[1] <= max {
            Ok(())
        } else {
            Err(AugmentError::invalid(
                t,
                field,
                r,
                format!("an interval [lo, hi] with {min} ≤ lo ≤ hi ≤ {max}"),
            ))
        }
    }
}
