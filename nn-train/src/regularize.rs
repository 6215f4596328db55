//! The job's regularisation outside the model: the `[penalty]` block (L1 / L2 / elastic net
//! added to the loss, nn-regularize's [`Penalty`]) and the batch hooks (cutout, then mixup /
//! CutMix), chained in a fixed, stated order.
//!
//! ## `[penalty]` versus the optimizer's weight decay
//! Both shrink the weights; they differ in where they act and what they cover.
//!
//! | | `[penalty]` | `optimizer.weight_decay` |
//! |---|---|---|
//! | what | λ·R(W) added to the loss: L2 λΣW², L1 λΣ\|W\|, elastic net λΣ(βW² + \|W\|) | a term in the update rule |
//! | gradient | 2λW, λ·sign(W), λ(2βW + sign(W)), added to the data gradient *before* momentum / Adam's scaling | SGD, Adam, RMSprop, AdaGrad: `wd·W` added to the gradient (coupled; for SGD the same as an L2 penalty with λ = wd/2); AdamW: W ← W − lr·wd·W after the adaptive step (decoupled, Loshchilov & Hutter 2019) |
//! | covers | `params = "weights"` (default): parameters with ≥ 2 axes (Linear and conv weights), not biases or normalisation γ/β — the same rule as `no_decay_on_1d`; `"all"`; or `{ prefixes = [...] }` | every parameter, except the 1-d ones when `no_decay_on_1d = true` (default) |
//! | frozen parameters | skipped | skipped (no gradient, no update) |
//!
//! The reported training loss is the data loss (the penalty is not included), as in PyTorch
//! scripts that add the penalty only to the loss they backpropagate. With gradient accumulation
//! the penalty's gradient is added once per optimizer step.
//!
//! ## Batch hooks, in this order
//! After the per-sample path (augmentation → preprocessing), every training batch goes through:
//! 1. the batch half of the preprocessing (PCA / ZCA: one matrix product per batch);
//! 2. `[cutout]`: nn-regularize's [`Cutout`] on every image, after preprocessing, so `fill = 0`
//!    is the data set's mean for standardised inputs (DeVries & Taylor's choice);
//! 3. `[mixup]`: mixup or CutMix with label smoothing (timm's `Mixup`: with both α > 0, CutMix is
//!    chosen with probability `switch_prob` per batch), producing soft targets.
//!
//! Cutout comes before mixing, as in the papers and timm (cutout / random erasing are per-image
//! transforms; mixing is applied to the batch the loader yields), so a mixed image blends two
//! images that each have their own hole. One generator per batch (seeded from the job's seed,
//! the epoch and the batch index) is shared by the hooks in this order, so results do not
//! depend on the thread count.

use std::sync::Arc;

use nn_data::{Batch, BatchHook};
use nn_regularize::{Cutout, CutoutConfig, MixMode, Mixup, MixupConfig, ParamSelection};
use nn_regularize::{Penalty, PenaltyConfig, PenaltyKind, RegularizeError};
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// The formula of a `[penalty]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PenaltyType {
    /// λ·Σ W² (Tikhonov; weight decay as a loss term).
    L2,
    /// λ·Σ |W| (the lasso: drives weights to exactly 0).
    L1,
    /// λ·Σ (β·W² + |W|) (Zou & Hastie 2005).
    ElasticNet,
}

/// Which parameters a `[penalty]` covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PenaltyParams {
    /// Parameters with at least two axes: weights, not biases or normalisation parameters.
    #[default]
    Weights,
    /// Every trainable parameter.
    All,
    /// Parameters under these dotted-name prefixes (`"fc"` matches `fc.weight`, `fc.bias`).
    Prefixes(Vec<String>),
}

/// The `[penalty]` block: a weight penalty added to the training loss.
///
/// ```toml
/// [penalty]
/// kind = "elastic_net"   # l1 | l2 | elastic_net
/// strength = 1e-4        # λ
/// beta = 0.5             # elastic net only: λ·Σ(β·W² + |W|)
/// params = "weights"     # weights (default) | all | { prefixes = ["fc"] }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PenaltySettings {
    /// The formula.
    pub kind: PenaltyType,
    /// Strength λ ≥ 0.
    pub strength: f32,
    /// Weight β ≥ 0 of the squared term of the elastic net (required for it, rejected for the
    /// others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f32>,
    /// The parameters penalised. Default: weights (≥ 2 axes).
    #[serde(default)]
    pub params: PenaltyParams,
}

impl PenaltySettings {
    /// Checks the values, naming the field (`penalty.strength`, ...).
    pub fn validate(&self) -> Result<()> {
        if !(self.strength.is_finite() && self.strength >= 0.0) {
            return Err(invalid(
                "penalty.strength",
                self.strength,
                "a finite λ >= 0",
            ));
        }
        match (self.kind, self.beta) {
            (PenaltyType::ElasticNet, None) => {
                return Err(invalid(
                    "penalty.beta",
                    "(missing)",
                    "β >= 0 for kind = \"elastic_net\" (λ·Σ(β·W² + |W|))",
                ));
            }
            (PenaltyType::ElasticNet, Some(b)) if !(b.is_finite() && b >= 0.0) => {
                return Err(invalid("penalty.beta", b, "a finite β >= 0"));
            }
            (PenaltyType::L1 | PenaltyType::L2, Some(b)) => {
                return Err(invalid(
                    "penalty.beta",
                    b,
                    "no beta: it belongs to kind = \"elastic_net\"",
                ));
            }
            _ => {}
        }
        if let PenaltyParams::Prefixes(p) = &self.params
            && p.is_empty()
        {
            return Err(invalid(
                "penalty.params.prefixes",
                "[]",
                "at least one parameter-name prefix",
            ));
        }
        Ok(())
    }

    /// The nn-regularize penalty.
    pub fn build(&self) -> Result<Penalty> {
        self.validate()?;
        let kind = match self.kind {
            PenaltyType::L2 => PenaltyKind::L2,
            PenaltyType::L1 => PenaltyKind::L1,
            PenaltyType::ElasticNet => PenaltyKind::ElasticNet {
                beta: self.beta.unwrap_or(0.0),
            },
        };
        let selection = match &self.params {
            PenaltyParams::Weights => ParamSelection::Weights,
            PenaltyParams::All => ParamSelection::All,
            PenaltyParams::Prefixes(p) => ParamSelection::Prefixes(p.clone()),
        };
        Ok(PenaltyConfig {
            kind,
            strength: self.strength,
            selection,
        }
        .init()?)
    }
}

/// The `[cutout]` block: cutout on training batches (after preprocessing, before mixup).
///
/// ```toml
/// [cutout]
/// size = 4       # side of the square in pixels (DeVries & Taylor: 16 on CIFAR-10's 32 px)
/// n_holes = 1
/// fill = 0.0     # after standardisation, the data set's mean
/// p = 1.0        # probability per image
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CutoutSettings {
    /// Side of the square in pixels, ≥ 1. Default 16.
    pub size: usize,
    /// Squares per image, ≥ 1. Default 1.
    pub n_holes: usize,
    /// Value written into the squares. Default 0.
    pub fill: f32,
    /// Probability of applying cutout to an image. Default 1.
    pub p: f32,
}

impl Default for CutoutSettings {
    fn default() -> Self {
        let c = CutoutConfig::default();
        CutoutSettings {
            size: c.size,
            n_holes: c.n_holes,
            fill: c.fill,
            p: c.p,
        }
    }
}

impl CutoutSettings {
    /// Validates (naming `cutout.<field>`) and builds the transform.
    pub fn build(&self) -> Result<Cutout> {
        if self.size == 0 {
            return Err(invalid("cutout.size", 0, "a side >= 1 pixel"));
        }
        if self.n_holes == 0 {
            return Err(invalid("cutout.n_holes", 0, "at least 1 hole"));
        }
        if !self.fill.is_finite() {
            return Err(invalid("cutout.fill", self.fill, "a finite value"));
        }
        if !(0.0..=1.0).contains(&self.p) {
            return Err(invalid("cutout.p", self.p, "a probability in [0, 1]"));
        }
        Ok(CutoutConfig {
            size: self.size,
            n_holes: self.n_holes,
            fill: self.fill,
            p: self.p,
        }
        .init()?)
    }
}

/// How often mixup / CutMix draws its parameters (nn-regularize's [`MixMode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MixupMode {
    /// One λ (and box) per batch. Default (timm's default).
    #[default]
    Batch,
    /// One λ per pair (i, N − 1 − i).
    Pair,
    /// One λ per element.
    Elem,
}

/// Mixup/CutMix settings of a job (the class count comes from the data set); nn-regularize's
/// [`MixupConfig`], with timm's semantics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MixupSettings {
    /// Mixup α (> 0 enables mixup). Default 0.2.
    pub mixup_alpha: f32,
    /// CutMix α (> 0 enables CutMix). Default 0.
    pub cutmix_alpha: f32,
    /// Probability of mixing a batch. Default 1.
    pub prob: f32,
    /// With both mixup and CutMix enabled: probability that a batch uses CutMix rather than
    /// mixup. Default 0.5 (timm).
    pub switch_prob: f32,
    /// Per batch, pair or element. Default batch.
    pub mode: MixupMode,
    /// Label smoothing applied to the mixed targets. Default 0.
    pub label_smoothing: f32,
}

impl Default for MixupSettings {
    fn default() -> Self {
        MixupSettings {
            mixup_alpha: 0.2,
            cutmix_alpha: 0.0,
            prob: 1.0,
            switch_prob: 0.5,
            mode: MixupMode::Batch,
            label_smoothing: 0.0,
        }
    }
}

impl MixupSettings {
    /// Validates (naming `mixup.<field>`) and builds the transform for `num_classes` classes.
    pub fn build(&self, num_classes: usize) -> Result<Mixup> {
        MixupConfig {
            mixup_alpha: self.mixup_alpha,
            cutmix_alpha: self.cutmix_alpha,
            prob: self.prob,
            switch_prob: self.switch_prob,
            label_smoothing: self.label_smoothing,
            mode: match self.mode {
                MixupMode::Batch => MixMode::Batch,
                MixupMode::Pair => MixMode::Pair,
                MixupMode::Elem => MixMode::Elem,
            },
            ..MixupConfig::new(num_classes)
        }
        .init()
        .map_err(|e| match e {
            RegularizeError::InvalidHyperparameter {
                field,
                value,
                expected,
                ..
            } => invalid(&format!("mixup.{field}"), value, expected),
            e => e.into(),
        })
    }
}

/// The training loader's batch hook: `steps` applied in order to each batch, sharing the
/// batch's generator (see the module docs for the order the job uses). `None` for no step.
pub fn chain(steps: Vec<BatchHook>) -> Option<BatchHook> {
    if steps.is_empty() {
        return None;
    }
    Some(Arc::new(move |mut batch: Batch, rng| {
        for step in &steps {
            batch = step(batch, rng);
        }
        batch
    }))
}

/// The cutout step of the chain.
pub fn cutout_step(cutout: Cutout) -> BatchHook {
    Arc::new(move |mut batch: Batch, rng| {
        cutout.apply_batch(batch.images.view_mut(), rng);
        batch
    })
}

/// The mixup / CutMix step of the chain (sets the batch's soft targets).
pub fn mixup_step(mixup: Mixup) -> BatchHook {
    Arc::new(move |batch: Batch, rng| {
        let mixed = mixup
            .apply(batch.images, &batch.labels, rng)
            .expect("labels are in range and the batch is non-empty (checked by the loader)");
        Batch {
            images: mixed.images,
            soft_targets: Some(mixed.targets),
            ..batch
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalty_fields_are_named() {
        let p = |t: &str| toml::from_str::<PenaltySettings>(t).unwrap();
        let e = p("kind = \"l1\"\nstrength = -1.0").validate().unwrap_err();
        assert!(e.to_string().contains("penalty.strength"), "{e}");
        let e = p("kind = \"elastic_net\"\nstrength = 1e-3")
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("penalty.beta"), "{e}");
        let e = p("kind = \"l2\"\nstrength = 1e-3\nbeta = 0.5")
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("penalty.beta"), "{e}");
        let e = p("kind = \"l1\"\nstrength = 1e-3\nparams = { prefixes = [] }")
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("penalty.params"), "{e}");
        let ok = p("kind = \"elastic_net\"\nstrength = 1e-3\nbeta = 0.5\nparams = \"all\"");
        assert_eq!(ok.params, PenaltyParams::All);
        let built = ok.build().unwrap();
        assert_eq!(built.config().kind, PenaltyKind::ElasticNet { beta: 0.5 });
        assert!(toml::from_str::<PenaltySettings>("kind = \"l3\"\nstrength = 1.0").is_err());
    }

    #[test]
    fn mixup_fields_are_named() {
        let m = MixupSettings {
            switch_prob: 2.0,
            ..MixupSettings::default()
        };
        let e = m.build(10).unwrap_err();
        assert!(e.to_string().contains("mixup.switch_prob"), "{e}");
        let m: MixupSettings =
            toml::from_str("mixup_alpha = 0.4\ncutmix_alpha = 1.0\nmode = \"elem\"").unwrap();
        assert_eq!(m.build(10).unwrap().config().mode, MixMode::Elem);
    }

    #[test]
    fn cutout_fields_are_named() {
        for (text, field) in [
            ("size = 0", "cutout.size"),
            ("n_holes = 0", "cutout.n_holes"),
            ("p = 1.5", "cutout.p"),
        ] {
            let c: CutoutSettings = toml::from_str(text).unwrap();
            let e = c.build().unwrap_err();
            assert!(e.to_string().contains(field), "{text}: {e}");
        }
    }
}
