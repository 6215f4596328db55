//! Validation of schedule hyperparameters.

use super::Schedule;
use crate::error::{OptimError, check};

impl Schedule {
    /// Checks every hyperparameter (and those of wrapped schedules).
    pub fn validate(&self) -> Result<(), OptimError> {
        let finite_pos = |owner, field, v: f64| {
            check(
                v.is_finite() && v > 0.0,
                owner,
                field,
                v,
                "a finite number > 0",
            )
        };
        let floor = |owner, v: f64| {
            check(
                v.is_finite() && v >= 0.0,
                owner,
                "eta_min",
                v,
                "a finite number >= 0",
            )
        };
        let factor = |owner, field, v: f64| {
            check(
                (0.0..=1.0).contains(&v),
                owner,
                field,
                v,
                "a number in [0, 1]",
            )
        };
        match self {
            Schedule::Constant => Ok(()),
            Schedule::Step { step_size, gamma } => {
                check(*step_size > 0, "Step", "step_size", step_size, "at least 1")?;
                finite_pos("Step", "gamma", *gamma)
            }
            Schedule::MultiStep { milestones, gamma } => {
                check(
                    milestones.is_sorted(),
                    "MultiStep",
                    "milestones",
                    format!("{milestones:?}"),
                    "sorted",
                )?;
                finite_pos("MultiStep", "gamma", *gamma)
            }
            Schedule::Exponential { gamma } => finite_pos("Exponential", "gamma", *gamma),
            Schedule::Cosine { t_max, eta_min } => {
                check(*t_max > 0, "Cosine", "t_max", t_max, "at least 1")?;
                floor("Cosine", *eta_min)
            }
            Schedule::CosineWarmRestarts {
                t_0,
                t_mult,
                eta_min,
            } => {
                check(*t_0 > 0, "CosineWarmRestarts", "t_0", t_0, "at least 1")?;
                check(
                    *t_mult > 0,
                    "CosineWarmRestarts",
                    "t_mult",
                    t_mult,
                    "at least 1",
                )?;
                floor("CosineWarmRestarts", *eta_min)
            }
            Schedule::Linear {
                start_factor,
                end_factor,
                total_iters,
            } => {
                factor("Linear", "start_factor", *start_factor)?;
                factor("Linear", "end_factor", *end_factor)?;
                check(
                    *total_iters > 0,
                    "Linear",
                    "total_iters",
                    total_iters,
                    "at least 1",
                )
            }
            Schedule::InverseSqrt { timescale } => check(
                *timescale > 0,
                "InverseSqrt",
                "timescale",
                timescale,
                "at least 1",
            ),
            Schedule::OneCycle {
                total_steps,
                pct_start,
                div_factor,
                final_div_factor,
                three_phase,
                ..
            } => {
                const O: &str = "OneCycle";
                check(
                    *total_steps > 0,
                    O,
                    "total_steps",
                    total_steps,
                    "at least 1",
                )?;
                finite_pos(O, "div_factor", *div_factor)?;
                finite_pos(O, "final_div_factor", *final_div_factor)?;
                let up = pct_start * *total_steps as f64;
                check(
                    *pct_start > 0.0 && *pct_start < 1.0 && up > 1.0,
                    O,
                    "pct_start",
                    pct_start,
                    "in (0, 1) with pct_start × total_steps > 1 (a warm-up phase of at least one step)",
                )?;
                if *three_phase {
                    check(
                        2.0 * up - 2.0 < *total_steps as f64 - 1.0,
                        O,
                        "pct_start",
                        pct_start,
                        "small enough that the two symmetric phases end before the last step (three_phase)",
                    )?;
                }
                Ok(())
            }
            Schedule::Warmup {
                start_factor,
                inner,
                ..
            } => {
                factor("Warmup", "start_factor", *start_factor)?;
                inner.validate()
            }
            Schedule::Sequential {
                schedules,
                milestones,
            } => {
                check(
                    !schedules.is_empty(),
                    "Sequential",
                    "schedules",
                    0,
                    "at least one schedule",
                )?;
                check(
                    milestones.len() + 1 == schedules.len(),
                    "Sequential",
                    "milestones",
                    format!("{milestones:?}"),
                    "one fewer milestone than schedules",
                )?;
                check(
                    milestones.windows(2).all(|w| w[0] < w[1])
                        && milestones.first().is_none_or(|&m| m > 0),
                    "Sequential",
                    "milestones",
                    format!("{milestones:?}"),
                    "strictly increasing and > 0",
                )?;
                schedules.iter().try_for_each(Schedule::validate)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Anneal;

    #[test]
    fn invalid_schedules_are_errors() {
        assert!(
            Schedule::Step {
                step_size: 0,
                gamma: 0.1
            }
            .validate()
            .is_err()
        );
        assert!(
            Schedule::MultiStep {
                milestones: vec![5, 3],
                gamma: 0.1
            }
            .validate()
            .is_err()
        );
        assert!(
            Schedule::Cosine {
                t_max: 0,
                eta_min: 0.0
            }
            .validate()
            .is_err()
        );
        let bad = Schedule::Sequential {
            schedules: vec![Schedule::Constant],
            milestones: vec![3],
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("milestones")
        );
        let e = Schedule::warmup(3, Schedule::Exponential { gamma: -1.0 })
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("gamma"), "{e}");
        let oc = |p| Schedule::OneCycle {
            total_steps: 10,
            pct_start: p,
            anneal: Anneal::Cos,
            div_factor: 25.0,
            final_div_factor: 1e4,
            three_phase: false,
        };
        assert!(oc(0.3).validate().is_ok());
        assert!(oc(0.05).validate().is_err());
        assert!(oc(1.0).validate().is_err());
    }
}
