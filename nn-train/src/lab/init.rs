//! `nn-train lab init`: the lecture's activation-statistics experiment (CS231n, "Weight
//! Initialization: Activation Statistics"; Glorot & Bengio, AISTATS 2010; He et al., ICCV
//! 2015).
//!
//! A deep, wide net `x → [Linear(D, D, no bias) → f]ᴸ` is fed a batch of N(0, 1) inputs, as in
//! the lecture's code (`dims = [4096] * 7`, `x = np.random.randn(16, dims[0])`), with each of
//! the lecture's initialisations:
//!
//! | case | f | W |
//! |---|---|---|
//! | `tanh-0.01` | tanh | N(0, 0.01²) ("all activations tend to zero") |
//! | `tanh-0.05` | tanh | N(0, 0.05²) ("all activations saturate") |
//! | `tanh-xavier` | tanh | N(0, 1/D_in), the lecture's "Xavier" ("just right") |
//! | `relu-xavier` | ReLU | N(0, 1/D_in) ("collapse to zero again") |
//! | `relu-kaiming` | ReLU | N(0, 2/D_in), Kaiming/MSRA ("just right") |
//!
//! Every case draws the same N(0, 1) numbers (the same seed stream), scaled by its std, so the
//! cases differ only in scale and nonlinearity. To get gradients, the last layer feeds a fixed
//! linear read-out `D → 10` (N(0, 1/D)) and a softmax cross-entropy on random labels; the
//! gradient dL/dh of every layer's output is read through a zero "probe" added to it (h + 0).
//! What decides the outcome is the gain std·√D_in per layer: 0.01·√4096 = 0.64 < 1 shrinks the
//! signal, 0.05·√4096 = 3.2 drives tanh into its flat ends, 1/√D_in keeps a linear(-ish) unit's
//! variance and √(2/D_in) makes up for ReLU zeroing half of it.
//!
//! [`InitLabConfig::run`] returns an [`InitCaseReport`] per case: per-layer [`LayerStats`]
//! (mean, std, saturated and dead fractions, gradient std, histograms) and a [`Diagnosis`]
//! ([`super::health`]); [`super::init_plot`] draws them.

use nn_core::init::{FanMode, Init, Nonlinearity};
use nn_core::layers::{Activation, LinearConfig};
use nn_core::loss::cross_entropy;
use nn_core::{Ctx, Module, Tensor, rng};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::health::{Diagnosis, diagnose};
use super::stats::{LayerStats, OutputKind, Recorded, layer_stats, rms};
use crate::error::{Result, invalid};

/// One net of the experiment: a nonlinearity and a weight initialisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitCase {
    /// Short name (`tanh-0.01`), used in file names.
    pub name: String,
    /// The nonlinearity after every layer.
    pub activation: Activation,
    /// The weight initialisation of every layer.
    pub init: Init,
}

impl InitCase {
    /// A case.
    pub fn new(name: &str, activation: Activation, init: Init) -> Self {
        InitCase {
            name: name.into(),
            activation,
            init,
        }
    }
}

/// The lecture's "Xavier" as written on its slide: std = 1/√D_in (PyTorch's Xavier averages
/// the two fans; for square layers they agree).
pub fn lecture_xavier() -> Init {
    Init::KaimingNormal {
        a: 0.0,
        mode: FanMode::FanIn,
        nonlinearity: Nonlinearity::Linear,
    }
}

/// The lecture's five cases (see the module docs).
pub fn lecture_cases() -> Vec<InitCase> {
    let normal = |std| Init::Normal { mean: 0.0, std };
    vec![
        InitCase::new("tanh-0.01", Activation::Tanh, normal(0.01)),
        InitCase::new("tanh-0.05", Activation::Tanh, normal(0.05)),
        InitCase::new("tanh-xavier", Activation::Tanh, lecture_xavier()),
        InitCase::new("relu-xavier", Activation::Relu, lecture_xavier()),
        InitCase::new(
            "relu-kaiming",
            Activation::Relu,
            Init::kaiming_normal(Nonlinearity::Relu),
        ),
    ]
}

/// Settings of the experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitLabConfig {
    /// Width D of every layer (the lecture: 4096).
    pub width: usize,
    /// Number of layers L (the lecture: 6).
    pub depth: usize,
    /// Batch size (the lecture: 16).
    pub batch: usize,
    /// Histogram bins.
    pub bins: usize,
    /// Seed of the inputs, the weights and the labels.
    pub seed: u64,
    /// The nets to run.
    pub cases: Vec<InitCase>,
}

impl Default for InitLabConfig {
    /// The lecture's experiment: 6 layers of 4096, a batch of 16, the five cases.
    fn default() -> Self {
        InitLabConfig {
            width: 4096,
            depth: 6,
            batch: 16,
            bins: 40,
            seed: 0,
            cases: lecture_cases(),
        }
    }
}

/// What one case measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitCaseReport {
    /// Short name (used in file names).
    pub name: String,
    /// What the net is (ASCII, for plot titles).
    pub description: String,
    /// Statistics of every layer's output, first to last.
    pub layers: Vec<LayerStats>,
    /// The verdict.
    pub diagnosis: Diagnosis,
}

/// What the output of `activation` is, for dead/saturated counting.
pub fn output_kind(activation: &Activation) -> OutputKind {
    match activation {
        Activation::Tanh => OutputKind::Bounded { lo: -1.0, hi: 1.0 },
        Activation::Sigmoid => OutputKind::Bounded { lo: 0.0, hi: 1.0 },
        Activation::Relu => OutputKind::Rectifier,
        _ => OutputKind::Other,
    }
}

/// A short ASCII name of an activation.
pub fn activation_name(a: &Activation) -> String {
    match a {
        Activation::Relu => "ReLU".into(),
        Activation::Tanh => "tanh".into(),
        Activation::Sigmoid => "sigmoid".into(),
        other => format!("{other:?}"),
    }
}

/// A short ASCII formula of an initialisation for square layers.
pub fn init_name(init: &Init) -> String {
    match *init {
        Init::Normal { mean: 0.0, std } => format!("N(0, {std}^2)"),
        Init::KaimingNormal {
            nonlinearity: Nonlinearity::Linear,
            mode: FanMode::FanIn,
            ..
        } => "N(0, 1/D_in) (Xavier)".into(),
        Init::KaimingNormal {
            nonlinearity: Nonlinearity::Relu,
            mode: FanMode::FanIn,
            ..
        } => "N(0, 2/D_in) (Kaiming)".into(),
        other => other.name().to_string(),
    }
}

impl InitLabConfig {
    /// Checks the sizes.
    pub fn validate(&self) -> Result<()> {
        for (field, v) in [
            ("lab.width", self.width),
            ("lab.depth", self.depth),
            ("lab.batch", self.batch),
            ("lab.bins", self.bins),
        ] {
            if v == 0 {
                return Err(invalid(field, v, "at least 1"));
            }
        }
        if self.cases.is_empty() {
            return Err(invalid("lab.cases", "[]", "at least one case"));
        }
        Ok(())
    }

    /// Runs every case (in order; each net is dropped before the next is built).
    pub fn run(&self) -> Result<Vec<InitCaseReport>> {
        self.validate()?;
        self.cases.iter().map(|c| self.run_case(c)).collect()
    }

    /// Runs one case.
    pub fn run_case(&self, case: &InitCase) -> Result<InitCaseReport> {
        let (d, n) = (self.width, self.batch);
        let x = Tensor::randn(&[n, d], 0.0, 1.0, &mut rng::stream(self.seed, 0));
        let mut label_rng = rng::stream(self.seed, 1);
        let labels: Vec<usize> = (0..n).map(|_| label_rng.random_range(0..10)).collect();
        let mut w_rng = rng::stream(self.seed, 2);
        let mut layers = Vec::with_capacity(self.depth);
        for _ in 0..self.depth {
            layers.push(
                LinearConfig::new(d, d)
                    .with_bias(false)
                    .with_weight_init(case.init)
                    .init(&mut w_rng)?,
            );
        }
        let readout = LinearConfig::new(d, 10)
            .with_bias(false)
            .with_weight_init(lecture_xavier())
            .init(&mut rng::stream(self.seed, 3))?;
        let act = case.activation.layer()?;
        let mut ctx = Ctx::eval();
        let mut h = x;
        let mut probes = Vec::with_capacity(self.depth);
        for layer in &layers {
            let out = act.forward(&layer.forward(&h, &mut ctx), &mut ctx);
            let probe = Tensor::zeros(out.shape()).with_requires_grad();
            h = &out + &probe;
            probes.push((out.to_array(), probe));
        }
        let loss = cross_entropy(&readout.forward(&h, &mut ctx), &labels);
        loss.backward();
        let kind = output_kind(&case.activation);
        let recorded = probes
            .into_iter()
            .zip(&layers)
            .enumerate()
            .map(|(i, ((out, probe), layer))| {
                let wgrads: Vec<_> = layer
                    .named_parameters()
                    .iter()
                    .filter_map(|(_, p)| p.grad())
                    .collect();
                Recorded {
                    name: format!("layer {}", i + 1),
                    kind,
                    h: out,
                    grad: probe
                        .grad()
                        .expect("the probe is a leaf that requires grad"),
                    weight_grad_rms: rms(&wgrads),
                }
            })
            .collect();
        let stats = layer_stats(recorded, self.bins);
        let diagnosis = diagnose(&case.name, &stats);
        Ok(InitCaseReport {
            name: case.name.clone(),
            description: format!(
                "{}, {} layers of {}, W ~ {}",
                activation_name(&case.activation),
                self.depth,
                self.width,
                init_name(&case.init)
            ),
            layers: stats,
            diagnosis,
        })
    }
}
