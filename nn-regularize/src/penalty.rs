//! Weight penalties: L2, L1 and elastic net as differentiable loss terms (CS231n, "Regularization").
//!
//! For a chosen set of parameters 𝒲 and strength λ, the term added to the data loss is
//!
//! ```text
//! L2 (weight decay, Tikhonov):  λ · Σ_{W∈𝒲} Σ W²            ∂/∂W = 2λ·W
//! L1 (Tibshirani's lasso):      λ · Σ_{W∈𝒲} Σ |W|           ∂/∂W = λ·sign(W)   (sign(0) = 0)
//! elastic net (Zou & Hastie):   λ · Σ_{W∈𝒲} Σ β·W² + |W|    ∂/∂W = λ·(2β·W + sign(W))
//! ```
//!
//! (the lecture's R(W), times λ). The subgradient of |w| at 0 is taken as 0, like PyTorch's `abs`.
//! An L2 penalty with λ equals PyTorch's SGD `weight_decay = 2λ` (whose gradient is `wd·W`).
//!
//! **Which parameters.** By default ([`ParamSelection::Weights`]) the penalty covers every
//! non-frozen parameter with **at least two axes**: Linear weights `[out, in]` and convolution
//! kernels `[out, in, kh, kw]`. Biases and the γ, β of normalisation layers are 1-d and are left
//! out — penalising them does not reduce capacity in a useful way and fights the normalisation.
//! This is the rule timm's `param_groups_weight_decay` uses (`ndim <= 1` → no decay). Frozen
//! parameters are always skipped (they are not trained, so their term is a constant).

use nn_core::module::name_has_prefix;
use nn_core::{Array, Backward, BackwardCtx, Module, Parameter, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{Result, check_range, invalid};

/// The penalty's formula (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum PenaltyKind {
    /// Σ W².
    L2,
    /// Σ |W|.
    L1,
    /// Σ β·W² + |W|, β ≥ 0.
    ElasticNet {
        /// Weight β of the squared term relative to the absolute term.
        beta: f32,
    },
}

/// Which parameters of a module a penalty covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum ParamSelection {
    /// Parameters with at least two axes (weights, not biases or norm parameters). Default.
    #[default]
    Weights,
    /// Every parameter.
    All,
    /// Parameters whose dotted name lies under one of these prefixes (`"features"` matches
    /// `features.0.weight`; an exact name matches itself).
    Prefixes(Vec<String>),
}

impl ParamSelection {
    /// Whether the parameter `name` with shape `shape` is selected.
    pub fn selects(&self, name: &str, shape: &[usize]) -> bool {
        match self {
            ParamSelection::Weights => shape.len() >= 2,
            ParamSelection::All => true,
            ParamSelection::Prefixes(ps) => ps.iter().any(|p| name_has_prefix(name, p)),
        }
    }
}

/// Configuration of a [`Penalty`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PenaltyConfig {
    /// The formula.
    pub kind: PenaltyKind,
    /// Strength λ ≥ 0.
    pub strength: f32,
    /// The parameters it covers. Default: weights (ndim ≥ 2).
    pub selection: ParamSelection,
}

impl PenaltyConfig {
    /// λ·Σ W² over the weights.
    pub fn l2(strength: f32) -> Self {
        PenaltyConfig {
            kind: PenaltyKind::L2,
            strength,
            selection: ParamSelection::Weights,
        }
    }

    /// λ·Σ |W| over the weights.
    pub fn l1(strength: f32) -> Self {
        PenaltyConfig {
            kind: PenaltyKind::L1,
            strength,
            selection: ParamSelection::Weights,
        }
    }

    /// λ·Σ β·W² + |W| over the weights.
    pub fn elastic_net(strength: f32, beta: f32) -> Self {
        PenaltyConfig {
            kind: PenaltyKind::ElasticNet { beta },
            strength,
            selection: ParamSelection::Weights,
        }
    }

    /// Sets which parameters are penalised.
    pub fn select(mut self, selection: ParamSelection) -> Self {
        self.selection = selection;
        self
    }

    /// Validates λ ≥ 0 and β ≥ 0 (finite) and builds the penalty.
    pub fn init(self) -> Result<Penalty> {
        check_range(
            "PenaltyConfig",
            "strength",
            self.strength,
            0.0,
            f32::MAX,
            "a finite value >= 0",
        )?;
        if let PenaltyKind::ElasticNet { beta } = self.kind {
            check_range(
                "PenaltyConfig",
                "beta",
                beta,
                0.0,
                f32::MAX,
                "a finite value >= 0",
            )?;
        }
        if let ParamSelection::Prefixes(ps) = &self.selection
            && ps.is_empty()
        {
            return Err(invalid(
                "PenaltyConfig",
                "selection",
                "Prefixes([])",
                "at least one name prefix",
            ));
        }
        Ok(Penalty { config: self })
    }
}

/// A weight penalty: a differentiable scalar to add to the data loss.
///
/// ```
/// use nn_core::{Array, Ctx, Entry, Module, Parameter, Tensor};
/// use nn_regularize::PenaltyConfig;
///
/// struct Affine { w: Parameter, b: Parameter }
/// impl Module for Affine {
///     fn forward(&self, x: &Tensor, _: &mut Ctx) -> Tensor {
///         x.linear(&self.w.tensor(), Some(&self.b.tensor()))
///     }
///     fn visit(&self, p: &str, f: &mut dyn FnMut(Entry<'_>)) {
///         f(Entry::Param(&nn_core::module::join(p, "weight"), &self.w));
///         f(Entry::Param(&nn_core::module::join(p, "bias"), &self.b));
///     }
///     fn describe(&self) -> String { "Affine".into() }
/// }
/// let m = Affine {
///     w: Parameter::new(Array::from_elem(ndarray::IxDyn(&[2, 3]), 0.5)),
///     b: Parameter::new(Array::from_elem(ndarray::IxDyn(&[2]), 7.0)),
/// };
/// let l2 = PenaltyConfig::l2(0.1).init().unwrap();
/// let r = l2.loss(&m); // 0.1 · 6 · 0.25; the bias is not penalised
/// assert!((r.item() - 0.15).abs() < 1e-6);
/// r.backward();
/// assert!(m.w.grad().unwrap().iter().all(|&g| (g - 0.1).abs() < 1e-6)); // 2λW
/// assert!(m.b.grad().is_none());
/// ```
#[derive(Debug, Clone)]
pub struct Penalty {
    config: PenaltyConfig,
}

impl Penalty {
    /// The configuration.
    pub fn config(&self) -> &PenaltyConfig {
        &self.config
    }

    /// The non-frozen parameters of `model` this penalty covers, with their names, in visit order.
    pub fn selected(&self, model: &dyn Module) -> Vec<(String, Parameter)> {
        model
            .named_parameters()
            .into_iter()
            .filter(|(name, p)| !p.is_frozen() && self.config.selection.selects(name, &p.shape()))
            .collect()
    }

    /// λ·R over the selected parameters of `model`, as a scalar tensor whose backward adds the
    /// penalty's gradient to those parameters.
    pub fn loss(&self, model: &dyn Module) -> Tensor {
        let tensors: Vec<Tensor> = self
            .selected(model)
            .iter()
            .map(|(_, p)| p.tensor())
            .collect();
        self.loss_of(&tensors)
    }

    /// λ·R over the given tensors (each in full, whatever its shape), as a scalar tensor. An empty
    /// list gives 0.
    pub fn loss_of(&self, tensors: &[Tensor]) -> Tensor {
        let value: f64 = tensors
            .iter()
            .map(|t| term(self.config.kind, t.data().iter().copied()))
            .sum();
        let value = (self.config.strength as f64 * value) as f32;
        Tensor::from_op(
            Array::from_elem(ndarray::IxDyn(&[]), value),
            tensors.to_vec(),
            PenaltyBackward {
                kind: self.config.kind,
                strength: self.config.strength,
            },
        )
    }
}

/// Σ over values of the penalty's per-element term, accumulated in f64.
fn term(kind: PenaltyKind, values: impl Iterator<Item = f32>) -> f64 {
    match kind {
        PenaltyKind::L2 => values.map(|w| (w as f64) * (w as f64)).sum(),
        PenaltyKind::L1 => values.map(|w| (w as f64).abs()).sum(),
        PenaltyKind::ElasticNet { beta } => values
            .map(|w| beta as f64 * (w as f64) * (w as f64) + (w as f64).abs())
            .sum(),
    }
}

/// sign(w) with sign(0) = 0.
fn sign(w: f32) -> f32 {
    if w > 0.0 {
        1.0
    } else if w < 0.0 {
        -1.0
    } else {
        0.0
    }
}

struct PenaltyBackward {
    kind: PenaltyKind,
    strength: f32,
}

impl Backward for PenaltyBackward {
    fn name(&self) -> &'static str {
        "penalty"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let s = g.iter().next().copied().unwrap_or(0.0) * self.strength;
        (0..ctx.inputs.len())
            .map(|i| {
                ctx.needs_grad(i).then(|| {
                    let w = ctx.inputs[i].data();
                    match self.kind {
                        PenaltyKind::L2 => w.mapv(|w| 2.0 * s * w),
                        PenaltyKind::L1 => w.mapv(|w| s * sign(w)),
                        PenaltyKind::ElasticNet { beta } => {
                            w.mapv(|w| s * (2.0 * beta * w + sign(w)))
                        }
                    }
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::gradcheck::assert_gradients;

    #[test]
    fn values() {
        let t = Tensor::from_vec(vec![1.0, -2.0, 0.0, 3.0], &[2, 2]);
        let v = |c: PenaltyConfig| c.init().unwrap().loss_of(std::slice::from_ref(&t)).item();
        assert!((v(PenaltyConfig::l2(0.5)) - 7.0).abs() < 1e-6);
        assert!((v(PenaltyConfig::l1(0.5)) - 3.0).abs() < 1e-6);
        assert!((v(PenaltyConfig::elastic_net(0.5, 2.0)) - 17.0).abs() < 1e-6);
        assert_eq!(
            PenaltyConfig::l2(1.0).init().unwrap().loss_of(&[]).item(),
            0.0
        );
    }

    #[test]
    fn gradients() {
        for (k, cfg) in [
            PenaltyConfig::l2(0.3),
            PenaltyConfig::l1(0.3),
            PenaltyConfig::elastic_net(0.3, 0.7),
        ]
        .into_iter()
        .enumerate()
        {
            let p = cfg.init().unwrap();
            assert_gradients(
                move |x| p.loss_of(&[x[0].clone(), x[1].clone()]),
                &[&[3, 4], &[2, 2, 3]],
                k as u64,
            );
        }
    }

    #[test]
    fn l1_subgradient_at_zero_is_zero() {
        let t = Tensor::from_vec(vec![0.0, 2.0, -1.0], &[3]).with_requires_grad();
        PenaltyConfig::l1(1.0)
            .init()
            .unwrap()
            .loss_of(std::slice::from_ref(&t))
            .backward();
        assert_eq!(t.grad().unwrap().as_slice().unwrap(), &[0.0, 1.0, -1.0]);
    }

    #[test]
    fn validation() {
        assert!(PenaltyConfig::l2(-1.0).init().is_err());
        assert!(PenaltyConfig::l2(f32::INFINITY).init().is_err());
        assert!(PenaltyConfig::elastic_net(1.0, -0.5).init().is_err());
        let e = PenaltyConfig::l2(1.0)
            .select(ParamSelection::Prefixes(vec![]))
            .init()
            .unwrap_err();
        assert!(e.to_string().contains("selection"), "{e}");
    }

    #[test]
    fn selection_rules() {
        let w = ParamSelection::Weights;
        assert!(w.selects("fc.weight", &[10, 5]));
        assert!(w.selects("conv.weight", &[8, 3, 3, 3]));
        assert!(!w.selects("fc.bias", &[10]));
        assert!(!w.selects("bn.weight", &[8]));
        assert!(ParamSelection::All.selects("bn.weight", &[8]));
        let p = ParamSelection::Prefixes(vec!["head".into()]);
        assert!(p.selects("head.0.bias", &[3]));
        assert!(!p.selects("header.weight", &[3, 3]));
    }
}
