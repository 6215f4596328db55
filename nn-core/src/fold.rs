//! Batch-norm folding: merge an eval-mode batch normalisation into the preceding convolution or
//! linear layer, so that inference pays nothing for it ("zero overhead at test time").
//!
//! In evaluation mode BN is a fixed affine map per channel, so with s = γ/√(σ²_run + ε):
//!
//! ```text
//! BN(W∗x + b) = s ⊙ (W∗x + b − μ_run) + β = (s ⊙ W)∗x + (s ⊙ (b − μ_run) + β)
//! W' = s[o]·W[o, …],   b' = s ⊙ (b − μ_run) + β        (computed in f64)
//! ```
//!
//! * [`fold_conv_bn`] — [`Conv2d`] followed by [`BatchNorm2d`] → one [`Conv2d`] (with bias);
//! * [`fold_linear_bn`] — [`Linear`] followed by [`BatchNorm1d`] → one [`Linear`];
//! * [`fold_batch_norms`] — the model-level pass: every such adjacent pair of a [`Sequential`]
//!   (recursively, through nested sequentials) becomes the folded layer followed by an
//!   [`Identity`] under the batch norm's old name.
//!
//! The folded model computes the same evaluation-mode function (to float rounding, ~1e-6
//! relative); it is meant for inference, not for further training (training-mode BN would have
//! used batch statistics).

use ndarray::{Axis, IxDyn};

use crate::layers::{BatchNorm1d, BatchNorm2d, Conv2d, Identity, Linear, Sequential};
use crate::module::{Module, Parameter};
use crate::tensor::Array;

/// Why a pair cannot be folded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FoldError {
    /// The batch norm keeps no running statistics: in evaluation it normalises with batch
    /// statistics, which no fixed layer can reproduce.
    #[error(
        "cannot fold {layer}: it does not track running statistics (track_running_stats = false)"
    )]
    NoRunningStats {
        /// The batch-norm layer (`"BatchNorm2d"`).
        layer: &'static str,
    },
    /// The batch norm's channel count differs from the preceding layer's outputs.
    #[error("cannot fold {layer} over {features} features into a layer with {outputs} outputs")]
    ChannelMismatch {
        /// The batch-norm layer.
        layer: &'static str,
        /// Its number of features.
        features: usize,
        /// The preceding layer's number of outputs.
        outputs: usize,
    },
}

/// The per-channel (scale, shift) of an eval-mode batch norm: y = scale·x + shift.
fn bn_affine(
    layer: &'static str,
    weight: Option<&Parameter>,
    bias: Option<&Parameter>,
    stats: Option<(Array, Array)>,
    eps: f32,
    outputs: usize,
) -> Result<(Vec<f64>, Vec<f64>), FoldError> {
    let (mean, var) = stats.ok_or(FoldError::NoRunningStats { layer })?;
    if mean.len() != outputs {
        return Err(FoldError::ChannelMismatch {
            layer,
            features: mean.len(),
            outputs,
        });
    }
    let gamma: Vec<f64> = weight.map_or_else(
        || vec![1.0; outputs],
        |w| w.value().iter().map(|&v| v as f64).collect(),
    );
    let beta: Vec<f64> = bias.map_or_else(
        || vec![0.0; outputs],
        |b| b.value().iter().map(|&v| v as f64).collect(),
    );
    let scale: Vec<f64> = (0..outputs)
        .map(|c| gamma[c] / (var[c] as f64 + eps as f64).sqrt())
        .collect();
    let shift = (0..outputs)
        .map(|c| beta[c] - scale[c] * mean[c] as f64)
        .collect();
    Ok((scale, shift))
}

/// W' = scale[o]·W[o, …] and b' = scale·b + shift, for a weight with outputs on axis 0.
fn fold_arrays(
    weight: &Parameter,
    bias: Option<&Parameter>,
    (scale, shift): (Vec<f64>, Vec<f64>),
) -> (Array, Array) {
    let mut w = weight.value().to_owned();
    for (o, mut row) in w.axis_iter_mut(Axis(0)).enumerate() {
        row.mapv_inplace(|v| (v as f64 * scale[o]) as f32);
    }
    let b0: Vec<f64> = bias.map_or_else(
        || vec![0.0; scale.len()],
        |b| b.value().iter().map(|&v| v as f64).collect(),
    );
    let b = (0..scale.len())
        .map(|o| (scale[o] * b0[o] + shift[o]) as f32)
        .collect::<Vec<f32>>();
    (w, Array::from_shape_vec(IxDyn(&[b.len()]), b).expect("[C]"))
}

fn running(mean: Option<&crate::Buffer>, var: Option<&crate::Buffer>) -> Option<(Array, Array)> {
    Some((mean?.value(), var?.value()))
}

/// Folds an evaluation-mode [`BatchNorm2d`] into the preceding [`Conv2d`]: a new convolution
/// (always with a bias) whose output equals `bn(conv(x))` in evaluation mode.
///
/// # Errors
/// [`FoldError::NoRunningStats`] if the batch norm does not track running statistics,
/// [`FoldError::ChannelMismatch`] if its channels differ from the convolution's outputs.
pub fn fold_conv_bn(conv: &Conv2d, bn: &BatchNorm2d) -> Result<Conv2d, FoldError> {
    let affine = bn_affine(
        "BatchNorm2d",
        bn.weight(),
        bn.bias(),
        running(bn.running_mean(), bn.running_var()),
        bn.eps(),
        conv.out_channels(),
    )?;
    let (w, b) = fold_arrays(conv.weight(), conv.bias(), affine);
    Ok(Conv2d::from_arrays(w, Some(b), conv.options()))
}

/// Folds an evaluation-mode [`BatchNorm1d`] into the preceding [`Linear`] layer: a new linear
/// layer (always with a bias) whose output equals `bn(linear(x))` in evaluation mode.
///
/// # Errors
/// As [`fold_conv_bn`].
pub fn fold_linear_bn(linear: &Linear, bn: &BatchNorm1d) -> Result<Linear, FoldError> {
    let affine = bn_affine(
        "BatchNorm1d",
        bn.weight(),
        bn.bias(),
        running(bn.running_mean(), bn.running_var()),
        bn.eps(),
        linear.out_features(),
    )?;
    let (w, b) = fold_arrays(linear.weight(), linear.bias(), affine);
    Ok(Linear::from_arrays(w, Some(b)))
}

/// Tries to fold child `i` (conv or linear) with child `i + 1` (its batch norm).
fn fold_pair(prev: &dyn Module, next: &dyn Module) -> Option<Result<Box<dyn Module>, FoldError>> {
    let (a, b) = (prev.as_any()?, next.as_any()?);
    if let (Some(conv), Some(bn)) = (a.downcast_ref::<Conv2d>(), b.downcast_ref::<BatchNorm2d>()) {
        return Some(fold_conv_bn(conv, bn).map(|c| Box::new(c) as Box<dyn Module>));
    }
    if let (Some(lin), Some(bn)) = (a.downcast_ref::<Linear>(), b.downcast_ref::<BatchNorm1d>()) {
        return Some(fold_linear_bn(lin, bn).map(|l| Box::new(l) as Box<dyn Module>));
    }
    None
}

/// The model-level pass: folds every [`Conv2d`]→[`BatchNorm2d`] and [`Linear`]→[`BatchNorm1d`]
/// pair of adjacent children of `model`, and of every nested [`Sequential`] (and lets every
/// other child fold its own pairs through [`Module::fold_batch_norms`]), replacing the
/// first by the folded layer and the batch norm by an [`Identity`] (names of all other
/// children, and so their checkpoint keys, are unchanged). Returns how many pairs were folded.
/// Batch norms without running statistics are left in place.
///
/// ```
/// use nn_core::fold::fold_batch_norms;
/// use nn_core::layers::{BatchNormConfig, Conv2dConfig, ReLU, Sequential};
/// use nn_core::{Ctx, Module, Tensor, rng::seeded};
///
/// let mut rng = seeded(0);
/// let mut model = Sequential::new()
///     .with(Conv2dConfig::new(3, 8, 3).with_padding(1).with_bias(false).init(&mut rng).unwrap())
///     .with(BatchNormConfig::new(8).init_2d().unwrap())
///     .with(ReLU);
/// let x = Tensor::randn(&[2, 3, 6, 6], 0.0, 1.0, &mut rng);
/// let _ = model.forward(&x, &mut Ctx::train(0)); // give BN some running statistics
/// let before = model.forward(&x, &mut Ctx::eval()).to_vec();
/// assert_eq!(fold_batch_norms(&mut model), 1);
/// let after = model.forward(&x, &mut Ctx::eval()).to_vec();
/// assert!(before.iter().zip(&after).all(|(a, b)| (a - b).abs() < 1e-5));
/// assert_eq!(model.get(1).unwrap().describe(), "Identity()");
/// ```
pub fn fold_batch_norms(model: &mut Sequential) -> usize {
    Module::fold_batch_norms(model)
}

/// `Sequential`'s [`Module::fold_batch_norms`]: first every child folds its own insides (nested
/// sequentials, residual blocks), then adjacent (conv or linear, batch norm) children are merged.
pub(crate) fn fold_sequential(model: &mut Sequential) -> usize {
    let mut folded = 0;
    for i in 0..model.len() {
        // Take the child out to let it rewrite itself, then put it back.
        let mut child = model.replace(i, Box::new(Identity));
        folded += child.fold_batch_norms();
        model.replace(i, child);
    }
    let mut i = 0;
    while i + 1 < model.len() {
        let pair = fold_pair(
            model.get(i).expect("in range"),
            model.get(i + 1).expect("in range"),
        );
        if let Some(Ok(layer)) = pair {
            model.replace(i, layer);
            model.replace(i + 1, Box::new(Identity));
            folded += 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{BatchNormConfig, Conv2dConfig, LinearConfig, Sequential};
    use crate::module::Ctx;
    use crate::rng::seeded;
    use crate::tensor::Tensor;

    fn randomise_bn(
        weight: Option<&Parameter>,
        bias: Option<&Parameter>,
        stats: [&crate::Buffer; 2],
        seed: u64,
    ) {
        let mut rng = seeded(seed);
        let c = stats[0].shape()[0];
        if let (Some(w), Some(b)) = (weight, bias) {
            w.set_value(Tensor::rand_uniform(&[c], 0.5, 2.0, &mut rng).to_array());
            b.set_value(Tensor::randn(&[c], 0.0, 1.0, &mut rng).to_array());
        }
        stats[0].set_value(Tensor::randn(&[c], 0.0, 1.0, &mut rng).to_array());
        stats[1].set_value(Tensor::rand_uniform(&[c], 0.2, 3.0, &mut rng).to_array());
    }

    #[test]
    fn folded_conv_equals_conv_then_bn() {
        let mut rng = seeded(0);
        for (bias, affine, groups) in [(true, true, 1), (false, true, 2), (true, false, 1)] {
            let conv = Conv2dConfig::new(4, 6, 3)
                .with_padding(1)
                .with_groups(groups)
                .with_bias(bias)
                .init(&mut rng)
                .unwrap();
            let bn = BatchNormConfig::new(6)
                .with_affine(affine)
                .init_2d()
                .unwrap();
            randomise_bn(
                bn.weight(),
                bn.bias(),
                [bn.running_mean().unwrap(), bn.running_var().unwrap()],
                1,
            );
            let x = Tensor::randn(&[2, 4, 5, 5], 0.0, 1.0, &mut rng);
            let mut ctx = Ctx::eval();
            let want = bn.forward(&conv.forward(&x, &mut ctx), &mut ctx).to_vec();
            let got = fold_conv_bn(&conv, &bn)
                .unwrap()
                .forward(&x, &mut ctx)
                .to_vec();
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn folded_linear_equals_linear_then_bn() {
        let mut rng = seeded(3);
        let lin = LinearConfig::new(5, 4).init(&mut rng).unwrap();
        let bn = BatchNormConfig::new(4).init_1d().unwrap();
        randomise_bn(
            bn.weight(),
            bn.bias(),
            [bn.running_mean().unwrap(), bn.running_var().unwrap()],
            4,
        );
        let x = Tensor::randn(&[3, 5], 0.0, 1.0, &mut rng);
        let mut ctx = Ctx::eval();
        let want = bn.forward(&lin.forward(&x, &mut ctx), &mut ctx).to_vec();
        let got = fold_linear_bn(&lin, &bn)
            .unwrap()
            .forward(&x, &mut ctx)
            .to_vec();
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }

    #[test]
    fn model_pass_folds_linear_bn_and_nested_sequentials() {
        let mut rng = seeded(5);
        let bn1 = BatchNormConfig::new(4).init_1d().unwrap();
        randomise_bn(
            bn1.weight(),
            bn1.bias(),
            [bn1.running_mean().unwrap(), bn1.running_var().unwrap()],
            6,
        );
        let bn2 = BatchNormConfig::new(3).init_2d().unwrap();
        randomise_bn(
            bn2.weight(),
            bn2.bias(),
            [bn2.running_mean().unwrap(), bn2.running_var().unwrap()],
            7,
        );
        let features = Sequential::new()
            .with(
                Conv2dConfig::new(2, 3, 3)
                    .with_padding(1)
                    .init(&mut rng)
                    .unwrap(),
            )
            .with(bn2)
            .with(crate::layers::ReLU);
        let head = Sequential::new()
            .with(LinearConfig::new(3 * 16, 4).init(&mut rng).unwrap())
            .with(bn1);
        let mut model = Sequential::new()
            .with_named("features", features)
            .with(crate::layers::Flatten::default())
            .with_named("head", head);
        let x = Tensor::randn(&[2, 2, 4, 4], 0.0, 1.0, &mut rng);
        let before = model.forward(&x, &mut Ctx::eval()).to_vec();
        assert_eq!(fold_batch_norms(&mut model), 2);
        let after = model.forward(&x, &mut Ctx::eval()).to_vec();
        for (a, b) in after.iter().zip(&before) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
        }
        let names: Vec<String> = model
            .named_parameters()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            [
                "features.0.weight",
                "features.0.bias",
                "head.0.weight",
                "head.0.bias"
            ]
        );
        assert_eq!(fold_batch_norms(&mut model), 0, "nothing left to fold");
    }

    /// A block that keeps its layers in a field (not a `Sequential` child): folded through
    /// its own `Module::fold_batch_norms` when nested in a `Sequential`.
    struct Block(Sequential);

    use crate::module::Entry;

    impl Module for Block {
        fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
            &self.0.forward(x, ctx) + x
        }
        fn visit(&self, prefix: &str, f: &mut dyn FnMut(Entry<'_>)) {
            self.0.visit(&crate::module::join(prefix, "body"), f);
        }
        fn describe(&self) -> String {
            "Block".into()
        }
        fn fold_batch_norms(&mut self) -> usize {
            self.0.fold_batch_norms()
        }
    }

    #[test]
    fn blocks_fold_their_own_pairs() {
        let mut rng = seeded(8);
        let bn = BatchNormConfig::new(3).init_2d().unwrap();
        randomise_bn(
            bn.weight(),
            bn.bias(),
            [bn.running_mean().unwrap(), bn.running_var().unwrap()],
            9,
        );
        let body = Sequential::new()
            .with(
                Conv2dConfig::new(3, 3, 3)
                    .with_padding(1)
                    .init(&mut rng)
                    .unwrap(),
            )
            .with(bn);
        let mut model = Sequential::new().with_named("block", Block(body));
        let x = Tensor::randn(&[2, 3, 4, 4], 0.0, 1.0, &mut rng);
        let before = model.forward(&x, &mut Ctx::eval()).to_vec();
        assert_eq!(fold_batch_norms(&mut model), 1);
        let after = model.forward(&x, &mut Ctx::eval()).to_vec();
        for (a, b) in after.iter().zip(&before) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
        }
        assert!(model.named_buffers().is_empty(), "the BN buffers are gone");
    }

    #[test]
    fn errors_name_the_problem() {
        let mut rng = seeded(0);
        let conv = Conv2dConfig::new(2, 3, 1).init(&mut rng).unwrap();
        let free = BatchNormConfig::new(3)
            .with_track_running_stats(false)
            .init_2d()
            .unwrap();
        assert_eq!(
            fold_conv_bn(&conv, &free).unwrap_err(),
            FoldError::NoRunningStats {
                layer: "BatchNorm2d"
            }
        );
        let wrong = BatchNormConfig::new(4).init_2d().unwrap();
        let e = fold_conv_bn(&conv, &wrong).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot fold BatchNorm2d over 4 features into a layer with 3 outputs"
        );
    }
}
