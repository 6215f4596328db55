//! Model files and checkpoints: NaN weights, garbage and truncated safetensors, a run folder
//! whose manifest no longer matches.

use super::{capped, job, rejects};
use std::path::Path;

/// Overwrites the first f32 of the first F32 tensor in the safetensors file `path` with
/// `value`.
fn poison(path: &Path, value: f32) {
    let mut bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let start = header
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .find(|(_, v)| v["dtype"] == "F32")
        .map(|(_, v)| v["data_offsets"][0].as_u64().unwrap() as usize)
        .unwrap();
    bytes[8 + n + start..8 + n + start + 4].copy_from_slice(&value.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

/// Records the current size and CRC of `run/name` in the run's manifest, as if the run had
/// been written so (a model that diverged to NaN, say, passes the integrity check).
fn reseal(run: &Path, name: &str) {
    let bytes = std::fs::read(run.join(name)).unwrap();
    let path = run.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    m["files"][name] = serde_json::json!({
        "bytes": bytes.len(),
        "crc32": crc32fast::hash(&bytes),
    });
    std::fs::write(path, serde_json::to_string(&m).unwrap()).unwrap();
}

#[test]
fn models_and_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (code, err) = capped(d, &["train", "--out", "run", "--epochs", "1"]);
    assert_eq!(code, Some(0), "{err}");
    let model = d.join("run/model.safetensors");
    let clean = std::fs::read(&model).unwrap();
    std::fs::write(d.join("x.png"), b"unused").unwrap();

    // NaN and infinite weights are refused by eval, predict and transfer.
    poison(&model, f32::NAN);
    reseal(&d.join("run"), "model.safetensors");
    rejects(d, &["eval", "--run", "run"], "holds NaN");
    rejects(d, &["predict", "--run", "run", "x.png"], "holds NaN");
    let f = job(
        d,
        "nan.toml",
        "[transfer]\ninit_from = \"run/model.safetensors\"",
    );
    rejects(d, &["train", "--config", &f, "--epochs", "1"], "holds NaN");
    poison(&model, f32::INFINITY);
    reseal(&d.join("run"), "model.safetensors");
    rejects(d, &["eval", "--run", "run"], "holds inf");
    std::fs::write(&model, &clean).unwrap();
    reseal(&d.join("run"), "model.safetensors");
    let (code, err) = capped(d, &["eval", "--run", "run"]);
    assert_eq!(code, Some(0), "{err}");

    // Garbage and truncated safetensors as transfer sources.
    std::fs::write(d.join("garbage.safetensors"), b"garbage, not tensors").unwrap();
    std::fs::write(d.join("short.safetensors"), &clean[..clean.len() / 2]).unwrap();
    let mut huge = clean.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    std::fs::write(d.join("huge.safetensors"), huge).unwrap();
    for name in ["garbage", "short", "huge"] {
        let f = job(
            d,
            &format!("{name}.toml"),
            &format!("[transfer]\ninit_from = \"{name}.safetensors\""),
        );
        rejects(
            d,
            &["train", "--config", &f, "--epochs", "1"],
            &format!("{name}.safetensors"),
        );
    }

    // A run folder whose files no longer match the manifest, or that lost a file.
    std::fs::write(d.join("run/config.toml"), "epochs = 2\n").unwrap();
    rejects(d, &["eval", "--run", "run"], "config.toml");
    std::fs::write(d.join("run/manifest.json"), "{ not json").unwrap();
    rejects(d, &["eval", "--run", "run"], "manifest.json");
    let (code, err) = capped(d, &["train", "--out", "run2", "--epochs", "1"]);
    assert_eq!(code, Some(0), "{err}");
    std::fs::remove_file(d.join("run2/model.safetensors")).unwrap();
    rejects(
        d,
        &["predict", "--run", "run2", "x.png"],
        "model.safetensors",
    );
    rejects(d, &["eval", "--run", "nowhere"], "nowhere");
}
