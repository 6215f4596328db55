//! Per-sample normalisation layers: [`LayerNorm`] (Ba et al. 2016), [`GroupNorm`] (Wu & He 2018)
//! and [`InstanceNorm2d`] (Ulyanov et al. 2016), as PyTorch's `nn.LayerNorm`, `nn.GroupNorm`
//! and `nn.InstanceNorm2d` (same defaults, parameter and buffer names). The formulas are in
//! [`crate::ops::norm`].

use ndarray::IxDyn;
use serde::{Deserialize, Serialize};

use super::LayerError;
use crate::module::{Buffer, Ctx, Entry, Module, Parameter, join};
use crate::ops::{BatchNormOptions, RunningStats};
use crate::tensor::{Array, Tensor};

fn check_eps(layer: &'static str, eps: f32) -> Result<(), LayerError> {
    if eps.is_finite() && eps >= 0.0 {
        Ok(())
    } else {
        Err(LayerError::invalid(
            layer,
            "eps",
            eps,
            "a finite value >= 0",
        ))
    }
}

fn py(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// Configuration of [`LayerNorm`]: PyTorch's defaults (ε = 1e-5, elementwise affine with bias).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerNormConfig {
    /// The trailing dimensions normalised over (and the shape of γ, β).
    pub normalized_shape: Vec<usize>,
    /// Added to the variance (default 1e-5).
    pub eps: f32,
    /// Learn γ (and β) (default true).
    pub elementwise_affine: bool,
    /// Learn β when affine (default true).
    pub bias: bool,
}

impl LayerNormConfig {
    /// Layer normalisation over the trailing `normalized_shape`.
    pub fn new(normalized_shape: &[usize]) -> Self {
        LayerNormConfig {
            normalized_shape: normalized_shape.to_vec(),
            eps: 1e-5,
            elementwise_affine: true,
            bias: true,
        }
    }
    /// Sets ε.
    pub fn with_eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }
    /// Sets whether γ (and β) are learned.
    pub fn with_elementwise_affine(mut self, on: bool) -> Self {
        self.elementwise_affine = on;
        self
    }
    /// Sets whether β is learned.
    pub fn with_bias(mut self, on: bool) -> Self {
        self.bias = on;
        self
    }
    /// Validates and builds the layer (γ = 1, β = 0).
    ///
    /// # Errors
    /// [`LayerError::InvalidConfig`] for an empty or zero-sized shape or an invalid ε.
    pub fn init(&self) -> Result<LayerNorm, LayerError> {
        let s = &self.normalized_shape;
        if s.is_empty() || s.contains(&0) {
            return Err(LayerError::invalid(
                "LayerNorm",
                "normalized_shape",
                format!("{s:?}"),
                "a non-empty shape of positive sizes",
            ));
        }
        check_eps("LayerNorm", self.eps)?;
        let affine = self.elementwise_affine;
        Ok(LayerNorm {
            weight: affine.then(|| Parameter::new(Array::ones(IxDyn(s)))),
            bias: (affine && self.bias).then(|| Parameter::new(Array::zeros(IxDyn(s)))),
            config: self.clone(),
        })
    }
}

/// Layer normalisation over the trailing dimensions (see [`Tensor::layer_norm`]).
///
/// ```
/// use nn_core::layers::LayerNormConfig;
/// use nn_core::{Ctx, Module, Tensor};
/// let ln = LayerNormConfig::new(&[4]).init().unwrap();
/// let y = ln.forward(&Tensor::from_vec(vec![1., 2., 3., 4.], &[1, 4]), &mut Ctx::eval());
/// assert!(y.to_vec().iter().sum::<f32>().abs() < 1e-6);
/// ```
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Option<Parameter>,
    bias: Option<Parameter>,
    config: LayerNormConfig,
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let w = self.weight.as_ref().map(Parameter::tensor);
        let b = self.bias.as_ref().map(Parameter::tensor);
        x.layer_norm(
            &self.config.normalized_shape,
            w.as_ref(),
            b.as_ref(),
            self.config.eps,
        )
    }
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(Entry<'_>)) {
        if let Some(w) = &self.weight {
            f(Entry::Param(&join(prefix, "weight"), w));
        }
        if let Some(b) = &self.bias {
            f(Entry::Param(&join(prefix, "bias"), b));
        }
    }
    fn describe(&self) -> String {
        format!(
            "LayerNorm({:?}, eps={:e}, elementwise_affine={})",
            self.config.normalized_shape,
            self.config.eps,
            py(self.config.elementwise_affine)
        )
    }
}

/// Configuration of [`GroupNorm`]: PyTorch's defaults (ε = 1e-5, affine).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GroupNormConfig {
    /// Number of groups G (must divide the channels).
    pub num_groups: usize,
    /// Channels C.
    pub num_channels: usize,
    /// Added to the variance (default 1e-5).
    pub eps: f32,
    /// Learn per-channel γ and β (default true).
    pub affine: bool,
}

impl GroupNormConfig {
    /// `num_groups` groups over `num_channels` channels.
    pub fn new(num_groups: usize, num_channels: usize) -> Self {
        GroupNormConfig {
            num_groups,
            num_channels,
            eps: 1e-5,
            affine: true,
        }
    }
    /// Sets ε.
    pub fn with_eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }
    /// Sets whether γ and β are learned.
    pub fn with_affine(mut self, on: bool) -> Self {
        self.affine = on;
        self
    }
    /// Validates and builds the layer (γ = 1, β = 0).
    ///
    /// # Errors
    /// [`LayerError::InvalidConfig`] if the groups do not divide the channels (or either is 0),
    /// or for an invalid ε.
    pub fn init(&self) -> Result<GroupNorm, LayerError> {
        let (g, c) = (self.num_groups, self.num_channels);
        if c == 0 {
            return Err(LayerError::invalid(
                "GroupNorm",
                "num_channels",
                c,
                "at least 1",
            ));
        }
        if g == 0 || c % g != 0 {
            return Err(LayerError::invalid(
                "GroupNorm",
                "num_groups",
                g,
                format!("a divisor of num_channels = {c}"),
            ));
        }
        check_eps("GroupNorm", self.eps)?;
        let vec = |v: f32| Parameter::new(Array::from_elem(IxDyn(&[c]), v));
        Ok(GroupNorm {
            weight: self.affine.then(|| vec(1.0)),
            bias: self.affine.then(|| vec(0.0)),
            config: *self,
        })
    }
}

/// Group normalisation of `[N, C, *]` inputs (see [`Tensor::group_norm`]).
///
/// ```
/// use nn_core::layers::GroupNormConfig;
/// let err = GroupNormConfig::new(3, 8).init().unwrap_err();
/// assert_eq!(err.to_string(), "GroupNorm: num_groups = 3 is invalid; expected a divisor of num_channels = 8");
/// ```
#[derive(Debug, Clone)]
pub struct GroupNorm {
    weight: Option<Parameter>,
    bias: Option<Parameter>,
    config: GroupNormConfig,
}

impl Module for GroupNorm {
    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        assert!(
            x.ndim() >= 2 && x.shape()[1] == self.config.num_channels,
            "GroupNorm: input shape {:?} does not have {} channels",
            x.shape(),
            self.config.num_channels
        );
        let w = self.weight.as_ref().map(Parameter::tensor);
        let b = self.bias.as_ref().map(Parameter::tensor);
        x.group_norm(
            self.config.num_groups,
            w.as_ref(),
            b.as_ref(),
            self.config.eps,
        )
    }
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(Entry<'_>)) {
        if let (Some(w), Some(b)) = (&self.weight, &self.bias) {
            f(Entry::Param(&join(prefix, "weight"), w));
            f(Entry::Param(&join(prefix, "bias"), b));
        }
    }
    fn describe(&self) -> String {
        let c = &self.config;
        format!(
            "GroupNorm({}, {}, eps={:e}, affine={})",
            c.num_groups,
            c.num_channels,
            c.eps,
            py(c.affine)
        )
    }
}

/// Configuration of [`InstanceNorm2d`]: PyTorch's defaults (ε = 1e-5, momentum 0.1, *no*
/// affine parameters, *no* running statistics).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InstanceNormConfig {
    /// Channels C.
    pub num_features: usize,
    /// Added to the variance (default 1e-5).
    pub eps: f32,
    /// Weight of each batch in the running averages (default 0.1).
    pub momentum: f32,
    /// Learn per-channel γ and β (default false).
    pub affine: bool,
    /// Keep running statistics and use them in evaluation (default false).
    pub track_running_stats: bool,
}

impl InstanceNormConfig {
    /// Instance normalisation over `num_features` channels with PyTorch's defaults.
    pub fn new(num_features: usize) -> Self {
        InstanceNormConfig {
            num_features,
            eps: 1e-5,
            momentum: 0.1,
            affine: false,
            track_running_stats: false,
        }
    }
    /// Sets whether γ and β are learned.
    pub fn with_affine(mut self, on: bool) -> Self {
        self.affine = on;
        self
    }
    /// Sets whether running statistics are kept.
    pub fn with_track_running_stats(mut self, on: bool) -> Self {
        self.track_running_stats = on;
        self
    }
    /// Validates and builds the layer.
    ///
    /// # Errors
    /// [`LayerError::InvalidConfig`] for 0 features, an invalid ε or a momentum outside [0, 1].
    pub fn init_2d(&self) -> Result<InstanceNorm2d, LayerError> {
        let c = self.num_features;
        if c == 0 {
            return Err(LayerError::invalid(
                "InstanceNorm2d",
                "num_features",
                c,
                "at least 1",
            ));
        }
        check_eps("InstanceNorm2d", self.eps)?;
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(LayerError::invalid(
                "InstanceNorm2d",
                "momentum",
                self.momentum,
                "a value in [0, 1]",
            ));
        }
        let vec = |v: f32| Array::from_elem(IxDyn(&[c]), v);
        Ok(InstanceNorm2d {
            weight: self.affine.then(|| Parameter::new(vec(1.0))),
            bias: self.affine.then(|| Parameter::new(vec(0.0))),
            running: self.track_running_stats.then(|| {
                (
                    Buffer::new(vec(0.0)),
                    Buffer::new(vec(1.0)),
                    Buffer::new_integer(Array::zeros(IxDyn(&[]))),
                )
            }),
            config: *self,
        })
    }
}

/// Instance normalisation of `[N, C, H, W]` inputs (see [`Tensor::instance_norm`]): per-sample,
/// per-channel statistics in training, and in evaluation too unless running statistics are
/// tracked.
#[derive(Debug, Clone)]
pub struct InstanceNorm2d {
    weight: Option<Parameter>,
    bias: Option<Parameter>,
    /// running_mean, running_var, num_batches_tracked (kept for PyTorch state-dict parity; never
    /// incremented, as in PyTorch).
    running: Option<(Buffer, Buffer, Buffer)>,
    config: InstanceNormConfig,
}

impl Module for InstanceNorm2d {
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        assert!(
            x.ndim() == 4 && x.shape()[1] == self.config.num_features,
            "InstanceNorm2d: input shape {:?} is not [N, {}, H, W]",
            x.shape(),
            self.config.num_features
        );
        let w = self.weight.as_ref().map(Parameter::tensor);
        let b = self.bias.as_ref().map(Parameter::tensor);
        let running = self
            .running
            .as_ref()
            .map(|(m, v, _)| RunningStats { mean: m, var: v });
        let o = BatchNormOptions {
            training: ctx.is_train() || running.is_none(),
            momentum: self.config.momentum,
            eps: self.config.eps,
        };
        x.instance_norm(w.as_ref(), b.as_ref(), running, o)
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
    fn describe(&self) -> String {
        let c = &self.config;
        format!(
            "InstanceNorm2d({}, eps={:e}, momentum={}, affine={}, track_running_stats={})",
            c.num_features,
            c.eps,
            c.momentum,
            py(c.affine),
            py(c.track_running_stats)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::seeded;

    #[test]
    fn layer_and_group_norm_layers() {
        let ln = LayerNormConfig::new(&[2, 3]).init().unwrap();
        assert_eq!(ln.num_parameters(), 12);
        let x = Tensor::randn(&[4, 2, 3], 2.0, 3.0, &mut seeded(0));
        let y = ln.forward(&x, &mut Ctx::train(0)).to_vec();
        for row in y.chunks(6) {
            assert!(row.iter().sum::<f32>().abs() < 1e-4);
        }
        assert!(LayerNormConfig::new(&[]).init().is_err());
        let gn = GroupNormConfig::new(2, 4).init().unwrap();
        let names: Vec<String> = gn.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["weight", "bias"]);
        let x = Tensor::randn(&[2, 4, 3, 3], 1.0, 1.0, &mut seeded(1));
        let y = gn.forward(&x, &mut Ctx::eval()).to_vec();
        assert!(y[..18].iter().sum::<f32>().abs() < 1e-4);
        assert!(GroupNormConfig::new(0, 4).init().is_err());
    }

    #[test]
    fn instance_norm_modes() {
        let x = Tensor::randn(&[2, 3, 4, 4], 1.0, 2.0, &mut seeded(2));
        let plain = InstanceNormConfig::new(3).init_2d().unwrap();
        assert_eq!(plain.state_dict().len(), 0);
        let a = plain.forward(&x, &mut Ctx::eval()).to_vec();
        assert!(a[..16].iter().sum::<f32>().abs() < 1e-4);
        let tracked = InstanceNormConfig::new(3)
            .with_track_running_stats(true)
            .with_affine(true)
            .init_2d()
            .unwrap();
        let _ = tracked.forward(&x, &mut Ctx::train(0));
        let names: Vec<String> = tracked.state_dict().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "weight",
                "bias",
                "running_mean",
                "running_var",
                "num_batches_tracked"
            ]
        );
        // Eval with tracking uses the (updated) running statistics: not zero-mean per plane.
        let e = tracked.forward(&x, &mut Ctx::eval()).to_vec();
        assert!(e[..16].iter().sum::<f32>().abs() > 1.0);
    }
}
