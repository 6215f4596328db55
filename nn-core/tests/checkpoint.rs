//! Checkpoints: PyTorch state dicts (fixtures from `fixtures/gen_checkpoint.py`) load into the
//! equivalent nn-core models and reproduce PyTorch's outputs; save → load round trips; typed
//! errors for bad files and inexact matches.

use std::path::{Path, PathBuf};

use ndarray::IxDyn;
use nn_core::checkpoint::{CheckpointError, LoadMode, load, read_file, save, write_file};
use nn_core::layers::{
    BatchNormConfig, Conv2dConfig, Flatten, LinearConfig, MaxPool2dConfig, ReLU, Sequential,
};
use nn_core::rng::seeded;
use nn_core::{Array, Buffer, Ctx, Entry, Module, Parameter, Tensor};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn mlp(seed: u64, hidden: usize, out: usize) -> Sequential {
    let mut rng = seeded(seed);
    Sequential::new()
        .with(LinearConfig::new(4, hidden).init(&mut rng).unwrap())
        .with(ReLU)
        .with(LinearConfig::new(hidden, out).init(&mut rng).unwrap())
}

fn pytorch_io() -> (Tensor, Vec<f32>) {
    let io = json("mlp_io.json");
    let x = Tensor::from_vec(floats(&io["input"]), &[5, 4]);
    (x, floats(&io["output"]))
}

#[test]
fn pytorch_mlp_state_dict_loads_and_reproduces_pytorch_outputs() {
    let model = mlp(123, 8, 3);
    let (x, expected) = pytorch_io();
    let before = model.forward(&x, &mut Ctx::eval()).to_vec();
    let report = load(&model, fixture("mlp.safetensors"), LoadMode::Strict).unwrap();
    assert!(report.is_exact(), "{report}");
    assert_eq!(report.loaded, ["0.weight", "0.bias", "2.weight", "2.bias"]);
    let y = model.forward(&x, &mut Ctx::eval()).to_vec();
    for (a, b) in y.iter().zip(&expected) {
        assert!((a - b).abs() < 1e-5, "{y:?} vs {expected:?}");
    }
    assert!(
        before
            .iter()
            .zip(&expected)
            .any(|(a, b)| (a - b).abs() > 1e-2)
    );
    // The names and shapes PyTorch wrote are exactly ours.
    let io = json("mlp_io.json");
    for (name, value) in model.state_dict() {
        let shape: Vec<usize> = io["state"][&name]
            .as_array()
            .unwrap_or_else(|| panic!("PyTorch has no {name}"))
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(shape, value.shape(), "{name}");
    }
}

#[test]
fn nested_pytorch_model_loads_by_dotted_names() {
    // nn.Sequential(OrderedDict(features=Sequential(Linear(4, 8), ReLU()),
    //                           classifier=Sequential(Flatten(), Linear(24, 3))))
    let mut rng = seeded(9);
    let model = Sequential::new()
        .with_named(
            "features",
            Sequential::new()
                .with(LinearConfig::new(4, 8).init(&mut rng).unwrap())
                .with(ReLU),
        )
        .with_named(
            "classifier",
            Sequential::new()
                .with(Flatten::default())
                .with(LinearConfig::new(24, 3).init(&mut rng).unwrap()),
        );
    let io = json("nested_io.json");
    let torch_names: Vec<String> = io["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    let ours: Vec<String> = model.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(ours, torch_names);
    let report = load(&model, fixture("nested.safetensors"), LoadMode::Strict).unwrap();
    assert_eq!(report.loaded, torch_names);
    let x = Tensor::from_vec(floats(&io["input"]), &[2, 3, 4]);
    let y = model.forward(&x, &mut Ctx::eval());
    assert_eq!(y.shape(), &[2, 3]);
    for (a, b) in y.to_vec().iter().zip(floats(&io["output"])) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
}

#[test]
fn pytorch_cnn_with_batch_norm_loads_and_reproduces_eval_outputs() {
    // Conv2d(3, 4, 3, padding=1), BatchNorm2d(4), ReLU, MaxPool2d(2), Flatten, Linear(16, 3):
    // conv weights [out, in, kh, kw] and BatchNorm's running statistics and int64
    // num_batches_tracked, as PyTorch saves them.
    let mut rng = seeded(11);
    let model = Sequential::new()
        .with(
            Conv2dConfig::new(3, 4, 3)
                .with_padding(1)
                .init(&mut rng)
                .unwrap(),
        )
        .with(BatchNormConfig::new(4).init_2d().unwrap())
        .with(ReLU)
        .with(MaxPool2dConfig::new(2).init().unwrap())
        .with(Flatten::default())
        .with(LinearConfig::new(16, 3).init(&mut rng).unwrap());
    let io = json("cnn_io.json");
    let names: Vec<String> = model.state_dict().into_iter().map(|(n, _)| n).collect();
    let torch_names: Vec<&str> = io["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(names, torch_names);
    load(&model, fixture("cnn.safetensors"), LoadMode::Strict).unwrap();
    let x = Tensor::from_vec(floats(&io["input"]), &[2, 3, 4, 4]);
    let y = model.forward(&x, &mut Ctx::eval());
    assert_eq!(y.shape(), &[2, 3]);
    for (a, b) in y.to_vec().iter().zip(floats(&io["output"])) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
}

#[test]
fn save_then_load_round_trips_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let (a, b) = (mlp(1, 8, 3), mlp(2, 8, 3));
    save(&a, &path).unwrap();
    save(&a, &path).unwrap(); // overwriting replaces the file
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "no temporary file is left behind");
    load(&b, &path, LoadMode::Strict).unwrap();
    assert_eq!(a.state_dict(), b.state_dict());
    let (x, _) = pytorch_io();
    assert_eq!(
        a.forward(&x, &mut Ctx::eval()).to_vec(),
        b.forward(&x, &mut Ctx::eval()).to_vec()
    );
    // And the file is a plain safetensors state dict.
    let raw = read_file(&path).unwrap();
    let names: Vec<&str> = raw.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["0.bias", "0.weight", "2.bias", "2.weight"]);
}

#[test]
fn truncated_garbage_empty_and_missing_files_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model = mlp(0, 8, 3);
    let original = model.state_dict();
    let bytes = std::fs::read(fixture("mlp.safetensors")).unwrap();
    let cases: [(&str, Vec<u8>); 4] = [
        ("truncated.safetensors", bytes[..bytes.len() - 10].to_vec()),
        ("header_cut.safetensors", bytes[..20].to_vec()),
        (
            "garbage.safetensors",
            (0..500u32).map(|i| (i * 37 % 251) as u8).collect(),
        ),
        ("empty.safetensors", Vec::new()),
    ];
    for (name, content) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let e = load(&model, &path, LoadMode::Lenient).unwrap_err();
        assert!(matches!(e, CheckpointError::Format { .. }), "{name}: {e}");
        assert!(e.to_string().contains(name), "{e}");
    }
    let e = load(
        &model,
        dir.path().join("absent.safetensors"),
        LoadMode::Strict,
    )
    .unwrap_err();
    assert!(matches!(e, CheckpointError::Read { .. }) && e.to_string().contains("absent"));
    assert_eq!(
        model.state_dict(),
        original,
        "a failed load changes nothing"
    );
    // A failed rename (the destination is a directory) removes the temporary file.
    let sub = tempfile::tempdir().unwrap();
    std::fs::create_dir(sub.path().join("taken.safetensors")).unwrap();
    let e = save(&model, sub.path().join("taken.safetensors")).unwrap_err();
    assert!(matches!(e, CheckpointError::Write { .. }), "{e}");
    assert_eq!(
        std::fs::read_dir(sub.path()).unwrap().count(),
        1,
        "temporary file left"
    );
    let e = save(&model, dir.path().join("no/such/dir/m.safetensors")).unwrap_err();
    assert!(matches!(e, CheckpointError::Write { .. }), "{e}");
    assert!(e.to_string().contains("m.safetensors"), "{e}");
}

#[test]
fn mismatches_are_reported_by_name_and_strict_mode_changes_nothing() {
    // A new 5-class head: the PyTorch file's 2.* tensors are mis-shaped.
    let model = mlp(0, 8, 5);
    let original = model.state_dict();
    let e = load(&model, fixture("mlp.safetensors"), LoadMode::Strict).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("mlp.safetensors"), "{msg}");
    assert!(
        msg.contains("2.weight (module [5, 8], file [3, 8])"),
        "{msg}"
    );
    let CheckpointError::Strict { report, .. } = e else {
        panic!("strict error expected")
    };
    assert_eq!(report.mismatched.len(), 2);
    assert_eq!(model.state_dict(), original);
    // Lenient: the backbone loads, the head keeps its initialisation (fine-tuning).
    let report = load(&model, fixture("mlp.safetensors"), LoadMode::Lenient).unwrap();
    assert_eq!(report.loaded, ["0.weight", "0.bias"]);
    let names: Vec<&str> = report.mismatched.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["2.weight", "2.bias"]);
    assert_eq!(model.state_dict()[2], original[2]);
    assert_ne!(model.state_dict()[0], original[0]);

    // Missing and unexpected tensors.
    let bigger = Sequential::new()
        .with_named("0", LinearConfig::new(4, 8).init(&mut seeded(0)).unwrap())
        .with_named("1", ReLU)
        .with_named("2", LinearConfig::new(8, 3).init(&mut seeded(0)).unwrap())
        .with_named("3", LinearConfig::new(3, 2).init(&mut seeded(0)).unwrap());
    let report = load(&bigger, fixture("mlp.safetensors"), LoadMode::Lenient).unwrap();
    assert_eq!(report.missing, ["3.weight", "3.bias"]);
    let smaller = Sequential::new().with(LinearConfig::new(4, 8).init(&mut seeded(0)).unwrap());
    let report = load(&smaller, fixture("mlp.safetensors"), LoadMode::Lenient).unwrap();
    assert_eq!(report.unexpected, ["2.bias", "2.weight"]);
    let e = load(&smaller, fixture("mlp.safetensors"), LoadMode::Strict).unwrap_err();
    assert!(
        e.to_string().contains("unexpected: 2.bias, 2.weight"),
        "{e}"
    );
}

/// A stand-in with BatchNorm1d's state dict layout (two parameters, three buffers).
struct BnState {
    weight: Parameter,
    bias: Parameter,
    running_mean: Buffer,
    running_var: Buffer,
    num_batches_tracked: Buffer,
}

impl BnState {
    fn new(c: usize) -> BnState {
        BnState {
            weight: Parameter::new(Array::ones(IxDyn(&[c]))),
            bias: Parameter::new(Array::zeros(IxDyn(&[c]))),
            running_mean: Buffer::new(Array::zeros(IxDyn(&[c]))),
            running_var: Buffer::new(Array::ones(IxDyn(&[c]))),
            num_batches_tracked: Buffer::new(Array::zeros(IxDyn(&[]))),
        }
    }
}

impl Module for BnState {
    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        x.clone()
    }
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(Entry<'_>)) {
        let j = |n| nn_core::module::join(prefix, n);
        f(Entry::Param(&j("weight"), &self.weight));
        f(Entry::Param(&j("bias"), &self.bias));
        f(Entry::Buffer(&j("running_mean"), &self.running_mean));
        f(Entry::Buffer(&j("running_var"), &self.running_var));
        f(Entry::Buffer(
            &j("num_batches_tracked"),
            &self.num_batches_tracked,
        ));
    }
    fn describe(&self) -> String {
        "BnState".into()
    }
}

#[test]
fn buffers_load_from_pytorch_including_int64_scalars() {
    let bn = BnState::new(3);
    let report = load(&bn, fixture("bn.safetensors"), LoadMode::Strict).unwrap();
    assert_eq!(report.loaded.len(), 5);
    let expected = json("bn.json");
    for (name, value) in bn.state_dict() {
        let want = floats(&expected[&name]["values"]);
        assert_eq!(value.iter().copied().collect::<Vec<_>>(), want, "{name}");
    }
    assert_eq!(bn.num_batches_tracked.value()[[]], 3.0);
    // Round trip of buffers.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bn.safetensors");
    save(&bn, &path).unwrap();
    let fresh = BnState::new(3);
    load(&fresh, &path, LoadMode::Strict).unwrap();
    assert_eq!(fresh.state_dict(), bn.state_dict());
    // A nested name: the same tensors under "bn." are unexpected for an unprefixed module.
    let state: Vec<(String, Array)> = bn
        .state_dict()
        .into_iter()
        .map(|(n, v)| (format!("bn.{n}"), v))
        .collect();
    write_file(&path, &state, None).unwrap();
    let report = load(&fresh, &path, LoadMode::Lenient).unwrap();
    assert_eq!(report.missing.len(), 5);
    assert_eq!(report.unexpected.len(), 5);
}

#[test]
fn pytorch_dtypes_are_converted_to_f32() {
    let expected = json("dtypes.json");
    let tensors = read_file(fixture("dtypes.safetensors")).unwrap();
    assert_eq!(tensors.len(), 6);
    for (name, value) in tensors {
        let want = floats(&expected[&name]["values"]);
        let got: Vec<f32> = value.iter().copied().collect();
        assert_eq!(got, want, "{name}");
        let shape: Vec<usize> = expected[&name]["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(value.shape(), shape.as_slice(), "{name}");
    }
}

/// `num_batches_tracked` is written as `I64` (PyTorch's dtype), everything else as `F32`, and
/// the counter comes back on load.
#[test]
fn integer_buffers_are_saved_as_int64() {
    let bn = || {
        Sequential::new()
            .with(LinearConfig::new(3, 4).init(&mut seeded(0)).unwrap())
            .with(BatchNormConfig::new(4).init_1d().unwrap())
    };
    let model = bn();
    let x = Tensor::randn(&[6, 3], 0.0, 1.0, &mut seeded(1));
    for step in 0..5 {
        model.forward(&x, &mut Ctx::train(step));
    }
    assert_eq!(
        nn_core::checkpoint::integer_buffers(&model),
        ["1.num_batches_tracked"]
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bn.safetensors");
    save(&model, &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let counter = st.tensor("1.num_batches_tracked").unwrap();
    assert_eq!(counter.dtype(), safetensors::Dtype::I64);
    assert_eq!(counter.shape(), &[] as &[usize]);
    assert_eq!(counter.data(), 5i64.to_le_bytes());
    assert_eq!(
        st.tensor("1.running_var").unwrap().dtype(),
        safetensors::Dtype::F32
    );
    let back = bn();
    load(&back, &path, LoadMode::Strict).unwrap();
    assert_eq!(back.state_dict(), model.state_dict());
}
