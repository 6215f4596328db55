//! Reduce the learning rate when a metric has stopped improving (PyTorch's
//! `torch.optim.lr_scheduler.ReduceLROnPlateau`, same semantics and defaults).
//!
//! After each evaluation (usually each epoch) call [`ReduceLrOnPlateau::step`] with the metric
//! (e.g. the validation loss):
//!
//! ```text
//! better(a, best) =  a < best·(1 − threshold)   (min, rel)     a > best·(1 + threshold)   (max, rel)
//!                    a < best − threshold       (min, abs)     a > best + threshold       (max, abs)
//! if better(metric, best): best ← metric, bad ← 0   else bad ← bad + 1
//! if cooldown > 0: cooldown ← cooldown − 1, bad ← 0
//! if bad > patience: lr_g ← max(lr_g·factor, min_lr_g) for each group g (only if that lowers
//!                    lr_g by more than eps), cooldown ← cooldown_epochs, bad ← 0
//! ```
//!
//! The rate is reduced from each group's *current* rate, so groups keep their ratios. A NaN
//! metric is never better (it counts as a bad epoch). The whole state (best, counters, per-group
//! floors) is serialisable, and restoring it continues exactly.

use serde::{Deserialize, Serialize};

use crate::error::{OptimError, check, check_nonneg};
use crate::optimizer::LrControl;

/// Whether the metric should go down (a loss) or up (an accuracy).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlateauMode {
    /// Lower is better (PyTorch's default `"min"`).
    #[default]
    Min,
    /// Higher is better (`"max"`).
    Max,
}

/// How [`ReduceLrOnPlateauConfig::threshold`] measures a significant improvement.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdMode {
    /// Relative to the best value: `best·(1 ∓ threshold)` (PyTorch's default `"rel"`).
    #[default]
    Rel,
    /// Absolute: `best ∓ threshold` (`"abs"`).
    Abs,
}

/// The learning-rate floor: one for every group, or one per group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MinLr {
    /// The same floor for every group.
    All(f64),
    /// One floor per parameter group (as many as the optimizer has groups).
    PerGroup(Vec<f64>),
}

impl Default for MinLr {
    fn default() -> Self {
        MinLr::All(0.0)
    }
}

/// Configuration of [`ReduceLrOnPlateau`], with PyTorch's defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReduceLrOnPlateauConfig {
    /// Minimise or maximise the metric (min).
    pub mode: PlateauMode,
    /// Factor the rate is multiplied by, in `[0, 1)` (0.1).
    pub factor: f64,
    /// Bad evaluations tolerated before reducing: the rate drops after `patience + 1` in a row
    /// without improvement (10).
    pub patience: u64,
    /// Size of a significant improvement (1e-4), measured per `threshold_mode`.
    pub threshold: f64,
    /// Relative or absolute threshold (rel).
    pub threshold_mode: ThresholdMode,
    /// Evaluations to wait after a reduction before counting bad ones again (0).
    pub cooldown: u64,
    /// Floor of the rate, for all groups or per group (0).
    pub min_lr: MinLr,
    /// Reductions smaller than this are skipped (1e-8).
    pub eps: f64,
}

impl Default for ReduceLrOnPlateauConfig {
    fn default() -> Self {
        Self {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: MinLr::All(0.0),
            eps: 1e-8,
        }
    }
}

const OWNER: &str = "ReduceLROnPlateau";

impl ReduceLrOnPlateauConfig {
    /// Checks every field; `groups` is the optimizer's number of parameter groups.
    pub fn validate(&self, groups: usize) -> Result<(), OptimError> {
        check(
            self.factor.is_finite() && (0.0..1.0).contains(&self.factor),
            OWNER,
            "factor",
            self.factor,
            "a number in [0, 1)",
        )?;
        check_nonneg(OWNER, "threshold", self.threshold)?;
        check_nonneg(OWNER, "eps", self.eps)?;
        match &self.min_lr {
            MinLr::All(m) => check_nonneg(OWNER, "min_lr", *m),
            MinLr::PerGroup(v) => {
                check(
                    v.len() == groups,
                    OWNER,
                    "min_lr",
                    format!("{v:?}"),
                    "one floor per parameter group",
                )?;
                v.iter().try_for_each(|&m| check_nonneg(OWNER, "min_lr", m))
            }
        }
    }

    /// Validates and builds the scheduler for an optimizer with `groups` parameter groups.
    pub fn init(self, groups: usize) -> Result<ReduceLrOnPlateau, OptimError> {
        self.validate(groups)?;
        let min_lrs = match &self.min_lr {
            MinLr::All(m) => vec![*m; groups],
            MinLr::PerGroup(v) => v.clone(),
        };
        Ok(ReduceLrOnPlateau {
            config: self,
            min_lrs,
            best: None,
            num_bad_epochs: 0,
            cooldown_counter: 0,
            last_epoch: 0,
        })
    }

    /// [`init`](ReduceLrOnPlateauConfig::init) for `opt`'s groups.
    pub fn init_for<O: LrControl + ?Sized>(self, opt: &O) -> Result<ReduceLrOnPlateau, OptimError> {
        self.init(opt.num_groups())
    }
}

/// Reduces the learning rate of every group when a metric stops improving; see the module docs.
///
/// ```
/// use nn_optim::{LrControl, ReduceLrOnPlateauConfig, SgdConfig};
///
/// let mut opt = SgdConfig { lr: 0.1, ..Default::default() }.init().unwrap();
/// let mut plateau = ReduceLrOnPlateauConfig { patience: 2, ..Default::default() }
///     .init_for(&opt)
///     .unwrap();
/// for val_loss in [1.0, 0.9, 0.9, 0.9, 0.9] {
///     plateau.step(val_loss, &mut opt);
/// }
/// assert!((opt.lr(0) - 0.01).abs() < 1e-12); // three evaluations without improvement
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Saved")]
pub struct ReduceLrOnPlateau {
    config: ReduceLrOnPlateauConfig,
    min_lrs: Vec<f64>,
    /// `None` until the first metric (PyTorch's `mode_worse`, ±∞, which JSON cannot hold).
    best: Option<f64>,
    num_bad_epochs: u64,
    cooldown_counter: u64,
    last_epoch: u64,
}

/// The serialised form, validated on the way in.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    config: ReduceLrOnPlateauConfig,
    min_lrs: Vec<f64>,
    best: Option<f64>,
    num_bad_epochs: u64,
    cooldown_counter: u64,
    last_epoch: u64,
}

impl TryFrom<Saved> for ReduceLrOnPlateau {
    type Error = OptimError;
    fn try_from(s: Saved) -> Result<Self, OptimError> {
        let mut r = s.config.init(s.min_lrs.len())?;
        for &m in &s.min_lrs {
            check_nonneg(OWNER, "min_lrs", m)?;
        }
        r.min_lrs = s.min_lrs;
        r.best = s.best;
        r.num_bad_epochs = s.num_bad_epochs;
        r.cooldown_counter = s.cooldown_counter;
        r.last_epoch = s.last_epoch;
        Ok(r)
    }
}

impl ReduceLrOnPlateau {
    /// Whether `a` is a significant improvement over `best` (PyTorch's `_is_better`).
    fn is_better(&self, a: f64, best: Option<f64>) -> bool {
        let c = &self.config;
        let Some(best) = best else {
            // best = mode_worse = ±∞: anything but NaN (and the infinity itself) is better.
            return match c.mode {
                PlateauMode::Min => a < f64::INFINITY,
                PlateauMode::Max => a > f64::NEG_INFINITY,
            };
        };
        match (c.mode, c.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - c.threshold),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - c.threshold,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (c.threshold + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + c.threshold,
        }
    }

    /// Records one evaluation of the metric and reduces the rates of `opt`'s groups if it has
    /// not improved for more than `patience` evaluations. Returns whether it reduced.
    ///
    /// # Panics
    /// If `opt` has a different number of groups than the scheduler was built for.
    pub fn step<O: LrControl + ?Sized>(&mut self, metric: f64, opt: &mut O) -> bool {
        assert_eq!(
            opt.num_groups(),
            self.min_lrs.len(),
            "ReduceLrOnPlateau::step: the optimizer has {} groups, the scheduler was built for {}",
            opt.num_groups(),
            self.min_lrs.len()
        );
        self.last_epoch += 1;
        if self.is_better(metric, self.best) {
            self.best = Some(metric);
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        if self.num_bad_epochs <= self.config.patience {
            return false;
        }
        for (g, &floor) in self.min_lrs.iter().enumerate() {
            let old = opt.lr(g);
            let new = (old * self.config.factor).max(floor);
            if old - new > self.config.eps {
                opt.set_lr(g, new);
            }
        }
        self.cooldown_counter = self.config.cooldown;
        self.num_bad_epochs = 0;
        true
    }

    /// The configuration.
    pub fn config(&self) -> &ReduceLrOnPlateauConfig {
        &self.config
    }

    /// The best metric so far (`None` before the first).
    pub fn best(&self) -> Option<f64> {
        self.best
    }

    /// Consecutive evaluations without a significant improvement.
    pub fn num_bad_epochs(&self) -> u64 {
        self.num_bad_epochs
    }

    /// Whether a reduction's cooldown is running.
    pub fn in_cooldown(&self) -> bool {
        self.cooldown_counter > 0
    }

    /// Evaluations recorded so far.
    pub fn last_epoch(&self) -> u64 {
        self.last_epoch
    }

    /// The per-group floors.
    pub fn min_lrs(&self) -> &[f64] {
        &self.min_lrs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Matcher, ParamGroup, SgdConfig};

    fn sgd(lr: f64) -> crate::Sgd {
        SgdConfig {
            lr,
            ..Default::default()
        }
        .init_with_groups(vec![
            ParamGroup::new("head", Matcher::Prefix("head.".into())).with_lr_scale(10.0),
        ])
        .unwrap()
    }

    #[test]
    fn reduces_after_patience_plus_one_bad_epochs_keeping_group_ratios() {
        let mut opt = sgd(0.1);
        let mut p = ReduceLrOnPlateauConfig {
            patience: 1,
            ..Default::default()
        }
        .init_for(&opt)
        .unwrap();
        assert!(!p.step(1.0, &mut opt));
        assert!(!p.step(1.0, &mut opt));
        assert!(p.step(1.0, &mut opt));
        assert!((opt.lr(0) - 0.01).abs() < 1e-15 && (opt.lr(1) - 0.1).abs() < 1e-15);
        assert_eq!(
            (p.best(), p.num_bad_epochs(), p.last_epoch()),
            (Some(1.0), 0, 3)
        );
    }

    #[test]
    fn thresholds_cooldown_floor_and_eps() {
        let mut opt = sgd(1.0);
        let mut p = ReduceLrOnPlateauConfig {
            mode: PlateauMode::Max,
            threshold: 0.1,
            threshold_mode: ThresholdMode::Abs,
            patience: 0,
            cooldown: 2,
            factor: 0.5,
            min_lr: MinLr::PerGroup(vec![0.3, 9.0]),
            ..Default::default()
        }
        .init_for(&opt)
        .unwrap();
        assert!(!p.step(0.5, &mut opt)); // first value is better than −∞
        assert!(p.step(0.55, &mut opt)); // +0.05 < threshold 0.1: bad, patience 0 → reduce
        assert_eq!((opt.lr(0), opt.lr(1)), (0.5, 10.0 - 1.0)); // head floored at 9
        assert!(p.in_cooldown());
        assert!(!p.step(0.0, &mut opt)); // cooldown: bad epochs ignored
        assert!(!p.step(0.0, &mut opt));
        assert!(p.step(0.0, &mut opt));
        assert_eq!((opt.lr(0), opt.lr(1)), (0.3, 9.0)); // both at their floors
        let lr = opt.lr(0);
        p.step(0.0, &mut opt);
        p.step(0.0, &mut opt);
        p.step(0.0, &mut opt);
        assert_eq!(opt.lr(0), lr, "nothing below the floor");
    }

    #[test]
    fn nan_is_a_bad_epoch() {
        let mut opt = sgd(0.1);
        let mut p = ReduceLrOnPlateauConfig {
            patience: 0,
            ..Default::default()
        }
        .init_for(&opt)
        .unwrap();
        assert!(p.step(f64::NAN, &mut opt));
        assert_eq!(p.best(), None);
    }

    #[test]
    fn invalid_configs_are_errors_naming_the_field() {
        let bad = |c: ReduceLrOnPlateauConfig, field: &str| {
            let e = c.init(2).unwrap_err().to_string();
            assert!(e.contains(&format!("`{field}`")), "{e}");
        };
        bad(
            ReduceLrOnPlateauConfig {
                factor: 1.0,
                ..Default::default()
            },
            "factor",
        );
        bad(
            ReduceLrOnPlateauConfig {
                threshold: -1.0,
                ..Default::default()
            },
            "threshold",
        );
        bad(
            ReduceLrOnPlateauConfig {
                min_lr: MinLr::PerGroup(vec![0.0]),
                ..Default::default()
            },
            "min_lr",
        );
        bad(
            ReduceLrOnPlateauConfig {
                eps: f64::NAN,
                ..Default::default()
            },
            "eps",
        );
    }

    #[test]
    fn state_round_trips_through_json_and_toml() {
        let mut opt = sgd(0.1);
        let c: ReduceLrOnPlateauConfig =
            toml::from_str("mode = \"max\"\npatience = 3\nmin_lr = [0.0, 0.01]\n").unwrap();
        assert_eq!(c.min_lr, MinLr::PerGroup(vec![0.0, 0.01]));
        assert_eq!(c.factor, 0.1);
        let mut p = c.init_for(&opt).unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<ReduceLrOnPlateau>(&json).unwrap(), p);
        p.step(0.3, &mut opt);
        p.step(0.2, &mut opt);
        let json = serde_json::to_string(&p).unwrap();
        let mut back: ReduceLrOnPlateau = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        let mut opt2 = opt.clone();
        for m in [0.1, 0.1, 0.1, 0.1] {
            assert_eq!(p.step(m, &mut opt), back.step(m, &mut opt2));
        }
        assert_eq!(opt.lr(0), opt2.lr(0));
        let bad = json.replace("\"factor\":0.1", "\"factor\":2.0");
        assert!(serde_json::from_str::<ReduceLrOnPlateau>(&bad).is_err());
        assert!(toml::from_str::<ReduceLrOnPlateauConfig>("patiense = 3").is_err());
    }
}
