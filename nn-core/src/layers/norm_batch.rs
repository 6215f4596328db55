//! Batch normalisation layers [`BatchNorm1d`] (`[N, C]` or `[N, C, L]`) and [`BatchNorm2d`]
//! (`[N, C, H, W]`), exactly PyTorch's `nn.BatchNorm1d/2d` (Ioffe & Szegedy 2015).
//!
//! * Parameters `weight` (γ, initialised to 1) and `bias` (β, 0) when `affine`; buffers
//!   `running_mean` (0), `running_var` (1) and `num_batches_tracked` (0, a 0-d `f32` here, an
//!   `int64` in PyTorch) when `track_running_stats`.
//! * Training mode ([`Ctx::train`]): normalise with the batch mean and biased variance; when
//!   tracking, count the batch and update the running statistics with momentum (default 0.1, or
//!   a cumulative average 1/t when `momentum` is `None`) using the *unbiased* batch variance.
//! * Evaluation mode ([`Ctx::eval`]): normalise with the running statistics; without tracking,
//!   with the batch statistics (as PyTorch).
//! * Data-parallel training with a [`Ctx::with_replicas`] context: the statistics of the whole
//!   batch across the replicas (PyTorch's `SyncBatchNorm`, [`Tensor::sync_batch_norm`]).
//!
//! See [`Tensor::batch_norm`] for the formulas.

use ndarray::IxDyn;
use serde::{Deserialize, Serialize};

use super::LayerError;
use crate::module::{Buffer, Ctx, Entry, Module, Parameter, join};
use crate::ops::norm::Moments;
use crate::ops::{BatchNormOptions, RunningStats};
use crate::tensor::{Array, Tensor};

fn default_eps() -> f32 {
    1e-5
}
fn default_momentum() -> Option<f32> {
    Some(0.1)
}
fn yes() -> bool {
    true
}

/// Configuration of [`BatchNorm1d`] / [`BatchNorm2d`] with PyTorch's defaults (ε = 1e-5,
/// momentum 0.1, affine, tracking running statistics).
///
/// ```
/// use nn_core::layers::BatchNormConfig;
/// use nn_core::{Ctx, Module, Tensor, rng::seeded};
///
/// let bn = BatchNormConfig::new(8).init_2d().unwrap();
/// let x = Tensor::randn(&[4, 8, 5, 5], 3.0, 2.0, &mut seeded(0));
/// let y = bn.forward(&x, &mut Ctx::train(0)); // batch statistics; running stats updated
/// assert!(y.to_vec().iter().sum::<f32>().abs() < 1e-2);
/// let names: Vec<String> = bn.state_dict().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
/// assert!(BatchNormConfig::new(8).with_momentum(Some(1.5)).init_2d().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BatchNormConfig {
    /// Channels C.
    pub num_features: usize,
    /// Added to the variance before the square root (default 1e-5).
    #[serde(default = "default_eps")]
    pub eps: f32,
    /// Weight of each new batch in the running averages (default 0.1); `None` for a cumulative
    /// (equal-weight) average.
    #[serde(default = "default_momentum")]
    pub momentum: Option<f32>,
    /// Learn γ and β (default true).
    #[serde(default = "yes")]
    pub affine: bool,
    /// Keep running statistics for evaluation (default true).
    #[serde(default = "yes")]
    pub track_running_stats: bool,
}

impl BatchNormConfig {
    /// Batch normalisation over `num_features` channels with PyTorch's defaults.
    pub fn new(num_features: usize) -> Self {
        BatchNormConfig {
            num_features,
            eps: 1e-5,
            momentum: Some(0.1),
            affine: true,
            track_running_stats: true,
        }
    }
    /// Sets ε.
    pub fn with_eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }
    /// Sets the momentum (`None`: cumulative average).
    pub fn with_momentum(mut self, momentum: Option<f32>) -> Self {
        self.momentum = momentum;
        self
    }
    /// Sets whether γ and β are learned.
    pub fn with_affine(mut self, affine: bool) -> Self {
        self.affine = affine;
        self
    }
    /// Sets whether running statistics are kept.
    pub fn with_track_running_stats(mut self, track: bool) -> Self {
        self.track_running_stats = track;
        self
    }

    fn build(&self, layer: &'static str) -> Result<BatchNormState, LayerError> {
        if self.num_features == 0 {
            return Err(LayerError::invalid(layer, "num_features", 0, "at least 1"));
        }
        if !(self.eps.is_finite() && self.eps >= 0.0) {
            return Err(LayerError::invalid(
                layer,
                "eps",
                self.eps,
                "a finite value >= 0",
            ));
        }
        if let Some(m) = self.momentum
            && !(0.0..=1.0).contains(&m)
        {
            return Err(LayerError::invalid(
                layer,
                "momentum",
                m,
                "a value in [0, 1] or None",
            ));
        }
        let c = self.num_features;
        let vec = |v: f32| Array::from_elem(IxDyn(&[c]), v);
        Ok(BatchNormState {
            weight: self.affine.then(|| Parameter::new(vec(1.0))),
            bias: self.affine.then(|| Parameter::new(vec(0.0))),
            running: self.track_running_stats.then(|| {
                (
                    Buffer::new(vec(0.0)),
                    Buffer::new(vec(1.0)),
                    Buffer::new_integer(Array::zeros(IxDyn(&[]))),
                )
            }),
            num_features: c,
            eps: self.eps,
            momentum: self.momentum,
        })
    }

    /// Validates and builds a [`BatchNorm1d`].
    ///
    /// # Errors
    /// [`LayerError::InvalidConfig`] for 0 features, a negative or non-finite ε, or a momentum
    /// outside [0, 1].
    pub fn init_1d(&self) -> Result<BatchNorm1d, LayerError> {
        Ok(BatchNorm1d(self.build("BatchNorm1d")?))
    }

    /// Validates and builds a [`BatchNorm2d`].
    ///
    /// # Errors
    /// As [`BatchNormConfig::init_1d`].
    pub fn init_2d(&self) -> Result<BatchNorm2d, LayerError> {
        Ok(BatchNorm2d(self.build("BatchNorm2d")?))
    }
}

/// The state shared by the batch-norm layers.
#[derive(Debug, Clone)]
struct BatchNormState {
    weight: Option<Parameter>,
    bias: Option<Parameter>,
    /// running_mean, running_var, num_batches_tracked.
    running: Option<(Buffer, Buffer, Buffer)>,
    num_features: usize,
    eps: f32,
    momentum: Option<f32>,
}

impl BatchNormState {
    /// `pre`: the per-channel moments of `x`, already gathered (see
    /// [`Tensor::conv2d_with_moments`]).
    fn forward(&self, x: &Tensor, ctx: &Ctx, relu: bool, pre: Option<Vec<Moments>>) -> Tensor {
        let (running, o) = self.pass(ctx);
        let w = self.weight.as_ref().map(Parameter::tensor);
        let b = self.bias.as_ref().map(Parameter::tensor);
        if let (true, Some(group)) = (ctx.is_train(), ctx.replicas()) {
            let y = x.sync_batch_norm(w.as_ref(), b.as_ref(), running, o, group);
            return if relu { y.relu() } else { y };
        }
        x.batch_norm_with_moments((w.as_ref(), b.as_ref()), running, o, relu, pre)
    }

    /// `relu(forward(x) + s)`: one op ([`Tensor::batch_norm_add_relu`]) for channels-last `x`
    /// and `s` of the same shape in one process, else the two ops.
    fn forward_add_relu(
        &self,
        x: &Tensor,
        ctx: &Ctx,
        pre: Option<Vec<Moments>>,
        s: &Tensor,
    ) -> Tensor {
        let fusable = !(ctx.is_train() && ctx.replicas().is_some())
            && x.is_channels_last()
            && s.is_channels_last()
            && x.shape() == s.shape();
        if !fusable {
            return self.forward(x, ctx, false, pre).add_relu(s);
        }
        let (running, o) = self.pass(ctx);
        let w = self.weight.as_ref().map(Parameter::tensor);
        let b = self.bias.as_ref().map(Parameter::tensor);
        x.batch_norm_add_relu((w.as_ref(), b.as_ref()), running, o, pre, s)
    }

    /// The running statistics and options of one pass (in training, counting the batch).
    fn pass(&self, ctx: &Ctx) -> (Option<RunningStats<'_>>, BatchNormOptions) {
        let training = ctx.is_train();
        let mut factor = self.momentum.unwrap_or(0.0);
        if let (true, Some((_, _, count))) = (training, &self.running) {
            let t = count.update(|mut v| {
                v.iter_mut().for_each(|c| *c += 1.0);
                v.iter().next().copied().unwrap_or(1.0)
            });
            if self.momentum.is_none() {
                factor = 1.0 / t;
            }
        }
        let running = self
            .running
            .as_ref()
            .map(|(m, v, _)| RunningStats { mean: m, var: v });
        let o = BatchNormOptions {
            training: training || running.is_none(),
            momentum: factor,
            eps: self.eps,
        };
        (running, o)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(Entry<'_>)) {
        if let (Some(w), Some(b)) = (&self.weight, &self.bias) {
            f(Entry::Param(&join(prefix, "weight"), w));
            f(Entry::Param(&join(prefix, "bias"), b));
        }
        if let Some((m, v, n)) = &self.running {
            f(Entry::Buffer(&join(prefix, "running_mean"), m));
            f(Entry::Buffer(&join(prefix, "running_var"), v));
            f(Entry::Buffer(&join(prefix, "num_batches_tracked"), n));
        }
    }

    fn describe(&self, name: &str) -> String {
        let py = |b: bool| if b { "True" } else { "False" };
        format!(
            "{name}({}, eps={:e}, momentum={}, affine={}, track_running_stats={})",
            self.num_features,
            self.eps,
            self.momentum.map_or("None".to_string(), |m| m.to_string()),
            py(self.weight.is_some()),
            py(self.running.is_some())
        )
    }
}

macro_rules! batch_norm_layer {
    ($name:ident, $doc:literal, $check:expr) => {
        #[doc = $doc]
        #[derive(Debug, Clone)]
        pub struct $name(BatchNormState);

        impl $name {
            /// γ `[C]`, if affine.
            pub fn weight(&self) -> Option<&Parameter> {
                self.0.weight.as_ref()
            }
            /// β `[C]`, if affine.
            pub fn bias(&self) -> Option<&Parameter> {
                self.0.bias.as_ref()
            }
            /// The running mean `[C]`, if tracked.
            pub fn running_mean(&self) -> Option<&Buffer> {
                self.0.running.as_ref().map(|r| &r.0)
            }
            /// The running (unbiased) variance `[C]`, if tracked.
            pub fn running_var(&self) -> Option<&Buffer> {
                self.0.running.as_ref().map(|r| &r.1)
            }
            /// How many training batches updated the running statistics, if tracked.
            pub fn num_batches_tracked(&self) -> Option<&Buffer> {
                self.0.running.as_ref().map(|r| &r.2)
            }
            /// ε.
            pub fn eps(&self) -> f32 {
                self.0.eps
            }
            /// The momentum (`None`: cumulative average).
            pub fn momentum(&self) -> Option<f32> {
                self.0.momentum
            }
            /// The number of channels C.
            pub fn num_features(&self) -> usize {
                self.0.num_features
            }
            /// `forward` followed by ReLU, in one op ([`Tensor::batch_norm_relu`]: one pass
            /// over memory instead of two).
            pub fn forward_relu(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
                self.check(x);
                self.0.forward(x, ctx, true, None)
            }
            /// `forward` (then ReLU if `relu`) of an input whose per-channel moments were
            /// gathered by the convolution that produced it ([`Tensor::conv2d_with_moments`]).
            #[allow(dead_code)]
            pub(crate) fn forward_with_moments(
                &self,
                x: &Tensor,
                ctx: &mut Ctx,
                relu: bool,
                moments: Option<Vec<Moments>>,
            ) -> Tensor {
                self.check(x);
                self.0.forward(x, ctx, relu, moments)
            }
            /// `relu(forward(x) + s)` (BN, the residual addition and ReLU in one op where
            /// the input allows, [`Tensor::batch_norm_add_relu`]), `moments` as for
            /// `forward_with_moments`.
            #[allow(dead_code)]
            pub(crate) fn forward_add_relu(
                &self,
                x: &Tensor,
                ctx: &mut Ctx,
                moments: Option<Vec<Moments>>,
                s: &Tensor,
            ) -> Tensor {
                self.check(x);
                self.0.forward_add_relu(x, ctx, moments, s)
            }
            fn check(&self, x: &Tensor) {
                let check: fn(&[usize], usize) -> bool = $check;
                assert!(
                    check(x.shape(), self.0.num_features),
                    "{}: input shape {:?} does not fit {} features",
                    stringify!($name),
                    x.shape(),
                    self.0.num_features
                );
            }
        }

        impl Module for $name {
            fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
                self.check(x);
                self.0.forward(x, ctx, false, None)
            }
            fn visit(&self, prefix: &str, f: &mut dyn FnMut(Entry<'_>)) {
                self.0.visit(prefix, f)
            }
            fn describe(&self) -> String {
                self.0.describe(stringify!($name))
            }
            fn as_any(&self) -> Option<&dyn std::any::Any> {
                Some(self)
            }
            fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
                Some(self)
            }
        }
    };
}

batch_norm_layer!(
    BatchNorm1d,
    "Batch normalisation of `[N, C]` or `[N, C, L]` inputs (see the module docs).",
    |s, c| (s.len() == 2 || s.len() == 3) && s[1] == c
);
batch_norm_layer!(
    BatchNorm2d,
    "Batch normalisation of `[N, C, H, W]` inputs, statistics per channel over N, H, W (see the \
     module docs).",
    |s, c| s.len() == 4 && s[1] == c
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::seeded;

    #[test]
    fn train_and_eval_follow_pytorch() {
        let bn = BatchNormConfig::new(3).init_1d().unwrap();
        let x = Tensor::randn(&[16, 3], 1.0, 2.0, &mut seeded(0));
        let _ = bn.forward(&x, &mut Ctx::train(0));
        let _ = bn.forward(&x, &mut Ctx::train(0));
        assert_eq!(bn.num_batches_tracked().unwrap().value()[[]], 2.0);
        // After two identical batches: running = (1 − 0.9²)·batch statistic (+ 0.9²·initial).
        let xv = x.to_array();
        let col: Vec<f32> = (0..16).map(|i| xv[[i, 0]]).collect();
        let mean = col.iter().sum::<f32>() / 16.0;
        let uvar = col.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 15.0;
        let rm = bn.running_mean().unwrap().value()[0];
        let rv = bn.running_var().unwrap().value()[0];
        assert!((rm - 0.19 * mean).abs() < 1e-5, "{rm}");
        assert!((rv - (0.81 + 0.19 * uvar)).abs() < 1e-4, "{rv}");
        // Eval uses the running statistics.
        let y = bn.forward(&x, &mut Ctx::eval());
        let expect = (xv[[0, 0]] - rm) / (rv + 1e-5).sqrt();
        assert!((y.to_vec()[0] - expect).abs() < 1e-5);
        assert_eq!(bn.num_batches_tracked().unwrap().value()[[]], 2.0);
    }

    #[test]
    fn cumulative_average_and_no_tracking() {
        let bn = BatchNormConfig::new(1)
            .with_momentum(None)
            .init_1d()
            .unwrap();
        for v in [1.0, 3.0] {
            let x = Tensor::from_vec(vec![v - 1.0, v + 1.0], &[2, 1]);
            let _ = bn.forward(&x, &mut Ctx::train(0));
        }
        assert!((bn.running_mean().unwrap().value()[0] - 2.0).abs() < 1e-6);
        let free = BatchNormConfig::new(2)
            .with_track_running_stats(false)
            .with_affine(false)
            .init_2d()
            .unwrap();
        assert_eq!(free.state_dict().len(), 0);
        // Without running statistics, eval normalises with the batch.
        let x = Tensor::randn(&[3, 2, 2, 2], 5.0, 1.0, &mut seeded(1));
        let y = free.forward(&x, &mut Ctx::eval());
        assert!(y.to_vec().iter().sum::<f32>().abs() < 1e-3);
        assert_eq!(
            free.describe(),
            "BatchNorm2d(2, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False)"
        );
    }

    #[test]
    fn invalid_configs_are_errors() {
        assert!(BatchNormConfig::new(0).init_2d().is_err());
        let e = BatchNormConfig::new(3)
            .with_eps(-1.0)
            .init_1d()
            .unwrap_err();
        assert!(e.to_string().contains("eps"), "{e}");
    }

    #[test]
    #[should_panic(expected = "does not fit 3 features")]
    fn wrong_input_shape_panics() {
        let bn = BatchNormConfig::new(3).init_2d().unwrap();
        let _ = bn.forward(&Tensor::ones(&[2, 3]), &mut Ctx::train(0));
    }
}
