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
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CrossEntropyConfig {
    /// How row losses are combined. Default [`Reduction::Mean`].
    pub reduction: Reduction,
    /// Label smoothing ε ∈ [0, 1]: the target becomes (1 − ε)·t + ε/C. Default 0.
    pub label_smoothing: f32,
}

impl Default for CrossEntropyConfig {
    fn default() -> Self {
        CrossEntropyConfig {
            reduction: Reduction::Mean,
            label_smoothing: 0.0,
        }
    }
}

impl CrossEntropyConfig {
    /// Validates the configuration.
    ///
    /// # Errors
    /// [`LossConfigError::LabelSmoothing`] if `label_smoothing` is not in [0, 1].
    pub fn init(&self) -> Result<CrossEntropyLoss, LossConfigError> {
        if !(0.0..=1.0).contains(&self.label_smoothing) {
            return Err(LossConfigError::LabelSmoothing(self.label_smoothing));
        }
        Ok(CrossEntropyLoss { config: *self })
    }
}

/// Softmax cross-entropy with a validated configuration (see the module docs for the formula).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
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
    /// If `logits` is not 2-d, `labels.len() != N`, or a label is `>= C` (the message names the
    /// label, its row and C).
    pub fn forward(&self, logits: &Tensor, labels: &[usize]) -> Tensor {
        let x = as_matrix("cross_entropy", logits);
        check_labels("cross_entropy", labels, x.nrows(), x.ncols());
        cross_entropy_op(logits, Target::Labels(labels), None, self.config)
    }

    /// The loss of `logits` (`[N, C]`) against soft `targets` (`[N, C]`, usually probability
    /// rows, e.g. from mixup). `targets` gets a gradient too if it requires one.
    ///
    /// # Panics
    /// If the shapes differ or are not 2-d.
    pub fn forward_soft(&self, logits: &Tensor, targets: &Tensor) -> Tensor {
        as_matrix("cross_entropy", logits);
        assert_eq!(
            logits.shape(),
            targets.shape(),
            "cross_entropy: logits of shape {:?} and soft targets of shape {:?} differ",
            logits.shape(),
            targets.shape()
        );
        let t = as_matrix("cross_entropy", targets);
        cross_entropy_op(logits, Target::Probs(t), Some(targets), self.config)
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

/// The loss of one row (logits `x`) and, if `grad` is given, ∂ℓ/∂x (unscaled) written into it.
/// Returns (loss, log-sum-exp).
fn row_loss(x: &[f32], target: RowTarget<'_>, eps: f32, grad: Option<&mut [f32]>) -> (f32, f32) {
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
            for (&tk, &v) in t.iter().zip(x) {
                let tk = (1.0 - eps) * tk + u;
                tsum += tk;
                if tk != 0.0 {
                    loss += tk * (lse - v);
                }
            }
            if let Some(g) = grad {
                let scale = tsum / s;
                for (g, &tk) in g.iter_mut().zip(t) {
                    *g = *g * scale - ((1.0 - eps) * tk + u);
                }
            }
            loss
        }
    };
    (loss, lse)
}

enum RowTarget<'a> {
    Label(usize),
    Probs(&'a [f32]),
}

/// Row losses, row log-sum-exps and (if `want_grad`) the unscaled gradient w.r.t. the logits.
fn compute(
    x: ArrayView2<'_, f32>,
    target: Target<'_>,
    eps: f32,
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
                *o = row_loss(&xs[i * c..(i + 1) * c], row_target(i), eps, Some(g));
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
                *o = row_loss(&xs[i * c..(i + 1) * c], row_target(i), eps, None);
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

/// Reduces row losses in row order (f64 accumulation).
fn reduce(losses: Vec<f32>, reduction: Reduction) -> Array {
    let n = losses.len();
    match reduction {
        Reduction::None => Array::from_shape_vec(IxDyn(&[n]), losses).expect("n losses"),
        Reduction::Sum | Reduction::Mean => {
            let s: f64 = losses.iter().map(|&l| l as f64).sum();
            let v = if reduction == Reduction::Mean {
                s / n as f64
            } else {
                s
            };
            Array::from_elem(IxDyn(&[]), v as f32)
        }
    }
}

/// The per-row factor that the upstream gradient `g` contributes.
fn row_scales(g: &Array, n: usize, reduction: Reduction) -> Vec<f32> {
    match reduction {
        Reduction::None => g.iter().copied().collect(),
        Reduction::Sum => vec![g.iter().next().copied().unwrap_or(0.0); n],
        Reduction::Mean => vec![g.iter().next().copied().unwrap_or(0.0) / n as f32; n],
    }
}

fn cross_entropy_op(
    logits: &Tensor,
    target: Target<'_>,
    targets: Option<&Tensor>,
    config: CrossEntropyConfig,
) -> Tensor {
    let x = as_matrix("cross_entropy", logits);
    let want_grad = is_grad_enabled() && logits.requires_grad();
    let eps = config.label_smoothing;
    let (losses, lse, grad) = compute(x, target, eps, want_grad);
    let value = reduce(losses, config.reduction);
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
        },
    )
}

struct CrossEntropyBackward {
    /// ∂ℓᵢ/∂x (unscaled), computed by the forward pass; taken by the (single) backward call.
    grad: Mutex<Option<Array2<f32>>>,
    lse: Vec<f32>,
    reduction: Reduction,
    eps: f32,
}

impl Backward for CrossEntropyBackward {
    fn name(&self) -> &'static str {
        "cross_entropy"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let n = self.lse.len();
        let scales = row_scales(&g, n, self.reduction);
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
                    .for_each(|mut row, &s, &lse| row.mapv_inplace(|v| k * (v - lse) * s));
                gt.into_dyn()
            });
            grads.push(gt);
        }
        grads
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn matches_hand_computation() {
        let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 0.0, 0.0, 0.0], &[2, 3]);
        let lse0 = (1f32.exp() + 2f32.exp() + 3f32.exp()).ln();
        let want = ((lse0 - 1.0) + 3f32.ln()) / 2.0;
        assert!((cross_entropy(&x, &[0, 1]).item() - want).abs() < 1e-6);
        let none = CrossEntropyConfig {
            reduction: Reduction::None,
            ..Default::default()
        }
        .init()
        .unwrap();
        let l = none.forward(&x, &[2, 1]).to_vec();
        assert!((l[0] - (lse0 - 3.0)).abs() < 1e-6 && (l[1] - 3f32.ln()).abs() < 1e-6);
    }

    #[test]
    fn stable_for_huge_logits() {
        let x = Tensor::from_vec(vec![1e4, 0.0, -1e4, 1e30], &[2, 2]);
        let l = cross_entropy(&x, &[1, 0]).item();
        assert!(l.is_finite() && (l / 5e29 - 1.0).abs() < 1e-6, "{l}");
        assert_eq!(cross_entropy(&x, &[0, 1]).item(), 0.0);
    }

    #[test]
    fn labels_equal_one_hot_soft_targets_with_smoothing() {
        let x = Tensor::randn(&[4, 5], 0.0, 2.0, &mut crate::rng::seeded(3)).with_requires_grad();
        let labels = [0, 4, 2, 2];
        let mut onehot = vec![0.0; 20];
        for (i, &l) in labels.iter().enumerate() {
            onehot[i * 5 + l] = 1.0;
        }
        let t = Tensor::from_vec(onehot, &[4, 5]);
        let ce = CrossEntropyConfig {
            label_smoothing: 0.2,
            ..Default::default()
        }
        .init()
        .unwrap();
        let a = ce.forward(&x, &labels);
        let b = ce.forward_soft(&x, &t);
        assert!((a.item() - b.item()).abs() < 1e-6);
        a.backward();
        let ga = x.grad().unwrap();
        x.zero_grad();
        b.backward();
        let gb = x.grad().unwrap();
        assert!(ga.iter().zip(gb.iter()).all(|(a, b)| (a - b).abs() < 1e-6));
    }

    #[test]
    fn gradients() {
        assert_gradients(|x| cross_entropy(&x[0], &[1, 0, 3]), &[&[3, 4]], 1);
        for reduction in [Reduction::Mean, Reduction::Sum, Reduction::None] {
            let ce = CrossEntropyConfig {
                reduction,
                label_smoothing: 0.15,
            }
            .init()
            .unwrap();
            assert_gradients(|x| ce.forward(&x[0], &[1, 0, 3]), &[&[3, 4]], 2);
            // Soft targets: gradients w.r.t. both logits and (unnormalised) targets.
            assert_gradients(|x| ce.forward_soft(&x[0], &x[1]), &[&[3, 4], &[3, 4]], 3);
        }
    }

    #[test]
    fn parallel_path_matches_serial_path() {
        let mut rng = crate::rng::seeded(5);
        let (n, c) = (4096, 10);
        let x = Tensor::randn(&[n, c], 0.0, 3.0, &mut rng).with_requires_grad();
        let labels: Vec<usize> = (0..n).map(|i| (i * 7) % c).collect();
        let l = cross_entropy(&x, &labels);
        l.backward();
        let g = x.grad().unwrap();
        let none = CrossEntropyConfig {
            reduction: Reduction::None,
            ..Default::default()
        }
        .init()
        .unwrap();
        let per_row = none.forward(&x.detach(), &labels).to_vec();
        let mean = per_row.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        assert!((l.item() as f64 - mean).abs() < 1e-6);
        // Single rows take the serial path.
        for i in [0usize, 1, 2047, 4095] {
            let row = Tensor::from_array(
                x.data()
                    .slice(ndarray::s![i..i + 1, ..])
                    .to_owned()
                    .into_dyn(),
            )
            .with_requires_grad();
            let li = cross_entropy(&row, &labels[i..i + 1]);
            assert_eq!(li.item(), per_row[i]);
            li.backward();
            let gi = row.grad().unwrap();
            for k in 0..c {
                assert!((gi[[0, k]] / n as f32 - g[[i, k]]).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn parallel_result_does_not_depend_on_thread_count() {
        let x = Tensor::randn(&[2048, 32], 0.0, 2.0, &mut crate::rng::seeded(9));
        let labels: Vec<usize> = (0..2048).map(|i| (i * 5) % 32).collect();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let x = x.detach().with_requires_grad();
                let l = cross_entropy(&x, &labels);
                l.backward();
                (l.item(), x.grad().unwrap())
            })
        };
        let (l1, g1) = run(1);
        let (l3, g3) = run(3);
        assert_eq!(l1.to_bits(), l3.to_bits());
        assert_eq!(g1, g3);
    }

    #[test]
    #[should_panic(expected = "cross_entropy: label 7 (row 1) is out of range for 4 classes")]
    fn label_out_of_range() {
        cross_entropy(&Tensor::zeros(&[2, 4]), &[0, 7]);
    }

    #[test]
    fn invalid_smoothing_is_an_error() {
        let e = CrossEntropyConfig {
            label_smoothing: 1.5,
            ..Default::default()
        }
        .init()
        .unwrap_err();
        assert!(e.to_string().contains("label_smoothing"));
    }
}
