//! `nn-train lab regularize`, part 3: the whole experiment ([`run_regularize_lab`]) and its
//! verdict in words ([`verdict`]).

use serde::{Deserialize, Serialize};

use super::regularize::{LAB_CNN, LAB_RESNET, Regularizer, model_kind, strip, variant, with_model};
use super::regularize_run::{RegularizeRun, run_variant};
use crate::config::TrainConfig;
use crate::data::prepare;
use crate::error::Result;

/// Settings of the experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegularizeLabConfig {
    /// The regularisers to train, in order (`none` is added when missing: every run is compared
    /// with it). Default: all ten.
    pub regularizers: Vec<Regularizer>,
    /// `(regulariser, value of its knob)` overrides ([`Regularizer::knob`]).
    pub strengths: Vec<(Regularizer, f64)>,
    /// The largest K of the rule-against-averaging comparison (0: skip it). Default 32.
    pub max_draws: usize,
    /// Train a regulariser the job's model cannot take on the lab's small CNN / ResNet (against
    /// its own baseline) instead of skipping it. Default true.
    pub other_models: bool,
}

impl Default for RegularizeLabConfig {
    fn default() -> Self {
        RegularizeLabConfig {
            regularizers: Regularizer::ALL.to_vec(),
            strengths: Vec::new(),
            max_draws: 32,
            other_models: true,
        }
    }
}

/// A regulariser the lab did not train, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// The regulariser.
    pub regularizer: Regularizer,
    /// Why (the job's model cannot take it: the validation error).
    pub reason: String,
}

/// Everything the experiment measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegularizeReport {
    /// The baseline job (every regulariser off), as TOML.
    pub baseline: String,
    /// Every trained run, the baseline(s) first.
    pub runs: Vec<RegularizeRun>,
    /// The regularisers not trained.
    pub skipped: Vec<Skipped>,
    /// The verdict in words, one paragraph per line.
    pub verdict: Vec<String>,
}

/// One planned run.
struct Planned {
    reg: Regularizer,
    model: String,
    setting: String,
    job: TrainConfig,
}

/// Plans the runs: `(model kind, baseline)` groups, each run a variant of one of them.
fn plan(job: &TrainConfig, cfg: &RegularizeLabConfig) -> Result<(Vec<Planned>, Vec<Skipped>)> {
    let base = strip(job)?;
    // The images' shape before preprocessing (what augmentation sees; cutout's too, unless a
    // PCA projection changes it).
    let shape = prepare(&job.data, job.seed)?.image_shape;
    let kind = model_kind(&base);
    let mut planned = vec![Planned {
        reg: Regularizer::None,
        model: kind.clone(),
        setting: String::new(),
        job: base.clone(),
    }];
    let mut skipped = Vec::new();
    let strength = |r: Regularizer| {
        cfg.strengths
            .iter()
            .rev()
            .find(|(x, _)| *x == r)
            .map(|(_, v)| *v)
    };
    for &reg in &cfg.regularizers {
        if reg == Regularizer::None {
            continue;
        }
        let reason = match variant(&base, job, reg, strength(reg), shape)? {
            Ok(v) => {
                planned.push(Planned {
                    reg,
                    model: kind.clone(),
                    setting: v.setting,
                    job: v.job,
                });
                continue;
            }
            Err(reason) => reason,
        };
        let other = match reg {
            Regularizer::StochasticDepth => Some(LAB_RESNET),
            Regularizer::FractionalPool => Some(LAB_CNN),
            _ => None,
        };
        let fallback = match other.filter(|_| cfg.other_models) {
            Some(model) => {
                let other_base = with_model(&base, model)?;
                let other_kind = model_kind(&other_base);
                match variant(&other_base, job, reg, strength(reg), shape)? {
                    Ok(v) => Some((other_kind, other_base, v)),
                    Err(_) => None,
                }
            }
            None => None,
        };
        match fallback {
            Some((other_kind, other_base, v)) => {
                if !planned
                    .iter()
                    .any(|p| p.model == other_kind && p.reg == Regularizer::None)
                {
                    planned.push(Planned {
                        reg: Regularizer::None,
                        model: other_kind.clone(),
                        setting: String::new(),
                        job: other_base,
                    });
                }
                planned.push(Planned {
                    reg,
                    model: other_kind,
                    setting: v.setting,
                    job: v.job,
                });
            }
            None => skipped.push(Skipped {
                regularizer: reg,
                reason: format!("not applicable to the job's {kind} model: {reason}"),
            }),
        }
    }
    Ok((planned, skipped))
}

/// Runs the experiment on `job` (see [`super::regularize`]); `progress` is called after each run.
pub fn run_regularize_lab(
    job: &TrainConfig,
    cfg: &RegularizeLabConfig,
    progress: &mut dyn FnMut(&RegularizeRun),
) -> Result<RegularizeReport> {
    let (planned, skipped) = plan(job, cfg)?;
    let mut runs = Vec::new();
    for p in planned {
        let run = run_variant(&p.job, p.reg, &p.model, &p.setting, cfg.max_draws)?;
        progress(&run);
        runs.push(run);
    }
    let mut report = RegularizeReport {
        baseline: strip(job)?.to_toml(),
        runs,
        skipped,
        verdict: Vec::new(),
    };
    report.verdict = verdict(&report);
    Ok(report)
}

impl RegularizeReport {
    /// The baseline run of `model`.
    pub fn baseline_of(&self, model: &str) -> Option<&RegularizeRun> {
        self.runs
            .iter()
            .find(|r| r.model == model && r.regularizer == Regularizer::None)
    }

    /// The run of `reg`, if it was trained.
    pub fn run(&self, reg: Regularizer) -> Option<&RegularizeRun> {
        self.runs.iter().find(|r| r.regularizer == reg)
    }
}

fn pct(x: f32) -> String {
    format!("{:.1} %", 100.0 * x)
}

/// The verdict: the baseline's gap, the regularisers by validation accuracy and by gap, what L1
/// and L2 did to the weights, the rule against averaging, and what was skipped.
pub fn verdict(r: &RegularizeReport) -> Vec<String> {
    let mut out = Vec::new();
    let mut models: Vec<&str> = Vec::new();
    for x in &r.runs {
        if !models.contains(&x.model.as_str()) {
            models.push(x.model.as_str());
        }
    }
    for model in models {
        let Some(base) = r.baseline_of(model) else {
            continue;
        };
        let (Some(last), Some(gap)) = (base.last(), base.acc_gap()) else {
            continue;
        };
        let mut line = format!(
            "{model}, no regularisation: clean train accuracy {}, validation {} (gap {:.1} pt; \
             val loss − train loss {:.3}); test {}.",
            pct(last.train_acc),
            pct(last.val_acc),
            100.0 * gap,
            base.loss_gap().unwrap_or(f32::NAN),
            pct(base.test_acc)
        );
        let mut others: Vec<&RegularizeRun> = r
            .runs
            .iter()
            .filter(|x| x.model == model && x.regularizer != Regularizer::None)
            .collect();
        let (ok, failed): (Vec<&RegularizeRun>, Vec<&RegularizeRun>) = others
            .drain(..)
            .partition(|x| x.error.is_none() && x.last().is_some());
        if !ok.is_empty() {
            let mut by_val = ok.clone();
            by_val.sort_by(|a, b| b.best_val_acc().total_cmp(&a.best_val_acc()));
            let items: Vec<String> = by_val
                .iter()
                .map(|x| {
                    format!(
                        "{} {} ({:+.1} pt, gap {:.1} pt)",
                        x.regularizer.name(),
                        pct(x.best_val_acc()),
                        100.0 * (x.best_val_acc() - base.best_val_acc()),
                        100.0 * x.acc_gap().unwrap_or(f32::NAN)
                    )
                })
                .collect();
            line += &format!(
                " Best validation accuracy (none: {}): {}.",
                pct(base.best_val_acc()),
                items.join(", ")
            );
            let narrowed: Vec<&str> = ok
                .iter()
                .filter(|x| x.acc_gap().is_some_and(|g| g < gap))
                .map(|x| x.regularizer.name())
                .collect();
            let hurt: Vec<&str> = ok
                .iter()
                .filter(|x| x.best_val_acc() < base.best_val_acc())
                .map(|x| x.regularizer.name())
                .collect();
            line += &format!(
                " {} of {} narrowed the train/validation gap{}.",
                narrowed.len(),
                ok.len(),
                if narrowed.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", narrowed.join(", "))
                }
            );
            if !hurt.is_empty() {
                line += &format!(
                    " Below the baseline on validation: {} — too strong for this job, or too few \
                     epochs for it to pay off (try --strength NAME=VALUE or more --epochs).",
                    hurt.join(", ")
                );
            }
        }
        for x in failed {
            line += &format!(
                " {} failed: {}.",
                x.regularizer.name(),
                x.error.as_deref().unwrap_or("no epoch")
            );
        }
        out.push(line);
        for (reg, what) in [(Regularizer::L1, "L1"), (Regularizer::L2, "L2")] {
            if let Some(x) = r
                .runs
                .iter()
                .find(|x| x.model == model && x.regularizer == reg && x.error.is_none())
            {
                out.push(format!(
                    "{what}: weight RMS {:.4} (none: {:.4}); {} of the weights below 1e-3 in \
                     magnitude (none: {}).",
                    x.weights.rms,
                    base.weights.rms,
                    pct(x.weights.near_zero),
                    pct(base.weights.near_zero)
                ));
            }
        }
    }
    for x in &r.runs {
        let Some(mc) = &x.mc else { continue };
        let Some(best) = mc.points.last() else {
            continue;
        };
        let one = mc.points.first().copied().unwrap_or(*best);
        let what = if x.regularizer == Regularizer::FractionalPool {
            "region draws"
        } else {
            "random masks"
        };
        let judgement = if best.acc > mc.rule_acc + 0.005 {
            format!("averaging {} {what} beats the {}", best.draws, mc.rule)
        } else if best.acc + 0.005 < mc.rule_acc {
            format!(
                "the {} beats averaging {} {what} (at one pass's cost)",
                mc.rule, best.draws
            )
        } else {
            format!(
                "the {} matches averaging {} {what} within 0.5 pt, at one pass's cost",
                mc.rule, best.draws
            )
        };
        out.push(format!(
            "{} ({}): {} test accuracy {}, NLL {:.3}; one {} {}, NLL {:.3}; {} {what} {}, NLL \
             {:.3} — {judgement}.",
            x.regularizer.name(),
            x.model,
            mc.rule,
            pct(mc.rule_acc),
            mc.rule_nll,
            what.trim_end_matches('s'),
            pct(one.acc),
            one.nll,
            best.draws,
            pct(best.acc),
            best.nll
        ));
    }
    for s in &r.skipped {
        out.push(format!("{} skipped: {}", s.regularizer.name(), s.reason));
    }
    out
}
