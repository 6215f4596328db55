//! Multilayer perceptron.

use nn_core::layers::{Activation, Flatten, Sequential};
use nn_core::rng::Rng;

use super::options::Options;
use super::parts::LinearRole;
use super::trace::{POS, Tracer};
use crate::error::Result;

/// Flatten → (Linear → BatchNorm1d? → activation → Dropout(p)?)* → Linear, for `inputs`
/// features and `classes` outputs, PyTorch's default initialisation. Children are numbered as in
/// PyTorch's `nn.Sequential`.
pub fn mlp(
    inputs: usize,
    hidden: &[usize],
    classes: usize,
    activation: Activation,
    batch_norm: bool,
    dropout: f32,
    rng: &mut Rng,
) -> Result<Sequential> {
    let mut config = crate::ModelConfig::mlp(hidden.to_vec());
    if let crate::ModelConfig::Mlp {
        activation: a,
        batch_norm: b,
        dropout: d,
        ..
    } = &mut config
    {
        (*a, *b, *d) = (activation, batch_norm, dropout);
    }
    mlp_with(&config.options()?, inputs, hidden, classes, rng)
}

/// [`mlp`] with the job's options: Flatten → (Linear(·, h·k) → norm? → activation → Dropout?)*
/// → Linear, k the maxout pieces (1 otherwise).
pub(crate) fn mlp_with(
    o: &Options,
    inputs: usize,
    hidden: &[usize],
    classes: usize,
    rng: &mut Rng,
) -> Result<Sequential> {
    let k = o.k();
    let mut net = Sequential::new().with(Flatten::default());
    let mut width = inputs;
    for &h in hidden {
        net.push_boxed(o.linear(width, h * k, LinearRole::Hidden, rng)?);
        if let Some(norm) = o.norm(h * k, false)? {
            net.push_boxed(norm);
        }
        net.push_boxed(o.act()?);
        if let Some(d) = o.dropout_layer(o.dropout)? {
            net.push_boxed(d);
        }
        width = h;
    }
    net.push_boxed(o.linear(width, classes, LinearRole::Classifier, rng)?);
    Ok(net)
}

/// The shapes of [`mlp_with`] (same layers, same names).
pub(crate) fn trace_mlp(o: &Options, t: &mut Tracer, hidden: &[usize], classes: usize) {
    let k = o.k();
    t.begin_seq("");
    t.flatten(POS);
    for &h in hidden {
        o.trace_linear(t, POS, h * k, LinearRole::Hidden);
        o.trace_norm(t, POS, false)
            .expect("only instance norm can fail, and the MLP rejects it");
        o.trace_act(t, POS);
        o.trace_dropout(t, POS, o.dropout);
    }
    o.trace_linear(t, POS, classes, LinearRole::Classifier);
    t.end_seq();
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
