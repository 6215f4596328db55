//! Parameter groups: per-group learning rate and weight decay, assigned by parameter name.
//!
//! Group 0 is the default group (the optimizer config's `lr` and `weight_decay`). Each
//! [`ParamGroup`] given to the optimizer adds a group (1, 2, ...); a parameter belongs to the
//! first group whose [`Matcher`] accepts it, else to group 0. This covers PyTorch's usual
//! per-parameter options: "no weight decay on biases and norm parameters"
//! ([`Matcher::no_decay`], timm's rule), "new head at 10x the rate" (`Matcher::Prefix("head.")`
//! with [`ParamGroup::with_lr_scale`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{OptimError, check_lr, check_nonneg};

/// A rule that selects parameters by name (and number of dimensions). Serialisable, so that
/// groups can be read from a config file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "match", content = "value", rename_all = "snake_case")]
pub enum Matcher {
    /// Every parameter.
    All,
    /// Exactly these names.
    Names(Vec<String>),
    /// Names starting with this string (e.g. `"head."`).
    Prefix(String),
    /// Names ending with this string (e.g. `".bias"`).
    Suffix(String),
    /// Names containing this string (e.g. `"norm"`).
    Contains(String),
    /// Parameters with at most this many dimensions (1 selects biases and norm scales/shifts).
    NdimAtMost(usize),
    /// Any of these rules.
    AnyOf(Vec<Matcher>),
    /// All of these rules.
    AllOf(Vec<Matcher>),
    /// The opposite of this rule.
    Not(Box<Matcher>),
}

impl Matcher {
    /// timm's "no weight decay" rule: 1-D parameters (biases, batch/layer-norm scales and
    /// shifts) and any name ending in `bias`.
    pub fn no_decay() -> Self {
        Matcher::AnyOf(vec![Matcher::NdimAtMost(1), Matcher::Suffix("bias".into())])
    }

    /// Whether a parameter with this name and number of dimensions is selected.
    pub fn matches(&self, name: &str, ndim: usize) -> bool {
        match self {
            Matcher::All => true,
            Matcher::Names(ns) => ns.iter().any(|n| n == name),
            Matcher::Prefix(p) => name.starts_with(p.as_str()),
            Matcher::Suffix(s) => name.ends_with(s.as_str()),
            Matcher::Contains(s) => name.contains(s.as_str()),
            Matcher::NdimAtMost(d) => ndim <= *d,
            Matcher::AnyOf(ms) => ms.iter().any(|m| m.matches(name, ndim)),
            Matcher::AllOf(ms) => ms.iter().all(|m| m.matches(name, ndim)),
            Matcher::Not(m) => !m.matches(name, ndim),
        }
    }
}

/// A parameter group: which parameters, and what they override.
///
/// The learning rate is `lr` if set, else the optimizer's base lr times `lr_scale` (default 1).
/// The weight-decay coefficient is `weight_decay` if set, else the optimizer's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamGroup {
    /// A label for logs and saved state (e.g. `"head"`, `"no_decay"`).
    pub label: String,
    /// Which parameters belong to the group.
    pub matcher: Matcher,
    /// Absolute learning rate.
    #[serde(default)]
    pub lr: Option<f64>,
    /// Multiplier of the optimizer's base learning rate (used when `lr` is `None`).
    #[serde(default)]
    pub lr_scale: Option<f64>,
    /// Weight-decay coefficient.
    #[serde(default)]
    pub weight_decay: Option<f64>,
}

impl ParamGroup {
    /// A group with no overrides yet.
    pub fn new(label: impl Into<String>, matcher: Matcher) -> Self {
        Self {
            label: label.into(),
            matcher,
            lr: None,
            lr_scale: None,
            weight_decay: None,
        }
    }

    /// Sets an absolute learning rate.
    pub fn with_lr(mut self, lr: f64) -> Self {
        self.lr = Some(lr);
        self
    }

    /// Sets the learning rate to `scale` × the optimizer's base learning rate.
    pub fn with_lr_scale(mut self, scale: f64) -> Self {
        self.lr_scale = Some(scale);
        self
    }

    /// Sets the weight-decay coefficient (0 disables decay for the group).
    pub fn with_weight_decay(mut self, wd: f64) -> Self {
        self.weight_decay = Some(wd);
        self
    }
}

/// The live hyperparameters of one group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    /// The group's label (`"default"` for group 0).
    pub label: String,
    /// Current learning rate (a schedule driver changes it).
    pub lr: f64,
    /// Weight-decay coefficient.
    pub weight_decay: f64,
}

/// Resolved groups of one optimizer plus a name → group cache.
#[derive(Clone, Debug)]
pub(crate) struct Groups {
    pub(crate) state: Vec<GroupState>,
    specs: Vec<ParamGroup>,
    cache: HashMap<String, usize>,
}

impl Groups {
    /// Builds groups from the base hyperparameters and the group specs, validating overrides.
    pub(crate) fn new(
        owner: &'static str,
        lr: f64,
        wd: f64,
        specs: Vec<ParamGroup>,
    ) -> Result<Self, OptimError> {
        check_lr(owner, lr)?;
        check_nonneg(owner, "weight_decay", wd)?;
        let mut state = vec![GroupState {
            label: "default".into(),
            lr,
            weight_decay: wd,
        }];
        for g in &specs {
            let glr = g.lr.unwrap_or(lr * g.lr_scale.unwrap_or(1.0));
            check_lr(owner, glr)?;
            let gwd = g.weight_decay.unwrap_or(wd);
            check_nonneg(owner, "weight_decay", gwd)?;
            state.push(GroupState {
                label: g.label.clone(),
                lr: glr,
                weight_decay: gwd,
            });
        }
        Ok(Self {
            state,
            specs,
            cache: HashMap::new(),
        })
    }

    /// The group index of a parameter.
    pub(crate) fn group_of(&mut self, name: &str, ndim: usize) -> usize {
        if let Some(&g) = self.cache.get(name) {
            return g;
        }
        let g = self
            .specs
            .iter()
            .position(|s| s.matcher.matches(name, ndim))
            .map_or(0, |i| i + 1);
        self.cache.insert(name.to_string(), g);
        g
    }

    pub(crate) fn get(&self, index: usize) -> Result<&GroupState, OptimError> {
        self.state.get(index).ok_or(OptimError::NoSuchGroup {
            index,
            len: self.state.len(),
        })
    }

    pub(crate) fn get_mut(&mut self, index: usize) -> Result<&mut GroupState, OptimError> {
        let len = self.state.len();
        self.state
            .get_mut(index)
            .ok_or(OptimError::NoSuchGroup { index, len })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_group_wins_and_default_catches_the_rest() {
        let mut g = Groups::new(
            "SGD",
            0.1,
            5e-4,
            vec![
                ParamGroup::new("head", Matcher::Prefix("head.".into())).with_lr_scale(10.0),
                ParamGroup::new("no_decay", Matcher::no_decay()).with_weight_decay(0.0),
            ],
        )
        .unwrap();
        assert_eq!(g.group_of("head.weight", 2), 1);
        assert_eq!(g.group_of("head.bias", 1), 1);
        assert_eq!(g.group_of("body.bn.weight", 1), 2);
        assert_eq!(g.group_of("body.conv.bias", 1), 2);
        assert_eq!(g.group_of("body.conv.weight", 4), 0);
        assert!((g.state[1].lr - 1.0).abs() < 1e-12);
        assert_eq!(g.state[1].weight_decay, 5e-4);
        assert_eq!(g.state[2].weight_decay, 0.0);
    }

    #[test]
    fn matchers_compose() {
        let m = Matcher::AllOf(vec![
            Matcher::Contains("layer".into()),
            Matcher::Not(Box::new(Matcher::Names(vec!["layer1.w".into()]))),
        ]);
        assert!(m.matches("layer2.w", 2));
        assert!(!m.matches("layer1.w", 2));
        assert!(!m.matches("fc.w", 2));
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Matcher>(&json).unwrap(), m);
    }

    #[test]
    fn invalid_group_lr_is_an_error() {
        let e = Groups::new(
            "Adam",
            1e-3,
            0.0,
            vec![ParamGroup::new("x", Matcher::All).with_lr(-1.0)],
        )
        .unwrap_err();
        assert!(e.to_string().contains("lr"), "{e}");
    }
}
