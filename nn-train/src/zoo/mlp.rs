//! Multilayer perceptron.

use nn_core::layers::{Activation, BatchNormConfig, Flatten, LinearConfig, Sequential};
use nn_core::rng::Rng;
use nn_regularize::DropoutConfig;

use crate::error::Result;

/// Flatten → (Linear → BatchNorm1d? → activation → Dropout(p)?)* → Linear, for `inputs`
/// features and `classes` outputs. Children are numbered as in PyTorch's `nn.Sequential`.
pub fn mlp(
    inputs: usize,
    hidden: &[usize],
    classes: usize,
    activation: Activation,
    batch_norm: bool,
    dropout: f32,
    rng: &mut Rng,
) -> Result<Sequential> {
    let mut net = Sequential::new().with(Flatten::default());
    let mut width = inputs;
    for &h in hidden {
        net.push(LinearConfig::new(width, h).init(rng)?);
        if batch_norm {
            net.push(BatchNormConfig::new(h).init_1d()?);
        }
        net.push_boxed(activation.layer()?);
        if dropout > 0.0 {
            net.push(DropoutConfig::new(dropout).init()?);
        }
        width = h;
    }
    net.push(LinearConfig::new(width, classes).init(rng)?);
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::{Ctx, Module, Tensor, rng::seeded};

    #[test]
    fn shapes_names_and_counts() {
        let net = mlp(
            64,
            &[32, 16],
            10,
            Activation::Relu,
            true,
            0.5,
            &mut seeded(0),
        )
        .unwrap();
        let y = net.forward(&Tensor::zeros(&[5, 1, 8, 8]), &mut Ctx::train(0));
        assert_eq!(y.shape(), &[5, 10]);
        let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names[0], "1.weight");
        assert!(names.contains(&"2.weight".to_string()), "{names:?}");
        assert_eq!(
            net.num_parameters(),
            64 * 32 + 32 + 2 * 32 + 32 * 16 + 16 + 2 * 16 + 16 * 10 + 10
        );
    }
}
