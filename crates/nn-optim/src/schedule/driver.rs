//! The stateful driver that applies a [`Schedule`] to an optimizer's groups.

use serde::{Deserialize, Serialize};

use super::Schedule;
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

/// Applies a [`Schedule`] to every parameter group of an optimizer, each group with its own
/// base rate (the group's learning rate when the driver was created, PyTorch's `initial_lr`).
///
/// Call [`LrScheduler::on_step`] after every optimizer step and [`LrScheduler::on_epoch`] at the
/// end of every epoch; only the one matching the [`Interval`] advances `t`. Serialisable
/// (validated again on deserialisation), so training can resume exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Raw")]
pub struct LrScheduler {
    schedule: Schedule,
    interval: Interval,
    base_lrs: Vec<f64>,
    t: u64,
}

#[derive(Deserialize)]
struct Raw {
    schedule: Schedule,
    interval: Interval,
    base_lrs: Vec<f64>,
    t: u64,
}

impl TryFrom<Raw> for LrScheduler {
    type Error = OptimError;
    fn try_from(r: Raw) -> Result<Self, OptimError> {
        let s = LrScheduler::with_base_lrs(r.schedule, r.interval, r.base_lrs)?;
        Ok(LrScheduler { t: r.t, ..s })
    }
}

impl LrScheduler {
    /// A driver whose base rates are the optimizer's current group rates; sets the rates for
    /// t = 0 right away.
    pub fn new<O: LrControl + ?Sized>(
        schedule: Schedule,
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
        schedule: Schedule,
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
        })
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
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The base rates, one per group.
    pub fn base_lrs(&self) -> &[f64] {
        &self.base_lrs
    }
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
            Schedule::Step {
                step_size: 2,
                gamma: 0.5,
            },
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
    }
}
