//! Multiclass SVM hinge loss (Weston & Watkins 1999; the form used in CS231n).
//!
//! For scores s ∈ ℝ^{N×C}, labels yᵢ, margin Δ (default 1) and power p ∈ {1, 2}:
//!
//! ```text
//! ℓᵢ = Σ_{j≠yᵢ} max(0, s_ij − s_iyᵢ + Δ)^p            L = 1/N Σᵢ ℓᵢ   (Reduction::Mean)
//! ∂ℓᵢ/∂s_ij = p·max(0, m_ij)^(p−1) for j ≠ yᵢ,      ∂ℓᵢ/∂s_iyᵢ = −Σ_{j≠yᵢ} ∂ℓᵢ/∂s_ij
//! ```
//!
//! with m_ij = s_ij − s_iyᵢ + Δ (the subgradient at m = 0 is 0, as in PyTorch).
//!
//! **Normalisation.** CS231n's loss (the default here) sums over the classes j ≠ yᵢ. PyTorch's
//! `F.multi_margin_loss(p=1, margin=1)` additionally divides each ℓᵢ by the number of classes C;
//! set [`HingeConfig::divide_by_classes`] to get PyTorch's numbers. The two differ only by the
//! constant factor C (the optimum is the same; the effective learning rate is C times larger
//! here).

use ndarray::{Array2, Axis, IxDyn, Zip};
use serde::{Deserialize, Serialize};

use super::{LossConfigError, Reduction, as_matrix, check_labels};
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

/// Configuration of [`HingeLoss`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HingeConfig {
    /// The margin Δ. Default 1.
    pub margin: f32,
    /// 1 for the hinge, 2 for the squared hinge. Default 1.
    pub p: u32,
    /// Divide each sample's loss by the number of classes C, as PyTorch's `multi_margin_loss`
    /// does. Default `false` (CS231n's formula).
    pub divide_by_classes: bool,
    /// How sample losses are combined. Default [`Reduction::Mean`].
    pub reduction: Reduction,
}

impl Default for HingeConfig {
    fn default() -> Self {
        HingeConfig {
            margin: 1.0,
            p: 1,
            divide_by_classes: false,
            reduction: Reduction::Mean,
        }
    }
}

impl HingeConfig {
    /// PyTorch's `nn.MultiMarginLoss()` defaults: p = 1, margin = 1, divided by C, mean.
    pub fn pytorch() -> Self {
        HingeConfig {
            divide_by_classes: true,
            ..HingeConfig::default()
        }
    }

    /// Validates the configuration.
    ///
    /// # Errors
    /// [`LossConfigError::Margin`] for a non-finite margin, [`LossConfigError::Power`] unless
    /// `p` is 1 or 2.
    pub fn init(&self) -> Result<HingeLoss, LossConfigError> {
        if !self.margin.is_finite() {
            return Err(LossConfigError::Margin(self.margin));
        }
        if self.p != 1 && self.p != 2 {
            return Err(LossConfigError::Power(self.p));
        }
        Ok(HingeLoss { config: *self })
    }
}

/// The multiclass SVM hinge loss with a validated configuration (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HingeLoss {
    config: HingeConfig,
}

/// CS231n's multiclass SVM loss, L = 1/N Σᵢ Σ_{j≠yᵢ} max(0, s_ij − s_iyᵢ + 1).
///
/// # Panics
/// As [`HingeLoss::forward`].
pub fn hinge_loss(scores: &Tensor, labels: &[usize]) -> Tensor {
    HingeLoss::default().forward(scores, labels)
}

impl HingeLoss {
    /// The configuration.
    pub fn config(&self) -> &HingeConfig {
        &self.config
    }

    /// The loss of `scores` (`[N, C]`) for integer `labels` (one per row).
    ///
    /// # Panics
    /// If `scores` is not 2-d, `labels.len() != N`, or a label is `>= C` (the message names the
    /// label, its row and C).
    pub fn forward(&self, scores: &Tensor, labels: &[usize]) -> Tensor {
        let s = as_matrix("hinge_loss", scores);
        let (n, c) = s.dim();
        check_labels("hinge_loss", labels, n, c);
        let cfg = self.config;
        let norm = if cfg.divide_by_classes { c as f32 } else { 1.0 };
        let losses: Vec<f32> = s
            .axis_iter(Axis(0))
            .zip(labels)
            .map(|(row, &y)| {
                let sy = row[y];
                let l: f32 = row
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != y)
                    .map(|(_, &sj)| {
                        let m = (sj - sy + cfg.margin).max(0.0);
                        if cfg.p == 1 { m } else { m * m }
                    })
                    .sum();
                l / norm
            })
            .collect();
        let value = match cfg.reduction {
            Reduction::None => Array::from_shape_vec(IxDyn(&[n]), losses).expect("n losses"),
            r => {
                let sum: f64 = losses.iter().map(|&l| l as f64).sum();
                let v = if r == Reduction::Mean {
                    sum / n as f64
                } else {
                    sum
                };
                Array::from_elem(IxDyn(&[]), v as f32)
            }
        };
        Tensor::from_op(
            value,
            vec![scores.clone()],
            HingeBackward {
                labels: labels.to_vec(),
                config: cfg,
            },
        )
    }
}

struct HingeBackward {
    labels: Vec<usize>,
    config: HingeConfig,
}

impl Backward for HingeBackward {
    fn name(&self) -> &'static str {
        "hinge_loss"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        if !ctx.needs_grad(0) {
            return vec![None];
        }
        let s = as_matrix("hinge_loss", &ctx.inputs[0]);
        let (n, c) = s.dim();
        let cfg = self.config;
        let norm = if cfg.divide_by_classes { c as f32 } else { 1.0 };
        let scale = |i: usize| -> f32 {
            let r = match cfg.reduction {
                Reduction::None => g[[i]],
                Reduction::Sum => g[[]],
                Reduction::Mean => g[[]] / n as f32,
            };
            r / norm
        };
        let mut gs = Array2::<f32>::zeros((n, c));
        Zip::indexed(gs.axis_iter_mut(Axis(0)))
            .and(s.axis_iter(Axis(0)))
            .for_each(|i, mut grow, srow| {
                let y = self.labels[i];
                let k = scale(i);
                let sy = srow[y];
                let mut total = 0.0;
                for j in (0..c).filter(|&j| j != y) {
                    let m = srow[j] - sy + cfg.margin;
                    if m > 0.0 {
                        let d = if cfg.p == 1 { 1.0 } else { 2.0 * m };
                        grow[j] = d * k;
                        total += d;
                    }
                }
                grow[y] = -total * k;
            });
        vec![Some(gs.into_dyn())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn cs231n_example() {
        // The three-example toy problem of the CS231n notes (classes × images there, hence the
        // transpose): losses 2.9, 0, 12.9 (mean 5.27).
        let s = Tensor::from_vec(vec![3.2, 1.3, 2.2, 5.1, 4.9, 2.5, -1.7, 2.0, -3.1], &[3, 3]);
        let s = s.transpose(0, 1);
        let none = HingeConfig {
            reduction: Reduction::None,
            ..Default::default()
        }
        .init()
        .unwrap();
        let l = none.forward(&s, &[0, 1, 2]).to_vec();
        let want = [2.9, 0.0, 12.9];
        for (a, b) in l.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{l:?}");
        }
        assert!((hinge_loss(&s, &[0, 1, 2]).item() - 15.8 / 3.0).abs() < 1e-5);
        let torch = HingeConfig::pytorch().init().unwrap();
        assert!((torch.forward(&s, &[0, 1, 2]).item() - 15.8 / 9.0).abs() < 1e-5);
    }

    #[test]
    fn gradients() {
        assert_gradients(|x| hinge_loss(&x[0], &[1, 0, 3]), &[&[3, 4]], 1);
        for p in [1, 2] {
            for reduction in [Reduction::Mean, Reduction::Sum, Reduction::None] {
                let h = HingeConfig {
                    p,
                    margin: 0.5,
                    divide_by_classes: p == 2,
                    reduction,
                }
                .init()
                .unwrap();
                assert_gradients(|x| h.forward(&x[0], &[2, 0, 3]), &[&[3, 4]], 2 + p as u64);
            }
        }
    }

    #[test]
    fn invalid_config() {
        assert_eq!(
            HingeConfig {
                p: 3,
                ..Default::default()
            }
            .init()
            .unwrap_err(),
            LossConfigError::Power(3)
        );
        assert!(
            HingeConfig {
                margin: f32::NAN,
                ..Default::default()
            }
            .init()
            .is_err()
        );
    }

    #[test]
    #[should_panic(expected = "hinge_loss: label 3 (row 0) is out of range for 3 classes")]
    fn label_out_of_range() {
        hinge_loss(&Tensor::zeros(&[1, 3]), &[3]);
    }
}
