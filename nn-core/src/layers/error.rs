//! [`LayerError`]: why a layer configuration cannot be built.

use crate::init::InitError;

/// A layer configuration that cannot be turned into a layer (config → validated constructor).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LayerError {
    /// A hyperparameter is out of range.
    #[error("{layer}: {field} = {value} is invalid; expected {expected}")]
    InvalidConfig {
        /// The layer (`"Linear"`).
        layer: &'static str,
        /// The offending field (`"in_features"`).
        field: &'static str,
        /// Its value, printed.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// A parameter's initialisation failed.
    #[error("{layer}: cannot initialise `{param}`: {source}")]
    Init {
        /// The layer.
        layer: &'static str,
        /// The parameter (`"weight"`).
        param: &'static str,
        /// The initialisation error.
        source: InitError,
    },
}

impl LayerError {
    /// Shorthand for [`LayerError::InvalidConfig`].
    pub fn invalid(
        layer: &'static str,
        field: &'static str,
        value: impl std::fmt::Display,
        expected: impl Into<String>,
    ) -> LayerError {
        LayerError::InvalidConfig {
            layer,
            field,
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}
