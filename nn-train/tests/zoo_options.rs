//! The zoo's model options from the job file: defaults unchanged (same parameters, names and
//! initial values as before the options existed), validation errors that name the field,
//! parameter counts against torchvision's, and what each option does to the built model.

use nn_core::init::Init;
use nn_core::rng::seeded;
use nn_core::{Ctx, Module, Tensor};
use nn_train::ModelConfig;
use nn_train::zoo::NormConfig;

fn model(table: &str) -> ModelConfig {
    toml::from_str(table).unwrap_or_else(|e| panic!("{table}: {e}"))
}

fn error(table: &str, input: [usize; 3]) -> String {
    match toml::from_str::<ModelConfig>(table) {
        Err(e) => e.to_string(),
        Ok(c) => c.estimate(input, 10).unwrap_err().to_string(),
    }
}

/// Σ v and Σ v² over the state dict, and the names with shapes.
fn fingerprint(m: &dyn Module) -> (f64, f64, Vec<String>) {
    let (mut s, mut q, mut names) = (0.0, 0.0, Vec::new());
    for (n, a) in m.state_dict() {
        names.push(format!("{n}{:?}", a.shape()));
        for &v in a.iter() {
            s += v as f64;
            q += (v as f64) * (v as f64);
        }
    }
    (s, q, names)
}

/// The default models are the ones earlier versions built: same names, shapes and initial
/// values for the same seed (sums recorded before the options were added).
#[test]
fn defaults_keep_the_models_and_their_initial_values() {
    let cases = [
        ("", [1, 8, 8], -1.287324047e1, 1.752988495e2, 6),
        (
            "kind = \"mlp\"\nhidden = [32, 16]\nactivation = { kind = \"tanh\" }\nbatch_norm = true\ndropout = 0.2",
            [1, 8, 8],
            9.916562169e1,
            1.158980285e2,
            16,
        ),
        (
            "kind = \"cnn\"",
            [1, 8, 8],
            1.810580477e2,
            2.271326043e2,
            14,
        ),
        (
            "kind = \"cnn\"\nchannels = [8, 16, 16]\ndropout = 0.3",
            [3, 16, 16],
            8.158392545e1,
            9.648633774e1,
            20,
        ),
        (
            "kind = \"resnet\"\nblocks_per_stage = 1\nwidth = 16",
            [3, 32, 32],
            6.481504670e2,
            7.860585801e2,
            56,
        ),
    ];
    for (table, input, sum, sq, entries) in cases {
        let config: ModelConfig = if table.is_empty() {
            ModelConfig::default()
        } else {
            model(table)
        };
        let m = config.build(input, 10, &mut seeded(7)).unwrap();
        let (s, q, names) = fingerprint(m.as_ref());
        assert_eq!(names.len(), entries, "{table}: {names:?}");
        assert!(
            (s - sum).abs() < 1e-6 * sum.abs().max(1.0),
            "{table}: sum {s} vs {sum}"
        );
        assert!((q - sq).abs() < 1e-6 * sq, "{table}: sq {q} vs {sq}");
    }
    // The names of today's checkpoints.
    let cnn = model("kind = \"cnn\"")
        .build([1, 8, 8], 10, &mut seeded(0))
        .unwrap();
    let names: Vec<String> = cnn.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names[0], "0.weight");
    assert!(names.contains(&"10.weight".to_string()), "{names:?}");
}

#[test]
fn invalid_options_name_the_field() {
    let cases = [
        (
            "kind = \"cnn\"\nnorm = { kind = \"group\", groups = 5 }",
            "model.norm.groups",
        ),
        (
            "kind = \"cnn\"\nnorm = { kind = \"group\", groups = 0 }",
            "model.norm.groups",
        ),
        (
            "kind = \"mlp\"\nnorm = { kind = \"instance\" }",
            "model.norm",
        ),
        (
            "kind = \"mlp\"\nbatch_norm = true\nnorm = { kind = \"layer\" }",
            "model.batch_norm",
        ),
        ("kind = \"cnn\"\ndropout2d = 1.0", "model.dropout2d"),
        ("kind = \"mlp\"\ndropout = -0.1", "model.dropout"),
        (
            "kind = \"mlp\"\ndropconnect = { p = 1.0 }",
            "model.dropconnect.p",
        ),
        (
            "kind = \"cnn\"\ndropconnect = { p = 0.5 }",
            "model.dropconnect.layers",
        ),
        (
            "kind = \"mlp\"\ndropconnect = { layers = \"conv\" }",
            "model.dropconnect.layers",
        ),
        (
            "kind = \"cnn\"\ndropconnect = { layers = \"conv\", per_example = true }",
            "model.dropconnect.per_example",
        ),
        (
            "kind = \"resnet\"\nstochastic_depth = { last_survival = 1.5 }",
            "model.stochastic_depth.last_survival",
        ),
        (
            "kind = \"cnn\"\npool = { kind = \"fractional\", ratio = 1.2 }",
            "model.pool.ratio",
        ),
        (
            "kind = \"cnn\"\npool = { kind = \"fractional\", test_draws = 0 }",
            "model.pool.test_draws",
        ),
        (
            "kind = \"mlp\"\nactivation = { kind = \"maxout\", pieces = 0 }",
            "model.activation",
        ),
        (
            "kind = \"mlp\"\ninit = { kind = \"small_random\", std = -1.0 }",
            "model.init",
        ),
        ("kind = \"vgg\"\ndepth = 12", "model.depth"),
        ("kind = \"vgg\"\nhidden = 0", "model.hidden"),
        ("kind = \"resnet18\"\nwidth = 0", "model.width"),
        // Options a model does not have are unknown fields.
        ("kind = \"mlp\"\nstochastic_depth = {}", "stochastic_depth"),
        ("kind = \"resnet18\"\npool = { kind = \"max\" }", "pool"),
        (
            "kind = \"cnn\"\nnorm = { kind = \"batchnorm\" }",
            "batchnorm",
        ),
    ];
    for (table, field) in cases {
        let e = error(table, [3, 32, 32]);
        assert!(e.contains(field), "{table:?}: {e}");
    }
    // Shapes: VGG's five floor-mode pools need 32 px; instance norm of a 1×1 map.
    let e = error("kind = \"vgg\"", [3, 28, 28]);
    assert!(e.contains("model.ceil_mode") && e.contains("28×28"), "{e}");
    assert!(
        model("kind = \"vgg\"\nceil_mode = true\nwidth = 4\nhidden = 8")
            .estimate([3, 28, 28], 10)
            .is_ok()
    );
    let e = error(
        "kind = \"resnet18\"\nnorm = { kind = \"instance\" }",
        [3, 28, 28],
    );
    assert!(e.contains("model.norm") && e.contains("1×1"), "{e}");
}

/// Parameter counts at ImageNet size (1000 classes, 224 px) equal torchvision's — computed by the
/// estimate, which needs no memory for them.
#[test]
fn parameter_counts_match_torchvision() {
    let cases = [
        ("kind = \"resnet18\"", 11_689_512),
        ("kind = \"resnet34\"", 21_797_672),
        ("kind = \"vgg\"", 132_863_336),
        ("kind = \"vgg\"\nnorm = { kind = \"batch\" }", 132_868_840),
        ("kind = \"vgg\"\ndepth = 13", 133_047_848),
        ("kind = \"vgg\"\ndepth = 16", 138_357_544),
        (
            "kind = \"vgg\"\ndepth = 19\nnorm = { kind = \"batch\" }",
            143_678_248,
        ),
    ];
    for (table, torchvision) in cases {
        let e = model(table).estimate([3, 224, 224], 1000).unwrap();
        assert_eq!(e.parameters, torchvision, "{table}");
        assert_eq!(e.output, [1000]);
    }
    // ResNet-18 at 224 px: 112 → 56 after the stem, 7×7 before the pool.
    let e = model("kind = \"resnet18\"")
        .estimate([3, 224, 224], 1000)
        .unwrap();
    let l4 = e
        .layers
        .iter()
        .rfind(|l| l.name.starts_with("layer4"))
        .unwrap();
    assert_eq!(l4.output, [512, 7, 7]);
    // Training ResNet-18 at batch 32 needs GiBs; the estimate says so before anything is built.
    assert!(e.training_bytes(32, 1) > 1 << 30);
}

#[test]
fn options_change_the_built_model() {
    let x = Tensor::randn(&[4, 1, 8, 8], 0.0, 1.0, &mut seeded(1));
    // Maxout k = 3: the hidden Linear has 3× the rows.
    let m = model("kind = \"mlp\"\nhidden = [16]\nactivation = { kind = \"maxout\", pieces = 3 }")
        .build([1, 8, 8], 10, &mut seeded(0))
        .unwrap();
    assert_eq!(m.named_parameters()[0].1.shape(), [48, 64]);
    assert_eq!(m.forward(&x, &mut Ctx::eval()).shape(), &[4, 10]);
    // An explicit init: weights from it, biases zero.
    let m = ModelConfig::mlp(vec![256])
        .with_init(Init::SmallRandom { std: 0.05 })
        .build([1, 8, 8], 10, &mut seeded(0))
        .unwrap();
    let w = m.named_parameters()[0].1.value();
    let std = (w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32).sqrt();
    assert!((std - 0.05).abs() < 0.003, "{std}");
    assert!(m.named_parameters()[1].1.value().iter().all(|&b| b == 0.0));
    // Group norm: weights and biases per channel, no running statistics.
    let m = ModelConfig::cnn(vec![8])
        .with_norm(NormConfig::Group { groups: 4 })
        .build([1, 8, 8], 10, &mut seeded(0))
        .unwrap();
    assert!(m.named_buffers().is_empty());
    assert_eq!(m.named_parameters()[1].0, "1.weight");
    // Dropout is active in training only.
    let m = ModelConfig::mlp(vec![32])
        .with_dropout(0.5)
        .build([1, 8, 8], 10, &mut seeded(0))
        .unwrap();
    let a = m.forward(&x, &mut Ctx::eval()).to_vec();
    assert_eq!(a, m.forward(&x, &mut Ctx::eval()).to_vec());
    assert_ne!(a, m.forward(&x, &mut Ctx::train(3)).to_vec());
    // DropConnect on the convolutions: training passes differ, evaluation is deterministic.
    let m = model("kind = \"cnn\"\nchannels = [4]\ndropconnect = { p = 0.5, layers = \"conv\" }")
        .build([1, 8, 8], 10, &mut seeded(0))
        .unwrap();
    let t1 = m.forward(&x, &mut Ctx::train(1)).to_vec();
    assert_ne!(t1, m.forward(&x, &mut Ctx::train(2)).to_vec());
    assert_eq!(t1, m.forward(&x, &mut Ctx::train(1)).to_vec());
    let e1 = m.forward(&x, &mut Ctx::eval()).to_vec();
    assert_eq!(e1, m.forward(&x, &mut Ctx::eval()).to_vec());
    // zero_init_residual zeroes every block's last BatchNorm γ.
    let m = model("kind = \"resnet18\"\nwidth = 2\nzero_init_residual = true")
        .build([3, 16, 16], 10, &mut seeded(0))
        .unwrap();
    let bn2: Vec<_> = m
        .named_parameters()
        .into_iter()
        .filter(|(n, _)| n.ends_with("bn2.weight"))
        .collect();
    assert_eq!(bn2.len(), 8);
    assert!(bn2.iter().all(|(_, p)| p.value().iter().all(|&v| v == 0.0)));
}

/// Stochastic depth: in training a block's branch is dropped for some samples (the output
/// changes between passes), in evaluation every block is used (deterministic), and the survival
/// probabilities decay linearly to p_L (printed by the blocks).
#[test]
fn stochastic_depth_decays_linearly_to_the_last_survival() {
    let m = model(
        "kind = \"resnet\"\nblocks_per_stage = 2\nwidth = 4\nstochastic_depth = { last_survival = 0.5 }",
    )
    .build([3, 8, 8], 10, &mut seeded(0))
    .unwrap();
    let mut text = String::new();
    if let Some(seq) = m
        .as_any()
        .and_then(|a| a.downcast_ref::<nn_core::layers::Sequential>())
    {
        for (_, layer) in seq.iter() {
            if let Some(s) = layer
                .as_any()
                .and_then(|a| a.downcast_ref::<nn_core::layers::Sequential>())
            {
                for (_, b) in s.iter() {
                    text.push_str(&b.describe());
                    text.push('\n');
                }
            }
        }
    }
    // L = 6 blocks: pₗ = 1 − l/6 · 0.5.
    for p in ["0.917", "0.833", "0.750", "0.667", "0.583", "0.500"] {
        assert!(text.contains(&format!("survival {p}")), "{p} in {text}");
    }
    let x = Tensor::randn(&[8, 3, 8, 8], 0.0, 1.0, &mut seeded(1));
    let e = m.forward(&x, &mut Ctx::eval()).to_vec();
    assert_eq!(e, m.forward(&x, &mut Ctx::eval()).to_vec());
    assert_ne!(
        m.forward(&x, &mut Ctx::train(1)).to_vec(),
        m.forward(&x, &mut Ctx::train(2)).to_vec()
    );
}

/// Fractional max pooling with K test draws: evaluation is the average of K pooling draws
/// (so it differs from a single draw), deterministic, and training draws new regions.
#[test]
fn fractional_pooling_averages_test_draws() {
    let table = |k: usize| {
        format!(
            "kind = \"cnn\"\nchannels = [8, 8, 8]\npool = {{ kind = \"fractional\", ratio = 0.7071, test_draws = {k} }}"
        )
    };
    let one = model(&table(1))
        .build([1, 8, 8], 10, &mut seeded(0))
        .unwrap();
    let four = model(&table(4))
        .build([1, 8, 8], 10, &mut seeded(0))
        .unwrap();
    let names = |m: &dyn Module| -> Vec<String> {
        m.named_parameters().into_iter().map(|(n, _)| n).collect()
    };
    assert_eq!(names(one.as_ref()), names(four.as_ref()));
    let e = model(&table(4)).estimate([1, 8, 8], 10).unwrap();
    let pools: Vec<_> = e
        .layers
        .iter()
        .filter(|l| l.layer.starts_with("Fractional"))
        .collect();
    assert_eq!(
        pools.iter().map(|l| l.output[1]).collect::<Vec<_>>(),
        [5, 3, 2]
    );
    let x = Tensor::randn(&[3, 1, 8, 8], 0.0, 1.0, &mut seeded(2));
    let p1 = one.forward(&x, &mut Ctx::eval()).softmax(1).to_vec();
    let p4 = four.forward(&x, &mut Ctx::eval()).exp().to_vec();
    assert_ne!(p1, p4);
    // Averaged probabilities sum to 1 per row.
    for row in p4.chunks(10) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
    assert_eq!(p4, four.forward(&x, &mut Ctx::eval()).exp().to_vec());
    assert_ne!(
        four.forward(&x, &mut Ctx::train(1)).to_vec(),
        four.forward(&x, &mut Ctx::train(2)).to_vec()
    );
}

/// `nn-train summary` prints the layer table and the estimate, for the job's data or a given
/// input shape, and names the field of a shape that cannot work.
#[test]
fn summary_subcommand_prints_layers_and_memory() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("job.toml");
    std::fs::write(&job, "[model]\nkind = \"resnet18\"\n").unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_nn-train"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[
        "summary",
        "--config",
        job.to_str().unwrap(),
        "--input",
        "3,224,224",
        "--classes",
        "1000",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("layer4.1.conv2") && text.contains("[512, 7, 7]"),
        "{text}"
    );
    assert!(text.contains("parameters 11689512"), "{text}");
    assert!(text.contains("estimated memory"), "{text}");
    // The digits (8×8) through the default job: the data decides the input.
    let out = run(&["summary"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("1×8×8"), "{text}");
    std::fs::write(&job, "[model]\nkind = \"cnn\"\nchannels = [8, 8, 8, 8]\n").unwrap();
    let out = run(&["summary", "--config", job.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("model.channels"),
        "{err}"
    );
}
