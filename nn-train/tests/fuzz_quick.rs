//! Quick property-based fuzzing of the two user inputs the cargo-fuzz targets in `fuzz/` cover
//! (safetensors files and job TOML), small enough to run in CI in seconds: random bytes,
//! mutations of valid files and structured random headers and jobs. Nothing may panic; what
//! loads must be well formed, and an accepted job must print and parse back to itself.

use nn_core::Array;
use nn_train::TrainConfig;
use nn_train::checkpoint::Checkpoint;
use proptest::prelude::*;
use std::path::Path;

const FILE: &str = "fuzz.safetensors";

/// Loads `bytes` as model weights and as a training checkpoint; checks what loads.
fn load_both(bytes: &[u8]) {
    let path = Path::new(FILE);
    if let Ok(tensors) = nn_core::checkpoint::from_bytes(bytes, path) {
        for (_, t) in &tensors {
            assert_eq!(t.len(), t.shape().iter().product::<usize>());
        }
    }
    let _ = Checkpoint::from_bytes(bytes, path);
}

/// A valid safetensors file of two small tensors.
fn valid() -> Vec<u8> {
    let tensors = vec![
        (
            "a.weight".to_string(),
            Array::from_shape_fn(ndarray::IxDyn(&[2, 3]), |i| i[0] as f32 - i[1] as f32),
        ),
        ("b".to_string(), Array::from_elem(ndarray::IxDyn(&[4]), 0.5)),
    ];
    nn_core::checkpoint::to_bytes(&tensors, None, Path::new(FILE)).unwrap()
}

/// A safetensors file whose JSON header is built from the parts (any dtype, shape, offsets)
/// over `data` bytes.
fn with_header(entries: &[(String, String, Vec<u64>, [u64; 2])], data: &[u8]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    for (name, dtype, shape, offsets) in entries {
        header.insert(
            name.clone(),
            serde_json::json!({ "dtype": dtype, "shape": shape, "data_offsets": offsets }),
        );
    }
    let text = serde_json::to_vec(&header).unwrap();
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&text);
    out.extend_from_slice(data);
    out
}

fn dtype() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "F32", "F16", "BF16", "F64", "I64", "I32", "U8", "I8", "BOOL", "U64", "F8_E4M3", "C64",
        "XYZ",
    ])
    .prop_map(String::from)
}

fn dim() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..5,
        Just(u64::MAX),
        Just(1 << 32),
        Just(1 << 62),
        any::<u64>()
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        load_both(&bytes);
    }

    #[test]
    fn mutated_files_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate: bool,
    ) {
        let mut bytes = valid();
        for (at, b) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *b;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        load_both(&bytes);
    }

    #[test]
    fn random_headers_never_panic(
        entries in prop::collection::vec(
            ("[a-c]{1,2}", dtype(), prop::collection::vec(dim(), 0..4), [0u64..64, 0u64..64]),
            0..4,
        ),
        data in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        load_both(&with_header(&entries, &data));
    }
}

/// One `key = value` line of a job file, from the job's vocabulary with odd values.
fn line() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "seed",
        "epochs",
        "batch_size",
        "grad_accumulation",
        "label_smoothing",
        "no_decay_on_1d",
        "class_weights",
        "schedule_interval",
        "kind",
        "hidden",
        "channels",
        "blocks",
        "width",
        "dropout",
        "lr",
        "momentum",
        "weight_decay",
        "val_fraction",
        "threads",
        "limit_train",
        "classes",
        "source",
        "preprocess",
        "max_bytes",
        "patience",
        "every_steps",
        "alpha",
        "decay",
        "transforms",
        "no_validation",
        "activation",
    ]);
    let value = prop::sample::select(vec![
        "0",
        "1",
        "-1",
        "3",
        "64",
        "100000000",
        "18446744073709551615",
        "0.0",
        "0.5",
        "1.5",
        "-0.1",
        "nan",
        "inf",
        "-inf",
        "1e300",
        "true",
        "false",
        "\"\"",
        "\"x\"",
        "\"mlp\"",
        "\"cnn\"",
        "\"resnet\"",
        "\"sgd\"",
        "\"adam\"",
        "\"digits\"",
        "\"relu\"",
        "[]",
        "[0]",
        "[1, 2]",
        "[100000000]",
        "[0.0, 0.0]",
        "[-1.0]",
        "{}",
        "{ kind = \"relu\" }",
        "{ mnist = \"nowhere\" }",
        "{ type = \"rand_augment\" }",
        "[{ type = \"random_crop\", size = 0 }]",
        "\"epoch\"",
        "\"step\"",
    ]);
    (key, value).prop_map(|(k, v)| format!("{k} = {v}"))
}

fn section() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "",
        "[data]",
        "[model]",
        "[optimizer]",
        "[checkpoint]",
        "[early_stopping]",
        "[mixup]",
        "[ema]",
        "[cutout]",
        "[penalty]",
        "[augment]",
        "[transfer]",
        "[lr_scaling]",
    ])
    .prop_map(String::from)
}

/// Parses a job; an accepted job prints to TOML that parses back to the same printed form.
fn parse_job(text: &str) {
    let path = Path::new("fuzz.toml");
    if let Ok(job) = TrainConfig::from_toml(text, path) {
        let printed = job.to_toml();
        let back = TrainConfig::from_toml(&printed, path)
            .unwrap_or_else(|e| panic!("printed job does not parse: {e}\n{printed}"));
        assert_eq!(back.to_toml(), printed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_jobs_never_panic(
        parts in prop::collection::vec(
            (section(), prop::collection::vec(line(), 0..4)),
            0..5,
        ),
    ) {
        let mut text = String::new();
        // Keys before the first table header are top-level.
        for (header, lines) in &parts {
            text.push_str(header);
            text.push('\n');
            for l in lines {
                text.push_str(l);
                text.push('\n');
            }
        }
        parse_job(&text);
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        parse_job(&text);
    }
}

#[test]
fn every_shipped_job_round_trips() {
    let jobs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../jobs");
    let mut n = 0;
    for entry in std::fs::read_dir(jobs).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            parse_job(&std::fs::read_to_string(&path).unwrap());
            n += 1;
        }
    }
    assert!(n > 0);
}
