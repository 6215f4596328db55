//! One serialisable config for any optimizer, for config files: the element-wise ones (built
//! with [`OptimizerConfig::build`]) and L-BFGS (built with [`LbfgsConfig::init`]: it steps with a
//! closure, not with gradients alone).

use serde::{Deserialize, Serialize};

use crate::adagrad::AdaGradConfig;
use crate::adam::{AdamConfig, AdamWConfig};
use crate::error::OptimError;
use crate::group::ParamGroup;
use crate::lbfgs::LbfgsConfig;
use crate::optimizer::Optimizer;
use crate::rmsprop::RmsPropConfig;
use crate::sgd::SgdConfig;

/// Any optimizer's config, tagged by `kind` (`"sgd"`, `"adagrad"`, `"rmsprop"`, `"adam"`,
/// `"adamw"`, `"lbfgs"`); omitted fields take PyTorch's defaults. In TOML:
///
/// ```toml
/// kind = "sgd"
/// lr = 0.1
/// momentum = 0.9
/// nesterov = true
/// weight_decay = 5e-4
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerConfig {
    /// [`crate::Sgd`].
    Sgd(SgdConfig),
    /// [`crate::AdaGrad`].
    #[serde(rename = "adagrad")]
    AdaGrad(AdaGradConfig),
    /// [`crate::RmsProp`].
    #[serde(rename = "rmsprop")]
    RmsProp(RmsPropConfig),
    /// [`crate::Adam`].
    Adam(AdamConfig),
    /// [`crate::Adam`] with decoupled decay.
    #[serde(rename = "adamw")]
    AdamW(AdamWConfig),
    /// [`crate::Lbfgs`]: full-batch, steps with a closure ([`LbfgsConfig::init`]).
    #[serde(rename = "lbfgs")]
    Lbfgs(LbfgsConfig),
}

impl OptimizerConfig {
    /// The base learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            OptimizerConfig::Sgd(c) => c.lr,
            OptimizerConfig::AdaGrad(c) => c.lr,
            OptimizerConfig::RmsProp(c) => c.lr,
            OptimizerConfig::Adam(c) => c.lr,
            OptimizerConfig::AdamW(c) => c.lr,
            OptimizerConfig::Lbfgs(c) => c.lr,
        }
    }

    /// Validates and builds the optimizer with these parameter groups. L-BFGS is not an
    /// element-wise [`Optimizer`] (its step needs the loss as a closure): it is an
    /// [`OptimError::Unsupported`] error here; build it with [`LbfgsConfig::init`].
    pub fn build(&self, groups: Vec<ParamGroup>) -> Result<Box<dyn Optimizer>, OptimError> {
        Ok(match self.clone() {
            OptimizerConfig::Sgd(c) => Box::new(c.init_with_groups(groups)?),
            OptimizerConfig::AdaGrad(c) => Box::new(c.init_with_groups(groups)?),
            OptimizerConfig::RmsProp(c) => Box::new(c.init_with_groups(groups)?),
            OptimizerConfig::Adam(c) => Box::new(c.init_with_groups(groups)?),
            OptimizerConfig::AdamW(c) => Box::new(c.init_with_groups(groups)?),
            OptimizerConfig::Lbfgs(_) => {
                return Err(OptimError::Unsupported {
                    optimizer: "LBFGS",
                    what: "element-wise steps (it needs the loss as a closure: LbfgsConfig::init, Lbfgs::step)",
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_toml_with_defaults() {
        let c: OptimizerConfig = toml::from_str("kind = \"adamw\"\nlr = 0.002\n").unwrap();
        let OptimizerConfig::AdamW(a) = &c else {
            panic!("{c:?}")
        };
        assert_eq!(a.lr, 0.002);
        assert_eq!(a.weight_decay, 1e-2);
        let opt = c.build(vec![]).unwrap();
        assert_eq!(opt.name(), "AdamW");
        let c: OptimizerConfig =
            toml::from_str("kind = \"sgd\"\nlr = 0.1\nmomentum = 0.9\n[clip]\nmax_norm = 1.0\n")
                .unwrap();
        let OptimizerConfig::Sgd(s) = &c else {
            panic!()
        };
        assert_eq!(s.clip.max_norm, Some(1.0));
        assert_eq!(s.dampening, 0.0);
    }

    #[test]
    fn lbfgs_reads_from_toml_but_is_not_element_wise() {
        let c: OptimizerConfig =
            toml::from_str("kind = \"lbfgs\"\nhistory_size = 10\nline_search = \"strong_wolfe\"\n")
                .unwrap();
        let OptimizerConfig::Lbfgs(l) = &c else {
            panic!("{c:?}")
        };
        assert_eq!((l.history_size, l.lr), (10, 1.0));
        assert!(matches!(
            c.build(vec![]),
            Err(OptimError::Unsupported {
                optimizer: "LBFGS",
                ..
            })
        ));
        assert!(toml::from_str::<OptimizerConfig>("kind = \"lbfgs\"\nmomentum = 0.9\n").is_err());
    }

    /// Every element-wise optimizer validates its common fields (through the generic core) and
    /// its own ones (through its rule), naming the field.
    #[test]
    fn invalid_hyperparameters_are_errors_naming_the_field() {
        let common = [
            ("lr = -1.0", "lr"),
            ("lr = nan", "lr"),
            ("weight_decay = -0.1", "weight_decay"),
            ("clip = { max_norm = -1.0 }", "clip.max_norm"),
        ];
        let own: &[(&str, &str, &str)] = &[
            ("sgd", "momentum = -0.1", "momentum"),
            ("sgd", "dampening = -1.0", "dampening"),
            ("sgd", "nesterov = true", "nesterov"),
            (
                "sgd",
                "momentum = 0.9\ndampening = 0.1\nnesterov = true",
                "nesterov",
            ),
            ("adagrad", "lr_decay = -1.0", "lr_decay"),
            (
                "adagrad",
                "initial_accumulator_value = -1.0",
                "initial_accumulator_value",
            ),
            ("adagrad", "eps = -1.0", "eps"),
            ("rmsprop", "alpha = 1.5", "alpha"),
            ("rmsprop", "eps = inf", "eps"),
            ("rmsprop", "momentum = -1.0", "momentum"),
            ("adam", "betas = [1.0, 0.999]", "betas.0"),
            ("adam", "betas = [0.9, -0.1]", "betas.1"),
            ("adam", "eps = -1.0", "eps"),
            ("adamw", "betas = [0.9, 1.0]", "betas.1"),
            ("adamw", "weight_decay = -1.0", "weight_decay"),
        ];
        let kinds = ["sgd", "adagrad", "rmsprop", "adam", "adamw"];
        let cases = kinds
            .iter()
            .flat_map(|k| common.iter().map(move |(body, f)| (*k, *body, *f)))
            .chain(own.iter().copied());
        for (kind, body, field) in cases {
            let text = format!("kind = \"{kind}\"\n{body}\n");
            let c: OptimizerConfig =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            match c.build(vec![]) {
                Err(OptimError::InvalidHyperparameter { field: f, .. }) => {
                    assert_eq!(f, field, "{text}")
                }
                Err(other) => panic!("{text}: {other}"),
                Ok(_) => panic!("{text} was accepted"),
            }
        }
    }

    #[test]
    fn unknown_fields_and_bad_values_are_errors() {
        let e = toml::from_str::<OptimizerConfig>("kind = \"adam\"\nlearning_rate = 0.1\n")
            .unwrap_err();
        assert!(e.to_string().contains("learning_rate"), "{e}");
        let c: OptimizerConfig = toml::from_str("kind = \"rmsprop\"\nlr = -1.0\n").unwrap();
        assert!(c.build(vec![]).is_err());
    }
}
