//! `nn-train lab init --config job.toml`: the activation statistics of the user's own model,
//! freshly initialised from the job's seed, on one batch of its training images.
//!
//! The model is walked child by child (into nested [`Sequential`]s), forwarded in training mode
//! (batch norm uses batch statistics, as at the first step of training) and the output of every
//! activation layer and of every opaque block with parameters (a ResNet `BasicBlock`, which
//! ends in a ReLU) is recorded, plus the logits. The loss is the job's (cross-entropy with its
//! label smoothing and class weights) on the batch's labels; dL/dh is read through zero probes
//! as in [`super::init`].

use std::any::Any;

use nn_core::layers::{
    BatchNorm1d, BatchNorm2d, Conv2d, ELU, GELU, LeakyReLU, Linear, ReLU, SELU, Sequential,
    Sigmoid, Softplus, Tanh,
};
use nn_core::{Array, Ctx, Mode, Module, Tensor, rng};
use nn_data::LoaderConfig;

use super::health::diagnose;
use super::init::InitCaseReport;
use super::stats::{OutputKind, Recorded, layer_stats, rms};
use crate::config::TrainConfig;
use crate::data::loader;
use crate::error::{Result, invalid};
use crate::session::Session;

/// What to record about a child module.
enum Role {
    /// A container: walk into it.
    Container,
    /// An activation layer: record its output with this kind.
    Activation(OutputKind),
    /// An opaque block with parameters: record its output (kind from its values).
    Block,
    /// A plain layer (linear, conv, norm, pooling, dropout, reshaping): forward only.
    Plain,
}

fn role(m: &dyn Module) -> Role {
    let Some(any) = m.as_any() else {
        return if m.num_parameters() > 0 {
            Role::Block
        } else {
            Role::Plain
        };
    };
    let is = |f: &dyn Fn(&dyn Any) -> bool| f(any);
    if is(&|a| a.is::<Sequential>()) {
        Role::Container
    } else if is(&|a| a.is::<ReLU>()) {
        Role::Activation(OutputKind::Rectifier)
    } else if is(&|a| a.is::<Tanh>()) {
        Role::Activation(OutputKind::Bounded { lo: -1.0, hi: 1.0 })
    } else if is(&|a| a.is::<Sigmoid>()) {
        Role::Activation(OutputKind::Bounded { lo: 0.0, hi: 1.0 })
    } else if is(&|a| {
        a.is::<LeakyReLU>()
            || a.is::<ELU>()
            || a.is::<SELU>()
            || a.is::<GELU>()
            || a.is::<Softplus>()
    }) {
        Role::Activation(OutputKind::Other)
    } else if is(&|a| {
        a.is::<Linear>() || a.is::<Conv2d>() || a.is::<BatchNorm1d>() || a.is::<BatchNorm2d>()
    }) || m.num_parameters() == 0
    {
        Role::Plain
    } else {
        Role::Block
    }
}

/// The forward walk: records outputs into `out`, collecting the weights passed since the
/// previous record in `pending`.
struct Walk {
    ctx: Ctx,
    out: Vec<(String, OutputKind, Array, Tensor, Vec<nn_core::Parameter>)>,
    pending: Vec<nn_core::Parameter>,
}

impl Walk {
    fn record(&mut self, name: String, kind: OutputKind, h: Tensor) -> Tensor {
        let probe = Tensor::zeros(h.shape()).with_requires_grad();
        let out = &h + &probe;
        let weights = std::mem::take(&mut self.pending);
        self.out.push((name, kind, h.to_array(), probe, weights));
        out
    }

    fn forward(&mut self, prefix: &str, m: &dyn Module, x: Tensor) -> Tensor {
        match role(m) {
            Role::Container => {
                let seq = m
                    .as_any()
                    .and_then(|a| a.downcast_ref::<Sequential>())
                    .expect("role checked");
                let mut h = x;
                for (name, child) in seq.iter() {
                    let path = nn_core::module::join(prefix, name);
                    h = self.forward(&path, child, h);
                }
                h
            }
            r => {
                self.pending.extend(
                    m.named_parameters()
                        .into_iter()
                        .filter(|(_, p)| p.shape().len() >= 2)
                        .map(|(_, p)| p),
                );
                let h = m.forward(&x, &mut self.ctx);
                let label = format!("{prefix} {}", short_type(&m.describe()));
                match r {
                    Role::Activation(kind) => self.record(label, kind, h),
                    Role::Block => {
                        let arr = h.to_array();
                        let kind = if arr.iter().all(|&v| v >= 0.0) {
                            OutputKind::Rectifier
                        } else {
                            OutputKind::Other
                        };
                        self.record(label, kind, h)
                    }
                    _ => h,
                }
            }
        }
    }
}

/// The type name of a `describe()` string (`"ReLU()"` → `"ReLU"`).
fn short_type(describe: &str) -> &str {
    describe.split('(').next().unwrap_or(describe)
}

/// The activation statistics of the job's model at initialisation, on the first `batch`
/// training images (no augmentation, the job's preprocessing). The report's case is named
/// `job` and describes the model; the logits are the last recorded layer (kind
/// [`OutputKind::Other`], not judged).
pub fn init_job(job: &TrainConfig, batch: usize, bins: usize) -> Result<InitCaseReport> {
    if batch == 0 {
        return Err(invalid("lab.batch", 0, "at least 1"));
    }
    let session = Session::new(job)?;
    let n = batch.min(session.data.train.len());
    let eval = loader(
        session.data.train.clone(),
        LoaderConfig {
            batch_size: n,
            shuffle: false,
            drop_last: false,
            seed: 0,
            num_threads: job.data.threads,
            ..LoaderConfig::default()
        },
        None,
        session.data.preprocess.clone(),
        Vec::new(),
    )?;
    let b = eval
        .epoch(0)
        .next()
        .ok_or_else(|| invalid("data", "an empty training split", "at least one image"))??;
    let x = Tensor::from_array(b.images.into_dyn());
    let mut walk = Walk {
        ctx: Ctx::new(Mode::Train, rng::stream(job.seed ^ 0x1ab, 0)),
        out: Vec::new(),
        pending: Vec::new(),
    };
    let logits = walk.forward("", session.model.as_ref(), x);
    let logits = walk.record("logits".into(), OutputKind::Other, logits);
    session.model.zero_grad();
    let loss = session.loss_fn.forward(&logits, &b.labels);
    loss.backward();
    let recorded = walk
        .out
        .into_iter()
        .map(|(name, kind, h, probe, weights)| {
            let grads: Vec<Array> = weights.iter().filter_map(|p| p.grad()).collect();
            Recorded {
                name: name.trim().to_string(),
                kind,
                h,
                grad: probe
                    .grad()
                    .expect("the probe is a leaf that requires grad"),
                weight_grad_rms: rms(&grads),
            }
        })
        .collect();
    let stats = layer_stats(recorded, bins);
    let diagnosis = diagnose("your job", &stats);
    Ok(InitCaseReport {
        name: "job".into(),
        description: format!(
            "your {} model ({} parameters) at init, seed {}, {n} training images",
            toml::Value::try_from(&job.model)
                .ok()
                .and_then(|v| v.get("kind").and_then(|k| k.as_str().map(String::from)))
                .unwrap_or_else(|| "job's".into()),
            session.model.num_parameters(),
            job.seed
        ),
        layers: stats,
        diagnosis,
    })
}
