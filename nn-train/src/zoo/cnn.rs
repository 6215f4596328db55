//! A small VGG-style convolutional network.

use nn_core::layers::{AdaptiveAvgPool2d, Flatten, MaxPool2dConfig, Sequential};
use nn_core::rng::Rng;

use super::options::{Options, PoolSettings};
use super::parts::LinearRole;
use super::trace::{POS, ShapeError, Tracer};
use crate::error::Result;

/// For each width c in `channels`: Conv3×3(c, padding 1, no bias) → BatchNorm2d → ReLU →
/// MaxPool(2); then global average pooling → Flatten → [Dropout(p)] → Linear(classes), PyTorch's
/// default initialisation. Each pool halves the resolution, rounding up (ceil mode): an input
/// allows as many stages as halvings down to 1 px (8 px: 3, 28 px: 5, 32 px: 5); more are
/// rejected by [`super::ModelConfig::estimate`].
pub fn cnn(
    in_channels: usize,
    channels: &[usize],
    classes: usize,
    dropout: f32,
    rng: &mut Rng,
) -> Result<Sequential> {
    let mut config = crate::ModelConfig::cnn(channels.to_vec());
    if let crate::ModelConfig::Cnn { dropout: d, .. } = &mut config {
        *d = dropout;
    }
    cnn_with(&config.options()?, in_channels, channels, 1, classes, rng)
}

/// [`cnn`] with the job's options: for each width c, `convs` × (Conv3×3(c·k) → norm? →
/// activation) → pool (2×2 max or fractional) → Dropout2d?; then global average pooling →
/// Flatten → Dropout? → Linear. (k: maxout pieces, else 1.) Fractional pooling with K > 1 test draws is wrapped by
/// the caller ([`super::DrawAveraged`]).
pub(crate) fn cnn_with(
    o: &Options,
    in_channels: usize,
    channels: &[usize],
    convs: usize,
    classes: usize,
    rng: &mut Rng,
) -> Result<Sequential> {
    let k = o.k();
    let mut net = Sequential::new();
    let mut c_in = in_channels;
    for &c in channels {
        for _ in 0..convs {
            net.push_boxed(o.conv(c_in, c * k, 3, 1, 1, o.norm.needs_bias(), rng)?);
            if let Some(norm) = o.norm(c * k, true)? {
                net.push_boxed(norm);
            }
            net.push_boxed(o.act()?);
            c_in = c;
        }
        match o.pool.fractional() {
            Some(fmp) => net.push(fmp.init()?),
            None => net.push(MaxPool2dConfig::new(2).with_ceil_mode(true).init()?),
        }
        if let Some(d) = o.dropout2d_layer()? {
            net.push_boxed(d);
        }
    }
    net.push(AdaptiveAvgPool2d::global());
    net.push(Flatten::default());
    if let Some(d) = o.dropout_layer(o.dropout)? {
        net.push_boxed(d);
    }
    net.push_boxed(o.linear(c_in, classes, LinearRole::Classifier, rng)?);
    Ok(net)
}

/// The shapes of [`cnn_with`] (same layers, same names).
pub(crate) fn trace_cnn(
    o: &Options,
    t: &mut Tracer,
    channels: &[usize],
    convs: usize,
    classes: usize,
) -> Result<(), ShapeError> {
    let k = o.k();
    let [_, ih, iw] = t.input();
    t.begin_seq("");
    for (stage, &c) in channels.iter().enumerate() {
        let (h, w) = t.spatial();
        let too_small = match o.pool {
            PoolSettings::Max => h < 2 || w < 2,
            PoolSettings::Fractional { ratio, .. } => {
                ((h as f32 * ratio) as usize) == 0 || ((w as f32 * ratio) as usize) == 0
            }
        };
        if too_small {
            return Err(ShapeError::new(format!(
                "at most {stage} stage{} for {ih}×{iw} inputs (each stage pools; stage {} would \
                 pool a {h}×{w} map)",
                if stage == 1 { "" } else { "s" },
                stage + 1
            )));
        }
        for _ in 0..convs {
            o.trace_conv(t, POS, c * k, 3, 1, 1, o.norm.needs_bias())?;
            o.trace_norm(t, POS, true)?;
            o.trace_act(t, POS);
        }
        match o.pool {
            PoolSettings::Max => t.max_pool(POS, 2, 2, 0, true)?,
            PoolSettings::Fractional { ratio, .. } => t.fractional_pool(POS, ratio)?,
        }
        o.trace_dropout2d(t, POS);
    }
    t.adaptive_avg_pool(POS, (1, 1));
    t.flatten(POS);
    o.trace_dropout(t, POS, o.dropout);
    o.trace_linear(t, POS, classes, LinearRole::Classifier);
    t.end_seq();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::{Ctx, Module, Tensor, rng::seeded};

    #[test]
    fn output_shape() {
        let net = cnn(1, &[8, 16], 10, 0.0, &mut seeded(0)).unwrap();
        let y = net.forward(&Tensor::zeros(&[3, 1, 8, 8]), &mut Ctx::train(0));
        assert_eq!(y.shape(), &[3, 10]);
        assert_eq!(net.named_parameters()[0].0, "0.weight");
    }
}
