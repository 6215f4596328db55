//! Stochastic depth (Huang, Sun, Liu, Sedra, Weinberger, "Deep Networks with Stochastic Depth",
//! ECCV 2016): randomly skip residual branches during training ("drop path" in timm).
//!
//! A residual block computes y = s(x) + f(x) (s the shortcut, usually the identity). With survival
//! probability pₗ for block l and a Bernoulli(pₗ) draw bₙ per sample n ([`DropPathMode::Row`]) or
//! one draw b for the whole batch ([`DropPathMode::Batch`]):
//!
//! | variant | training | evaluation |
//! |---|---|---|
//! | [`DropoutVariant::Inverted`] (default; torchvision's `stochastic_depth`, timm's `DropPath`) | y = s(x) + bₙ·f(x)/pₗ | y = s(x) + f(x) |
//! | [`DropoutVariant::Vanilla`] (the paper) | y = s(x) + bₙ·f(x) | y = s(x) + pₗ·f(x) |
//!
//! At test time all blocks are used, the branch scaled by its survival probability (vanilla) or
//! not at all (inverted, where the 1/pₗ is paid in training); either way the test output is the
//! expected training output. In batch mode a dropped block does not compute its branch at all —
//! the training speed-up of the paper.
//!
//! **Linear decay rule** ([`linear_decay`]): pₗ = 1 − (l/L)·(1 − p_L) for blocks l = 1..L, so the
//! input-side blocks almost always survive and the last survives with p_L (0.5 in the paper).

use ndarray::IxDyn;
use nn_core::module::join;
use nn_core::{Array, Ctx, Entry, Mode, Module, Tensor};
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};

use crate::dropout::{DropoutVariant, train_scale};
use crate::error::{Result, check_range, invalid};
use crate::mask::{bernoulli_mask, mask_mul};

/// What one Bernoulli draw decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DropPathMode {
    /// One draw per sample (torchvision's `mode="row"`, timm's `DropPath`). Default.
    #[default]
    Row,
    /// One draw for the whole batch (torchvision's `mode="batch"`); a dropped branch is skipped.
    Batch,
}

/// Configuration of [`StochasticDepth`] and [`StochasticResidual`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StochasticDepthConfig {
    /// Probability 1 − pₗ of dropping the branch, in [0, 1]. Default 0.5 (the paper's p_L).
    pub drop_prob: f32,
    /// Per sample (default) or per batch.
    pub mode: DropPathMode,
    /// Inverted (default) or vanilla scaling.
    pub variant: DropoutVariant,
}

impl Default for StochasticDepthConfig {
    fn default() -> Self {
        StochasticDepthConfig {
            drop_prob: 0.5,
            mode: DropPathMode::Row,
            variant: DropoutVariant::Inverted,
        }
    }
}

impl StochasticDepthConfig {
    /// Drops the branch with probability `drop_prob` (torchvision's `p`).
    pub fn new(drop_prob: f32) -> Self {
        StochasticDepthConfig {
            drop_prob,
            ..Self::default()
        }
    }

    /// Keeps the branch with survival probability `survival_prob` (the paper's pₗ).
    pub fn with_survival_prob(survival_prob: f32) -> Self {
        Self::new(1.0 - survival_prob)
    }

    /// Sets the mode.
    pub fn mode(mut self, mode: DropPathMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the variant.
    pub fn variant(mut self, variant: DropoutVariant) -> Self {
        self.variant = variant;
        self
    }

    /// Validates and builds the branch-output layer.
    pub fn init(self) -> Result<StochasticDepth> {
        check_range(
            "StochasticDepthConfig",
            "drop_prob",
            self.drop_prob,
            0.0,
            1.0,
            "a probability in [0, 1]",
        )?;
        Ok(StochasticDepth { config: self })
    }

    /// Validates and builds a residual block y = shortcut(x) + branch(x) whose branch is dropped
    /// (`shortcut` `None` is the identity).
    pub fn init_residual(
        self,
        branch: Box<dyn Module>,
        shortcut: Option<Box<dyn Module>>,
    ) -> Result<StochasticResidual> {
        Ok(StochasticResidual {
            depth: self.init()?,
            branch,
            shortcut,
        })
    }
}

/// Survival probabilities pₗ = 1 − (l/L)·(1 − `last_survival`) of blocks l = 1..=`num_blocks`
/// (Huang et al.'s linear decay rule; the paper uses `last_survival` = 0.5).
pub fn linear_decay(num_blocks: usize, last_survival: f32) -> Result<Vec<f32>> {
    check_range(
        "linear_decay",
        "last_survival",
        last_survival,
        0.0,
        1.0,
        "a probability in [0, 1]",
    )?;
    if num_blocks == 0 {
        return Err(invalid("linear_decay", "num_blocks", 0, "at least 1 block"));
    }
    let l_total = num_blocks as f32;
    Ok((1..=num_blocks)
        .map(|l| 1.0 - (l as f32 / l_total) * (1.0 - last_survival))
        .collect())
}

/// Stochastic depth on a residual branch's output, as torchvision's `StochasticDepth` module: put
/// it at the end of the branch, before the addition. In training multiplies each sample's branch
/// output (row mode) or the whole output (batch mode) by bₙ/pₗ.
#[derive(Debug, Clone)]
pub struct StochasticDepth {
    config: StochasticDepthConfig,
}

impl StochasticDepth {
    /// The configuration.
    pub fn config(&self) -> &StochasticDepthConfig {
        &self.config
    }

    /// The survival probability pₗ.
    pub fn survival_prob(&self) -> f32 {
        1.0 - self.config.drop_prob
    }

    /// Applies stochastic depth to the branch output `f` in `mode` (see the module docs).
    pub fn apply<R: Rng + ?Sized>(&self, f: &Tensor, mode: Mode, rng: &mut R) -> Tensor {
        let p = self.survival_prob();
        match mode {
            Mode::Eval => match self.config.variant {
                DropoutVariant::Vanilla if p < 1.0 => mask_mul(f, Array::from_elem(IxDyn(&[]), p)),
                _ => f.clone(),
            },
            Mode::Train if p == 1.0 => f.clone(),
            Mode::Train => {
                let scale = train_scale(self.config.variant, p);
                match self.config.mode {
                    DropPathMode::Batch => {
                        let keep = survives(p, rng);
                        mask_mul(
                            f,
                            Array::from_elem(IxDyn(&[]), if keep { scale } else { 0.0 }),
                        )
                    }
                    DropPathMode::Row => {
                        let mut shape = vec![1; f.ndim().max(1)];
                        shape[0] = f.shape().first().copied().unwrap_or(1);
                        mask_mul(f, bernoulli_mask(&shape, p, scale, rng))
                    }
                }
            }
        }
    }
}

/// One Bernoulli(`p`) draw from a uniform 32-bit word (the same rule as the masks).
fn survives<R: RngCore + ?Sized>(p: f32, rng: &mut R) -> bool {
    (rng.next_u32() as u64) < (p as f64 * 4_294_967_296.0).round() as u64
}

impl Module for StochasticDepth {
    fn forward(&self, input: &Tensor, ctx: &mut Ctx) -> Tensor {
        let mode = crate::mc::mask_mode(ctx.mode());
        self.apply(input, mode, ctx.rng())
    }
    fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(Entry<'_>)) {}
    fn describe(&self) -> String {
        format!(
            "StochasticDepth(p={}, {:?}, {:?})",
            self.config.drop_prob, self.config.mode, self.config.variant
        )
    }
}

/// A residual block with stochastic depth: y = s(x) + StochasticDepth(f(x)), where f is the
/// `branch` (child name `branch`) and s the `shortcut` (child name `shortcut`; identity if none).
/// In batch mode a dropped branch is not evaluated.
///
/// ```
/// use nn_core::{Ctx, Module, Tensor, rng::seeded};
/// use nn_regularize::{DropConnectConfig, StochasticDepthConfig};
///
/// let branch = DropConnectConfig::new(0.0).init_linear(4, 4, true, &mut seeded(0)).unwrap();
/// let block = StochasticDepthConfig::with_survival_prob(0.8)
///     .init_residual(Box::new(branch), None)
///     .unwrap();
/// let x = Tensor::ones(&[16, 4]);
/// let y = block.forward(&x, &mut Ctx::train(1)); // some rows are just x
/// assert_eq!(y.shape(), &[16, 4]);
/// assert_eq!(block.named_parameters()[0].0, "branch.weight");
/// ```
pub struct StochasticResidual {
    depth: StochasticDepth,
    branch: Box<dyn Module>,
    shortcut: Option<Box<dyn Module>>,
}

impl StochasticResidual {
    /// The stochastic-depth settings.
    pub fn depth(&self) -> &StochasticDepth {
        &self.depth
    }

    fn shortcut(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        match &self.shortcut {
            Some(s) => s.forward(x, ctx),
            None => x.clone(),
        }
    }
}

impl Module for StochasticResidual {
    fn forward(&self, input: &Tensor, ctx: &mut Ctx) -> Tensor {
        let cfg = self.depth.config;
        let p = self.depth.survival_prob();
        let mode = crate::mc::mask_mode(ctx.mode());
        if mode == Mode::Train && cfg.mode == DropPathMode::Batch && p < 1.0 {
            // Draw first, so the branch is skipped entirely when dropped.
            let s = self.shortcut(input, ctx);
            if !survives(p, ctx.rng()) {
                return s;
            }
            let f = self.branch.forward(input, ctx);
            let scale = train_scale(cfg.variant, p);
            return &s + &mask_mul(&f, Array::from_elem(IxDyn(&[]), scale));
        }
        let s = self.shortcut(input, ctx);
        let f = self.branch.forward(input, ctx);
        &s + &self.depth.apply(&f, mode, ctx.rng())
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(Entry<'_>)) {
        self.branch.visit(&join(prefix, "branch"), f);
        if let Some(s) = &self.shortcut {
            s.visit(&join(prefix, "shortcut"), f);
        }
    }

    fn describe(&self) -> String {
        format!(
            "StochasticResidual({}, branch={}, shortcut={})",
            self.depth.describe(),
            self.branch.describe(),
            self.shortcut
                .as_ref()
                .map_or("identity".to_string(), |s| s.describe())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::gradcheck::assert_gradients;
    use nn_core::rng::seeded;

    #[test]
    fn decay_rule() {
        let p = linear_decay(4, 0.5).unwrap();
        let expected = [0.875, 0.75, 0.625, 0.5];
        for (a, b) in p.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6);
        }
        assert!(linear_decay(0, 0.5).is_err());
        assert!(linear_decay(3, 1.5).is_err());
        assert_eq!(linear_decay(2, 1.0).unwrap(), vec![1.0, 1.0]);
    }

    #[test]
    fn row_mode_drops_whole_samples() {
        let sd = StochasticDepthConfig::new(0.5).init().unwrap();
        let f = Tensor::ones(&[64, 3, 2, 2]);
        let y = sd.forward(&f, &mut Ctx::train(0)).to_array();
        for n in 0..64 {
            let s = y.slice(ndarray::s![n, .., .., ..]);
            let v = *s.iter().next().unwrap();
            assert!(v == 0.0 || v == 2.0);
            assert!(s.iter().all(|&u| u == v));
        }
    }

    #[test]
    fn eval_variants() {
        let f = Tensor::full(&[3, 2], 4.0);
        let inv = StochasticDepthConfig::new(0.25).init().unwrap();
        assert_eq!(inv.forward(&f, &mut Ctx::eval()).to_vec(), f.to_vec());
        let van = StochasticDepthConfig::new(0.25)
            .variant(DropoutVariant::Vanilla)
            .init()
            .unwrap();
        assert!(
            van.forward(&f, &mut Ctx::eval())
                .to_vec()
                .iter()
                .all(|&v| v == 3.0)
        );
        assert!(StochasticDepthConfig::new(2.0).init().is_err());
    }

    #[test]
    fn gradient_with_fixed_draws() {
        // Same seed ⇒ same per-sample draws, so the training forward is a fixed function of f.
        let sd = StochasticDepthConfig::new(0.4).init().unwrap();
        assert_gradients(
            move |t| sd.apply(&t[0], Mode::Train, &mut seeded(3)),
            &[&[6, 3]],
            1,
        );
    }

    /// A branch that records how often it runs.
    struct Counting(std::sync::Arc<std::sync::atomic::AtomicUsize>);
    impl Module for Counting {
        fn forward(&self, x: &Tensor, _: &mut Ctx) -> Tensor {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            x.clone()
        }
        fn visit(&self, _: &str, _: &mut dyn FnMut(Entry<'_>)) {}
        fn describe(&self) -> String {
            "Counting".into()
        }
    }

    #[test]
    fn batch_mode_skips_dropped_branches() {
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let block = StochasticDepthConfig::new(0.5)
            .mode(DropPathMode::Batch)
            .init_residual(Box::new(Counting(calls.clone())), None)
            .unwrap();
        let x = Tensor::ones(&[2, 2]);
        let mut ctx = Ctx::train(0);
        let n = 200;
        let mut survived = 0;
        for _ in 0..n {
            let y = block.forward(&x, &mut ctx).to_vec();
            // survived: x + x/0.5 = 3; dropped: x = 1.
            assert!(y.iter().all(|&v| v == 3.0) || y.iter().all(|&v| v == 1.0));
            survived += usize::from(y[0] == 3.0);
        }
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), survived);
        // Binomial(200, 0.5): mean 100, σ = √(200·0.25) ≈ 7.1; accept ±5σ.
        let sigma = (n as f64 * 0.25).sqrt();
        assert!((survived as f64 - 100.0).abs() < 5.0 * sigma, "{survived}");
        let eval = block.forward(&x, &mut Ctx::eval()).to_vec();
        assert!(eval.iter().all(|&v| v == 2.0));
    }
}
