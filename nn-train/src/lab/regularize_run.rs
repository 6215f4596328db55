//! `nn-train lab regularize`, part 2: training the variants and measuring them.
//!
//! **The gap.** The training metrics of [`crate::EpochRecord`] are taken on the regularised
//! batches in training mode (dropped units, mixed or cut images), so they are not comparable
//! between regularisers. After every epoch the lab evaluates the model in evaluation mode on a
//! fixed random subset of the *clean* training images (as many as the validation split, at least
//! 512 if the training split has them) and on the validation split: the gap is train − val
//! accuracy (and val − train loss) of the last epoch.
//!
//! **Scaling rule against Monte-Carlo averaging** ([`mc_curve`]): on the test split, with the
//! best validation snapshot, the deterministic test-time rule (dropout and DropConnect: the
//! inverted scaling, i.e. all units and weights; stochastic depth: every block; fractional
//! pooling: one fixed draw of regions) against the class probabilities averaged over K random
//! masks (nn-regularize's [`nn_regularize::predict_mc_draw`]: masks drawn as in training, batch
//! norm in evaluation mode) or K region draws ([`nn_regularize::with_test_draw`]), for K = 1, 2,
//! 4, … up to `max_draws`.

use std::sync::Arc;

use nn_core::{Module, Tensor, with_no_grad};
use nn_data::{Dataset, LoaderConfig, Subset};
use nn_regularize::{predict_mc_draw, with_test_draw};
use serde::{Deserialize, Serialize};

use super::regularize::Regularizer;
use crate::callback::{Callback, Control};
use crate::config::TrainConfig;
use crate::data::loader;
use crate::error::{Result, TrainError};
use crate::session::Session;
use crate::trainer::{EpochRecord, evaluate, predict_proba, train_session};

/// One epoch seen from both sides of the gap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GapRecord {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Loss on the clean training subset, evaluation mode.
    pub train_loss: f32,
    /// Accuracy on the clean training subset, evaluation mode.
    pub train_acc: f32,
    /// Validation loss.
    pub val_loss: f32,
    /// Validation accuracy.
    pub val_acc: f32,
    /// The training loss on the regularised batches (what training optimised).
    pub batch_loss: f32,
}

/// Test accuracy and mean negative log-likelihood of averaging `draws` masks (or draws).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct McPoint {
    /// K.
    pub draws: usize,
    /// Test accuracy of the averaged probabilities.
    pub acc: f32,
    /// Mean −ln p(label) of the averaged probabilities.
    pub nll: f32,
}

/// The test-time rule against Monte-Carlo averaging, on the test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McCurve {
    /// What the deterministic rule is (`scaling rule`, `one fixed draw`).
    pub rule: String,
    /// Test accuracy of the rule.
    pub rule_acc: f32,
    /// Mean −ln p(label) of the rule.
    pub rule_nll: f32,
    /// Averages over K = 1, 2, 4, … masks or draws.
    pub points: Vec<McPoint>,
}

/// Summary statistics of the weights (parameters with at least two axes) after training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WeightStats {
    /// Root mean square.
    pub rms: f32,
    /// Fraction with |w| < 1e-3.
    pub near_zero: f32,
}

/// One trained variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegularizeRun {
    /// The regulariser.
    pub regularizer: Regularizer,
    /// The model it was trained on (`mlp`, `cnn`, …): runs compare with the `none` of their model.
    pub model: String,
    /// What was added to the baseline, as TOML.
    pub setting: String,
    /// Every epoch.
    pub epochs: Vec<GapRecord>,
    /// Test accuracy of the best validation snapshot.
    pub test_acc: f32,
    /// Test loss of the best validation snapshot.
    pub test_loss: f32,
    /// The weights after training.
    pub weights: WeightStats,
    /// Rule against averaging (dropout, DropConnect, stochastic depth, fractional pooling).
    pub mc: Option<McCurve>,
    /// Why training stopped (divergence), if it did.
    pub error: Option<String>,
}

impl RegularizeRun {
    /// The last epoch (`None` if training failed before one).
    pub fn last(&self) -> Option<&GapRecord> {
        self.epochs.last()
    }

    /// Train − validation accuracy at the last epoch.
    pub fn acc_gap(&self) -> Option<f32> {
        self.last().map(|e| e.train_acc - e.val_acc)
    }

    /// Validation − train loss at the last epoch.
    pub fn loss_gap(&self) -> Option<f32> {
        self.last().map(|e| e.val_loss - e.train_loss)
    }

    /// Best validation accuracy over the epochs.
    pub fn best_val_acc(&self) -> f32 {
        self.epochs.iter().map(|e| e.val_acc).fold(0.0, f32::max)
    }
}

struct GapProbe {
    clean: nn_data::DataLoader,
    records: Vec<GapRecord>,
    error: Option<TrainError>,
}

impl Callback for GapProbe {
    fn on_epoch(&mut self, e: &EpochRecord, model: &dyn Module) -> Control {
        match evaluate(model, &self.clean) {
            Ok((train_loss, train_acc)) => self.records.push(GapRecord {
                epoch: e.epoch,
                train_loss,
                train_acc,
                val_loss: e.val_loss,
                val_acc: e.val_acc,
                batch_loss: e.train_loss,
            }),
            Err(err) => {
                self.error = Some(err);
                return Control::Stop;
            }
        }
        Control::Continue
    }
}

fn weight_stats(model: &dyn Module) -> WeightStats {
    let (mut n, mut sq, mut small) = (0usize, 0.0f64, 0usize);
    for (_, p) in model.named_parameters() {
        let v = p.tensor().to_vec();
        if p.tensor().ndim() < 2 {
            continue;
        }
        n += v.len();
        sq += v.iter().map(|&w| f64::from(w) * f64::from(w)).sum::<f64>();
        small += v.iter().filter(|w| w.abs() < 1e-3).count();
    }
    let n = n.max(1) as f64;
    WeightStats {
        rms: (sq / n).sqrt() as f32,
        near_zero: (small as f64 / n) as f32,
    }
}

/// Trains `job` (regulariser `reg` on model `model`, added as `setting`) and measures it; with
/// `max_draws` > 0 and a regulariser with a test-time rule, the [`mc_curve`] too. A diverging
/// run is a run with its error, not a failure of the lab.
pub fn run_variant(
    job: &TrainConfig,
    reg: Regularizer,
    model: &str,
    setting: &str,
    max_draws: usize,
) -> Result<RegularizeRun> {
    let s = Session::new(job)?;
    let n_train = s.data.train.len();
    let n = n_train.min(s.data.val.len().max(512));
    let subset: Arc<dyn Dataset> = Arc::new(Subset::random(s.data.train.clone(), n, job.seed)?);
    let clean = loader(
        subset,
        LoaderConfig {
            batch_size: 256,
            shuffle: false,
            ..LoaderConfig::default()
        },
        None,
        s.data.preprocess.clone(),
        Vec::new(),
    )?;
    let mut probe = GapProbe {
        clean,
        records: Vec::new(),
        error: None,
    };
    let outcome = train_session(s, &mut [&mut probe]);
    if let Some(e) = probe.error {
        return Err(e);
    }
    let mut run = RegularizeRun {
        regularizer: reg,
        model: model.to_string(),
        setting: setting.to_string(),
        epochs: probe.records,
        test_acc: f32::NAN,
        test_loss: f32::NAN,
        weights: WeightStats {
            rms: f32::NAN,
            near_zero: f32::NAN,
        },
        mc: None,
        error: None,
    };
    match outcome {
        Ok(t) => {
            run.test_acc = t.report.test_acc;
            run.test_loss = t.report.test_loss;
            run.weights = weight_stats(t.model.as_ref());
            if max_draws > 0 && reg.has_mc() {
                let test = loader(
                    t.data.test.clone(),
                    LoaderConfig {
                        batch_size: 256,
                        shuffle: false,
                        ..LoaderConfig::default()
                    },
                    None,
                    t.data.preprocess.clone(),
                    Vec::new(),
                )?;
                run.mc = Some(mc_curve(t.model.as_ref(), &test, reg, max_draws, job.seed)?);
            }
        }
        Err(e @ TrainError::Diverged { .. }) => run.error = Some(e.to_string()),
        Err(e) => return Err(e),
    }
    Ok(run)
}

/// K = 1, 2, 4, … (powers of two) up to `max`, and `max` itself.
pub fn draw_counts(max: usize) -> Vec<usize> {
    let mut ks: Vec<usize> = std::iter::successors(Some(1usize), |k| k.checked_mul(2))
        .take_while(|&k| k <= max)
        .collect();
    if max > 0 && ks.last() != Some(&max) {
        ks.push(max);
    }
    ks
}

fn nll_and_hit(p: ndarray::ArrayView1<'_, f32>, label: usize) -> (f64, bool) {
    let argmax = p
        .iter()
        .enumerate()
        .fold(
            (0, f32::NEG_INFINITY),
            |b, (i, &v)| if v > b.1 { (i, v) } else { b },
        )
        .0;
    let pl = f64::from(p[label]).max(1e-12);
    (-pl.ln(), argmax == label)
}

/// The test-time rule against averaging K masks (draws) on the batches of `test` (see the
/// module docs); masks of draw k come from `nn_core::rng::stream(seed, k)`.
pub fn mc_curve(
    model: &dyn Module,
    test: &nn_data::DataLoader,
    reg: Regularizer,
    max_draws: usize,
    seed: u64,
) -> Result<McCurve> {
    let ks = draw_counts(max_draws);
    let (mut rule_nll, mut rule_hits) = (0.0f64, 0usize);
    let mut nll = vec![0.0f64; ks.len()];
    let mut hits = vec![0usize; ks.len()];
    let mut seen = 0usize;
    for batch in test.epoch(0) {
        let batch = batch?;
        let rule = predict_proba(model, batch.images.clone());
        for (row, &y) in rule.rows().into_iter().zip(&batch.labels) {
            let (l, h) = nll_and_hit(row, y);
            rule_nll += l;
            rule_hits += usize::from(h);
        }
        let x = Tensor::from_array(batch.images.into_dyn());
        let mut sum: Option<nn_core::Array> = None;
        let mut next = 0;
        for k in 0..max_draws {
            let p = if reg == Regularizer::FractionalPool {
                with_test_draw(k as u64, || {
                    with_no_grad(|| {
                        model
                            .forward(&x, &mut nn_core::Ctx::eval())
                            .softmax(1)
                            .to_array()
                    })
                })
            } else {
                predict_mc_draw(model, &x, seed, k as u64)
            };
            let s = match sum {
                Some(s) => s + &p,
                None => p,
            };
            if ks.get(next) == Some(&(k + 1)) {
                let mean = &s / (k + 1) as f32;
                let mean = mean
                    .into_dimensionality::<ndarray::Ix2>()
                    .expect("probabilities are [N, classes]");
                for (row, &y) in mean.rows().into_iter().zip(&batch.labels) {
                    let (l, h) = nll_and_hit(row, y);
                    nll[next] += l;
                    hits[next] += usize::from(h);
                }
                next += 1;
            }
            sum = Some(s);
        }
        seen += batch.labels.len();
    }
    let seen = seen.max(1) as f64;
    Ok(McCurve {
        rule: if reg == Regularizer::FractionalPool {
            "one fixed draw".into()
        } else {
            "scaling rule".into()
        },
        rule_acc: (rule_hits as f64 / seen) as f32,
        rule_nll: (rule_nll / seen) as f32,
        points: ks
            .iter()
            .enumerate()
            .map(|(i, &k)| McPoint {
                draws: k,
                acc: (hits[i] as f64 / seen) as f32,
                nll: (nll[i] / seen) as f32,
            })
            .collect(),
    })
}
