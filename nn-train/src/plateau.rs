//! Reduce-on-plateau in a job: the `[reduce_on_plateau]` block drives nn-optim's
//! [`ReduceLrOnPlateau`] (PyTorch's `ReduceLROnPlateau`, same semantics and defaults) with the
//! validation loss (or accuracy) measured at the end of every epoch.
//!
//! ```toml
//! [reduce_on_plateau]
//! metric = "val_loss"     # or "val_acc" (then higher is better)
//! factor = 0.1            # new rate = rate · factor
//! patience = 10           # epochs without improvement tolerated before reducing
//! threshold = 1e-4        # a significant improvement ...
//! threshold_mode = "rel"  # ... relative to the best value ("rel") or absolute ("abs")
//! cooldown = 0            # epochs to wait after a reduction before counting again
//! min_lr = 0.0            # floor of the rate (or one per parameter group: [0.0, 1e-5])
//! eps = 1e-8              # reductions smaller than this are skipped
//! ```
//!
//! Without a `schedule`, a job with `[reduce_on_plateau]` keeps the rate constant between
//! reductions (PyTorch's usual `ReduceLROnPlateau` loop; the default warm-up + cosine is not
//! used). With a `schedule` (a warm-up, say), the two compose multiplicatively: every rate the
//! schedule sets is multiplied by the plateau's factor so far, per parameter group — the rate of
//! group g at step t is `schedule_g(t) · Π factors applied to g`. The floor `min_lr` bounds the
//! rate when a reduction is made.
//!
//! The whole state (the scheduler's best value and counters, and the accumulated factors) is
//! part of the training checkpoint ([`crate::checkpoint`]), so a resumed job reduces at the same
//! epochs as one that was never interrupted.

use nn_optim::schedule::{MinLr, PlateauMode, ThresholdMode};
use nn_optim::{LrControl, ReduceLrOnPlateau, ReduceLrOnPlateauConfig};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError, invalid};

/// The metric the plateau watches, measured on the validation split after every epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlateauMetric {
    /// The validation loss (lower is better; PyTorch's `mode="min"`).
    #[default]
    ValLoss,
    /// The validation accuracy (higher is better; `mode="max"`).
    ValAcc,
}

/// The `[reduce_on_plateau]` block of a job (PyTorch's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlateauSettings {
    /// The metric watched. Default `val_loss`.
    pub metric: PlateauMetric,
    /// Factor the rate is multiplied by, in [0, 1). Default 0.1.
    pub factor: f64,
    /// Epochs without a significant improvement tolerated: the rate drops after `patience + 1`
    /// in a row. Default 10.
    pub patience: u64,
    /// Size of a significant improvement. Default 1e-4.
    pub threshold: f64,
    /// `rel` (relative to the best value) or `abs`. Default `rel`.
    pub threshold_mode: ThresholdMode,
    /// Epochs to wait after a reduction before counting bad epochs again. Default 0.
    pub cooldown: u64,
    /// Floor of the rate: one number, or one per parameter group. Default 0.
    pub min_lr: MinLr,
    /// Reductions smaller than this are skipped. Default 1e-8.
    pub eps: f64,
}

impl Default for PlateauSettings {
    fn default() -> Self {
        let d = ReduceLrOnPlateauConfig::default();
        PlateauSettings {
            metric: PlateauMetric::ValLoss,
            factor: d.factor,
            patience: d.patience,
            threshold: d.threshold,
            threshold_mode: d.threshold_mode,
            cooldown: d.cooldown,
            min_lr: d.min_lr,
            eps: d.eps,
        }
    }
}

impl PlateauSettings {
    /// nn-optim's configuration (the mode follows the metric).
    pub fn config(&self) -> ReduceLrOnPlateauConfig {
        ReduceLrOnPlateauConfig {
            mode: match self.metric {
                PlateauMetric::ValLoss => PlateauMode::Min,
                PlateauMetric::ValAcc => PlateauMode::Max,
            },
            factor: self.factor,
            patience: self.patience,
            threshold: self.threshold,
            threshold_mode: self.threshold_mode,
            cooldown: self.cooldown,
            min_lr: self.min_lr.clone(),
            eps: self.eps,
        }
    }

    /// Checks the values, naming the field (`reduce_on_plateau.factor`, ...). A per-group
    /// `min_lr` is checked against the optimizer's groups when the session is built.
    pub fn validate(&self) -> Result<()> {
        let groups = match &self.min_lr {
            MinLr::All(_) => 1,
            MinLr::PerGroup(v) => v.len(),
        };
        self.config().validate(groups).map_err(named)
    }
}

/// An nn-optim validation error as a job-file error naming `reduce_on_plateau.FIELD`.
fn named(e: nn_optim::OptimError) -> TrainError {
    match e {
        nn_optim::OptimError::InvalidHyperparameter {
            field,
            value,
            expected,
            ..
        } => invalid(&format!("reduce_on_plateau.{field}"), value, expected),
        e => TrainError::from(e),
    }
}

/// The plateau scheduler of a running job, with the factor it has applied to each group so far
/// (so that it composes with the step schedule, which sets the rates afresh every step).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plateau {
    metric: PlateauMetric,
    scheduler: ReduceLrOnPlateau,
    /// Per group: the product of the reductions so far (1 until the first).
    scales: Vec<f64>,
}

impl Plateau {
    /// The plateau of a job with these settings, for `opt`'s parameter groups.
    pub fn new<O: LrControl + ?Sized>(settings: &PlateauSettings, opt: &O) -> Result<Plateau> {
        let scheduler = settings.config().init_for(opt).map_err(named)?;
        Ok(Plateau {
            metric: settings.metric,
            scheduler,
            scales: vec![1.0; opt.num_groups()],
        })
    }

    /// Records the end-of-epoch validation `(loss, accuracy)` and reduces `opt`'s rates if the
    /// watched metric has not improved for more than `patience` epochs. Returns whether it
    /// reduced.
    pub fn on_validation<O: LrControl + ?Sized>(
        &mut self,
        val_loss: f32,
        val_acc: f32,
        opt: &mut O,
    ) -> bool {
        let metric = match self.metric {
            PlateauMetric::ValLoss => val_loss,
            PlateauMetric::ValAcc => val_acc,
        };
        let before: Vec<f64> = (0..opt.num_groups()).map(|g| opt.lr(g)).collect();
        let reduced = self.scheduler.step(metric as f64, opt);
        for (g, (scale, old)) in self.scales.iter_mut().zip(before).enumerate() {
            let new = opt.lr(g);
            if new != old && old > 0.0 {
                *scale *= new / old;
            }
        }
        reduced
    }

    /// Multiplies the rates the step schedule has just set by the reductions so far (a no-op
    /// until the first reduction).
    pub fn apply<O: LrControl + ?Sized>(&self, opt: &mut O) {
        for (g, &scale) in self.scales.iter().enumerate() {
            if scale != 1.0 {
                opt.set_lr(g, opt.lr(g) * scale);
            }
        }
    }

    /// Per group, the product of the reductions so far.
    pub fn scales(&self) -> &[f64] {
        &self.scales
    }

    /// nn-optim's scheduler (best value, bad epochs, cooldown).
    pub fn scheduler(&self) -> &ReduceLrOnPlateau {
        &self.scheduler
    }
}

#[cfg(test)]
mod tests {
    use nn_optim::schedule::Warmup;
    use nn_optim::{Interval, LrScheduler, Schedule, SgdConfig};

    use super::*;

    fn parse(text: &str) -> std::result::Result<PlateauSettings, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn parses_with_pytorch_defaults_and_names_bad_fields() {
        let s = parse("").unwrap();
        assert_eq!(s, PlateauSettings::default());
        assert_eq!(s.config(), ReduceLrOnPlateauConfig::default());
        let s =
            parse("metric = \"val_acc\"\nmin_lr = [0.0, 1e-5]\nthreshold_mode = \"abs\"").unwrap();
        assert_eq!(s.config().mode, PlateauMode::Max);
        assert_eq!(s.min_lr, MinLr::PerGroup(vec![0.0, 1e-5]));
        assert!(
            parse("metric = \"train_loss\"")
                .unwrap_err()
                .contains("val_loss")
        );
        assert!(parse("patients = 3").unwrap_err().contains("patients"));
        for (text, field) in [
            ("factor = 1.0", "reduce_on_plateau.factor"),
            ("threshold = -1.0", "reduce_on_plateau.threshold"),
            ("min_lr = -0.1", "reduce_on_plateau.min_lr"),
            ("eps = nan", "reduce_on_plateau.eps"),
        ] {
            let e = parse(text).unwrap().validate().unwrap_err().to_string();
            assert!(e.contains(field), "{text}: {e}");
        }
        // A per-group floor must match the optimizer's groups.
        let opt = SgdConfig::default().init().unwrap();
        let s = parse("min_lr = [0.0, 0.0]").unwrap();
        let e = Plateau::new(&s, &opt).unwrap_err().to_string();
        assert!(e.contains("reduce_on_plateau.min_lr"), "{e}");
    }

    /// With a constant rate it is PyTorch's ReduceLROnPlateau; the accuracy is maximised.
    #[test]
    fn reduces_after_patience_and_watches_the_chosen_metric() {
        let mut opt = SgdConfig {
            lr: 0.1,
            ..Default::default()
        }
        .init()
        .unwrap();
        let settings = PlateauSettings {
            metric: PlateauMetric::ValAcc,
            patience: 1,
            factor: 0.5,
            ..Default::default()
        };
        let mut p = Plateau::new(&settings, &opt).unwrap();
        // Accuracy up, flat, flat (reduce), flat, flat (reduce). The loss is ignored.
        let accs = [0.5, 0.6, 0.6, 0.6, 0.6, 0.6];
        let reduced: Vec<bool> = accs
            .iter()
            .map(|&a| p.on_validation(9.0, a, &mut opt))
            .collect();
        assert_eq!(reduced, [false, false, false, true, false, true]);
        assert!((opt.lr(0) - 0.025).abs() < 1e-15);
        assert!((p.scales()[0] - 0.25).abs() < 1e-15);
    }

    /// With a warm-up schedule, every rate it sets is multiplied by the reductions so far.
    #[test]
    fn composes_with_a_step_schedule() {
        let mut opt = SgdConfig {
            lr: 0.1,
            ..Default::default()
        }
        .init()
        .unwrap();
        let schedule = Schedule::Warmup(Warmup {
            steps: 4,
            start_factor: 0.2,
            inner: Box::new(Schedule::Constant),
        });
        let mut sched = LrScheduler::new(schedule, Interval::Step, &mut opt).unwrap();
        let settings = PlateauSettings {
            patience: 0,
            factor: 0.5,
            ..Default::default()
        };
        let mut p = Plateau::new(&settings, &opt).unwrap();
        assert!(!p.on_validation(1.0, 0.0, &mut opt));
        assert!(p.on_validation(1.0, 0.0, &mut opt));
        for t in 1..=6u64 {
            sched.on_step(&mut opt);
            p.apply(&mut opt);
            let warm = 0.1 * (0.2 + 0.8 * (t.min(4) as f64) / 4.0);
            assert!(
                (opt.lr(0) - 0.5 * warm).abs() < 1e-12,
                "t={t}: {}",
                opt.lr(0)
            );
        }
        // State round trip (the checkpoint stores it as CBOR).
        let back: Plateau =
            crate::checkpoint::decode(&crate::checkpoint::encode(&p), "plateau").unwrap();
        assert_eq!(back, p);
    }
}
