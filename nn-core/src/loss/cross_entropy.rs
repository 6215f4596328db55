//! Softmax cross-entropy, fused with its gradient.
//!
//! For logits x ∈ ℝ^{N×C}, the log-probabilities are ln pᵢ = xᵢ − lseᵢ with the log-sum-exp
//! lseᵢ = mᵢ + ln Σ_c e^(x_ic − mᵢ), mᵢ = max_c x_ic (no overflow, no log of 0). With a target
//! distribution tᵢ (one-hot for a label yᵢ, or a soft row such as mixup produces) and label
//! smoothing ε (Szegedy et al. 2016, "Rethinking the Inception Architecture"; PyTorch's
//! `F.cross_entropy(label_smoothing=ε)`), the smoothed target is t′ᵢ = (1 − ε)·tᵢ + ε/C and
//!
//! ```text
//! ℓᵢ = −Σ_c t′_ic · ln p_ic            ∂ℓᵢ/∂x_ic = p_ic · Σ_k t′_ik − t′_ic   (= p_ic − t′_ic
//!                                                                            for a distribution)
//! ```
//!
//! reduced by the mean over the N rows (default), the sum, or not at all ([`Reduction`]). For soft
//! targets the target also gets a gradient, ∂ℓᵢ/∂t_ic = −(1 − ε)·ln p_ic.
//!
//! One pass over each row computes the maximum, the exponentials (stored as the gradient buffer),
//! the loss and the gradient (softmax − target) scaled by the reduction; backward only rescales
//! that buffer by the upstream gradient. Rows are processed in parallel (rayon) for large batches;
//! each row is computed by one thread and the row losses are summed in row order, so results do not
//! depend on the number of threads.
//!
//! Convention: a target entry t′ = 0 contributes 0 to the loss even where x = −∞ (0·ln 0 = 0;
//! PyTorch's soft-target path gives NaN there).
//!
//! Class weights w ∈ ℝ^C and `ignore_index` follow PyTorch's `F.cross_entropy(weight=w,
//! ignore_index=k)`: the weighted target is t″_ic = w_c·t′_ic, so
//!
//! ```text
//! labels:  ℓᵢ = (1 − ε)·w_{yᵢ}·(lseᵢ − x_{iyᵢ}) + (ε/C)·Σ_c w_c·(lseᵢ − x_ic)
//!          mean = Σᵢ ℓᵢ / Σᵢ w_{yᵢ}          (sums over the rows with yᵢ ≠ ignore_index)
//! soft:    ℓᵢ = −Σ_c w_c·t′_ic·ln p_ic      mean = Σᵢ ℓᵢ / N   (not normalised by the weights)
//! ```
//!
//! and ∂ℓᵢ/∂x_ic = p_ic·Σ_k t″_ik − t″_ic. Ignored rows contribute nothing to the loss, the mean's
//! denominator or the gradient (their `Reduction::None` loss is 0). As in PyTorch, a mean over
//! rows that are all ignored is NaN (0/0) with a zero gradient, and a zero total weight
//! Σᵢ w_{yᵢ} = 0 gives NaN (with a non-finite gradient).

use std::sync::Mutex;

use ndarray::{Array2, ArrayView2, Axis, IxDyn, Zip};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{LossConfigError, Reduction, as_matrix, check_labels};
use crate::autograd::{Backward, BackwardCtx, is_grad_enabled};
use crate::tensor::{Array, Tensor};

/// Batches with at least this many logits are processed in parallel over rows.
const PARALLEL_LEN: usize = 1 << 15;

/// Configuration of [`CrossEntropyLoss`] (PyTorch's `nn.CrossEntropyLoss` arguments).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CrossEntropyConfig {
    /// How row losses are combined. Default [`Reduction::Mean`].
    pub reduction: Reduction,
    /// Label smoothing ε ∈ [0, 1]: the target becomes (1 − ε)·t + ε/C. Default 0.
    pub label_smoothing: f32,
    /// Per-class weights w (length C, finite, ≥ 0; PyTorch's `weight`). The target becomes
    /// w_c·t′_c; with labels the mean is Σᵢ ℓᵢ / Σᵢ w_{yᵢ}, with soft targets it stays Σᵢ ℓᵢ / N
    /// (see the module docs). Default `None` (all ones). A length other than C panics at forward
    /// time, naming both.
    pub weight: Option<Vec<f32>>,
    /// A label value whose rows are skipped (PyTorch's `ignore_index`): they add nothing to the
    /// loss, the mean's denominator or the gradient, and need not be a valid class. Only for
    /// integer labels: [`CrossEntropyLoss::forward_soft`] panics if it is set, as PyTorch raises.
    /// Default `None`.
    pub ignore_index: Option<usize>,
}

impl Default for CrossEntropyConfig {
    fn default() -> Self {
        CrossEntropyConfig {
            reduction: Reduction::Mean,
            label_smoothing: 0.0,
            weight: None,
            ignore_index: None,
        }
    }
}

impl CrossEntropyConfig {
    /// Validates the configuration.
    ///
    /// # Errors
    /// [`LossConfigError::LabelSmoothing`] if `label_smoothing` is not in [0, 1];
    /// [`LossConfigError::ClassWeight`] if a weight is negative or not finite.
    pub fn init(&self) -> Result<CrossEntropyLoss, LossConfigError> {
        if !(0.0..=1.0).contains(&self.label_smoothing) {
            return Err(LossConfigError::LabelSmoothing(self.label_smoothing));
        }
        if let Some(w) = &self.weight
            && let Some((index, &value)) = w
                .iter()
                .enumerate()
                .find(|&(_, &v)| !(v.is_finite() && v >= 0.0))
        {
            return Err(LossConfigError::ClassWeight { index, value });
        }
        Ok(CrossEntropyLoss {
            config: self.clone(),
        })
    }
}

/// Softmax cross-entropy with a validated configuration (see the module docs for the formula).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CrossEntropyLoss {
    config: CrossEntropyConfig,
}

impl CrossEntropyLoss {
    /// The configuration.
    pub fn config(&self) -> &CrossEntropyConfig {
        &self.config
    }

    /// The loss of `logits` (`[N, C]`) against integer class `labels` (one per row).
    ///
    /// # Panics
    /// If `logits` is not 2-d, `labels.len() != N`, a label other than `ignore_index` is `>= C`
    /// (the message names the label, its row and C), or `weight` does not have C entries.
    pub fn forward(&self, logits: &Tensor, labels: &[usize]) -> Tensor {
        let x = as_matrix("cross_entropy", logits);
        let (n, c) = x.dim();
        match self.config.ignore_index {
            None => check_labels("cross_entropy", labels, n, c),
            Some(k) => {
                check_labels("cross_entropy", labels, n, usize::MAX);
                let bad = labels.iter().enumerate().find(|&(_, &l)| l != k && l >= c);
                if let Some((row, &label)) = bad {
                    panic!(
                        "cross_entropy: label {label} (row {row}) is out of range for {c} classes (ignore_index {k})"
                    );
                }
            }
        }
        self.check_weight(c);
        cross_entropy_op(logits, Target::Labels(labels), None, &self.config)
    }

    fn check_weight(&self, c: usize) {
        if let Some(w) = &self.config.weight {
            assert_eq!(
                w.len(),
                c,
                "cross_entropy: {} class weights for logits with {c} classes",
                w.len()
            );
        }
    }

    /// The loss of `logits` (`[N, C]`) against soft `targets` (`[N, C]`, usually probability
    /// rows, e.g. from mixup). `targets` gets a gradient too if it requires one.
    ///
    /// # Panics
    /// If the shapes differ or are not 2-d, `weight` does not have C entries, or `ignore_index`
    /// is set (PyTorch: "ignore_index is not supported for floating point target").
    pub fn forward_soft(&self, logits: &Tensor, targets: &Tensor) -> Tensor {
        assert!(
            self.config.ignore_index.is_none(),
            "cross_entropy: ignore_index is not supported with soft targets (shape {:?})",
            targets.shape()
        );
        let c = as_matrix("cross_entropy", logits).ncols();
        self.check_weight(c);
        assert_eq!(
            logits.shape(),
            targets.shape(),
            "cross_entropy: logits of shape {:?} and soft targets of shape {:?} differ",
            logits.shape(),
            targets.shape()
        );
        let t = as_matrix("cross_entropy", targets);
        cross_entropy_op(logits, Target::Probs(t), Some(targets), &self.config)
    }
}

/// Mean softmax cross-entropy of `logits` (`[N, C]`) against integer `labels` (PyTorch's
/// `F.cross_entropy(logits, labels)`). See [`CrossEntropyLoss`] for smoothing and reductions.
///
/// # Panics
/// As [`CrossEntropyLoss::forward`].
pub fn cross_entropy(logits: &Tensor, labels: &[usize]) -> Tensor {
    CrossEntropyLoss::default().forward(logits, labels)
}

/// Mean softmax cross-entropy of `logits` against soft `targets` of the same shape (PyTorch's
/// `F.cross_entropy(logits, probs)`).
///
/// # Panics
/// As [`CrossEntropyLoss::forward_soft`].
pub fn cross_entropy_soft(logits: &Tensor, targets: &Tensor) -> Tensor {
    CrossEntropyLoss::default().forward_soft(logits, targets)
}

#[derive(Clone, Copy)]
enum Target<'a> {
    Labels(&'a [usize]),
    Probs(ArrayView2<'a, f32>),
}

/// Class weights and their sum.
#[derive(Clone, Copy)]
struct Weights<'a> {
    w: &'a [f32],
    sum: f32,
}

/// The loss of one row (logits `x`) and, if `grad` is given, ∂ℓ/∂x (unscaled) written into it.
/// Returns (loss, log-sum-exp). An ignored row has loss 0 and leaves `grad` untouched (zero).
fn row_loss(
    x: &[f32],
    target: RowTarget<'_>,
    eps: f32,
    weights: Option<Weights<'_>>,
    grad: Option<&mut [f32]>,
) -> (f32, f32) {
    if matches!(target, RowTarget::Ignored) {
        return (0.0, 0.0);
    }
    let c = x.len();
    let m = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let (s, grad) = match grad {
        Some(g) => {
            let mut s = 0.0;
            for (g, &v) in g.iter_mut().zip(x) {
                let e = (v - m).exp();
                *g = e;
                s += e;
            }
            (s, Some(g))
        }
        None => (x.iter().map(|&v| (v - m).exp()).sum(), None),
    };
    let lse = m + s.ln();
    let u = eps / c as f32;
    let loss = match target {
        RowTarget::Label(y) if weights.is_some() => {
            let Weights { w, sum } = weights.expect("weights");
            let wy = w[y];
            let mut loss = (1.0 - eps) * wy * (lse - x[y]);
            if eps > 0.0 {
                loss += u * x.iter().zip(w).map(|(&v, &wc)| wc * (lse - v)).sum::<f32>();
            }
            if let Some(g) = grad {
                let scale = ((1.0 - eps) * wy + u * sum) / s;
                g.iter_mut()
                    .zip(w)
                    .for_each(|(g, &wc)| *g = *g * scale - u * wc);
                g[y] -= (1.0 - eps) * wy;
            }
            loss
        }
        RowTarget::Label(y) => {
            let mut loss = (1.0 - eps) * (lse - x[y]);
            if eps > 0.0 {
                loss += u * x.iter().map(|&v| lse - v).sum::<f32>();
            }
            if let Some(g) = grad {
                let inv = 1.0 / s;
                g.iter_mut().for_each(|g| *g = *g * inv - u);
                g[y] -= 1.0 - eps;
            }
            loss
        }
        RowTarget::Probs(t) => {
            let mut loss = 0.0;
            let mut tsum = 0.0;
            let wk = |k: usize| weights.map_or(1.0, |w| w.w[k]);
            for (k, (&tk, &v)) in t.iter().zip(x).enumerate() {
                let tk = wk(k) * ((1.0 - eps) * tk + u);
                tsum += tk;
                if tk != 0.0 {
                    loss += tk * (lse - v);
                }
            }
            if let Some(g) = grad {
                let scale = tsum / s;
                for (k, (g, &tk)) in g.iter_mut().zip(t).enumerate() {
                    *g = *g * scale - wk(k) * ((1.0 - eps) * tk + u);
                }
            }
            loss
        }
        RowTarget::Ignored => unreachable!("handled above"),
    };
    (loss, lse)
}

enum RowTarget<'a> {
    Label(usize),
    Probs(&'a [f32]),
    Ignored,
}

/// Row losses, row log-sum-exps and (if `want_grad`) the unscaled gradient w.r.t. the logits.
fn compute(
    x: ArrayView2<'_, f32>,
    target: Target<'_>,
    eps: f32,
    weights: Option<Weights<'_>>,
    ignore_index: Option<usize>,
    want_grad: bool,
) -> (Vec<f32>, Vec<f32>, Option<Array2<f32>>) {
    let (n, c) = x.dim();
    let x = x.as_standard_layout();
    let xs = x.as_slice().expect("standard layout");
    let t_owned = match target {
        Target::Probs(t) => Some(t.as_standard_layout().into_owned()),
        Target::Labels(_) => None,
    };
    let row_target = |i: usize| match target {
        Target::Labels(l) if Some(l[i]) == ignore_index => RowTarget::Ignored,
        Target::Labels(l) => RowTarget::Label(l[i]),
        Target::Probs(_) => {
            let t = t_owned.as_ref().expect("soft targets").as_slice();
            RowTarget::Probs(&t.expect("standard layout")[i * c..(i + 1) * c])
        }
    };
    let mut out = vec![(0.0f32, 0.0f32); n];
    let mut grad = want_grad.then(|| Array2::<f32>::zeros((n, c)));
    let parallel = n * c >= PARALLEL_LEN && n > 1;
    let c1 = c.max(1);
    match grad.as_mut() {
        Some(g) => {
            let gs = g.as_slice_mut().expect("fresh array");
            let body = |(i, (o, g)): (usize, (&mut (f32, f32), &mut [f32]))| {
                *o = row_loss(
                    &xs[i * c..(i + 1) * c],
                    row_target(i),
                    eps,
                    weights,
                    Some(g),
                );
            };
            if parallel {
                out.par_iter_mut()
                    .zip(gs.par_chunks_mut(c1))
                    .enumerate()
                    .for_each(body);
            } else {
                out.iter_mut()
                    .zip(gs.chunks_mut(c1))
                    .enumerate()
                    .for_each(body);
            }
        }
        None => {
            let body = |(i, o): (usize, &mut (f32, f32))| {
                *o = row_loss(&xs[i * c..(i + 1) * c], row_target(i), eps, weights, None);
            };
            if parallel {
                out.par_iter_mut().enumerate().for_each(body);
            } else {
                out.iter_mut().enumerate().for_each(body);
            }
        }
    }
    let (losses, lse) = out.into_iter().unzip();
    (losses, lse, grad)
}

/// Reduces row losses in row order (f64 accumulation); the mean divides by `denom`.
fn reduce(losses: Vec<f32>, reduction: Reduction, denom: f64) -> Array {
    let n = losses.len();
    match reduction {
        Reduction::None => Array::from_shape_vec(IxDyn(&[n]), losses).expect("n losses"),
        Reduction::Sum | Reduction::Mean => {
            let s: f64 = losses.iter().map(|&l| l as f64).sum();
            let v = if reduction == Reduction::Mean {
                s / denom
            } else {
                s
            };
            Array::from_elem(IxDyn(&[]), v as f32)
        }
    }
}

/// The per-row factor that the upstream gradient `g` contributes. The mean divides by `denom`;
/// with no counted row at all (`active == 0`) the gradient is zero, as in PyTorch.
fn row_scales(g: &Array, n: usize, reduction: Reduction, denom: f64, active: usize) -> Vec<f32> {
    let g0 = g.iter().next().copied().unwrap_or(0.0);
    match reduction {
        Reduction::None => g.iter().copied().collect(),
        Reduction::Sum => vec![g0; n],
        Reduction::Mean if active == 0 => vec![0.0; n],
        Reduction::Mean => vec![(g0 as f64 / denom) as f32; n],
    }
}

fn cross_entropy_op(
    logits: &Tensor,
    target: Target<'_>,
    targets: Option<&Tensor>,
    config: &CrossEntropyConfig,
) -> Tensor {
    let x = as_matrix("cross_entropy", logits);
    let n = x.nrows();
    let want_grad = is_grad_enabled() && logits.requires_grad();
    let eps = config.label_smoothing;
    let weights = config.weight.as_deref().map(|w| Weights {
        w,
        sum: w.iter().sum(),
    });
    // The mean's denominator: Σ w_{yᵢ} over the counted rows for labels, N for soft targets.
    let (denom, active) = match target {
        Target::Labels(l) => {
            let kept = l.iter().filter(|&&y| Some(y) != config.ignore_index);
            let active = kept.clone().count();
            let denom = match weights {
                Some(w) => kept.map(|&y| w.w[y] as f64).sum(),
                None => active as f64,
            };
            (denom, active)
        }
        Target::Probs(_) => (n as f64, n),
    };
    let (losses, lse, grad) = compute(x, target, eps, weights, config.ignore_index, want_grad);
    let value = reduce(losses, config.reduction, denom);
    let mut inputs = vec![logits.clone()];
    inputs.extend(targets.cloned());
    Tensor::from_op(
        value,
        inputs,
        CrossEntropyBackward {
            grad: Mutex::new(grad),
            lse,
            reduction: config.reduction,
            eps,
            weight: config.weight.clone(),
            denom,
            active,
        },
    )
}

struct CrossEntropyBackward {
    /// ∂ℓᵢ/∂x (unscaled), computed by the forward pass; taken by the (single) backward call.
    grad: Mutex<Option<Array2<f32>>>,
    lse: Vec<f32>,
    reduction: Reduction,
    eps: f32,
    weight: Option<Vec<f32>>,
    /// The mean's denominator and the number of counted (non-ignored) rows.
    denom: f64,
    active: usize,
}

impl Backward for CrossEntropyBackward {
    fn name(&self) -> &'static str {
        "cross_entropy"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let n = self.lse.len();
        let scales = row_scales(&g, n, self.reduction, self.denom, self.active);
        let gx = ctx.needs_grad(0).then(|| {
            let mut gx = self
                .grad
                .lock()
                .expect("cross_entropy gradient lock")
                .take()
                .expect("cross_entropy: the forward pass computed the gradient");
            Zip::from(gx.axis_iter_mut(Axis(0)))
                .and(&scales)
                .for_each(|mut row, &s| row *= s);
            gx.into_dyn()
        });
        let mut grads = vec![gx];
        if ctx.inputs.len() == 2 {
            let gt = ctx.needs_grad(1).then(|| {
                let x = ctx.inputs[0].data();
                let mut gt = x
                    .to_owned()
                    .into_dimensionality::<ndarray::Ix2>()
                    .expect("2-d");
                let k = -(1.0 - self.eps);
                Zip::from(gt.axis_iter_mut(Axis(0)))
                    .and(&scales)
                    .and(&self.lse)
                    .for_each(|mut row, &s, &lse| {
                        row.mapv_inplace(|v| k * (v - lse) * s);
                        if let Some(w) = &self.weight {
                            row.iter_mut().zip(w).for_each(|(r, &wc)| *r *= wc);
                        }
                    });
                gt.into_dyn()
            });
            grads.push(gt);
        }
        grads
    }
}

#[cfg(test)]
mod tests;
