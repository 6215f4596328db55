//! The model zoo: networks built from a serialisable [`ModelConfig`] for an input shape and a
//! class count.
//!
//! | kind | network | parameter names |
//! |---|---|---|
//! | `mlp` | [`mlp`]: Flatten → (Linear → norm? → activation → Dropout?)* → Linear | `1.weight`, … |
//! | `cnn` | [`cnn`]: (`convs_per_stage` × (Conv3×3 → norm → activation) → pool → Dropout2d?)* → global average pool → Linear | `0.weight`, … |
//! | `resnet` | [`resnet`]: the CIFAR ResNet-(6n+2) of He et al. 2016 (n = 1: ResNet-8, n = 3: ResNet-20) | `conv1`, `layer1.0.conv1`, `fc` |
//! | `resnet18`, `resnet34` | torchvision's ResNet-18/34 ([`torchvision_resnet`]); `stem = "cifar"` for small inputs | torchvision's |
//! | `vgg` | torchvision's VGG-11/13/16/19 ([`vgg`]); `width`, `hidden`, `pool_size` make it small | torchvision's |
//!
//! **Options** (fields of `[model]`; `✓` = available):
//!
//! | option | mlp | cnn | resnet | resnet18/34 | vgg |
//! |---|---|---|---|---|---|
//! | `activation` — every nn-core activation, `{ kind = "maxout", pieces = k }` | ✓ | ✓ | ✓ | ✓ | ✓ |
//! | `norm` — `batch` / `layer` / `group` (`groups`) / `instance` / `none` | ✓ (no instance) | ✓ | ✓ | ✓ | ✓ |
//! | `init` — any [`nn_core::init::Init`]: `small_random` (`std`), `xavier_uniform/normal` (`gain`), `kaiming_uniform/normal` (`mode`, `a`, `nonlinearity`), `orthogonal`, `torch_default`, … | ✓ | ✓ | ✓ | ✓ | ✓ |
//! | `dropout` (+ `dropout_scaling` = `inverted` / `vanilla`) | hidden layers | classifier | classifier | classifier | classifier |
//! | `dropout2d` — channel dropout | | after each stage | inside each block | inside each block | after each pool |
//! | `dropconnect` — `p`, `layers` = `linear` / `conv` / `all`, `classifier`, `scaling`, `per_example` | ✓ | ✓ | ✓ | ✓ | ✓ |
//! | `stochastic_depth` — `last_survival` p_L (linear decay), `mode`, `scaling` | | | ✓ | ✓ | |
//! | `pool` — `max` / `fractional` (`ratio`, `overlapping`, `pseudorandom`, `test_draws` K) | | ✓ | | | |
//!
//! Defaults keep each model as it was (and torchvision's models as torchvision makes them):
//! ReLU, BatchNorm for the convolutional models (none for the MLP and VGG), PyTorch's
//! initialisation (torchvision's for `resnet18/34` and `vgg`), no regularisation. With an
//! explicit `init`, every convolution and linear weight is drawn from it and biases start at 0
//! (`torch_default` keeps PyTorch's biases). Maxout with k pieces makes the layer before each
//! activation k times wider; in residual blocks the second activation moves before the addition
//! ([`block`]).
//!
//! **Memory format**: the CIFAR ResNets (width ≤ 16), the CNN and VGG (max pooling, no channel
//! dropout), each with batch norm or none and no maxout, run channels-last ([`MemoryFormat`],
//! [`ModelConfig::memory_format`]): the input and every layer's output are stored NHWC, where
//! nn-core's channels-last convolution and max-pooling kernels and the fused conv + BN + ReLU
//! and add + ReLU ([`block`]) are faster; the other models stay row-major, where channels-last
//! was not measured faster. [`ModelConfig::build_with_format`] chooses either; the
//! parameters, names, checkpoints and outputs (to rounding) are the same in both.
//!
//! [`ModelConfig::estimate`] gives a model's parameter count, activation memory and output shape
//! for an input shape without building it, and rejects shapes that cannot work ([`estimate`]).

mod averaged;
pub mod block;
mod cnn;
mod config;
pub mod estimate;
mod memory_format;
mod mlp;
pub mod options;
mod parts;
mod resnet;
pub mod torchvision_resnet;
mod trace;
pub mod vgg;

pub use averaged::DrawAveraged;
pub use block::BasicBlock;
pub use cnn::cnn;
pub use config::ModelConfig;
pub use estimate::{LayerEstimate, ModelEstimate};
pub use memory_format::MemoryFormat;
pub use mlp::mlp;
pub use options::{
    DropConnectLayers, DropConnectSettings, DropMode, NormConfig, PoolSettings, Scaling, Stem,
    StochasticDepthSettings,
};
pub use resnet::resnet;
pub use torchvision_resnet::{RESNET18, RESNET34, TorchResnetConfig};
pub use vgg::VggConfig;

use nn_core::Module;
use nn_core::rng::Rng;

use crate::error::{Result, invalid};

/// Images per chunk of the convolutional models' inference ([`ModelConfig::inference_chunk`]).
/// Measured with `step_driver` (evaluation, batch 256, 2 threads, AMD EPYC family 26 model 2,
/// milliseconds per batch, whole batch / chunks of 8 / 16 / 32, the median of two alternating
/// rounds on a noisy host, with the Winograd kernels' transforms kept across chunks): ResNet-8
/// @3×32×32 19.4 / 14.2 / 14.6 / 14.5, ResNet-20 46.9 / 37.3 / 37.3 / 35.5, ResNet-8 @1×28×28
/// 14.5 / 11.9 / 11.6 / 10.8, ResNet-20 39.9 / 36.2 / 31.3 / 26.8, CNN (32-64) 10.3 / 6.1 / 7.7
/// / 6.2, at 1×28×28 12.6 / 6.7 / 7.9 / 6.3, WRN-20-2 135 / 124 / 107 / 108, VGG-11 (width 16)
/// 15.3 / 19.0 / 14.3 / 12.1.
pub const INFERENCE_CHUNK: usize = 32;

impl ModelConfig {
    /// Checks hyperparameters that do not depend on the data (errors name the field, e.g.
    /// `model.norm.groups`).
    pub fn validate(&self) -> Result<()> {
        let o = self.options()?;
        match self {
            ModelConfig::Mlp { hidden, .. } => {
                if hidden.contains(&0) {
                    return Err(invalid("model.hidden", "0", "positive layer widths"));
                }
                o.validate(false, hidden)?;
                if o.dropconnect.is_some_and(|d| d.on_conv()) {
                    return Err(invalid(
                        "model.dropconnect.layers",
                        "conv",
                        "linear (the MLP has no convolutions)",
                    ));
                }
            }
            ModelConfig::Cnn {
                channels,
                convs_per_stage,
                ..
            } => {
                if channels.is_empty() || channels.contains(&0) {
                    return Err(invalid(
                        "model.channels",
                        format!("{channels:?}"),
                        "at least one positive width",
                    ));
                }
                if *convs_per_stage == 0 {
                    return Err(invalid(
                        "model.convs_per_stage",
                        "0",
                        "at least 1 convolution per stage",
                    ));
                }
                o.validate(true, channels)?;
            }
            ModelConfig::Resnet {
                blocks_per_stage,
                width,
                ..
            } => {
                if *blocks_per_stage == 0 {
                    return Err(invalid("model.blocks_per_stage", 0, "at least 1"));
                }
                if *width == 0 {
                    return Err(invalid("model.width", 0, "at least 1"));
                }
                o.validate(true, &[*width, 2 * width, 4 * width])?;
            }
            ModelConfig::Resnet18(c) | ModelConfig::Resnet34(c) => {
                if c.width == 0 {
                    return Err(invalid("model.width", 0, "at least 1"));
                }
                let w = c.width;
                o.validate(true, &[w, 2 * w, 4 * w, 8 * w])?;
            }
            ModelConfig::Vgg(c) => {
                vgg::validate(c)?;
                let w = c.width;
                o.validate(true, &[w, 2 * w, 4 * w, 8 * w])?;
            }
        }
        if let Some(dc) = o.dropconnect {
            let hidden_linear = match self {
                ModelConfig::Mlp { hidden, .. } => !hidden.is_empty(),
                ModelConfig::Vgg(_) => true,
                _ => false,
            };
            if dc.layers == DropConnectLayers::Linear && !hidden_linear && !dc.classifier {
                return Err(invalid(
                    "model.dropconnect.layers",
                    "linear",
                    &format!(
                        "conv or all, or classifier = true (the {} has no hidden linear layer)",
                        self.kind()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The parameter count, per-sample activation memory and output shape of the network for CHW
    /// inputs of `input` shape and `classes` outputs — computed from the config alone, without
    /// building the network or allocating (see [`estimate`]). The parameter count equals
    /// `num_parameters()` of the model [`ModelConfig::build`] makes.
    ///
    /// # Errors
    /// [`crate::TrainError::Invalid`] naming the field when the config is invalid or the shapes
    /// cannot work (e.g. more CNN stages than the input allows: field `model.channels`), or an
    /// empty input shape or no classes.
    ///
    /// ```
    /// use nn_train::ModelConfig;
    /// let cnn = ModelConfig::cnn(vec![32, 64]);
    /// let e = cnn.estimate([1, 8, 8], 10).unwrap();
    /// assert_eq!(e.output, [10]);
    /// assert_eq!(e.parameters, (9 * 32 + 64) + (32 * 9 * 64 + 128) + (64 * 10 + 10));
    /// println!("{} KiB of activations per sample", e.activation_bytes_per_sample() / 1024);
    /// // Four halvings do not fit an 8×8 image.
    /// let err = ModelConfig::cnn(vec![8; 4]).estimate([1, 8, 8], 10).unwrap_err().to_string();
    /// assert!(err.contains("model.channels") && err.contains("at most 3 stages"), "{err}");
    /// ```
    pub fn estimate(&self, input: [usize; 3], classes: usize) -> Result<ModelEstimate> {
        self.validate()?;
        if input.contains(&0) {
            return Err(invalid(
                "input shape",
                format!("{input:?}"),
                "positive channels, height and width",
            ));
        }
        if classes == 0 {
            return Err(invalid("classes", 0, "at least 1 class"));
        }
        let o = self.options()?;
        let mut t = trace::Tracer::new(input);
        match self {
            ModelConfig::Mlp { hidden, .. } => mlp::trace_mlp(&o, &mut t, hidden, classes),
            ModelConfig::Cnn {
                channels,
                convs_per_stage,
                ..
            } => cnn::trace_cnn(&o, &mut t, channels, *convs_per_stage, classes)
                .map_err(|e| e.at("model.channels", format!("{channels:?}")))?,
            ModelConfig::Resnet {
                blocks_per_stage,
                width,
                ..
            } => resnet::trace_resnet(&o, &mut t, *blocks_per_stage, *width, classes)
                .map_err(|e| e.at("model.norm", o.norm.name()))?,
            ModelConfig::Resnet18(c) => {
                torchvision_resnet::trace_torchvision_resnet(&o, c, RESNET18, &mut t, classes)
                    .map_err(|e| e.at("model.stem", format!("{:?}", c.stem).to_lowercase()))?
            }
            ModelConfig::Resnet34(c) => {
                torchvision_resnet::trace_torchvision_resnet(&o, c, RESNET34, &mut t, classes)
                    .map_err(|e| e.at("model.stem", format!("{:?}", c.stem).to_lowercase()))?
            }
            ModelConfig::Vgg(c) => vgg::trace_vgg(&o, c, &mut t, classes)
                .map_err(|e| e.at("model.ceil_mode", c.ceil_mode))?,
        }
        Ok(t.finish())
    }

    /// Builds the network for CHW inputs of `input` shape and `classes` outputs, initialised from
    /// `rng` (see the [module docs](self) for the initialisations), in its default memory format
    /// ([`ModelConfig::memory_format`]: channels-last for the convolutional models).
    ///
    /// # Errors
    /// As [`ModelConfig::estimate`]: an invalid config or shapes that cannot work are rejected
    /// before anything is allocated.
    pub fn build(
        &self,
        input: [usize; 3],
        classes: usize,
        rng: &mut Rng,
    ) -> Result<Box<dyn Module>> {
        self.build_with_format(input, classes, self.memory_format(), rng)
    }

    /// [`ModelConfig::build`] in the given memory format (the same parameters from the same
    /// `rng`, the same outputs to rounding; see [`MemoryFormat`]). The MLP ignores the format.
    ///
    /// ```
    /// use nn_core::{Ctx, Tensor, rng::seeded};
    /// use nn_train::{ModelConfig, zoo::MemoryFormat};
    /// let config = ModelConfig::resnet(1, 8);
    /// let x = Tensor::randn(&[2, 3, 8, 8], 0.0, 1.0, &mut seeded(1));
    /// let mut y = Vec::new();
    /// for format in [MemoryFormat::Contiguous, MemoryFormat::ChannelsLast] {
    ///     let model = config.build_with_format([3, 8, 8], 10, format, &mut seeded(0)).unwrap();
    ///     y.push(model.forward(&x, &mut Ctx::train(0)).to_vec());
    /// }
    /// for (a, b) in y[0].iter().zip(&y[1]) {
    ///     assert!((a - b).abs() < 1e-4);
    /// }
    /// ```
    ///
    /// # Errors
    /// As [`ModelConfig::build`].
    pub fn build_with_format(
        &self,
        input: [usize; 3],
        classes: usize,
        format: MemoryFormat,
        rng: &mut Rng,
    ) -> Result<Box<dyn Module>> {
        let model = self.build_contiguous(input, classes, rng)?;
        Ok(match (format, self) {
            (_, ModelConfig::Mlp { .. }) | (MemoryFormat::Contiguous, _) => model,
            (MemoryFormat::ChannelsLast, _) => Box::new(memory_format::ChannelsLastModel::new(
                model,
                self.inference_chunk(),
            )),
        })
    }

    /// Images per chunk at which inference (`nn_core::infer::infer`: evaluation, prediction,
    /// test-time augmentation) runs the channels-last model depth first, each chunk through
    /// every layer on one worker while its activations stay in cache: [`INFERENCE_CHUNK`] for
    /// the CIFAR ResNets (wide ones included), the CNN and VGG; none (the whole batch layer by
    /// layer) for the MLP and torchvision's ResNets, where it was not measured.
    pub fn inference_chunk(&self) -> Option<usize> {
        let convolutional = matches!(
            self,
            ModelConfig::Resnet { .. } | ModelConfig::Cnn { .. } | ModelConfig::Vgg(_)
        );
        convolutional.then_some(INFERENCE_CHUNK)
    }

    fn build_contiguous(
        &self,
        input: [usize; 3],
        classes: usize,
        rng: &mut Rng,
    ) -> Result<Box<dyn Module>> {
        self.estimate(input, classes)?;
        let o = self.options()?;
        let c = input[0];
        Ok(match self {
            ModelConfig::Mlp { hidden, .. } => Box::new(mlp::mlp_with(
                &o,
                input.iter().product(),
                hidden,
                classes,
                rng,
            )?),
            ModelConfig::Cnn {
                channels,
                convs_per_stage,
                ..
            } => {
                let net = Box::new(cnn::cnn_with(
                    &o,
                    c,
                    channels,
                    *convs_per_stage,
                    classes,
                    rng,
                )?);
                match o.pool.test_draws() {
                    1 => net,
                    k => Box::new(DrawAveraged::new(net, k)),
                }
            }
            ModelConfig::Resnet {
                blocks_per_stage,
                width,
                ..
            } => Box::new(resnet::resnet_with(
                &o,
                c,
                *blocks_per_stage,
                *width,
                classes,
                rng,
            )?),
            ModelConfig::Resnet18(t) => Box::new(torchvision_resnet::torchvision_resnet(
                &o, t, RESNET18, c, classes, rng,
            )?),
            ModelConfig::Resnet34(t) => Box::new(torchvision_resnet::torchvision_resnet(
                &o, t, RESNET34, c, classes, rng,
            )?),
            ModelConfig::Vgg(v) => Box::new(vgg::vgg(&o, v, c, classes, rng)?),
        })
    }
}
