//! The stateful driver that applies a [`Schedule`] to an optimizer's groups.

use serde::{Deserialize, Serialize};

use super::{LrSchedule, Schedule};
use crate::error::OptimError;
use crate::optimizer::LrControl;

/// Whether the schedule's `t` counts optimizer steps or epochs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    /// `t` advances in [`LrScheduler::on_step`] (after every optimizer step).
    #[default]
    Step,
    /// `t` advances in [`LrScheduler::on_epoch`] (at the end of every epoch).
    Epoch,
}

/// Momentum cycling for a one-cycle schedule: the momentum goes from `max_momentum` down to
/// `base_momentum` while the rate rises, and back up while it falls (Smith 2018; PyTorch's
/// `OneCycleLR(cycle_momentum=True)` defaults 0.85 / 0.95).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MomentumCycle {
    /// The momentum at the peak learning rate (0.85).
    pub base_momentum: f64,
    /// The momentum at the start and end of the cycle (0.95).
    pub max_momentum: f64,
}

impl Default for MomentumCycle {
    fn default() -> Self {
        Self {
            base_momentum: 0.85,
            max_momentum: 0.95,
        }
    }
}

/// Applies a schedule (a [`Schedule`] from a config, or any [`LrSchedule`]) to every parameter group of an optimizer, each group with its own
/// base rate (the group's learning rate when the driver was created, PyTorch's `initial_lr`).
///
/// Call [`LrScheduler::on_step`] after every optimizer step and [`LrScheduler::on_epoch`] at the
/// end of every epoch; only the one matching the [`Interval`] advances `t`. Serialisable
/// (validated again on deserialisation), so training can resume exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    try_from = "Raw<S>",
    bound(deserialize = "S: serde::de::DeserializeOwned + LrSchedule")
)]
pub struct LrScheduler<S = Schedule> {
    schedule: S,
    interval: Interval,
    base_lrs: Vec<f64>,
    t: u64,
    #[serde(default)]
    momentum_cycle: Option<MomentumCycle>,
}

#[derive(Deserialize)]
struct Raw<S> {
    schedule: S,
    interval: Interval,
    base_lrs: Vec<f64>,
    t: u64,
    #[serde(default)]
    momentum_cycle: Option<MomentumCycle>,
}

impl<S: LrSchedule> TryFrom<Raw<S>> for LrScheduler<S> {
    type Error = OptimError;
    fn try_from(r: Raw<S>) -> Result<Self, OptimError> {
        let s = LrScheduler::with_base_lrs(r.schedule, r.interval, r.base_lrs)?;
        if let Some(c) = r.momentum_cycle {
            check_cycle(&s.schedule, c)?;
        }
        Ok(LrScheduler {
            t: r.t,
            momentum_cycle: r.momentum_cycle,
            ..s
        })
    }
}

impl<S: LrSchedule> LrScheduler<S> {
    /// A driver whose base rates are the optimizer's current group rates; sets the rates for
    /// t = 0 right away.
    pub fn new<O: LrControl + ?Sized>(
        schedule: S,
        interval: Interval,
        opt: &mut O,
    ) -> Result<Self, OptimError> {
        let base = (0..opt.num_groups()).map(|g| opt.lr(g)).collect();
        let s = Self::with_base_lrs(schedule, interval, base)?;
        s.apply(opt);
        Ok(s)
    }

    /// A driver with explicit base rates, one per group (e.g. one-cycle peaks); call
    /// [`LrScheduler::apply`] to set the rates for t = 0.
    pub fn with_base_lrs(
        schedule: S,
        interval: Interval,
        base_lrs: Vec<f64>,
    ) -> Result<Self, OptimError> {
        schedule.validate()?;
        for &b in &base_lrs {
            crate::error::check_lr("LrScheduler", b)?;
        }
        Ok(Self {
            schedule,
            interval,
            base_lrs,
            t: 0,
            momentum_cycle: None,
        })
    }

    /// Also cycles the optimizer's momentum (μ or β₁) with a one-cycle schedule ([`super::OneCycle`]), and sets
    /// it for the current `t` right away. Errors if the schedule is not one-cycle, the
    /// momenta are invalid, or the optimizer has no momentum.
    pub fn with_momentum_cycle<O: LrControl + ?Sized>(
        mut self,
        cycle: MomentumCycle,
        opt: &mut O,
    ) -> Result<Self, OptimError> {
        check_cycle(&self.schedule, cycle)?;
        if opt.momentum().is_none() {
            return Err(OptimError::Unsupported {
                optimizer: "this optimizer",
                what: "momentum cycling",
            });
        }
        let m = self
            .schedule
            .one_cycle_momentum(self.t, cycle.base_momentum, cycle.max_momentum);
        opt.set_momentum(m.expect("checked: one-cycle"))?;
        self.momentum_cycle = Some(cycle);
        Ok(self)
    }

    /// The momentum cycled at the current `t`, if momentum cycling is on.
    pub fn momentum(&self) -> Option<f64> {
        let c = self.momentum_cycle?;
        self.schedule
            .one_cycle_momentum(self.t, c.base_momentum, c.max_momentum)
    }

    /// Sets every group's rate to the schedule's value at the current `t`.
    ///
    /// # Panics
    /// If the optimizer has a different number of groups than the driver's base rates.
    pub fn apply<O: LrControl + ?Sized>(&self, opt: &mut O) {
        assert_eq!(
            opt.num_groups(),
            self.base_lrs.len(),
            "LrScheduler::apply: the optimizer has {} groups, the scheduler {} base rates",
            opt.num_groups(),
            self.base_lrs.len()
        );
        for (g, lr) in self.lrs().into_iter().enumerate() {
            opt.set_lr(g, lr.max(0.0));
        }
        if let Some(m) = self.momentum() {
            opt.set_momentum(m)
                .unwrap_or_else(|e| panic!("LrScheduler::apply: momentum cycling: {e}"));
        }
    }

    /// Advances `t` by one and applies the new rates (PyTorch's `scheduler.step()`),
    /// whatever the interval.
    pub fn advance<O: LrControl + ?Sized>(&mut self, opt: &mut O) {
        self.t += 1;
        self.apply(opt);
    }

    /// Call after every optimizer step: advances if the interval is [`Interval::Step`].
    pub fn on_step<O: LrControl + ?Sized>(&mut self, opt: &mut O) {
        if self.interval == Interval::Step {
            self.advance(opt);
        }
    }

    /// Call at the end of every epoch: advances if the interval is [`Interval::Epoch`].
    pub fn on_epoch<O: LrControl + ?Sized>(&mut self, opt: &mut O) {
        if self.interval == Interval::Epoch {
            self.advance(opt);
        }
    }

    /// The current `t`.
    pub fn t(&self) -> u64 {
        self.t
    }

    /// The rates of every group at the current `t`.
    pub fn lrs(&self) -> Vec<f64> {
        self.base_lrs
            .iter()
            .map(|&b| self.schedule.lr(b, self.t))
            .collect()
    }

    /// The schedule.
    pub fn schedule(&self) -> &S {
        &self.schedule
    }

    /// The base rates, one per group.
    pub fn base_lrs(&self) -> &[f64] {
        &self.base_lrs
    }
}

fn check_cycle<S: LrSchedule>(schedule: &S, c: MomentumCycle) -> Result<(), OptimError> {
    crate::error::check(
        schedule
            .one_cycle_momentum(0, c.base_momentum, c.max_momentum)
            .is_some(),
        "LrScheduler",
        "momentum_cycle",
        "set",
        "a one_cycle schedule (momentum cycling belongs to the one-cycle policy)",
    )?;
    let ok = |m: f64| m.is_finite() && m >= 0.0;
    crate::error::check(
        ok(c.base_momentum) && ok(c.max_momentum) && c.base_momentum <= c.max_momentum,
        "LrScheduler",
        "momentum_cycle",
        format!("{c:?}"),
        "0 <= base_momentum <= max_momentum",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Matcher, ParamGroup, SgdConfig};

    #[test]
    fn drives_each_group_from_its_own_base() {
        let mut opt = SgdConfig {
            lr: 0.1,
            ..Default::default()
        }
        .init_with_groups(vec![
            ParamGroup::new("head", Matcher::Prefix("head.".into())).with_lr_scale(10.0),
        ])
        .unwrap();
        let mut s = LrScheduler::new(
            Schedule::Step(super::super::Step {
                step_size: 2,
                gamma: 0.5,
            }),
            Interval::Epoch,
            &mut opt,
        )
        .unwrap();
        s.on_step(&mut opt);
        assert_eq!(s.t(), 0);
        s.on_epoch(&mut opt);
        s.on_epoch(&mut opt);
        assert_eq!(s.t(), 2);
        assert!((opt.lr(0) - 0.05).abs() < 1e-12 && (opt.lr(1) - 0.5).abs() < 1e-12);
        let json = serde_json::to_string(&s).unwrap();
        let back: LrScheduler = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        let bad = json.replace("\"step_size\":2", "\"step_size\":0");
        assert!(serde_json::from_str::<LrScheduler>(&bad).is_err());
        assert!(
            s.clone()
                .with_momentum_cycle(MomentumCycle::default(), &mut opt)
                .is_err(),
            "not one-cycle"
        );
    }
}

#[cfg(test)]
mod momentum_tests {
    use super::*;
    use crate::schedule::OneCycle;
    use crate::{AdaGradConfig, AdamConfig};

    fn one_cycle() -> Schedule {
        Schedule::OneCycle(OneCycle::new(10))
    }

    #[test]
    fn cycles_beta1_and_rejects_optimizers_without_momentum() {
        let mut adam = AdamConfig {
            lr: 0.1,
            ..Default::default()
        }
        .init()
        .unwrap();
        let mut s = LrScheduler::new(one_cycle(), Interval::Step, &mut adam)
            .unwrap()
            .with_momentum_cycle(MomentumCycle::default(), &mut adam)
            .unwrap();
        assert_eq!(adam.momentum(), Some(0.95));
        s.on_step(&mut adam);
        s.on_step(&mut adam);
        assert!(
            (adam.momentum().unwrap() - 0.85).abs() < 1e-12,
            "{:?}",
            adam.momentum()
        );
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<LrScheduler>(&json).unwrap(), s);
        let mut ada = AdaGradConfig::default().init().unwrap();
        let s2 = LrScheduler::new(one_cycle(), Interval::Step, &mut ada).unwrap();
        assert!(matches!(
            s2.with_momentum_cycle(MomentumCycle::default(), &mut ada),
            Err(OptimError::Unsupported { .. })
        ));
    }
}
