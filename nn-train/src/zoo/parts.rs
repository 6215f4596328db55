//! The layers every zoo model is assembled from, built with the job's [`Options`] — and their
//! shapes-only twins for [`super::estimate`] (`trace_*`), kept side by side so that they agree.
//!
//! * convolution / linear: the job's initialisation (biases zero unless PyTorch's default), and
//!   DropConnect where the settings select the layer;
//! * normalisation: batch / layer (`GroupNorm(1, C)` on feature maps, `LayerNorm` on features) /
//!   group / instance (affine) / none;
//! * the activation (maxout reduces the channels k×: the layer before produces `width·k`);
//! * dropout (inverted or vanilla) and channel dropout (`Dropout2d`).

use nn_core::Module;
use nn_core::layers::{
    BatchNormConfig, Conv2dConfig, GroupNormConfig, InstanceNormConfig, LayerNormConfig,
    LinearConfig,
};
use nn_core::rng::Rng;
use nn_regularize::DropoutConfig;

use super::options::{LayerInit, NormConfig, Options};
use super::trace::{ShapeError, Tracer};
use crate::error::Result;

/// Which kind of linear layer: a hidden one or the classifier (DropConnect selects by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinearRole {
    /// A hidden fully connected layer.
    Hidden,
    /// The output layer.
    Classifier,
}

impl Options {
    /// Whether DropConnect masks a linear layer of `role`.
    fn dropconnect_linear(&self, role: LinearRole) -> bool {
        self.dropconnect.is_some_and(|d| match role {
            LinearRole::Hidden => d.on_linear(),
            LinearRole::Classifier => d.classifier,
        })
    }

    /// Whether DropConnect masks the convolutions.
    fn dropconnect_conv(&self) -> bool {
        self.dropconnect.is_some_and(|d| d.on_conv())
    }

    /// A k×k convolution (`bias` as given) with the job's initialisation and DropConnect.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn conv(
        &self,
        c_in: usize,
        c_out: usize,
        k: usize,
        stride: usize,
        pad: usize,
        bias: bool,
        rng: &mut Rng,
    ) -> Result<Box<dyn Module>> {
        let LayerInit { weight: w, bias: b } = self.conv_init;
        let conv = Conv2dConfig::new(c_in, c_out, k)
            .with_stride(stride)
            .with_padding(pad)
            .with_bias(bias)
            .with_weight_init(w)
            .with_bias_init(b)
            .init(rng)?;
        let layer: Box<dyn Module> = match self.dropconnect.filter(|_| self.dropconnect_conv()) {
            Some(dc) => Box::new(dc.config().wrap_conv2d(
                conv.weight().clone(),
                conv.bias().cloned(),
                conv.options(),
            )?),
            None => Box::new(conv),
        };
        Ok(layer)
    }

    /// A fully connected layer (with bias) with the job's initialisation and DropConnect.
    pub(crate) fn linear(
        &self,
        inp: usize,
        out: usize,
        role: LinearRole,
        rng: &mut Rng,
    ) -> Result<Box<dyn Module>> {
        let LayerInit { weight: w, bias: b } = self.linear_init;
        let lin = LinearConfig::new(inp, out)
            .with_weight_init(w)
            .with_bias_init(b)
            .init(rng)?;
        let layer: Box<dyn Module> =
            match self.dropconnect.filter(|_| self.dropconnect_linear(role)) {
                Some(dc) => Box::new(
                    dc.config()
                        .wrap_linear(lin.weight().clone(), lin.bias().cloned())?,
                ),
                None => Box::new(lin),
            };
        Ok(layer)
    }

    /// The normalisation of `c` channels (`maps`: of `[N, C, H, W]` feature maps, else of
    /// `[N, C]` features), or `None`.
    pub(crate) fn norm(&self, c: usize, maps: bool) -> Result<Option<Box<dyn Module>>> {
        let layer: Box<dyn Module> = match (self.norm, maps) {
            (NormConfig::None, _) => return Ok(None),
            (NormConfig::Batch, true) => Box::new(BatchNormConfig::new(c).init_2d()?),
            (NormConfig::Batch, false) => Box::new(BatchNormConfig::new(c).init_1d()?),
            (NormConfig::Layer, true) => Box::new(GroupNormConfig::new(1, c).init()?),
            (NormConfig::Layer, false) => Box::new(LayerNormConfig::new(&[c]).init()?),
            (NormConfig::Group { groups }, _) => Box::new(GroupNormConfig::new(groups, c).init()?),
            (NormConfig::Instance, _) => {
                Box::new(InstanceNormConfig::new(c).with_affine(true).init_2d()?)
            }
        };
        Ok(Some(layer))
    }

    /// The activation layer.
    pub(crate) fn act(&self) -> Result<Box<dyn Module>> {
        Ok(self.activation.layer()?)
    }

    /// k: how many times wider the layer before the activation is.
    pub(crate) fn k(&self) -> usize {
        self.activation.width_factor()
    }

    /// Dropout with probability `p` (inverted or vanilla), or `None` for p = 0.
    pub(crate) fn dropout_layer(&self, p: f32) -> Result<Option<Box<dyn Module>>> {
        if p == 0.0 {
            return Ok(None);
        }
        Ok(Some(Box::new(
            DropoutConfig::new(p)
                .variant(self.scaling.variant())
                .init()?,
        )))
    }

    /// Channel dropout with the job's `dropout2d`, or `None`.
    pub(crate) fn dropout2d_layer(&self) -> Result<Option<Box<dyn Module>>> {
        if self.dropout2d == 0.0 {
            return Ok(None);
        }
        Ok(Some(Box::new(
            DropoutConfig::new(self.dropout2d)
                .variant(self.scaling.variant())
                .init_2d()?,
        )))
    }

    // ----- the same, in shapes ------------------------------------------------------------------

    /// [`Options::conv`] in shapes.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn trace_conv(
        &self,
        t: &mut Tracer,
        name: &str,
        c_out: usize,
        k: usize,
        stride: usize,
        pad: usize,
        bias: bool,
    ) -> Result<(), ShapeError> {
        let c_in = t.channels();
        t.conv(name, c_out, k, stride, pad, bias)?;
        if self.dropconnect_conv() {
            t.per_step(c_out * c_in * k * k);
        }
        Ok(())
    }

    /// [`Options::linear`] in shapes.
    pub(crate) fn trace_linear(&self, t: &mut Tracer, name: &str, out: usize, role: LinearRole) {
        let inp = t.features();
        t.linear(name, out, true);
        if self.dropconnect_linear(role) && !self.dropconnect.is_some_and(|d| d.per_example) {
            t.per_step(out * inp);
        }
    }

    /// [`Options::norm`] in shapes (`maps` as there). Instance normalisation of a 1×1 map is
    /// rejected: it normalises every value to 0 (PyTorch refuses it in training).
    pub(crate) fn trace_norm(
        &self,
        t: &mut Tracer,
        name: &str,
        maps: bool,
    ) -> Result<(), ShapeError> {
        let c = t.channels();
        match self.norm {
            NormConfig::None => {}
            NormConfig::Batch => t.batch_norm(name),
            NormConfig::Layer if !maps => {
                t.per_sample_norm(name, format!("LayerNorm([{c}])"), 2 * c)
            }
            NormConfig::Layer => t.per_sample_norm(name, format!("GroupNorm(1, {c})"), 2 * c),
            NormConfig::Group { groups } => {
                t.per_sample_norm(name, format!("GroupNorm({groups}, {c})"), 2 * c)
            }
            NormConfig::Instance => {
                if t.spatial() == (1, 1) {
                    return Err(ShapeError(
                        "another norm or a larger input: instance normalisation of a 1×1 map \
                         makes every value 0"
                            .into(),
                        Some(("model.norm", "instance".into())),
                    ));
                }
                t.per_sample_norm(name, format!("InstanceNorm2d({c}, affine=True)"), 2 * c)
            }
        }
        Ok(())
    }

    /// [`Options::act`] in shapes.
    pub(crate) fn trace_act(&self, t: &mut Tracer, name: &str) {
        let k = self.k();
        if k > 1 {
            t.channel_maxout(name, k);
        } else {
            t.elementwise(name, &format!("{:?}", self.activation));
        }
    }

    /// [`Options::dropout_layer`] in shapes.
    pub(crate) fn trace_dropout(&self, t: &mut Tracer, name: &str, p: f32) {
        if p > 0.0 {
            t.elementwise(name, "Dropout");
        }
    }

    /// [`Options::dropout2d_layer`] in shapes.
    pub(crate) fn trace_dropout2d(&self, t: &mut Tracer, name: &str) {
        if self.dropout2d > 0.0 {
            t.elementwise(name, "Dropout2d");
        }
    }
}
