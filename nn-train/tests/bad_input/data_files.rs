//! Data files: IDX (MNIST / Fashion-MNIST, plain and gzipped, including decompression bombs)
//! and CIFAR binaries.

use super::{job, rejects};
use flate2::{Compression, write::GzEncoder};
use std::io::Write;
use std::path::Path;

/// An IDX file of unsigned bytes.
fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// `head` then `zeros` zero bytes, gzipped in pieces (a 64 MB stream of zeros is ~64 kB).
fn gz(head: &[u8], zeros: usize) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(head).unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut left = zeros;
    while left > 0 {
        let k = left.min(chunk.len());
        e.write_all(&chunk[..k]).unwrap();
        left -= k;
    }
    e.finish().unwrap()
}

/// A valid MNIST-style folder `dir/name` of 20 training and 10 test 4×4 images; `patch` then
/// overwrites (or removes, with `None`) files by name.
fn mnist(dir: &Path, name: &str, patch: &[(&str, Option<Vec<u8>>)]) -> String {
    let root = dir.join(name);
    std::fs::create_dir_all(&root).unwrap();
    let labels = |n: usize| (0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>();
    let pixels = |n: usize| (0..n * 16).map(|i| (i * 7 % 256) as u8).collect::<Vec<_>>();
    let files = [
        ("train-images-idx3-ubyte", idx(&[20, 4, 4], &pixels(20))),
        ("train-labels-idx1-ubyte", idx(&[20], &labels(20))),
        ("t10k-images-idx3-ubyte", idx(&[10, 4, 4], &pixels(10))),
        ("t10k-labels-idx1-ubyte", idx(&[10], &labels(10))),
    ];
    for (f, bytes) in files {
        std::fs::write(root.join(f), bytes).unwrap();
    }
    for (f, bytes) in patch {
        let _ = std::fs::remove_file(root.join(f.trim_end_matches(".gz")));
        if let Some(b) = bytes {
            std::fs::write(root.join(f), b).unwrap();
        }
    }
    name.to_string()
}

fn train_on(dir: &Path, name: &str, source: &str, extra: &str, needle: &str) {
    let f = job(
        dir,
        &format!("{name}.toml"),
        &format!("[data]\nsource = {source}\nval_fraction = 0.5\n{extra}"),
    );
    rejects(dir, &["train", "--config", &f, "--epochs", "1"], needle);
}

#[test]
fn idx_files_and_gzip_bombs() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Sanity: the valid folder trains.
    let ok = mnist(d, "ok", &[]);
    let f = job(
        d,
        "ok.toml",
        &format!("[data]\nsource = {{ mnist = \"{ok}\" }}\nval_fraction = 0.5"),
    );
    let (code, err) = super::capped(d, &["train", "--config", &f, "--epochs", "1"]);
    assert_eq!(code, Some(0), "{err}");

    let src = |n: &str| format!("{{ mnist = \"{n}\" }}");
    // A 16-byte header that declares 4 GiB of images: refused before inflating.
    let bomb = gz(&[0, 0, 8, 3, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0], 64);
    let n = mnist(d, "bomb", &[("train-images-idx3-ubyte.gz", Some(bomb))]);
    train_on(d, "bomb", &src(&n), "", "exceeds the limit");
    // A header that declares 20 labels followed by 64 MB of zeros: stops after 21 bytes.
    let liar = gz(&idx(&[20], &[]), 64 << 20);
    assert!(liar.len() < 200_000);
    let n = mnist(d, "liar", &[("train-labels-idx1-ubyte.gz", Some(liar))]);
    train_on(d, "liar", &src(&n), "", "trailing");
    // The byte limit is configurable.
    let n = mnist(d, "limit", &[]);
    train_on(
        d,
        "limit",
        &src(&n),
        "max_bytes = 100",
        "exceeds the limit of 100 bytes (raise the limit if the file is genuine); the limit is \
         `data.max_bytes`",
    );
    train_on(d, "limit0", &src(&n), "max_bytes = 0", "data.max_bytes");
    // Truncated data, a bad magic number, an element type other than bytes.
    let n = mnist(
        d,
        "short",
        &[("t10k-images-idx3-ubyte", Some(idx(&[10, 4, 4], &[1; 100])))],
    );
    train_on(
        d,
        "short",
        &src(&n),
        "",
        "t10k-images-idx3-ubyte: truncated",
    );
    let mut magic = idx(&[20], &[0; 20]);
    magic[0] = 7;
    let n = mnist(d, "magic", &[("train-labels-idx1-ubyte", Some(magic))]);
    train_on(d, "magic", &src(&n), "", "bad magic");
    let mut float = idx(&[20], &[0; 20]);
    float[2] = 0x0d;
    let n = mnist(d, "float", &[("train-labels-idx1-ubyte", Some(float))]);
    train_on(d, "float", &src(&n), "", "float");
    // Labels that do not match the images, or out of range.
    let n = mnist(
        d,
        "count",
        &[("train-labels-idx1-ubyte", Some(idx(&[19], &[0; 19])))],
    );
    train_on(d, "count", &src(&n), "", "19 labels for 20 images");
    let n = mnist(
        d,
        "label",
        &[("train-labels-idx1-ubyte", Some(idx(&[20], &[10; 20])))],
    );
    train_on(d, "label", &src(&n), "", "out of range");
    // Images of one dimension, a missing file, a corrupt gzip stream, a folder that is a file.
    let n = mnist(
        d,
        "dims",
        &[("train-images-idx3-ubyte", Some(idx(&[320], &[0; 320])))],
    );
    train_on(d, "dims", &src(&n), "", "expected 3 IDX dimensions");
    let n = mnist(d, "missing", &[("t10k-labels-idx1-ubyte", None)]);
    train_on(d, "missing", &src(&n), "", "t10k-labels");
    let mut corrupt = gz(&idx(&[20], &[1; 20]), 0);
    corrupt.truncate(14);
    let n = mnist(
        d,
        "corrupt",
        &[("train-labels-idx1-ubyte.gz", Some(corrupt))],
    );
    train_on(d, "corrupt", &src(&n), "", "corrupt gzip");
    // Test images of another size than the training images: refused before training.
    let n = mnist(
        d,
        "shape",
        &[("t10k-images-idx3-ubyte", Some(idx(&[10, 5, 5], &[3; 250])))],
    );
    train_on(d, "shape", &src(&n), "", "test images of shape [1, 5, 5]");
    train_on(d, "fm", "{ fashion_mnist = \"ok.toml\" }", "", "ok.toml");
}

#[test]
fn cifar_files() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let record = |label: u8| {
        let mut r = vec![label];
        r.extend(std::iter::repeat_n(9u8, 3072));
        r
    };
    let write = |name: &str, train: Vec<u8>, test: Vec<u8>| {
        let root = d.join(name);
        std::fs::create_dir_all(&root).unwrap();
        for k in 1..=5 {
            std::fs::write(root.join(format!("data_batch_{k}.bin")), &train).unwrap();
        }
        std::fs::write(root.join("test_batch.bin"), test).unwrap();
        format!("{{ cifar10 = \"{name}\" }}")
    };
    let good: Vec<u8> = (0..4).flat_map(|i| record(i % 10)).collect();
    let src = write("short", good[..5000].to_vec(), good.clone());
    train_on(d, "short", &src, "", "data_batch_1.bin: truncated");
    let src = write("label", good.clone(), record(10));
    train_on(d, "label", &src, "", "test_batch.bin: label 10");
    let src = write("empty", good.clone(), Vec::new());
    train_on(d, "empty", &src, "", "test_batch.bin");
    train_on(d, "none", "{ cifar100 = \"nowhere\" }", "", "nowhere");
    // Files above `data.max_bytes` are refused from their size before they are read.
    let src = write("big", good.clone(), good.clone());
    train_on(
        d,
        "big",
        &src,
        "max_bytes = 10000",
        "data_batch_1.bin: file of 12292 bytes exceeds the limit of 10000 bytes (raise the \
         limit if the file is genuine); the limit is `data.max_bytes`",
    );
}
