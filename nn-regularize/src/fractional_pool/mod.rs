//! Fractional max pooling (Graham, "Fractional Max-Pooling", arXiv:1412.6071, 2014): max pooling
//! by a non-integer ratio α ∈ (1, 2) (or any α ≥ 1), with randomised pooling regions.
//!
//! Max pooling with stride 2 shrinks a feature map by 2 at once; FMP shrinks it by, say, √2, so a
//! network can have twice as many pooling layers, and the regions' randomness is a regulariser.
//! The regions come from an integer sequence per axis ([`regions`]: pseudorandom or random;
//! disjoint, overlapping, or PyTorch's fixed kernel), drawn per plane, image or batch
//! ([`FmpSharing`]).
//!
//! **Train vs test.** In training each forward pass draws new regions from the pass's generator.
//! In evaluation the layer is deterministic: it uses one fixed draw, shared by the whole batch
//! (so an image's output does not depend on the rest of its batch), derived from
//! [`FractionalMaxPool2dConfig::eval_seed`] and the current *test draw* (0 by default). Graham
//! averages the predictions of several draws at test time; [`average_over_draws`] and
//! [`predict_averaged`] do that by running the model under test draws 0, 1, …, k−1
//! ([`with_test_draw`]).

pub mod ensemble;
pub mod op;
pub mod regions;

pub use ensemble::{average_over_draws, current_test_draw, predict_averaged, with_test_draw};
pub use op::{PoolingRegions, fractional_max_pool2d};
pub use regions::{AxisWindows, FmpRegions, FmpSequence, FmpSharing};

use nn_core::{Ctx, Entry, Module, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// The output size of a fractional max-pooling layer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum FmpOutput {
    /// `(oh, ow)` = `(⌊H·rh⌋, ⌊W·rw⌋)` for ratios in (0, 1) (PyTorch's `output_ratio`); α = 1/r.
    Ratio(f32, f32),
    /// A fixed `(oh, ow)` (PyTorch's `output_size`).
    Size(usize, usize),
}

/// Configuration of [`FractionalMaxPool2d`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FractionalMaxPool2dConfig {
    /// Output size. Default: ratio 1/√2 per axis (α = √2, Graham's choice).
    pub output: FmpOutput,
    /// Window shape. Default [`FmpRegions::Overlapping`].
    pub regions: FmpRegions,
    /// Sequence kind. Default [`FmpSequence::Pseudorandom`].
    pub sequence: FmpSequence,
    /// Which planes share a training draw. Default [`FmpSharing::PerChannel`] (PyTorch).
    pub sharing: FmpSharing,
    /// Seed of the evaluation draws. Default 0.
    pub eval_seed: u64,
}

impl Default for FractionalMaxPool2dConfig {
    fn default() -> Self {
        let r = std::f32::consts::FRAC_1_SQRT_2;
        FractionalMaxPool2dConfig {
            output: FmpOutput::Ratio(r, r),
            regions: FmpRegions::Overlapping,
            sequence: FmpSequence::Pseudorandom,
            sharing: FmpSharing::PerChannel,
            eval_seed: 0,
        }
    }
}

impl FractionalMaxPool2dConfig {
    /// Pooling by the ratio `r` per axis (α = 1/r), other settings default.
    pub fn ratio(r: f32) -> Self {
        FractionalMaxPool2dConfig {
            output: FmpOutput::Ratio(r, r),
            ..Self::default()
        }
    }

    /// PyTorch's `nn.FractionalMaxPool2d(kernel_size=(kh, kw), output_ratio=r)`.
    pub fn torch(kh: usize, kw: usize, r: f32) -> Self {
        FractionalMaxPool2dConfig {
            output: FmpOutput::Ratio(r, r),
            regions: FmpRegions::Kernel(kh, kw),
            ..Self::default()
        }
    }

    /// Sets the window shape.
    pub fn regions(mut self, regions: FmpRegions) -> Self {
        self.regions = regions;
        self
    }

    /// Sets the sequence kind.
    pub fn sequence(mut self, sequence: FmpSequence) -> Self {
        self.sequence = sequence;
        self
    }

    /// Sets the sharing of training draws.
    pub fn sharing(mut self, sharing: FmpSharing) -> Self {
        self.sharing = sharing;
        self
    }

    /// Sets the evaluation seed.
    pub fn eval_seed(mut self, seed: u64) -> Self {
        self.eval_seed = seed;
        self
    }

    /// Validates (ratios in (0, 1), sizes ≥ 1, kernel ≥ 1) and builds the layer.
    pub fn init(self) -> Result<FractionalMaxPool2d> {
        const C: &str = "FractionalMaxPool2dConfig";
        match self.output {
            FmpOutput::Ratio(a, b) => {
                for (field, r) in [("output.ratio_h", a), ("output.ratio_w", b)] {
                    if !(r.is_finite() && r > 0.0 && r < 1.0) {
                        return Err(invalid(C, field, r, "a ratio in (0, 1)"));
                    }
                }
            }
            FmpOutput::Size(h, w) => {
                if h == 0 || w == 0 {
                    return Err(invalid(
                        C,
                        "output.size",
                        format!("({h}, {w})"),
                        "sizes >= 1",
                    ));
                }
            }
        }
        if let FmpRegions::Kernel(kh, kw) = self.regions
            && (kh == 0 || kw == 0)
        {
            return Err(invalid(
                C,
                "regions.kernel",
                format!("({kh}, {kw})"),
                "sizes >= 1",
            ));
        }
        Ok(FractionalMaxPool2d { config: self })
    }
}

/// Fractional max pooling over `[N, C, H, W]` inputs (see the module docs). No parameters.
///
/// ```
/// use nn_core::{Ctx, Module, Tensor, rng::seeded};
/// use nn_regularize::FractionalMaxPool2dConfig;
///
/// let fmp = FractionalMaxPool2dConfig::default().init().unwrap(); // α = √2
/// let x = Tensor::randn(&[2, 3, 32, 32], 0.0, 1.0, &mut seeded(0));
/// let y = fmp.forward(&x, &mut Ctx::train(1));
/// assert_eq!(y.shape(), &[2, 3, 22, 22]); // ⌊32/√2⌋
/// // Evaluation is deterministic.
/// assert_eq!(fmp.forward(&x, &mut Ctx::eval()).to_vec(), fmp.forward(&x, &mut Ctx::eval()).to_vec());
/// ```
#[derive(Debug, Clone)]
pub struct FractionalMaxPool2d {
    config: FractionalMaxPool2dConfig,
}

impl FractionalMaxPool2d {
    /// The configuration.
    pub fn config(&self) -> &FractionalMaxPool2dConfig {
        &self.config
    }

    /// The output spatial size for an input of `(h, w)`.
    pub fn output_size(&self, (h, w): (usize, usize)) -> (usize, usize) {
        match self.config.output {
            FmpOutput::Ratio(a, b) => ((h as f32 * a) as usize, (w as f32 * b) as usize),
            FmpOutput::Size(oh, ow) => (oh, ow),
        }
    }

    /// The regions this layer uses for an input of `shape` in evaluation under test draw `draw`
    /// (one draw shared by the whole batch).
    pub fn eval_regions(&self, shape: &[usize], draw: u64) -> PoolingRegions {
        let mut rng = nn_core::rng::stream(self.config.eval_seed, draw);
        let hw = (shape[2], shape[3]);
        PoolingRegions::sample(
            (shape[0], shape[1]),
            hw,
            self.output_size(hw),
            self.config.regions,
            self.config.sequence,
            FmpSharing::PerBatch,
            &mut rng,
        )
    }
}

impl Module for FractionalMaxPool2d {
    fn forward(&self, input: &Tensor, ctx: &mut Ctx) -> Tensor {
        let s = input.shape();
        assert!(
            s.len() == 4,
            "FractionalMaxPool2d: expected an input [N, C, H, W], got {s:?}"
        );
        let regions = if ctx.is_train() {
            let hw = (s[2], s[3]);
            PoolingRegions::sample(
                (s[0], s[1]),
                hw,
                self.output_size(hw),
                self.config.regions,
                self.config.sequence,
                self.config.sharing,
                ctx.rng(),
            )
        } else {
            self.eval_regions(s, current_test_draw())
        };
        fractional_max_pool2d(input, &regions)
    }
    fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(Entry<'_>)) {}
    fn describe(&self) -> String {
        let c = &self.config;
        format!(
            "FractionalMaxPool2d({:?}, {:?}, {:?}, {:?})",
            c.output, c.regions, c.sequence, c.sharing
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::rng::seeded;

    #[test]
    fn validation() {
        assert!(FractionalMaxPool2dConfig::ratio(1.0).init().is_err());
        assert!(FractionalMaxPool2dConfig::ratio(0.0).init().is_err());
        assert!(FractionalMaxPool2dConfig::ratio(f32::NAN).init().is_err());
        let e = FractionalMaxPool2dConfig::torch(0, 2, 0.5)
            .init()
            .unwrap_err();
        assert!(e.to_string().contains("kernel"), "{e}");
        let c = FractionalMaxPool2dConfig {
            output: FmpOutput::Size(0, 3),
            ..Default::default()
        };
        assert!(c.init().is_err());
    }

    #[test]
    fn train_draws_vary_eval_is_fixed_and_batch_independent() {
        let fmp = FractionalMaxPool2dConfig::ratio(0.7)
            .regions(FmpRegions::Disjoint)
            .init()
            .unwrap();
        let x = Tensor::randn(&[3, 2, 10, 10], 0.0, 1.0, &mut seeded(0));
        let a = fmp.forward(&x, &mut Ctx::train(1)).to_vec();
        let b = fmp.forward(&x, &mut Ctx::train(2)).to_vec();
        assert_ne!(a, b);
        assert_eq!(a, fmp.forward(&x, &mut Ctx::train(1)).to_vec());
        // Eval: the first image's output alone equals its output inside the batch.
        let full = fmp.forward(&x, &mut Ctx::eval()).to_array();
        let first = Tensor::from_array(
            x.to_array()
                .slice(ndarray::s![0..1, .., .., ..])
                .to_owned()
                .into_dyn(),
        );
        let alone = fmp.forward(&first, &mut Ctx::eval()).to_array();
        assert_eq!(
            alone.slice(ndarray::s![0, .., .., ..]),
            full.slice(ndarray::s![0, .., .., ..])
        );
        // Another test draw gives other regions.
        let other = with_test_draw(1, || fmp.forward(&x, &mut Ctx::eval())).to_array();
        assert_ne!(other, full);
    }
}
