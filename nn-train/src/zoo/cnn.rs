//! A small VGG-style convolutional network.

use nn_core::layers::{
    AdaptiveAvgPool2d, BatchNormConfig, Conv2dConfig, Flatten, LinearConfig, MaxPool2dConfig, ReLU,
    Sequential,
};
use nn_core::rng::Rng;
use nn_regularize::DropoutConfig;

use crate::error::Result;

/// For each width c in `channels`: Conv3×3(c, padding 1, no bias) → BatchNorm2d → ReLU →
/// MaxPool(2); then global average pooling → Flatten → [Dropout(p)] → Linear(classes).
/// Stages stop halving the resolution once it reaches 1×1 (the pool is then skipped by
/// ceil mode).
pub fn cnn(
    in_channels: usize,
    channels: &[usize],
    classes: usize,
    dropout: f32,
    rng: &mut Rng,
) -> Result<Sequential> {
    let mut net = Sequential::new();
    let mut c_in = in_channels;
    for &c in channels {
        net.push(
            Conv2dConfig::new(c_in, c, 3)
                .with_padding(1)
                .with_bias(false)
                .init(rng)?,
        );
        net.push(BatchNormConfig::new(c).init_2d()?);
        net.push(ReLU);
        net.push(MaxPool2dConfig::new(2).with_ceil_mode(true).init()?);
        c_in = c;
    }
    net.push(AdaptiveAvgPool2d::global());
    net.push(Flatten::default());
    if dropout > 0.0 {
        net.push(DropoutConfig::new(dropout).init()?);
    }
    net.push(LinearConfig::new(c_in, classes).init(rng)?);
    Ok(net)
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
