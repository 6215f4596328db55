//! [`Init`]: the initialisation schemes, serialisable so that a config can choose one.
//!
//! Every scheme resolves, for given [`Fans`], to a [`Distribution`] — a constant, a normal or a
//! uniform — which is then sampled element by element in row-major order from an explicit
//! generator. The formulas (n = the selected fan, g = the gain):
//!
//! | scheme | distribution |
//! |---|---|
//! | `TruncatedNormal { mean, std, low, high }` | N(mean, std²) conditioned on [low, high] (PyTorch's `trunc_normal_`) |
//! | `SmallRandom { std }` | N(0, std²), std = 0.01 by default — the lecture's "first idea", `0.01 * np.random.randn` |
//! | `XavierUniform { gain }` | U(±g·√(6/(fan_in + fan_out))) (Glorot & Bengio, AISTATS 2010) |
//! | `XavierNormal { gain }` | N(0, g²·2/(fan_in + fan_out)) |
//! | `KaimingUniform { a, mode, nonlinearity }` | U(±g·√(3/n)), g = gain(nonlinearity, a) (He et al., ICCV 2015) |
//! | `KaimingNormal { a, mode, nonlinearity }` | N(0, g²/n) |
//! | `Orthogonal { gain }` | gain·Q, Q Haar-random with orthonormal rows or columns (Saxe et al., ICLR 2014) |
//! | `TorchDefault` | U(±1/√fan_in): PyTorch's `Linear`/`Conv` default for weights, `kaiming_uniform_(a=√5)`, and for biases (with the weight's fan_in) |
//! | `Zeros`, `Ones`, `Constant`, `Normal`, `Uniform` | as named |
//!
//! The lecture's "Xavier" std = 1/√D_in is `KaimingNormal { nonlinearity: Linear, mode: FanIn }`
//! (PyTorch's Xavier averages the two fans instead); its "Kaiming / MSRA" std = √(2/D_in) is
//! `KaimingNormal` with the defaults (`a = 0`, fan_in, leaky_relu ⇒ gain √2), i.e.
//! [`Init::kaiming_normal`]`(Nonlinearity::Relu)`.

use std::fmt;

use ndarray::IxDyn;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::distribution::cdf;
use super::{Distribution, FanMode, Fans, InitError, Nonlinearity};
use crate::tensor::Array;

fn one() -> f32 {
    1.0
}

fn hundredth() -> f32 {
    0.01
}

fn two() -> f32 {
    2.0
}

fn minus_two() -> f32 {
    -2.0
}

/// An initialisation scheme (see the module docs for the formulas).
///
/// Serialised with a `kind` tag and PyTorch's defaults for omitted fields, e.g.
/// `{"kind": "kaiming_normal", "nonlinearity": "relu"}` or `{"kind": "xavier_uniform"}`.
///
/// ```
/// use nn_core::init::{Init, Nonlinearity};
/// use nn_core::rng::seeded;
///
/// let init: Init = serde_json::from_str(r#"{"kind": "kaiming_normal", "nonlinearity": "relu"}"#).unwrap();
/// assert_eq!(init, Init::kaiming_normal(Nonlinearity::Relu));
/// let w = init.sample(&[256, 512], &mut seeded(0)).unwrap(); // std √(2/512) = 0.0625
/// let std = (w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32).sqrt();
/// assert!((std - 0.0625).abs() < 0.002);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Init {
    /// All zeros.
    Zeros,
    /// All ones.
    Ones,
    /// Every element `value`.
    Constant {
        /// The value.
        value: f32,
    },
    /// N(`mean`, `std`²).
    Normal {
        /// Mean (default 0).
        #[serde(default)]
        mean: f32,
        /// Standard deviation (default 1).
        #[serde(default = "one")]
        std: f32,
    },
    /// U[`low`, `high`).
    Uniform {
        /// Lower bound (default 0).
        #[serde(default)]
        low: f32,
        /// Upper bound (default 1).
        #[serde(default = "one")]
        high: f32,
    },
    /// N(`mean`, `std`²) conditioned on [`low`, `high`] (PyTorch's `trunc_normal_`, timm's
    /// default for vision transformers with std 0.02; the bounds are absolute values).
    TruncatedNormal {
        /// Mean of the untruncated normal (default 0).
        #[serde(default)]
        mean: f32,
        /// Standard deviation of the untruncated normal (default 1).
        #[serde(default = "one")]
        std: f32,
        /// Lower bound (default −2).
        #[serde(default = "minus_two")]
        low: f32,
        /// Upper bound (default 2).
        #[serde(default = "two")]
        high: f32,
    },
    /// Small random numbers N(0, std²), std = 0.01 by default: works for small networks, makes
    /// the activations of deep ones vanish (CS231n).
    SmallRandom {
        /// Standard deviation (default 0.01).
        #[serde(default = "hundredth")]
        std: f32,
    },
    /// Glorot uniform: U(±gain·√(6/(fan_in + fan_out))).
    XavierUniform {
        /// Gain (default 1; see [`Nonlinearity::gain`]).
        #[serde(default = "one")]
        gain: f32,
    },
    /// Glorot normal: N(0, gain²·2/(fan_in + fan_out)).
    XavierNormal {
        /// Gain (default 1; see [`Nonlinearity::gain`]).
        #[serde(default = "one")]
        gain: f32,
    },
    /// He uniform: U(±g·√(3/fan)), g = `nonlinearity.gain(Some(a))`.
    KaimingUniform {
        /// Negative slope of the leaky ReLU that follows (default 0; only used with
        /// `LeakyRelu`).
        #[serde(default)]
        a: f32,
        /// Which fan to preserve (default fan_in).
        #[serde(default)]
        mode: FanMode,
        /// The nonlinearity that follows (default leaky_relu, as in PyTorch).
        #[serde(default)]
        nonlinearity: Nonlinearity,
    },
    /// He normal: N(0, g²/fan), g = `nonlinearity.gain(Some(a))`.
    KaimingNormal {
        /// Negative slope of the leaky ReLU that follows (default 0; only used with
        /// `LeakyRelu`).
        #[serde(default)]
        a: f32,
        /// Which fan to preserve (default fan_in).
        #[serde(default)]
        mode: FanMode,
        /// The nonlinearity that follows (default leaky_relu, as in PyTorch).
        #[serde(default)]
        nonlinearity: Nonlinearity,
    },
    /// `gain · Q` (Saxe et al. 2014; PyTorch's `orthogonal_`): the weight viewed as a matrix
    /// `[shape[0], Π shape[1..]]` has orthonormal rows or columns (all singular values equal
    /// `gain`), Q drawn uniformly (Haar) by the QR factorisation of an N(0, 1) matrix with
    /// diag(R) > 0. Not an elementwise distribution: [`Init::distribution`] refuses it; it needs
    /// a weight of ≥ 2 axes.
    Orthogonal {
        /// Gain (default 1).
        #[serde(default = "one")]
        gain: f32,
    },
    /// PyTorch's default for `Linear` and `Conv` weights and biases: U(±1/√fan_in)
    /// (`kaiming_uniform_(a=√5)` for the weight; the bias uses the weight's fan_in and bound
    /// 0 when fan_in is 0).
    TorchDefault,
}

impl Init {
    /// The lecture's small random numbers, N(0, 0.01²).
    pub fn small_random() -> Init {
        Init::SmallRandom { std: 0.01 }
    }

    /// Kaiming normal for the nonlinearity that follows, fan_in mode, a = 0 (std = gain/√fan_in;
    /// √(2/fan_in) for ReLU).
    pub fn kaiming_normal(nonlinearity: Nonlinearity) -> Init {
        Init::KaimingNormal {
            a: 0.0,
            mode: FanMode::FanIn,
            nonlinearity,
        }
    }

    /// Kaiming uniform for the nonlinearity that follows, fan_in mode, a = 0.
    pub fn kaiming_uniform(nonlinearity: Nonlinearity) -> Init {
        Init::KaimingUniform {
            a: 0.0,
            mode: FanMode::FanIn,
            nonlinearity,
        }
    }

    /// Xavier uniform with the gain of `nonlinearity` (e.g. 5/3 for tanh).
    pub fn xavier_uniform(nonlinearity: Nonlinearity) -> Init {
        Init::XavierUniform {
            gain: nonlinearity.gain(None),
        }
    }

    /// Xavier normal with the gain of `nonlinearity`.
    pub fn xavier_normal(nonlinearity: Nonlinearity) -> Init {
        Init::XavierNormal {
            gain: nonlinearity.gain(None),
        }
    }

    /// Whether the scheme depends on the fans of the tensor.
    pub fn needs_fans(&self) -> bool {
        matches!(
            self,
            Init::XavierUniform { .. }
                | Init::XavierNormal { .. }
                | Init::KaimingUniform { .. }
                | Init::KaimingNormal { .. }
                | Init::TorchDefault
        )
    }

    /// Checks the hyperparameters (finite values, `std ≥ 0`, `low ≤ high`, `gain ≥ 0`).
    ///
    /// # Errors
    /// [`InitError::InvalidParameter`] naming the scheme, the field and the value.
    pub fn validate(&self) -> Result<(), InitError> {
        let bad = |field: &'static str, value: f32, expected: &'static str| {
            Err(InitError::InvalidParameter {
                scheme: self.name(),
                field,
                value,
                expected,
            })
        };
        match *self {
            Init::Constant { value } if !value.is_finite() => {
                bad("value", value, "a finite number")
            }
            Init::Normal { mean, .. } if !mean.is_finite() => bad("mean", mean, "a finite number"),
            Init::Normal { std, .. } if !(std.is_finite() && std >= 0.0) => {
                bad("std", std, "a finite number ≥ 0")
            }
            Init::Uniform { low, .. } if !low.is_finite() => bad("low", low, "a finite number"),
            Init::SmallRandom { std } if !(std.is_finite() && std >= 0.0) => {
                bad("std", std, "a finite number ≥ 0")
            }
            Init::TruncatedNormal { mean, .. } if !mean.is_finite() => {
                bad("mean", mean, "a finite number")
            }
            Init::TruncatedNormal { std, .. } if !(std.is_finite() && std > 0.0) => {
                bad("std", std, "a finite number > 0")
            }
            Init::TruncatedNormal { low, high, .. }
                if !(low.is_finite() && high.is_finite() && low < high) =>
            {
                bad("high", high, "a finite number > low")
            }
            Init::TruncatedNormal {
                mean,
                std,
                low,
                high,
            } if cdf(((high - mean) / std) as f64) - cdf(((low - mean) / std) as f64) < 1e-3 => {
                bad(
                    "low",
                    low,
                    "bounds [low, high] holding at least 0.1 % of the normal's mass",
                )
            }
            Init::Uniform { low, high } if !(high.is_finite() && high >= low) => {
                bad("high", high, "a finite number ≥ low")
            }
            Init::XavierUniform { gain }
            | Init::XavierNormal { gain }
            | Init::Orthogonal { gain }
                if !(gain.is_finite() && gain >= 0.0) =>
            {
                bad("gain", gain, "a finite number ≥ 0")
            }
            Init::KaimingUniform { a, .. } | Init::KaimingNormal { a, .. } if !a.is_finite() => {
                bad("a", a, "a finite number")
            }
            _ => Ok(()),
        }
    }

    /// The distribution this scheme draws from for a tensor with `fans`.
    ///
    /// # Errors
    /// [`InitError::InvalidParameter`] if [`Init::validate`] fails;
    /// [`InitError::NotElementwise`] for [`Init::Orthogonal`].
    pub fn distribution(&self, fans: Fans) -> Result<Distribution, InitError> {
        self.validate()?;
        let fan_sum = (fans.fan_in + fans.fan_out) as f32;
        let kaiming_std = |a: f32, mode: FanMode, nl: Nonlinearity| {
            nl.gain(Some(a)) / (fans.select(mode) as f32).sqrt()
        };
        Ok(match *self {
            Init::Zeros => Distribution::Constant(0.0),
            Init::Ones => Distribution::Constant(1.0),
            Init::Constant { value } => Distribution::Constant(value),
            Init::Normal { mean, std } => Distribution::Normal { mean, std },
            Init::Uniform { low, high } => Distribution::Uniform { low, high },
            Init::TruncatedNormal {
                mean,
                std,
                low,
                high,
            } => Distribution::TruncatedNormal {
                mean,
                std,
                low,
                high,
            },
            Init::SmallRandom { std } => Distribution::Normal { mean: 0.0, std },
            Init::XavierUniform { gain } => symmetric_uniform(gain * (6.0 / fan_sum).sqrt()),
            Init::XavierNormal { gain } => Distribution::Normal {
                mean: 0.0,
                std: gain * (2.0 / fan_sum).sqrt(),
            },
            Init::KaimingUniform {
                a,
                mode,
                nonlinearity,
            } => symmetric_uniform(3f32.sqrt() * kaiming_std(a, mode, nonlinearity)),
            Init::KaimingNormal {
                a,
                mode,
                nonlinearity,
            } => Distribution::Normal {
                mean: 0.0,
                std: kaiming_std(a, mode, nonlinearity),
            },
            Init::Orthogonal { .. } => {
                return Err(InitError::NotElementwise {
                    scheme: self.name(),
                });
            }
            Init::TorchDefault if fans.fan_in == 0 => Distribution::Constant(0.0),
            Init::TorchDefault => symmetric_uniform(1.0 / (fans.fan_in as f32).sqrt()),
        })
    }

    /// An array of `shape` drawn from this scheme, with fans computed from `shape` as PyTorch
    /// does ([`Fans::of`]). A tensor with no elements is returned as is (PyTorch's no-op).
    ///
    /// # Errors
    /// [`InitError::InvalidParameter`] for invalid hyperparameters;
    /// [`InitError::FansUndefined`] for a fan-based or orthogonal scheme on a shape with fewer
    /// than 2 axes (for biases use [`Init::sample_with_fans`] with the weight's fans).
    pub fn sample<R: Rng + ?Sized>(
        &self,
        shape: &[usize],
        rng: &mut R,
    ) -> Result<Array, InitError> {
        self.validate()?;
        if shape.contains(&0) {
            return Ok(Array::zeros(IxDyn(shape)));
        }
        if let Init::Orthogonal { gain } = *self {
            return super::orthogonal::orthogonal(shape, gain, rng);
        }
        let fans = if self.needs_fans() {
            Fans::of(shape)?
        } else {
            Fans {
                fan_in: 1,
                fan_out: 1,
            }
        };
        Ok(self.distribution(fans)?.sample(shape, rng))
    }

    /// An array of `shape` drawn from this scheme with explicitly given `fans` (e.g. a bias
    /// initialised from its weight's fans, as PyTorch's layers do).
    ///
    /// # Errors
    /// [`InitError::InvalidParameter`] for invalid hyperparameters;
    /// [`InitError::NotElementwise`] for [`Init::Orthogonal`] (use [`Init::sample`]).
    pub fn sample_with_fans<R: Rng + ?Sized>(
        &self,
        shape: &[usize],
        fans: Fans,
        rng: &mut R,
    ) -> Result<Array, InitError> {
        let dist = self.distribution(fans)?;
        if shape.contains(&0) {
            return Ok(Array::zeros(IxDyn(shape)));
        }
        Ok(dist.sample(shape, rng))
    }

    /// The scheme's name as used in configs (`"kaiming_normal"`).
    pub fn name(&self) -> &'static str {
        match self {
            Init::Zeros => "zeros",
            Init::Ones => "ones",
            Init::Constant { .. } => "constant",
            Init::Normal { .. } => "normal",
            Init::Uniform { .. } => "uniform",
            Init::TruncatedNormal { .. } => "truncated_normal",
            Init::SmallRandom { .. } => "small_random",
            Init::XavierUniform { .. } => "xavier_uniform",
            Init::XavierNormal { .. } => "xavier_normal",
            Init::KaimingUniform { .. } => "kaiming_uniform",
            Init::KaimingNormal { .. } => "kaiming_normal",
            Init::Orthogonal { .. } => "orthogonal",
            Init::TorchDefault => "torch_default",
        }
    }
}

fn symmetric_uniform(bound: f32) -> Distribution {
    Distribution::Uniform {
        low: -bound,
        high: bound,
    }
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        match *self {
            Init::Constant { value } => write!(f, "{name}({value})"),
            Init::Normal { mean, std } => write!(f, "{name}(mean={mean}, std={std})"),
            Init::TruncatedNormal {
                mean,
                std,
                low,
                high,
            } => write!(f, "{name}(mean={mean}, std={std}, low={low}, high={high})"),
            Init::Uniform { low, high } => write!(f, "{name}({low}, {high})"),
            Init::XavierUniform { gain }
            | Init::XavierNormal { gain }
            | Init::Orthogonal { gain } => {
                write!(f, "{name}(gain={gain})")
            }
            Init::KaimingUniform {
                a,
                mode,
                nonlinearity,
            }
            | Init::KaimingNormal {
                a,
                mode,
                nonlinearity,
            } => {
                let mode = match mode {
                    FanMode::FanIn => "fan_in",
                    FanMode::FanOut => "fan_out",
                };
                write!(
                    f,
                    "{name}(a={a}, mode={mode}, nonlinearity={})",
                    nonlinearity.name()
                )
            }
            _ => write!(f, "{name}"),
        }
    }
}
