//! Mixup (Zhang, Cisse, Dauphin, Lopez-Paz, "mixup: Beyond Empirical Risk Minimization", ICLR
//! 2018), CutMix (Yun et al., ICCV 2019) and label smoothing, composed as timm's `Mixup` does.
//!
//! Sample i of a batch of N is paired with sample j = N − 1 − i (the flipped batch, timm's
//! pairing; the loader shuffles, so pairs are random). With λ ~ Beta(α, α):
//!
//! ```text
//! mixup:   x̃ᵢ = λ·xᵢ + (1 − λ)·xⱼ
//! CutMix:  x̃ᵢ = xᵢ with a box B pasted from xⱼ;  λ ← 1 − |B| / (H·W)      (see [`cutmix`])
//! targets: t̃ᵢ = λ·tᵢ + (1 − λ)·tⱼ,  tᵢ = (1 − ε)·e_{yᵢ} + ε/K           (label smoothing ε)
//! ```
//!
//! so a 60/40 blend of a dog and a cat has the target (0.6 dog, 0.4 cat) up to smoothing, and
//! every target row sums to 1. The soft-target cross-entropy consumes these rows.
//!
//! As in timm: with probability `prob` a batch (or element) is mixed at all; when both mixup and
//! CutMix are enabled, CutMix is chosen with probability `switch_prob`; `cutmix_minmax` replaces
//! the λ-sized box by a box with side ratios in [min, max) (and forces CutMix α = 1); λ is
//! corrected for clipped boxes (`correct_lam`); parameters are drawn once per batch
//! ([`MixMode::Batch`], default), per pair ([`MixMode::Pair`]) or per element ([`MixMode::Elem`]).
//! Label smoothing is applied to the targets whether or not the batch was mixed. Unlike timm, odd
//! batch sizes are accepted in batch and element mode (the middle sample pairs with itself,
//! which leaves it and its target unchanged); pair mode needs an even batch.
//!
//! Defaults are timm's (`mixup_alpha` 1, `cutmix_alpha` 0, `prob` 1, `switch_prob` 0.5, batch
//! mode, `correct_lam`, `label_smoothing` 0.1).

pub mod cutmix;
pub mod targets;

use ndarray::{Array2, Array4, Axis, s};
use rand::Rng;
use rand_distr::{Beta, Distribution};
use serde::{Deserialize, Serialize};

use crate::error::{RegularizeError, Result, check_range, invalid};
use cutmix::CutMixBox;
use targets::{check_labels, mix_targets, smooth_one_hot};

/// How often mixing parameters are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MixMode {
    /// One λ (and box) for the whole batch. Default.
    #[default]
    Batch,
    /// One λ per pair (i, N − 1 − i); both members use it. Needs an even batch.
    Pair,
    /// One λ per element.
    Elem,
}

/// Configuration of [`Mixup`] (timm's `Mixup` arguments).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MixupConfig {
    /// Mixup's α (> 0 enables mixup). Default 1.
    pub mixup_alpha: f32,
    /// CutMix's α (> 0 enables CutMix). Default 0.
    pub cutmix_alpha: f32,
    /// CutMix box side ratios `(min, max)`, 0 ≤ min < max ≤ 1; enables CutMix with α = 1.
    pub cutmix_minmax: Option<(f32, f32)>,
    /// Probability of mixing a batch / element. Default 1.
    pub prob: f32,
    /// Probability of CutMix rather than mixup when both are enabled. Default 0.5.
    pub switch_prob: f32,
    /// Per batch, pair or element.
    pub mode: MixMode,
    /// Recompute λ from the clipped CutMix box. Default true.
    pub correct_lam: bool,
    /// Label smoothing ε in [0, 1). Default 0.1.
    pub label_smoothing: f32,
    /// Number of classes K ≥ 1.
    pub num_classes: usize,
}

impl MixupConfig {
    /// timm's defaults for `num_classes` classes (mixup α = 1, no CutMix, smoothing 0.1).
    pub fn new(num_classes: usize) -> Self {
        MixupConfig {
            mixup_alpha: 1.0,
            cutmix_alpha: 0.0,
            cutmix_minmax: None,
            prob: 1.0,
            switch_prob: 0.5,
            mode: MixMode::Batch,
            correct_lam: true,
            label_smoothing: 0.1,
            num_classes,
        }
    }

    /// Validates and builds the transform.
    pub fn init(mut self) -> Result<Mixup> {
        const C: &str = "MixupConfig";
        let nonneg = "a finite value >= 0";
        check_range(C, "mixup_alpha", self.mixup_alpha, 0.0, f32::MAX, nonneg)?;
        check_range(C, "cutmix_alpha", self.cutmix_alpha, 0.0, f32::MAX, nonneg)?;
        check_range(C, "prob", self.prob, 0.0, 1.0, "a probability in [0, 1]")?;
        check_range(
            C,
            "switch_prob",
            self.switch_prob,
            0.0,
            1.0,
            "a probability in [0, 1]",
        )?;
        check_range(
            C,
            "label_smoothing",
            self.label_smoothing,
            0.0,
            1.0,
            "a value in [0, 1)",
        )?;
        if self.label_smoothing >= 1.0 {
            return Err(invalid(
                C,
                "label_smoothing",
                self.label_smoothing,
                "a value in [0, 1)",
            ));
        }
        if self.num_classes == 0 {
            return Err(invalid(C, "num_classes", 0, "at least 1 class"));
        }
        if let Some((lo, hi)) = self.cutmix_minmax {
            if !(lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo < hi && hi <= 1.0) {
                return Err(invalid(
                    C,
                    "cutmix_minmax",
                    format!("({lo}, {hi})"),
                    "ratios with 0 <= min < max <= 1",
                ));
            }
            self.cutmix_alpha = 1.0; // as timm: minmax forces CutMix on with α = 1
        }
        if self.mixup_alpha == 0.0 && self.cutmix_alpha == 0.0 {
            return Err(invalid(
                C,
                "mixup_alpha/cutmix_alpha",
                "0/0",
                "mixup_alpha > 0, cutmix_alpha > 0 or cutmix_minmax set",
            ));
        }
        let beta = |a: f32| (a > 0.0).then(|| Beta::new(a as f64, a as f64).expect("validated α"));
        Ok(Mixup {
            mixup_beta: beta(self.mixup_alpha),
            cutmix_beta: beta(self.cutmix_alpha),
            config: self,
        })
    }
}

/// The mixing of one element with its partner N − 1 − i.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ElemMix {
    /// Weight of the element itself (after CutMix correction); 1 = unchanged.
    pub lam: f32,
    /// `Some` for CutMix: the region taken from the partner.
    pub cutmix: Option<CutMixBox>,
}

/// A mixed batch: images, soft targets (rows sum to 1) and each element's λ.
#[derive(Debug, Clone, PartialEq)]
pub struct MixedBatch {
    /// Mixed images `[N, C, H, W]`.
    pub images: Array4<f32>,
    /// Soft targets `[N, K]`.
    pub targets: Array2<f32>,
    /// λᵢ per element (the weight of the element's own label).
    pub lam: Vec<f32>,
}

/// Mixup / CutMix with label smoothing (see the module docs).
///
/// ```
/// use ndarray::Array4;
/// use nn_core::rng::seeded;
/// use nn_regularize::MixupConfig;
///
/// let mixup = MixupConfig::new(10).init().unwrap();
/// let images = Array4::<f32>::zeros((4, 1, 8, 8));
/// let out = mixup.apply(images, &[3, 1, 4, 1], &mut seeded(0)).unwrap();
/// assert_eq!(out.targets.dim(), (4, 10));
/// for row in out.targets.rows() {
///     assert!((row.sum() - 1.0).abs() < 1e-5);
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Mixup {
    config: MixupConfig,
    mixup_beta: Option<Beta<f64>>,
    cutmix_beta: Option<Beta<f64>>,
}

impl Mixup {
    /// The configuration (after validation: `cutmix_minmax` forces `cutmix_alpha` = 1).
    pub fn config(&self) -> &MixupConfig {
        &self.config
    }

    /// Draws (λ, CutMix?) for one batch or element, as timm's `_params_per_batch`.
    fn draw_one<R: Rng + ?Sized>(&self, (h, w): (usize, usize), rng: &mut R) -> ElemMix {
        let c = &self.config;
        let unchanged = ElemMix {
            lam: 1.0,
            cutmix: None,
        };
        if !(c.prob >= 1.0 || rng.random::<f32>() < c.prob) {
            return unchanged;
        }
        let use_cutmix = match (&self.mixup_beta, &self.cutmix_beta) {
            (Some(_), Some(_)) => rng.random::<f32>() < c.switch_prob,
            (None, Some(_)) => true,
            _ => false,
        };
        let dist = if use_cutmix {
            &self.cutmix_beta
        } else {
            &self.mixup_beta
        };
        let lam = dist.as_ref().expect("enabled").sample(rng) as f32;
        if !use_cutmix {
            return ElemMix { lam, cutmix: None };
        }
        let b = match c.cutmix_minmax {
            Some(mm) => CutMixBox::from_minmax((h, w), mm, rng),
            None => CutMixBox::from_lam((h, w), lam, rng),
        };
        let lam = if c.correct_lam || c.cutmix_minmax.is_some() {
            b.lam((h, w))
        } else {
            lam
        };
        ElemMix {
            lam,
            cutmix: Some(b),
        }
    }

    /// Draws the mixing of every element of a batch of `n` `(h, w)` images (the random part).
    ///
    /// Errors in pair mode if `n` is odd.
    pub fn sample<R: Rng + ?Sized>(
        &self,
        n: usize,
        hw: (usize, usize),
        rng: &mut R,
    ) -> Result<Vec<ElemMix>> {
        Ok(match self.config.mode {
            MixMode::Batch => vec![self.draw_one(hw, rng); n],
            MixMode::Elem => (0..n).map(|_| self.draw_one(hw, rng)).collect(),
            MixMode::Pair => {
                if !n.is_multiple_of(2) {
                    return Err(RegularizeError::BatchMismatch {
                        op: "Mixup",
                        detail: format!("pair mode needs an even batch size, got {n}"),
                    });
                }
                let half: Vec<ElemMix> = (0..n / 2).map(|_| self.draw_one(hw, rng)).collect();
                half.iter().chain(half.iter().rev()).copied().collect()
            }
        })
    }

    /// Applies given mixing parameters to `images` (the deterministic part): element i is mixed
    /// with the original of element N − 1 − i.
    ///
    /// # Panics
    /// If `params.len()` differs from the batch size or a box lies outside the images.
    pub fn mix_images(images: &Array4<f32>, params: &[ElemMix]) -> Array4<f32> {
        let n = images.len_of(Axis(0));
        assert_eq!(
            params.len(),
            n,
            "Mixup::mix_images: {} params for {n} images",
            params.len()
        );
        let mut out = images.clone();
        for (i, (mut xi, p)) in out.outer_iter_mut().zip(params).enumerate() {
            let xj = images.index_axis(Axis(0), n - 1 - i);
            match p.cutmix {
                _ if p.lam == 1.0 && p.cutmix.is_none_or(|b| b.area() == 0) => {}
                Some(b) => xi
                    .slice_mut(s![.., b.y0..b.y1, b.x0..b.x1])
                    .assign(&xj.slice(s![.., b.y0..b.y1, b.x0..b.x1])),
                None => {
                    let l = p.lam;
                    xi.zip_mut_with(&xj, |a, &b| *a = *a * l + b * (1.0 - l));
                }
            }
        }
        out
    }

    /// Mixes a batch with integer labels: the images, and smoothed, mixed soft targets `[N, K]`.
    ///
    /// Errors if the number of labels differs from the number of images, a label is ≥ K, or (pair
    /// mode) the batch is odd.
    pub fn apply<R: Rng + ?Sized>(
        &self,
        images: Array4<f32>,
        labels: &[usize],
        rng: &mut R,
    ) -> Result<MixedBatch> {
        self.check_batch(&images, labels.len())?;
        check_labels("Mixup", labels, self.config.num_classes)?;
        let targets = smooth_one_hot(labels, self.config.num_classes, self.config.label_smoothing)?;
        self.mix(images, targets, rng)
    }

    /// Mixes a batch whose targets are already soft rows `[N, K]` (e.g. from an earlier
    /// transform); the targets are mixed as they are, without further smoothing.
    pub fn apply_soft<R: Rng + ?Sized>(
        &self,
        images: Array4<f32>,
        targets: Array2<f32>,
        rng: &mut R,
    ) -> Result<MixedBatch> {
        self.check_batch(&images, targets.nrows())?;
        if targets.ncols() != self.config.num_classes {
            return Err(RegularizeError::BatchMismatch {
                op: "Mixup",
                detail: format!(
                    "targets have {} columns, the configuration has {} classes",
                    targets.ncols(),
                    self.config.num_classes
                ),
            });
        }
        self.mix(images, targets, rng)
    }

    fn check_batch(&self, images: &Array4<f32>, n_targets: usize) -> Result<()> {
        let n = images.len_of(Axis(0));
        if n != n_targets {
            return Err(RegularizeError::BatchMismatch {
                op: "Mixup",
                detail: format!("{n} images but {n_targets} labels/targets"),
            });
        }
        Ok(())
    }

    fn mix<R: Rng + ?Sized>(
        &self,
        images: Array4<f32>,
        targets: Array2<f32>,
        rng: &mut R,
    ) -> Result<MixedBatch> {
        let (n, _, h, w) = images.dim();
        let params = self.sample(n, (h, w), rng)?;
        let lam: Vec<f32> = params.iter().map(|p| p.lam).collect();
        let images = if lam.iter().all(|&l| l == 1.0) {
            images
        } else {
            Mixup::mix_images(&images, &params)
        };
        Ok(MixedBatch {
            images,
            targets: mix_targets(&targets, &lam),
            lam,
        })
    }
}

#[cfg(test)]
mod tests;
