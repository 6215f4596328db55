//! `ModelConfig::estimate` agrees with the models `ModelConfig::build` makes: the same parameter
//! count and output shape, and an activation count close to what a real training forward pass
//! records (`Tensor::graph_size`); shapes that cannot work are rejected by both, naming the field.

use nn_core::rng::seeded;
use nn_core::{Ctx, Tensor};
use nn_train::ModelConfig;
use nn_train::zoo::MemoryFormat;
use proptest::prelude::*;

/// Builds `config`, runs a training forward pass on `n` random images and compares with the
/// estimate. The model is built row-major: the estimate counts the layers' values, and a
/// channels-last model's graph also holds the layout conversions (a copy of the input, and of
/// activations around layers without a channels-last kernel: up to ~15 % more on tiny
/// 1-channel models), which the estimate leaves out.
fn check(config: &ModelConfig, input: [usize; 3], classes: usize, n: usize) {
    let e = config.estimate(input, classes).unwrap();
    let model = config
        .build_with_format(input, classes, MemoryFormat::Contiguous, &mut seeded(0))
        .unwrap();
    assert_eq!(e.parameters, model.num_parameters(), "{config:?}");
    let buffers: usize = model
        .named_buffers()
        .iter()
        .map(|(_, b)| b.value().len())
        .sum();
    assert_eq!(e.buffers, buffers, "{config:?}");
    let x = Tensor::randn(&[n, input[0], input[1], input[2]], 0.0, 1.0, &mut seeded(1));
    let y = model.forward(&x, &mut Ctx::train(2));
    assert_eq!(y.shape()[1..], e.output[..], "{config:?}");
    let graph = y.graph_size().values.saturating_sub(e.per_step_values) as f64 / n as f64;
    let est = e.activations_per_sample as f64;
    // Exact today; fused ops (e.g. Linear + ReLU in one node) would hold fewer values.
    assert!(
        graph <= est * 1.05 + 1.0 && graph >= est * 0.6,
        "{config:?} on {input:?}: estimate {est} values per sample, graph {graph}"
    );
}

#[test]
fn default_models_match_their_estimates() {
    check(&ModelConfig::default(), [1, 8, 8], 10, 4);
    check(
        &ModelConfig::cnn(vec![8, 16, 16]).with_dropout(0.5),
        [3, 8, 8],
        10,
        3,
    );
    check(&ModelConfig::resnet(1, 4), [3, 12, 10], 7, 2);
}

#[test]
fn a_cnn_with_two_convolutions_per_stage_matches_its_estimate() {
    let config: ModelConfig =
        toml::from_str("kind = \"cnn\"\nchannels = [4, 8]\nconvs_per_stage = 2").unwrap();
    check(&config, [1, 8, 8], 10, 3);
    // Conv(1→4), Conv(4→4), Conv(4→8), Conv(8→8), no biases; BN γ, β per conv; Linear(8→10).
    let convs = 9 * (4 + 4 * 4 + 4 * 8 + 8 * 8);
    let bn = 2 * (4 + 4 + 8 + 8);
    assert_eq!(
        config.estimate([1, 8, 8], 10).unwrap().parameters,
        convs + bn + 8 * 10 + 10
    );
    let zero: ModelConfig = toml::from_str("kind = \"cnn\"\nconvs_per_stage = 0").unwrap();
    let err = zero.estimate([1, 8, 8], 10).unwrap_err().to_string();
    assert!(err.contains("model.convs_per_stage"), "{err}");
}

#[test]
fn too_many_cnn_stages_are_rejected_before_building() {
    let config = ModelConfig::cnn(vec![4; 6]);
    // 28 → 14 → 7 → 4 → 2 → 1: five stages.
    let err = config.estimate([1, 28, 28], 10).unwrap_err().to_string();
    assert!(
        err.contains("model.channels") && err.contains("at most 5 stages for 28×28"),
        "{err}"
    );
    assert!(config.build([1, 28, 28], 10, &mut seeded(0)).is_err());
    let five = ModelConfig::cnn(vec![4; 5]);
    assert_eq!(five.estimate([1, 28, 28], 10).unwrap().output, [10]);
    assert!(five.estimate([1, 28, 0], 10).is_err());
    let err = five.estimate([1, 28, 28], 0).unwrap_err().to_string();
    assert!(err.contains("classes"), "{err}");
}

#[test]
fn resnet_estimate_scales_with_the_input() {
    let r = ModelConfig::resnet(3, 16);
    let small = r.estimate([3, 16, 16], 10).unwrap();
    let big = r.estimate([3, 32, 32], 10).unwrap();
    assert_eq!(small.parameters, big.parameters);
    assert_eq!(small.parameters, 272_474); // ResNet-20, option-B shortcuts (PyTorch's count)
    // Every layer before the global pool has 4× the values at twice the side.
    let before_pool = |e: &nn_train::ModelEstimate| -> usize {
        e.layers
            .iter()
            .take_while(|l| l.name != "avgpool")
            .map(|l| l.activations)
            .sum()
    };
    assert_eq!(before_pool(&big), 4 * before_pool(&small));
    assert!(big.training_bytes(128, 1) > small.training_bytes(128, 1));
}

/// A `[model]` table with random options (some combinations are invalid on purpose).
fn model_strategy() -> impl Strategy<Value = String> {
    let kind = prop_oneof![
        (prop::collection::vec(prop_oneof![Just(2usize), Just(4)], 0..3))
            .prop_map(|h| format!("kind = \"mlp\"\nhidden = {h:?}")),
        (prop::collection::vec(prop_oneof![Just(2usize), Just(4)], 1..3))
            .prop_map(|c| format!("kind = \"cnn\"\nchannels = {c:?}")),
        (1usize..3).prop_map(|n| format!("kind = \"resnet\"\nblocks_per_stage = {n}\nwidth = 2")),
        prop_oneof![Just("imagenet"), Just("cifar")]
            .prop_map(|s| format!("kind = \"resnet18\"\nwidth = 2\nstem = \"{s}\"")),
        Just("kind = \"vgg\"\nwidth = 2\nhidden = 4\npool_size = 1\nceil_mode = true".to_string()),
    ];
    let activation = prop_oneof![
        Just("{ kind = \"relu\" }"),
        Just("{ kind = \"tanh\" }"),
        Just("{ kind = \"leaky_relu\", negative_slope = 0.2 }"),
        Just("{ kind = \"maxout\", pieces = 2 }"),
        Just("{ kind = \"maxout\", pieces = 3 }"),
    ];
    let norm = prop_oneof![
        Just(""),
        Just("norm = { kind = \"batch\" }"),
        Just("norm = { kind = \"layer\" }"),
        Just("norm = { kind = \"group\", groups = 2 }"),
        Just("norm = { kind = \"instance\" }"),
        Just("norm = { kind = \"none\" }"),
    ];
    let extras = prop_oneof![
        Just(""),
        Just("init = { kind = \"xavier_uniform\" }"),
        Just("dropout = 0.3"),
        Just("dropout2d = 0.2"),
        Just("dropconnect = { p = 0.3, layers = \"all\", classifier = true }"),
        Just("dropconnect = { p = 0.3 }"),
        Just("stochastic_depth = { last_survival = 0.5 }"),
        Just("pool = { kind = \"fractional\", ratio = 0.6, test_draws = 2 }"),
    ];
    (kind, activation, norm, extras)
        .prop_map(|(k, a, n, e)| format!("{k}\nactivation = {a}\n{n}\n{e}\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Estimate and model agree for random models, options and input shapes; an estimate that
    /// fails means the build fails too (an option a model does not have fails to parse).
    #[test]
    fn estimates_match_built_models(
        table in model_strategy(),
        c in 1usize..4,
        h in 2usize..12,
        w in 2usize..12,
        classes in 1usize..6,
    ) {
        let Ok(config) = toml::from_str::<ModelConfig>(&table) else {
            return Ok(());
        };
        let input = [c, h, w];
        match config.estimate(input, classes) {
            Ok(_) => check(&config, input, classes, 2),
            Err(e) => {
                prop_assert!(e.to_string().contains("model."), "{e}");
                prop_assert!(config.build(input, classes, &mut seeded(0)).is_err());
            }
        }
    }
}
