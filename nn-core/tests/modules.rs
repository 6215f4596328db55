//! Module-level behaviour through the public API: PyTorch-style dotted names of nested models,
//! freezing and unfreezing by name prefix (frozen parameters get no gradient), parameter counts,
//! printing, gradient checks of whole models, and an end-to-end training run.

use nn_core::gradcheck::{GradCheckConfig, check_module_gradients};
use nn_core::layers::{LinearConfig, MaxoutConfig, ReLU, Sequential};
use nn_core::rng::seeded;
use nn_core::{Ctx, Module, Tensor};

fn names(m: &dyn Module) -> Vec<String> {
    m.named_parameters().into_iter().map(|(n, _)| n).collect()
}

/// features = [Linear(2→16), ReLU, Maxout(16→8, k=3)], classifier = Linear(8→3).
fn model(seed: u64) -> Sequential {
    let mut rng = seeded(seed);
    let features = Sequential::new()
        .with(LinearConfig::new(2, 16).init(&mut rng).unwrap())
        .with(ReLU)
        .with(MaxoutConfig::new(16, 8, 3).init(&mut rng).unwrap());
    Sequential::new()
        .with_named("features", features)
        .with_named(
            "classifier",
            LinearConfig::new(8, 3).init(&mut rng).unwrap(),
        )
}

#[test]
fn nested_models_have_pytorch_dotted_names_and_counts() {
    let m = model(0);
    assert_eq!(
        names(&m),
        [
            "features.0.weight",
            "features.0.bias",
            "features.2.weight",
            "features.2.bias",
            "classifier.weight",
            "classifier.bias"
        ]
    );
    let expected = (2 * 16 + 16) + (16 * 24 + 24) + (8 * 3 + 3);
    assert_eq!(m.num_parameters(), expected);
    assert_eq!(m.num_trainable_parameters(), expected);
    let state: Vec<(String, Vec<usize>)> = m
        .state_dict()
        .into_iter()
        .map(|(n, a)| (n, a.shape().to_vec()))
        .collect();
    assert_eq!(state[2], ("features.2.weight".to_string(), vec![24, 16]));
    assert_eq!(
        m.to_string(),
        "Sequential(\n  (features): Sequential(\n    (0): Linear(in_features=2, out_features=16, \
         bias=true)\n    (1): ReLU()\n    (2): Maxout(in_features=16, out_features=8, pieces=3, \
         bias=true)\n  )\n  (classifier): Linear(in_features=8, out_features=3, bias=true)\n)"
    );
}

#[test]
fn freezing_by_prefix_stops_gradients() {
    let m = model(1);
    let x = Tensor::randn(&[4, 2], 0.0, 1.0, &mut seeded(2));
    let run = || {
        m.zero_grad();
        m.forward(&x, &mut Ctx::train(0)).sum_all().backward();
        m.named_parameters()
            .into_iter()
            .map(|(n, p)| (n, p.grad().is_some()))
            .collect::<Vec<_>>()
    };
    assert_eq!(m.freeze("feat"), 0, "prefixes match whole name components");
    assert_eq!(m.freeze("features"), 4);
    assert_eq!(m.num_trainable_parameters(), 8 * 3 + 3);
    let grads = run();
    for (name, has) in &grads {
        assert_eq!(*has, name.starts_with("classifier"), "{name}");
    }
    assert_eq!(m.unfreeze("features.2"), 2);
    for (name, has) in run() {
        assert_eq!(has, !name.starts_with("features.0"), "{name}");
    }
    // Frozen parameters are skipped by a plain SGD loop and keep their value.
    let w0 = m.named_parameters()[0].1.value().to_owned();
    for (_, p) in m.named_parameters() {
        p.update(|mut w, g| {
            if let Some(g) = g {
                w.scaled_add(-0.1, &g)
            }
        });
    }
    assert_eq!(m.named_parameters()[0].1.value(), w0);
    assert_eq!(m.unfreeze(""), 6);
    assert!(run().iter().all(|(_, has)| *has));
}

#[test]
fn whole_model_gradients_pass_the_check() {
    let m = model(3);
    let x = Tensor::randn(&[6, 2], 0.0, 1.0, &mut seeded(4));
    let w = Tensor::randn(&[6, 3], 0.0, 1.0, &mut seeded(5));
    let report = check_module_gradients(
        &m,
        || (&m.forward(&x, &mut Ctx::eval()) * &w).sum_all(),
        &GradCheckConfig::default(),
    );
    assert!(report.passed(), "{report}");
    assert_eq!(report.tensors.len(), 6);
    // Frozen parameters are left out of the check.
    m.freeze("classifier");
    let report = check_module_gradients(
        &m,
        || (&m.forward(&x, &mut Ctx::eval()) * &w).sum_all(),
        &GradCheckConfig::default(),
    );
    assert_eq!(report.tensors.len(), 4);
}

#[test]
fn deterministic_layers_agree_in_train_and_eval_mode() {
    let m = model(6);
    let x = Tensor::randn(&[5, 2], 0.0, 1.0, &mut seeded(7));
    assert_eq!(
        m.forward(&x, &mut Ctx::train(1)).to_vec(),
        m.forward(&x, &mut Ctx::eval()).to_vec()
    );
}

/// CS231n's spiral data set: `k` interleaved spiral arms of `n` points each, with angular noise.
fn spiral(n: usize, k: usize, seed: u64) -> (Tensor, Vec<usize>) {
    let noise = Tensor::randn(&[n * k], 0.0, 0.2, &mut seeded(seed)).to_vec();
    let mut xs = Vec::with_capacity(2 * n * k);
    let mut labels = Vec::with_capacity(n * k);
    for j in 0..k {
        for i in 0..n {
            let r = i as f32 / (n - 1) as f32;
            let t = (j as f32 + r) * 4.0 + noise[j * n + i];
            xs.extend([r * t.sin(), r * t.cos()]);
            labels.push(j);
        }
    }
    (Tensor::from_vec(xs, &[n * k, 2]), labels)
}

fn accuracy(model: &Sequential, x: &Tensor, labels: &[usize]) -> f32 {
    let pred = nn_core::with_no_grad(|| model.forward(x, &mut Ctx::eval())).argmax(1, false);
    let hits = pred.iter().zip(labels).filter(|(p, l)| p == l).count();
    hits as f32 / labels.len() as f32
}

/// End to end through the public API: a Kaiming-initialised MLP learns the (non-linearly
/// separable) spiral data set with softmax cross-entropy and SGD with momentum written against
/// `Parameter::update`, and generalises to a fresh sample of the same distribution.
#[test]
fn mlp_learns_the_spiral_data_set() {
    use nn_core::init::{Init, Nonlinearity};
    let (x, labels) = spiral(100, 3, 0);
    let (x_test, labels_test) = spiral(100, 3, 1);
    let mut rng = seeded(42);
    let layer = |i, o, rng: &mut nn_core::rng::Rng| {
        LinearConfig::new(i, o)
            .with_weight_init(Init::kaiming_normal(Nonlinearity::Relu))
            .with_bias_init(Init::Zeros)
            .init(rng)
            .unwrap()
    };
    let model = Sequential::new()
        .with(layer(2, 64, &mut rng))
        .with(ReLU)
        .with(layer(64, 64, &mut rng))
        .with(ReLU)
        .with(layer(64, 3, &mut rng));
    let params = model.named_parameters();
    let mut velocity: Vec<nn_core::Array> = params
        .iter()
        .map(|(_, p)| nn_core::Array::zeros(p.shape()))
        .collect();
    let initial = nn_core::loss::cross_entropy(&model.forward(&x, &mut Ctx::eval()), &labels);
    // Softmax of small logits: the initial loss is near log 3 (the lecture's sanity check).
    assert!(
        (initial.item() - 3f32.ln()).abs() < 0.5,
        "{}",
        initial.item()
    );
    drop(initial);
    let (lr, momentum) = (0.1, 0.9);
    for _ in 0..500 {
        let loss = nn_core::loss::cross_entropy(&model.forward(&x, &mut Ctx::train(0)), &labels);
        loss.backward();
        for ((_, p), v) in params.iter().zip(&mut velocity) {
            p.update(|mut w, g| {
                let g = g.expect("gradient");
                v.zip_mut_with(&g, |v, &g| *v = momentum * *v + g);
                w.scaled_add(-lr, v);
            });
            p.zero_grad();
        }
    }
    let train = accuracy(&model, &x, &labels);
    let test = accuracy(&model, &x_test, &labels_test);
    assert!(train >= 0.97, "train accuracy {train}");
    assert!(test >= 0.93, "test accuracy {test}");
}
