//! The crate's error type.

/// Everything that can go wrong in this crate on bad input (hyperparameters, configs, saved
/// state, mismatched parameters). Messages name the field or parameter and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptimError {
    /// A hyperparameter of an optimizer or schedule is out of its valid range.
    #[error("invalid hyperparameter `{field}` = {value} for {owner}: expected {expected}")]
    InvalidHyperparameter {
        /// The optimizer or schedule (`"Adam"`, `"CosineAnnealing"`, ...).
        owner: &'static str,
        /// The field name as in the config (`"betas.0"`, `"lr"`, ...).
        field: &'static str,
        /// The offending value, rendered.
        value: String,
        /// What a valid value looks like.
        expected: &'static str,
    },
    /// A parameter's gradient (or saved state) does not have the parameter's shape.
    #[error(
        "parameter `{name}`: {what} has shape {found:?}, expected the parameter's shape {expected:?}"
    )]
    ShapeMismatch {
        /// The parameter name.
        name: String,
        /// Which array (`"gradient"`, `"state buffer exp_avg"`, ...).
        what: String,
        /// The shape found.
        found: Vec<usize>,
        /// The shape expected.
        expected: Vec<usize>,
    },
    /// The same parameter name appears twice in one step.
    #[error("parameter name `{0}` appears more than once in one optimizer step")]
    DuplicateParameter(String),
    /// A parameter-group index is out of range.
    #[error("parameter group {index} does not exist (the optimizer has {len} groups)")]
    NoSuchGroup {
        /// The index asked for.
        index: usize,
        /// The number of groups.
        len: usize,
    },
    /// A saved optimizer state does not fit this optimizer.
    #[error("cannot load optimizer state: {0}")]
    IncompatibleState(String),
    /// The optimizer has no such setting (e.g. momentum cycling on AdaGrad).
    #[error("{optimizer} does not support {what}")]
    Unsupported {
        /// The optimizer.
        optimizer: &'static str,
        /// What was asked for.
        what: &'static str,
    },
    /// The flat vector given to L-BFGS and the gradient returned by its closure differ in length.
    #[error(
        "L-BFGS: the closure returned a gradient of length {found}, expected {expected} (the length of x)"
    )]
    GradientLength {
        /// Length of the returned gradient.
        found: usize,
        /// Length of `x`.
        expected: usize,
    },
}

/// Checks a hyperparameter and builds the error naming it.
pub(crate) fn check(
    ok: bool,
    owner: &'static str,
    field: &'static str,
    value: impl std::fmt::Display,
    expected: &'static str,
) -> Result<(), OptimError> {
    if ok {
        Ok(())
    } else {
        Err(OptimError::InvalidHyperparameter {
            owner,
            field,
            value: value.to_string(),
            expected,
        })
    }
}

/// `lr >= 0` and finite, as PyTorch requires.
pub(crate) fn check_lr(owner: &'static str, lr: f64) -> Result<(), OptimError> {
    check(
        lr.is_finite() && lr >= 0.0,
        owner,
        "lr",
        lr,
        "a finite number >= 0",
    )
}

/// A finite number `>= 0` (eps, weight decay, momentum, ...).
pub(crate) fn check_nonneg(
    owner: &'static str,
    field: &'static str,
    v: f64,
) -> Result<(), OptimError> {
    check(
        v.is_finite() && v >= 0.0,
        owner,
        field,
        v,
        "a finite number >= 0",
    )
}

/// A coefficient in `[0, 1)` (Adam's betas).
pub(crate) fn check_unit_open(
    owner: &'static str,
    field: &'static str,
    v: f64,
) -> Result<(), OptimError> {
    check(
        (0.0..1.0).contains(&v),
        owner,
        field,
        v,
        "a number in [0, 1)",
    )
}
