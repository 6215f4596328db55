//! The state-dict bridge to PyTorch, both ways, for zoo models and their PyTorch twins (among
//! them torchvision's ResNet-18/34 and VGG), from `fixtures/torch_twins.json` (made by
//! `fixtures/gen_torch_twins.py`):
//!
//! * **loading** — the exact safetensors file torch wrote for each twin is rebuilt from its
//!   committed header and the deterministic value rule (a hash proves the bytes are torch's),
//!   loaded strictly, and run: the logits match torch's, and the parameter count matches
//!   PyTorch's;
//! * **saving** — nn-train's checkpoint of each model (same values) must be byte for byte the file
//!   the script loaded into the twin with `load_state_dict(strict=True)` (int64
//!   `num_batches_tracked` included) and that gave the twin's logits exactly.
//!
//! The value of every tensor comes from its name: k = (splitmix64(fnv1a64(name) ^ i) >> 56) − 128
//! per element i, scaled by a power of two (so both sides compute it exactly).

use std::path::{Path, PathBuf};

use nn_core::checkpoint::{LoadMode, apply_state_dict, from_bytes, save};
use nn_core::rng::seeded;
use nn_core::{Array, Ctx, Module, Tensor};
use nn_train::ModelConfig;
use serde_json::Value;

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The codes k ∈ [−128, 127] of `n` elements of the tensor seeded by `seed`.
fn codes(seed: u64, n: usize) -> impl Iterator<Item = f32> {
    (0..n as u64).map(move |i| (splitmix64(seed ^ i) >> 56) as f32 - 128.0)
}

/// The value of state-dict entry `name` of `shape` (the rule of gen_torch_twins.py).
fn value(name: &str, shape: &[usize]) -> Array {
    let n = shape.iter().product();
    let k = codes(fnv1a64(name.as_bytes()), n);
    let leaf = name.rsplit('.').next().unwrap();
    let v: Vec<f32> = match leaf {
        "num_batches_tracked" => vec![3.0],
        "running_var" => k.map(|k| 1.0 + (k + 128.0) / 512.0).collect(),
        "running_mean" => k.map(|k| k / 512.0).collect(),
        "weight" if shape.len() == 1 => k.map(|k| 1.0 + k / 512.0).collect(),
        _ if shape.len() == 1 => k.map(|k| k / 1024.0).collect(),
        _ => {
            let fan_in: usize = shape[1..].iter().product();
            let bits = usize::BITS - (fan_in - 1).leading_zeros();
            let shift = 7 + (bits as i32 + 1) / 2;
            let scale = 2f32.powi(-shift);
            k.map(|k| k * scale).collect()
        }
    };
    Array::from_shape_vec(shape.to_vec(), v).unwrap()
}

fn input_for(twin: &str, shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    let v = codes(fnv1a64(format!("input:{twin}").as_bytes()), n)
        .map(|k| k / 64.0)
        .collect();
    Tensor::from_vec(v, shape)
}

/// Sets every parameter and buffer of `model` to its rule value.
fn fill(model: &dyn Module) {
    let state = model
        .state_dict()
        .into_iter()
        .map(|(n, a)| {
            let v = value(&n, a.shape());
            (n, v)
        })
        .collect();
    apply_state_dict(model, state, LoadMode::Strict, Path::new("rule")).unwrap();
}

fn fixture() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch_twins.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

/// The twin's model built from its `[model]` table, and its input shape.
fn build(twin: &Value) -> (ModelConfig, Box<dyn Module>, Vec<usize>) {
    let config: ModelConfig = toml::from_str(twin["model"].as_str().unwrap()).unwrap();
    let shape = usizes(&twin["input_shape"]);
    let classes = twin["classes"].as_u64().unwrap() as usize;
    let model = config
        .build([shape[1], shape[2], shape[3]], classes, &mut seeded(0))
        .unwrap();
    (config, model, shape)
}

/// The safetensors file torch wrote: its header, then every tensor's rule value at its offsets.
fn torch_file(header: &str) -> Vec<u8> {
    let h: serde_json::Map<String, Value> = serde_json::from_str(header).unwrap();
    let end = h
        .values()
        .filter_map(|e| e.get("data_offsets"))
        .map(|o| o[1].as_u64().unwrap() as usize)
        .max()
        .unwrap_or(0);
    let mut data = vec![0u8; end];
    for (name, e) in h.iter().filter(|(n, _)| *n != "__metadata__") {
        let shape = usizes(&e["shape"]);
        let v = value(name, &shape);
        let off = e["data_offsets"][0].as_u64().unwrap() as usize;
        let bytes: Vec<u8> = match e["dtype"].as_str().unwrap() {
            "F32" => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            "I64" => v.iter().flat_map(|x| (*x as i64).to_le_bytes()).collect(),
            d => panic!("{name}: unexpected dtype {d}"),
        };
        data[off..off + bytes.len()].copy_from_slice(&bytes);
    }
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    file.extend(data);
    file
}

#[test]
fn torch_state_dicts_load_strictly_and_give_torch_logits() {
    let f = fixture();
    let twins = f["twins"].as_object().unwrap();
    assert!(twins.len() >= 11, "{} twins", twins.len());
    for (name, twin) in twins {
        let (config, model, shape) = build(twin);
        let file = torch_file(twin["header"].as_str().unwrap());
        assert_eq!(file.len() as u64, twin["file_bytes"].as_u64().unwrap());
        assert_eq!(
            format!("{:016x}", fnv1a64(&file)),
            twin["file_fnv1a64"].as_str().unwrap(),
            "{name}: the rebuilt file is not the one torch wrote"
        );
        let state = from_bytes(&file, Path::new(name)).unwrap();
        let report = apply_state_dict(model.as_ref(), state, LoadMode::Strict, Path::new(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(report.loaded.len() > 1);
        let torch_params = twin["parameters"].as_u64().unwrap() as usize;
        assert_eq!(model.num_parameters(), torch_params, "{name}");
        let e = config
            .estimate([shape[1], shape[2], shape[3]], shape_classes(twin))
            .unwrap();
        assert_eq!(e.parameters, torch_params, "{name}: estimate");
        let logits = model
            .forward(&input_for(name, &shape), &mut Ctx::eval())
            .to_vec();
        let expected: Vec<f32> = twin["logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(logits.len(), expected.len(), "{name}");
        let scale = expected.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
        for (i, (a, b)) in logits.iter().zip(&expected).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * scale + 1e-6,
                "{name}: logit {i}: {a} vs torch {b} (scale {scale})"
            );
        }
    }
}

fn shape_classes(twin: &Value) -> usize {
    twin["classes"].as_u64().unwrap() as usize
}

/// The file nn-train saves for `twin` (rule values), in `dir`.
fn save_twin(name: &str, twin: &Value, dir: &Path) -> PathBuf {
    let (_, model, _) = build(twin);
    fill(model.as_ref());
    let path = dir.join(format!("{name}.safetensors"));
    save(model.as_ref(), &path).unwrap();
    path
}

#[test]
fn nn_saves_the_files_pytorch_loaded_strictly() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    for (name, twin) in f["twins"].as_object().unwrap() {
        let path = save_twin(name, twin, dir.path());
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            Some(format!("{:016x}", fnv1a64(&bytes)).as_str()),
            twin["nn_file_fnv1a64"].as_str(),
            "{name}: nn-train no longer writes the file PyTorch loaded (rerun \
             fixtures/gen_torch_twins.py to check the new one)"
        );
        assert_eq!(
            twin["nn_file_loaded_strict_max_logit_diff"].as_f64(),
            Some(0.0)
        );
        // The counter is int64, as PyTorch stores it.
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        for (n, view) in st.tensors() {
            let expected = if n.ends_with("num_batches_tracked") {
                safetensors::Dtype::I64
            } else {
                safetensors::Dtype::F32
            };
            assert_eq!(view.dtype(), expected, "{name}: {n}");
        }
    }
}

/// Writing mode for the fixture script: with `NN_TWINS_OUT=dir`, saves every twin there.
#[test]
fn write_twins() {
    let Ok(dir) = std::env::var("NN_TWINS_OUT") else {
        return;
    };
    for (name, twin) in fixture()["twins"].as_object().unwrap() {
        save_twin(name, twin, Path::new(&dir));
    }
}
