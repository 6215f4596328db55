//! `nn-train lab regularize`, part 1: which jobs to train. One job is trained with each of the
//! lecture's regularisers in turn — none, L2, L1, dropout, DropConnect, stochastic depth,
//! cutout, mixup, fractional max pooling, augmentation — against the same job with none.
//!
//! **The baseline** ([`strip`]) is the job with every regulariser switched off: no weight decay,
//! no `[penalty]`, no dropout / channel dropout / DropConnect / stochastic depth, max pooling,
//! no `[cutout]`, `[mixup]`, `[augment]` or `[pca_lighting]`, no label smoothing and no early stopping (every run
//! trains all its epochs; the best validation snapshot is still the one tested).
//!
//! **Each variant** ([`variant`]) is the baseline plus one regulariser, with the job's own
//! settings for it when the job has them (its `[penalty]`, `model.dropout`, `[cutout]`, …; the
//! optimizer's weight decay wd becomes an L2 penalty λ = wd/2, the same for SGD) and otherwise
//! the defaults of [`Regularizer::default_strength`]. `--strength NAME=VALUE` sets the main knob
//! ([`Regularizer::knob`]). What was added is recorded as TOML (`setting`), ready to paste into a
//! job file.
//!
//! **Models.** Stochastic depth needs residual blocks (`kind = "resnet"`, …) and fractional
//! pooling the CNN's pooling stages (`kind = "cnn"`). When the job's model cannot take a
//! regulariser, the lab trains it on a small model that can — [`LAB_CNN`] or [`LAB_RESNET`],
//! same data and optimizer — against that model's own baseline (`other_models`, default on), or
//! skips it with the reason.

use serde::{Deserialize, Serialize};
use toml::Value;

use crate::config::{DataConfig, TrainConfig};
use crate::error::{Result, invalid};

/// One of the lecture's regularisers (or none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regularizer {
    /// The baseline.
    None,
    /// λ·ΣW² added to the loss (`[penalty] kind = "l2"`).
    L2,
    /// λ·Σ|W| added to the loss (`[penalty] kind = "l1"`).
    L1,
    /// Dropout (Srivastava et al. 2014): the MLP's hidden layers, the classifier of the others.
    Dropout,
    /// DropConnect (Wan et al. 2013): the MLP's hidden layers, the classifier of the others.
    DropConnect,
    /// Stochastic depth (Huang et al. 2016), residual models only.
    StochasticDepth,
    /// Cutout (DeVries & Taylor 2017): a square of half the image side.
    Cutout,
    /// Mixup (Zhang et al. 2018).
    Mixup,
    /// Fractional max pooling (Graham 2014), CNN only.
    FractionalPool,
    /// Data augmentation: random crops of the padded image (translations).
    Augment,
}

/// The small CNN the lab trains fractional pooling on when the job's model has no pooling
/// stages.
pub const LAB_CNN: &str = r#"kind = "cnn"
channels = [16, 32]"#;

/// The small residual network (ResNet-8, width 8) the lab trains stochastic depth on when the
/// job's model has no residual blocks.
pub const LAB_RESNET: &str = r#"kind = "resnet"
blocks_per_stage = 1
width = 8"#;

impl Regularizer {
    /// Every regulariser, in the lecture's order.
    pub const ALL: [Regularizer; 10] = [
        Regularizer::None,
        Regularizer::L2,
        Regularizer::L1,
        Regularizer::Dropout,
        Regularizer::DropConnect,
        Regularizer::StochasticDepth,
        Regularizer::Cutout,
        Regularizer::Mixup,
        Regularizer::FractionalPool,
        Regularizer::Augment,
    ];

    /// The name used on the command line and in the output.
    pub fn name(self) -> &'static str {
        match self {
            Regularizer::None => "none",
            Regularizer::L2 => "l2",
            Regularizer::L1 => "l1",
            Regularizer::Dropout => "dropout",
            Regularizer::DropConnect => "dropconnect",
            Regularizer::StochasticDepth => "stochastic_depth",
            Regularizer::Cutout => "cutout",
            Regularizer::Mixup => "mixup",
            Regularizer::FractionalPool => "fractional_pool",
            Regularizer::Augment => "augment",
        }
    }

    /// Parses a name (also `augmentation`, `fmp`, `sd`, `drop_connect`, hyphens for
    /// underscores).
    pub fn parse(s: &str) -> Option<Regularizer> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        Some(match s.as_str() {
            "augmentation" => Regularizer::Augment,
            "fmp" | "fractional" => Regularizer::FractionalPool,
            "sd" => Regularizer::StochasticDepth,
            "drop_connect" => Regularizer::DropConnect,
            _ => *Regularizer::ALL.iter().find(|r| r.name() == s)?,
        })
    }

    /// What `--strength NAME=VALUE` sets.
    pub fn knob(self) -> &'static str {
        match self {
            Regularizer::None => "nothing",
            Regularizer::L2 | Regularizer::L1 => "the penalty strength λ",
            Regularizer::Dropout | Regularizer::DropConnect => "the drop probability p",
            Regularizer::StochasticDepth => "the last block's survival probability p_L",
            Regularizer::Cutout => "the side of the square in pixels",
            Regularizer::Mixup => "mixup's α",
            Regularizer::FractionalPool => "the output/input size ratio of each pooling",
            Regularizer::Augment => "the padding of the random crop in pixels",
        }
    }

    /// The lab's setting of [`Regularizer::knob`] for images of side `side` when the job has
    /// none: λ = 2e-3 (L2), 3e-4 (L1); p = 0.5 (dropout, DropConnect); p_L = 0.5; a square of
    /// side/2 (DeVries & Taylor: 16 px on CIFAR's 32); α = 0.4; ratio 1/√2 (Graham's α = √2);
    /// crops of the image padded by side/8 (4 px on CIFAR), at least 1 pixel.
    pub fn default_strength(self, side: usize) -> f64 {
        match self {
            Regularizer::None => 0.0,
            Regularizer::L2 => 2e-3,
            Regularizer::L1 => 3e-4,
            Regularizer::Dropout | Regularizer::DropConnect => 0.5,
            Regularizer::StochasticDepth => 0.5,
            Regularizer::Cutout => (side / 2).max(1) as f64,
            Regularizer::Mixup => 0.4,
            Regularizer::FractionalPool => std::f64::consts::FRAC_1_SQRT_2,
            Regularizer::Augment => (side / 8).max(1) as f64,
        }
    }

    /// Whether a test-time scaling rule (or fixed draw) can be compared with averaging over
    /// random masks (draws): dropout, DropConnect, stochastic depth, fractional pooling.
    pub fn has_mc(self) -> bool {
        matches!(
            self,
            Regularizer::Dropout
                | Regularizer::DropConnect
                | Regularizer::StochasticDepth
                | Regularizer::FractionalPool
        )
    }
}

/// The job's config as a TOML table.
fn to_value(job: &TrainConfig) -> Result<toml::Table> {
    match Value::try_from(job) {
        Ok(Value::Table(t)) => Ok(t),
        _ => Err(invalid("job", "(not a table)", "a TOML-serialisable job")),
    }
}

/// The job from a TOML table, validated; `Err(message)` when it does not parse or validate (the
/// regulariser does not apply to this model).
fn from_value(t: toml::Table) -> std::result::Result<TrainConfig, String> {
    let text = toml::to_string(&t).map_err(|e| e.to_string())?;
    let job: TrainConfig = toml::from_str(&text).map_err(|e| e.message().to_string())?;
    job.validate().map_err(|e| e.to_string())?;
    Ok(job)
}

fn table<'a>(t: &'a mut toml::Table, key: &str) -> &'a mut toml::Table {
    let v = t
        .entry(key.to_string())
        .or_insert_with(|| Value::Table(toml::Table::new()));
    if !v.is_table() {
        *v = Value::Table(toml::Table::new());
    }
    v.as_table_mut().expect("a table")
}

/// The baseline: `job` with every regulariser off (see the module docs).
pub fn strip(job: &TrainConfig) -> Result<TrainConfig> {
    let mut t = to_value(job)?;
    for key in [
        "penalty",
        "cutout",
        "mixup",
        "augment",
        "pca_lighting",
        "early_stopping",
    ] {
        t.remove(key);
    }
    t.insert("label_smoothing".into(), Value::Float(0.0));
    let opt = table(&mut t, "optimizer");
    if opt.contains_key("weight_decay") {
        opt.insert("weight_decay".into(), Value::Float(0.0));
    }
    let model = table(&mut t, "model");
    for key in ["dropout", "dropout2d"] {
        if model.contains_key(key) {
            model.insert(key.into(), Value::Float(0.0));
        }
    }
    for key in ["dropconnect", "stochastic_depth", "pool"] {
        model.remove(key);
    }
    from_value(t).map_err(|e| invalid("job", e, "a job whose regularisers can be switched off"))
}

/// The model kind of a job (`mlp`, `cnn`, …).
pub fn model_kind(job: &TrainConfig) -> String {
    to_value(job)
        .ok()
        .and_then(|t| t.get("model")?.get("kind")?.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// `base` with its model replaced by `model` (TOML of a `[model]` table).
pub fn with_model(base: &TrainConfig, model: &str) -> Result<TrainConfig> {
    let mut t = to_value(base)?;
    let m: toml::Table = toml::from_str(model)
        .map_err(|e| invalid("model", e.message(), "a [model] table in TOML"))?;
    t.insert("model".into(), Value::Table(m));
    from_value(t).map_err(|e| invalid("model", e, "a model the job's data can train"))
}

/// One regulariser switched on: the job and the TOML that was added.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// The job to train.
    pub job: TrainConfig,
    /// What was added to the baseline, as TOML (`model.dropout = 0.5`); empty for none.
    pub setting: String,
}

fn f(v: f64) -> Value {
    Value::Float(v)
}

fn inline(v: &Value) -> String {
    match v {
        Value::Table(t) => {
            let items: Vec<String> = t
                .iter()
                .map(|(k, v)| format!("{k} = {}", inline(v)))
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        // Values that came from an f32 field print as that f32 (0.3, not 0.30000001192092896).
        Value::Float(x) if f64::from(*x as f32) == *x && x.is_finite() => {
            let s = (*x as f32).to_string();
            if s.contains(['.', 'e', 'E']) {
                s
            } else {
                format!("{s}.0")
            }
        }
        v => v.to_string(),
    }
}

/// The job's own settings of `reg`, if it has them (from the job before [`strip`]).
fn job_setting(job: &toml::Table, reg: Regularizer) -> Option<Value> {
    let model = job.get("model");
    let penalty_of = |kind: &str| {
        job.get("penalty")
            .filter(|p| p.get("kind").and_then(Value::as_str) == Some(kind))
            .cloned()
    };
    let positive = |v: Option<&Value>| v.filter(|x| x.as_float().is_some_and(|p| p > 0.0)).cloned();
    match reg {
        Regularizer::None => None,
        Regularizer::L2 => penalty_of("l2").or_else(|| {
            let wd = job.get("optimizer")?.get("weight_decay")?.as_float()?;
            (wd > 0.0).then(|| {
                let mut p = toml::Table::new();
                p.insert("kind".into(), Value::String("l2".into()));
                p.insert("strength".into(), f(wd / 2.0));
                Value::Table(p)
            })
        }),
        Regularizer::L1 => penalty_of("l1"),
        Regularizer::Dropout => positive(model?.get("dropout")),
        Regularizer::DropConnect => model?.get("dropconnect").cloned(),
        Regularizer::StochasticDepth => model?.get("stochastic_depth").cloned(),
        Regularizer::FractionalPool => model?
            .get("pool")
            .filter(|p| p.get("kind").and_then(Value::as_str) == Some("fractional"))
            .cloned(),
        Regularizer::Cutout => job.get("cutout").cloned(),
        Regularizer::Mixup => job.get("mixup").cloned(),
        Regularizer::Augment => job.get("augment").cloned(),
    }
}

fn set_knob(v: &mut Value, key: &str, x: Value) {
    if let Some(t) = v.as_table_mut() {
        t.insert(key.into(), x);
    }
}

/// The lab's setting of `reg` at `strength` (its knob) for a model of `kind` on images of
/// `shape` (C, H, W).
fn lab_setting(reg: Regularizer, strength: f64, kind: &str, shape: [usize; 3]) -> Value {
    let parse = |s: &str| Value::Table(toml::from_str(s).expect("the lab's settings parse"));
    let px = strength.round().max(1.0) as i64;
    match reg {
        Regularizer::None => Value::Table(toml::Table::new()),
        Regularizer::L2 => parse(&format!("kind = \"l2\"\nstrength = {strength:e}")),
        Regularizer::L1 => parse(&format!("kind = \"l1\"\nstrength = {strength:e}")),
        Regularizer::Dropout => f(strength),
        Regularizer::DropConnect if kind == "mlp" || kind == "vgg" => {
            parse(&format!("p = {strength}"))
        }
        Regularizer::DropConnect => parse(&format!("p = {strength}\nclassifier = true")),
        Regularizer::StochasticDepth => parse(&format!("last_survival = {strength}")),
        Regularizer::FractionalPool => parse(&format!(
            "kind = \"fractional\"\nratio = {strength}\ntest_draws = 1"
        )),
        Regularizer::Cutout => parse(&format!("size = {px}")),
        Regularizer::Mixup => parse(&format!("mixup_alpha = {strength}")),
        Regularizer::Augment => parse(&format!(
            "transforms = [{{ type = \"random_crop\", size = [{}, {}], padding = {px} }}]",
            shape[1], shape[2]
        )),
    }
}

/// `base` (a [`strip`]ped job) with `reg` switched on: the job's own settings from `original`
/// (the job before stripping) unless `strength` is given, else the lab's defaults; images of
/// `shape`. `Ok(Err(reason))` when the model cannot take it.
pub fn variant(
    base: &TrainConfig,
    original: &TrainConfig,
    reg: Regularizer,
    strength: Option<f64>,
    shape: [usize; 3],
) -> Result<std::result::Result<Variant, String>> {
    if reg == Regularizer::None {
        return Ok(Ok(Variant {
            job: base.clone(),
            setting: String::new(),
        }));
    }
    let kind = model_kind(base);
    let side = shape[1].min(shape[2]);
    // The job's own settings apply only to its own model (not to the lab's CNN / ResNet).
    let own = (model_kind(original) == kind)
        .then(|| to_value(original).ok())
        .flatten()
        .and_then(|t| job_setting(&t, reg));
    let mut value = match (own, strength) {
        (Some(v), None) => v,
        (Some(mut v), Some(s)) => {
            match reg {
                Regularizer::L2 | Regularizer::L1 => set_knob(&mut v, "strength", f(s)),
                Regularizer::Dropout => v = f(s),
                Regularizer::DropConnect => set_knob(&mut v, "p", f(s)),
                Regularizer::StochasticDepth => set_knob(&mut v, "last_survival", f(s)),
                Regularizer::FractionalPool => set_knob(&mut v, "ratio", f(s)),
                Regularizer::Cutout => set_knob(&mut v, "size", Value::Integer(s.round() as i64)),
                Regularizer::Mixup => set_knob(&mut v, "mixup_alpha", f(s)),
                // The job's pipeline has no single knob: the lab's crop at that padding.
                Regularizer::Augment | Regularizer::None => v = lab_setting(reg, s, &kind, shape),
            }
            v
        }
        (None, s) => lab_setting(reg, s.unwrap_or(reg.default_strength(side)), &kind, shape),
    };
    if reg == Regularizer::FractionalPool {
        // Trained and validated with one fixed draw; the averaging over draws is measured after.
        set_knob(&mut value, "test_draws", Value::Integer(1));
    }
    let mut t = to_value(base)?;
    let (section, key) = match reg {
        Regularizer::L2 | Regularizer::L1 => (None, "penalty"),
        Regularizer::Dropout => (Some("model"), "dropout"),
        Regularizer::DropConnect => (Some("model"), "dropconnect"),
        Regularizer::StochasticDepth => (Some("model"), "stochastic_depth"),
        Regularizer::FractionalPool => (Some("model"), "pool"),
        Regularizer::Cutout => (None, "cutout"),
        Regularizer::Mixup => (None, "mixup"),
        Regularizer::Augment | Regularizer::None => (None, "augment"),
    };
    let setting = match section {
        Some(s) => format!("{s}.{key} = {}", inline(&value)),
        None => format!("{key} = {}", inline(&value)),
    };
    match section {
        Some(s) => table(&mut t, s).insert(key.into(), value),
        None => t.insert(key.into(), value),
    };
    Ok(from_value(t).map(|job| Variant { job, setting }))
}

/// The lab's own job (no `--config`): the default job — the digits MLP (two hidden layers of
/// 256), SGD with Nesterov momentum, warm-up + cosine — on 300 training images for 40 epochs
/// and without weight decay (so that L2 gets the lab's λ): small enough to overfit clearly, fast
/// enough to train a dozen times in seconds.
pub fn lab_job() -> TrainConfig {
    TrainConfig {
        epochs: 40,
        data: DataConfig {
            limit_train: Some(300),
            ..DataConfig::default()
        },
        optimizer: nn_optim::OptimizerConfig::Sgd(nn_optim::SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 0.0,
            ..nn_optim::SgdConfig::default()
        }),
        ..TrainConfig::default()
    }
}
