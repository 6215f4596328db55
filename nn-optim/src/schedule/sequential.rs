//! [`Sequential`]: schedules one after another (`SequentialLR`).

use serde::{Deserialize, Serialize};

use super::{LrSchedule, Schedule};
use crate::error::{OptimError, check};

/// Schedule i runs from milestone i−1 on, with its own t starting at 0 (`SequentialLR`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sequential {
    /// The schedules (at least one).
    pub schedules: Vec<Schedule>,
    /// Strictly increasing switch points (> 0), one fewer than the schedules.
    pub milestones: Vec<u64>,
}

impl LrSchedule for Sequential {
    fn lr(&self, base: f64, t: u64) -> f64 {
        let i = self.milestones.partition_point(|&m| m <= t);
        let offset = if i == 0 { 0 } else { self.milestones[i - 1] };
        self.schedules[i].lr(base, t - offset)
    }
    fn bounds(&self, base: f64) -> (f64, f64) {
        self.schedules
            .iter()
            .map(|s| s.bounds(base))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (c, d)| {
                (a.min(c), b.max(d))
            })
    }
    fn validate(&self) -> Result<(), OptimError> {
        const O: &str = "Sequential";
        let m = &self.milestones;
        let n = self.schedules.len();
        check(n > 0, O, "schedules", 0, "at least one schedule")?;
        check(
            m.len() + 1 == n,
            O,
            "milestones",
            format!("{m:?}"),
            "one fewer milestone than schedules",
        )?;
        check(
            m.windows(2).all(|w| w[0] < w[1]) && m.first().is_none_or(|&x| x > 0),
            O,
            "milestones",
            format!("{m:?}"),
            "strictly increasing and > 0",
        )?;
        self.schedules.iter().try_for_each(LrSchedule::validate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Exponential;

    #[test]
    fn milestones_and_nested_errors() {
        let bad = Sequential {
            schedules: vec![Schedule::Constant],
            milestones: vec![3],
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("milestones")
        );
        let nested = Sequential {
            schedules: vec![
                Schedule::Constant,
                Schedule::Exponential(Exponential { gamma: -1.0 }),
            ],
            milestones: vec![3],
        };
        assert!(nested.validate().unwrap_err().to_string().contains("gamma"));
    }
}
