//! The thin adapter between nn-core's modules and nn-optim's optimizers: nn-optim works on plain
//! named arrays, nn-core keeps values and gradients in [`Parameter`]s.

use nn_core::{Module, Parameter};
use nn_optim::{Optimizer, ParamMut};

use crate::error::Result;

/// One optimizer step over every trainable parameter of `model` (frozen parameters and
/// parameters without a gradient are skipped, as the optimizer skips a `None` gradient).
/// Updates are in place. Gradients are left as they are: clearing them is the caller's
/// ([`Module::zero_grad`]), as in PyTorch.
pub fn optimizer_step(optimizer: &mut dyn Optimizer, model: &dyn Module) -> Result<()> {
    let params: Vec<(String, Parameter)> = model
        .named_parameters()
        .into_iter()
        .filter(|(_, p)| !p.is_frozen())
        .collect();
    step_parameters(optimizer, &params)
}

/// One optimizer step over explicit named parameters.
pub fn step_parameters(
    optimizer: &mut dyn Optimizer,
    params: &[(String, Parameter)],
) -> Result<()> {
    let mut guards: Vec<_> = params.iter().map(|(_, p)| p.lock()).collect();
    let mut views: Vec<ParamMut<'_>> = guards
        .iter_mut()
        .zip(params)
        .map(|(g, (name, _))| {
            let (value, grad) = g.value_and_grad();
            ParamMut { name, value, grad }
        })
        .collect();
    optimizer.step(&mut views)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::layers::LinearConfig;
    use nn_core::{Ctx, Tensor, rng::seeded};
    use nn_optim::SgdConfig;

    #[test]
    fn sgd_step_moves_trainable_parameters_only() {
        let layer = LinearConfig::new(3, 2).init(&mut seeded(0)).unwrap();
        layer.freeze("bias");
        let w0 = layer.weight().value().to_owned();
        let b0 = layer.bias().unwrap().value().to_owned();
        let x = Tensor::ones(&[4, 3]);
        layer.forward(&x, &mut Ctx::train(0)).sum_all().backward();
        let g = layer.weight().grad().unwrap();
        let mut opt = SgdConfig {
            lr: 0.5,
            ..Default::default()
        }
        .init()
        .unwrap();
        optimizer_step(&mut opt, &layer).unwrap();
        let expect = &w0 - &(&g * 0.5);
        assert_eq!(layer.weight().value().to_owned(), expect);
        assert_eq!(layer.bias().unwrap().value().to_owned(), b0);
    }
}
