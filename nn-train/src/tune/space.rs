//! [`SearchSpace`]: the hyperparameters to search, each a named [`Dimension`] addressed by a
//! dotted path into the job config (`optimizer.lr`, `batch_size`, `model.dropout`, …).
//!
//! Learning rate and weight decay act multiplicatively, so they are searched in log space
//! ([`Dimension::LogUniform`]): a log-uniform draw on [1e-4, 1] puts as many trials in
//! [1e-4, 1e-3] as in [0.1, 1] (CS231n, "Choosing hyperparameters"; Bergstra & Bengio 2012).
//!
//! The space is a TOML file ([`EXAMPLE_SPACE`] is a complete one):
//!
//! ```toml
//! [dimensions]
//! "optimizer.lr" = { log_uniform = { low = 1e-3, high = 1.0 } }
//! "optimizer.weight_decay" = { log_uniform = { low = 1e-6, high = 1e-2 } }
//! "batch_size" = { choice = [32, 64, 128] }
//! "model.dropout" = { uniform = { low = 0.0, high = 0.5 } }
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::error::TuneError;

/// One sampled point of a search space: config path → value (in the order of the paths).
pub type Sample = BTreeMap<String, toml::Value>;

/// The range of one hyperparameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Dimension {
    /// x = exp(u), u ~ U(ln low, ln high): uniform in log space (learning rates, weight decay).
    /// Requires 0 < low < high.
    LogUniform {
        /// Lower bound (> 0).
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// x ~ U(low, high). Requires low < high.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// An integer uniform on {low, …, high} (both included). Requires low ≤ high.
    IntUniform {
        /// Smallest value.
        low: i64,
        /// Largest value (included).
        high: i64,
    },
    /// An integer log-uniform on {low, …, high}: round(exp(u)), u ~ U(ln(low − ½), ln(high + ½))
    /// (Optuna's `suggest_int(log=True)`), e.g. widths or batch sizes. Requires 1 ≤ low ≤ high.
    LogIntUniform {
        /// Smallest value (≥ 1).
        low: i64,
        /// Largest value (included).
        high: i64,
    },
    /// One of the listed values, each with the same probability (any TOML value: numbers,
    /// strings, booleans, arrays, tables).
    Choice(Vec<toml::Value>),
}

impl std::fmt::Display for Dimension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dimension::LogUniform { low, high } => write!(f, "log_uniform[{low}, {high}]"),
            Dimension::Uniform { low, high } => write!(f, "uniform[{low}, {high}]"),
            Dimension::IntUniform { low, high } => write!(f, "int_uniform[{low}, {high}]"),
            Dimension::LogIntUniform { low, high } => {
                write!(f, "log_int_uniform[{low}, {high}]")
            }
            Dimension::Choice(values) => {
                let v: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                write!(f, "choice[{}]", v.join(", "))
            }
        }
    }
}

impl Dimension {
    /// Checks the range: bounds finite, low < high (≤ for integers), low > 0 on a log scale,
    /// at least one choice. `name` is the dimension's path, for the error.
    pub fn validate(&self, name: &str) -> Result<(), TuneError> {
        let bad = |expected: &str| TuneError::InvalidDimension {
            name: name.to_string(),
            dimension: self.to_string(),
            expected: expected.to_string(),
        };
        match *self {
            Dimension::LogUniform { low, high } => {
                if !(low.is_finite() && high.is_finite() && low > 0.0 && low < high) {
                    return Err(bad("finite bounds with 0 < low < high"));
                }
            }
            Dimension::Uniform { low, high } => {
                if !(low.is_finite() && high.is_finite() && low < high) {
                    return Err(bad("finite bounds with low < high"));
                }
            }
            Dimension::IntUniform { low, high } => {
                if low > high {
                    return Err(bad("low <= high"));
                }
            }
            Dimension::LogIntUniform { low, high } => {
                if !(1 <= low && low <= high) {
                    return Err(bad("1 <= low <= high"));
                }
            }
            Dimension::Choice(ref values) => {
                if values.is_empty() {
                    return Err(bad("at least one value"));
                }
            }
        }
        Ok(())
    }

    /// Whether the dimension is searched in log space.
    pub fn is_log(&self) -> bool {
        matches!(
            self,
            Dimension::LogUniform { .. } | Dimension::LogIntUniform { .. }
        )
    }

    /// Draws one value (see each variant for the formula).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> toml::Value {
        match *self {
            Dimension::LogUniform { low, high } => {
                let u = rng.random_range(low.ln()..high.ln());
                toml::Value::Float(u.exp().clamp(low, high))
            }
            Dimension::Uniform { low, high } => {
                toml::Value::Float(rng.random_range(low..high).clamp(low, high))
            }
            Dimension::IntUniform { low, high } => {
                toml::Value::Integer(rng.random_range(low..=high))
            }
            Dimension::LogIntUniform { low, high } => {
                let (a, b) = ((low as f64 - 0.5).ln(), (high as f64 + 0.5).ln());
                let x = rng.random_range(a..b).exp().round() as i64;
                toml::Value::Integer(x.clamp(low, high))
            }
            Dimension::Choice(ref values) => values[rng.random_range(0..values.len())].clone(),
        }
    }

    /// `points` values spread over the range, ends included: evenly spaced (geometrically
    /// for log dimensions), rounded and deduplicated for integers; every value of a choice.
    /// One point is the middle (the geometric mean on a log scale).
    pub fn grid(&self, points: usize) -> Vec<toml::Value> {
        let spread = |lo: f64, hi: f64, log: bool| -> Vec<f64> {
            let (a, b) = if log { (lo.ln(), hi.ln()) } else { (lo, hi) };
            (0..points)
                .map(|i| {
                    let t = if points == 1 {
                        0.5
                    } else {
                        i as f64 / (points - 1) as f64
                    };
                    let x = a + t * (b - a);
                    let x = if log { x.exp() } else { x };
                    x.clamp(lo, hi)
                })
                .collect()
        };
        let ints = |lo: i64, hi: i64, log: bool| -> Vec<toml::Value> {
            let mut v: Vec<i64> = spread(lo as f64, hi as f64, log)
                .into_iter()
                .map(|x| (x.round() as i64).clamp(lo, hi))
                .collect();
            v.dedup();
            v.into_iter().map(toml::Value::Integer).collect()
        };
        match *self {
            Dimension::LogUniform { low, high } => spread(low, high, true)
                .into_iter()
                .map(toml::Value::Float)
                .collect(),
            Dimension::Uniform { low, high } => spread(low, high, false)
                .into_iter()
                .map(toml::Value::Float)
                .collect(),
            Dimension::IntUniform { low, high } => ints(low, high, false),
            Dimension::LogIntUniform { low, high } => ints(low, high, true),
            Dimension::Choice(ref values) => values.clone(),
        }
    }
}

/// The hyperparameters of a search: config path → [`Dimension`], kept in path order (so the
/// draws of a trial do not depend on the order of the file).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchSpace {
    /// The dimensions, by dotted config path.
    pub dimensions: BTreeMap<String, Dimension>,
}

/// A complete example space file (what `nn-train tune --example-space` prints): the lecture's
/// learning rate and weight decay in log space, plus batch size and dropout.
pub const EXAMPLE_SPACE: &str = r#"# Hyperparameter search space for `nn-train tune --space space.toml`.
# Each key is a dotted path into the job config (see `nn-train config`); each value is one of
#   { log_uniform = { low = A, high = B } }      exp(U(ln A, ln B)), 0 < A < B
#   { uniform = { low = A, high = B } }          U(A, B)
#   { int_uniform = { low = A, high = B } }      integer in [A, B]
#   { log_int_uniform = { low = A, high = B } }  integer, uniform in log space, 1 <= A
#   { choice = [v1, v2, ...] }                   any TOML values
[dimensions]
"optimizer.lr" = { log_uniform = { low = 1e-3, high = 1.0 } }
"optimizer.weight_decay" = { log_uniform = { low = 1e-6, high = 1e-2 } }
"batch_size" = { choice = [32, 64, 128] }
"model.dropout" = { uniform = { low = 0.0, high = 0.5 } }
"#;

impl SearchSpace {
    /// Checks every dimension (see [`Dimension::validate`]) and that there is at least one.
    pub fn validate(&self) -> Result<(), TuneError> {
        if self.dimensions.is_empty() {
            return Err(TuneError::InvalidDimension {
                name: "dimensions".into(),
                dimension: "{}".into(),
                expected: "at least one dimension".into(),
            });
        }
        for (name, dim) in &self.dimensions {
            dim.validate(name)?;
        }
        Ok(())
    }

    /// Parses and validates a space from TOML (`path` names the file in errors).
    pub fn from_toml(text: &str, path: &Path) -> Result<SearchSpace, TuneError> {
        let space: SearchSpace = toml::from_str(text).map_err(|e| TuneError::SpaceParse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        space.validate()?;
        Ok(space)
    }

    /// Reads, parses and validates a space file.
    pub fn load(path: &Path) -> Result<SearchSpace, TuneError> {
        let text = std::fs::read_to_string(path).map_err(|source| TuneError::SpaceRead {
            path: path.to_path_buf(),
            source,
        })?;
        SearchSpace::from_toml(&text, path)
    }

    /// The space as TOML, one line per dimension (the format of [`EXAMPLE_SPACE`]).
    pub fn to_toml(&self) -> String {
        format!("[dimensions]\n{}", self.dimension_lines())
    }

    /// The `"path" = { kind = { … } }` lines of [`SearchSpace::to_toml`], without the table
    /// header (to put several spaces in one file under other headers).
    pub fn dimension_lines(&self) -> String {
        self.dimensions
            .iter()
            .map(|(name, dim)| {
                let key = toml::Value::String(name.clone());
                let range = |kind: &str, low: toml::Value, high: toml::Value| {
                    format!("{{ {kind} = {{ low = {low}, high = {high} }} }}")
                };
                let value = match dim {
                    Dimension::LogUniform { low, high } => {
                        range("log_uniform", (*low).into(), (*high).into())
                    }
                    Dimension::Uniform { low, high } => {
                        range("uniform", (*low).into(), (*high).into())
                    }
                    Dimension::IntUniform { low, high } => {
                        range("int_uniform", (*low).into(), (*high).into())
                    }
                    Dimension::LogIntUniform { low, high } => {
                        range("log_int_uniform", (*low).into(), (*high).into())
                    }
                    Dimension::Choice(values) => {
                        format!("{{ choice = {} }}", toml::Value::Array(values.clone()))
                    }
                };
                format!("{key} = {value}\n")
            })
            .collect()
    }

    /// Draws one value of every dimension, in path order.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Sample {
        self.dimensions
            .iter()
            .map(|(name, dim)| (name.clone(), dim.sample(rng)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn example_parses() {
        let s = SearchSpace::from_toml(EXAMPLE_SPACE, Path::new("ex.toml")).unwrap();
        assert_eq!(s.dimensions.len(), 4);
        assert!(s.dimensions["optimizer.lr"].is_log());
        let text = s.to_toml();
        assert_eq!(SearchSpace::from_toml(&text, Path::new("x")).unwrap(), s);
        assert!(
            text.contains(r#""optimizer.lr" = { log_uniform = { low = 0.001, high = 1.0 } }"#),
            "{text}"
        );
    }

    #[test]
    fn invalid_ranges_are_rejected_by_name() {
        for (text, needle) in [
            (
                r#"dimensions.lr = { log_uniform = { low = 0.0, high = 1.0 } }"#,
                "0 < low",
            ),
            (
                r#"dimensions.lr = { uniform = { low = 1.0, high = 1.0 } }"#,
                "low < high",
            ),
            (
                r#"dimensions.n = { int_uniform = { low = 3, high = 2 } }"#,
                "low <= high",
            ),
            (
                r#"dimensions.n = { log_int_uniform = { low = 0, high = 2 } }"#,
                "1 <= low",
            ),
            (r#"dimensions.c = { choice = [] }"#, "at least one"),
            ("", "at least one dimension"),
        ] {
            let e = SearchSpace::from_toml(text, Path::new("s.toml")).unwrap_err();
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
        let e = SearchSpace::from_toml("dimensions.lr = { logg = 1 }", Path::new("s.toml"))
            .unwrap_err();
        assert!(e.to_string().contains("s.toml"), "{e}");
    }

    #[test]
    fn grids_span_the_range() {
        let g = Dimension::LogUniform {
            low: 1e-4,
            high: 1.0,
        }
        .grid(5);
        let v: Vec<f64> = g.iter().map(|x| x.as_float().unwrap()).collect();
        for (a, b) in v.iter().zip([1e-4, 1e-3, 1e-2, 1e-1, 1.0]) {
            assert!((a / b - 1.0).abs() < 1e-9, "{v:?}");
        }
        let g = Dimension::IntUniform { low: 1, high: 3 }.grid(5);
        assert_eq!(g, vec![1.into(), 2.into(), 3.into()]);
        let g = Dimension::Uniform {
            low: 0.0,
            high: 1.0,
        }
        .grid(1);
        assert_eq!(g, vec![0.5.into()]);
    }

    #[test]
    fn log_int_uniform_hits_both_ends() {
        let d = Dimension::LogIntUniform { low: 1, high: 4 };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut seen = [0usize; 5];
        for _ in 0..2000 {
            seen[d.sample(&mut rng).as_integer().unwrap() as usize] += 1;
        }
        assert_eq!(seen[0], 0);
        assert!(seen[1..].iter().all(|&n| n > 100), "{seen:?}");
        assert!(
            seen[1] > seen[4],
            "smaller values are likelier in log space: {seen:?}"
        );
    }
}
