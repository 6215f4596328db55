//! Images: decompression bombs (PNG and JPEG headers that announce gigapixels), unreadable and
//! odd files in image folders, symbolic link loops, and the same through `augment-grid` and
//! `predict`.

use super::{capped, job, rejects};
use image::{ImageFormat, Rgb, RgbImage};
use std::io::Cursor;
use std::path::Path;

/// A PNG that declares `w × h` 8-bit gray pixels but holds a few bytes of data.
pub(crate) fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0x63, 0, 0, 0, 1, 0, 1]);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A baseline JPEG whose frame header is patched to declare `w × h`.
fn jpeg_bomb(w: u16, h: u16) -> Vec<u8> {
    let mut bytes = Vec::new();
    RgbImage::from_pixel(8, 8, Rgb([9, 9, 9]))
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Jpeg)
        .unwrap();
    let sof = bytes.windows(2).position(|m| m == [0xff, 0xc0]).unwrap();
    bytes[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    bytes
}

fn png(path: &Path, w: u32, h: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    RgbImage::from_pixel(w, h, Rgb([40, 80, 120]))
        .save_with_format(path, ImageFormat::Png)
        .unwrap();
}

/// An image folder `dir/name` with classes a and b of four 6×6 PNGs each, plus `extra` files.
fn folder(dir: &Path, name: &str, extra: &[(&str, Vec<u8>)]) -> String {
    for class in ["a", "b"] {
        for i in 0..4 {
            png(&dir.join(format!("{name}/{class}/{i}.png")), 6, 6);
        }
    }
    for (f, bytes) in extra {
        std::fs::write(dir.join(name).join(f), bytes).unwrap();
    }
    name.to_string()
}

fn train_folder(dir: &Path, name: &str, source: &str, needle: &str) {
    let f = job(
        dir,
        &format!("{name}.toml"),
        &format!("[data]\nsource = {{ image_folder = {source} }}\nval_fraction = 0.25"),
    );
    rejects(dir, &["train", "--config", &f, "--epochs", "1"], needle);
}

#[test]
fn image_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let q = |n: &str| format!("\"{n}\"");
    let n = folder(d, "png", &[("a/bomb.png", png_bomb(100_000, 100_000))]);
    train_folder(
        d,
        "png",
        &q(&n),
        "bomb.png: image of 100000x100000 pixels exceeds the limit of 89478485 pixels; the limit is `data.source.image_folder.max_pixels`",
    );
    let n = folder(d, "jpg", &[("b/bomb.jpg", jpeg_bomb(60_000, 60_000))]);
    train_folder(d, "jpg", &q(&n), "bomb.jpg: image of 60000x60000");
    let n = folder(d, "limit", &[]);
    let table = |n: &str, extra: &str| format!("{{ path = \"{n}\", {extra} }}");
    train_folder(
        d,
        "limit",
        &table(&n, "max_pixels = 10"),
        "0.png: image of 6x6 pixels exceeds the limit of 10 pixels; the limit is `data.source.image_folder.max_pixels`",
    );
    train_folder(d, "limit0", &table(&n, "max_pixels = 0"), "max_pixels");
    train_folder(d, "size0", &table(&n, "size = [0, 4]"), "image_folder.size");
    png(&d.join("odd/b/9.png"), 7, 6);
    let n = folder(d, "odd", &[]);
    train_folder(d, "odd", &q(&n), "9.png: image of 6x7");
    let n = folder(d, "text", &[("b/notes.png", b"not an image".to_vec())]);
    train_folder(d, "text", &q(&n), "notes.png");
    let n = folder(d, "empty", &[("a/zero.png", Vec::new())]);
    train_folder(d, "empty", &q(&n), "zero.png");
    let n = folder(d, "noimg", &[]);
    std::fs::create_dir_all(d.join("noimg/c")).unwrap();
    std::fs::write(d.join("noimg/c/readme.txt"), "x").unwrap();
    train_folder(d, "noimg", &q(&n), "empty class folder");
    std::fs::create_dir_all(d.join("flat")).unwrap();
    png(&d.join("flat/x.png"), 6, 6);
    train_folder(d, "flat", &q("flat"), "no class folders");
    train_folder(d, "nowhere", &q("nowhere"), "nowhere");
    #[cfg(unix)]
    {
        let n = folder(d, "loop", &[]);
        std::os::unix::fs::symlink(d.join("loop"), d.join("loop/b/up")).unwrap();
        train_folder(d, "loop", &q(&n), "up: malformed: symbolic link loop");
    }
}

#[test]
fn augment_grid_and_predict() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(d.join("bomb.png"), png_bomb(100_000, 100_000)).unwrap();
    std::fs::write(d.join("big.png"), png_bomb(5_000, 5_000)).unwrap();
    std::fs::write(d.join("text.png"), "not an image").unwrap();
    let grid = |extra: &[&str]| {
        let mut a = vec!["augment-grid", "--out", "grid.png"];
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let grid_rejects = |extra: &[&str], needle: &str| {
        let a = grid(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        rejects(d, &a, needle);
    };
    grid_rejects(&["--image", "bomb.png"], "bomb.png: image of 100000x100000");
    // 25 Mpx is below the pixel limit, but its grid would not be: refused before decoding.
    grid_rejects(&["--image", "big.png"], "--size");
    grid_rejects(
        &["--image", "big.png", "--max-pixels", "1000"],
        "exceeds the limit of 1000 pixels; the limit is `--max-pixels`",
    );
    grid_rejects(&["--image", "text.png"], "text.png");
    grid_rejects(&["--image", "missing.png"], "missing.png");
    grid_rejects(&["--columns", "1000000"], "--columns");
    grid_rejects(&["--size", "100000"], "--size");
    std::fs::write(
        d.join("ra.json"),
        r#"{"transforms": [{"type": "rand_augment", "num_ops": 1000000}]}"#,
    )
    .unwrap();
    grid_rejects(&["--pipeline", "ra.json"], "num_ops");
    assert!(!d.join("grid.png").exists());

    let (code, err) = capped(d, &["train", "--out", "run", "--epochs", "1"]);
    assert_eq!(code, Some(0), "{err}");
    rejects(
        d,
        &["predict", "--run", "run", "bomb.png"],
        "bomb.png: image of",
    );
    rejects(d, &["predict", "--run", "run", "text.png"], "text.png");
    // `--max-pixels`: 25 Mpx is below the default limit; with 1,000 the header alone refuses
    // it (the file holds a few bytes of pixel data, so decoding would fail otherwise).
    rejects(
        d,
        &["predict", "--run", "run", "--max-pixels", "1000", "big.png"],
        "big.png: image of 5000x5000 pixels exceeds the limit of 1000 pixels; the limit is \
         `--max-pixels`",
    );
    png(&d.join("six.png"), 6, 6);
    let (code, err) = capped(
        d,
        &["predict", "--run", "run", "--max-pixels", "36", "six.png"],
    );
    assert_eq!(code, Some(0), "{err}");
    rejects(
        d,
        &["predict", "--run", "run", "--max-pixels", "35", "six.png"],
        "six.png: image of 6x6 pixels exceeds the limit of 35 pixels",
    );
    rejects(
        d,
        &["predict", "--run", "run", "--max-pixels", "0", "six.png"],
        "--max-pixels must be at least 1",
    );
    rejects(
        d,
        &[
            "predict",
            "--run",
            "run",
            "--tta",
            "five-crop",
            "--tta-pad",
            "99999",
            "x.png",
        ],
        "tta.pad",
    );
    rejects(
        d,
        &[
            "ensemble",
            "--members",
            "2",
            "--tta",
            "ten-crop",
            "--tta-pad",
            "99999",
        ],
        "tta.pad",
    );
}
