use super::*;
use image::{ImageFormat, Rgb, RgbImage};

fn write_image(path: &Path, w: u32, h: u32, px: [u8; 3], format: ImageFormat) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    RgbImage::from_pixel(w, h, Rgb(px))
        .save_with_format(path, format)
        .unwrap();
}

fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    write_image(
        &r.join("dog/a.jpg"),
        6,
        5,
        [200, 100, 50],
        ImageFormat::Jpeg,
    );
    write_image(&r.join("cat/b.png"), 6, 5, [10, 20, 30], ImageFormat::Png);
    write_image(&r.join("cat/sub/a.PNG"), 6, 5, [1, 2, 3], ImageFormat::Png);
    std::fs::write(r.join("cat/notes.txt"), "not an image").unwrap();
    std::fs::write(r.join("README"), "a file at the root is not a class").unwrap();
    dir
}

#[test]
fn lists_classes_sorted_and_decodes_chw() {
    let dir = tree();
    let ds = ImageFolder::new(dir.path(), ImageFolderConfig::default()).unwrap();
    assert_eq!(ds.class_names().unwrap(), ["cat", "dog"]);
    assert_eq!(ds.len(), 3);
    let labels: Vec<usize> = (0..3).map(|i| ds.label(i).unwrap()).collect();
    assert_eq!(labels, [0, 0, 1]);
    let s = ds.get(0).unwrap(); // cat/b.png comes before cat/sub
    assert_eq!(s.image.shape(), [3, 5, 6]);
    assert_eq!(s.image[[0, 4, 5]], 10.0 / 255.0);
    assert_eq!(s.image[[2, 0, 0]], 30.0 / 255.0);
    let jpeg = ds.get(2).unwrap().image;
    assert!(
        (jpeg[[0, 2, 2]] - 200.0 / 255.0).abs() < 0.05,
        "JPEG is lossy but close"
    );
    let mem = ds.load_into_memory().unwrap();
    assert_eq!(mem.get(1).unwrap(), ds.get(1).unwrap());
}

#[test]
fn resize_and_gray() {
    let dir = tree();
    let cfg = ImageFolderConfig {
        resize: Some((4, 3)),
        color: ColorMode::Gray,
        ..Default::default()
    };
    let ds = ImageFolder::new(dir.path(), cfg).unwrap();
    let img = ds.get(1).unwrap().image;
    assert_eq!(img.shape(), [1, 4, 3]);
    let bad = ImageFolderConfig {
        resize: Some((0, 3)),
        ..Default::default()
    };
    assert!(ImageFolder::new(dir.path(), bad).is_err());
}

#[test]
fn folder_problems_are_typed_errors_naming_the_path() {
    let dir = tree();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let err = ImageFolder::new(dir.path(), ImageFolderConfig::default()).unwrap_err();
    assert!(matches!(err, DataError::EmptyClassFolder { .. }) && err.to_string().contains("empty"));

    let none = tempfile::tempdir().unwrap();
    let err = ImageFolder::new(none.path(), ImageFolderConfig::default()).unwrap_err();
    assert!(matches!(err, DataError::NoClassFolders { .. }));
    let err = ImageFolder::new(none.path().join("missing"), ImageFolderConfig::default());
    assert!(matches!(err, Err(DataError::Io { .. })));

    let dir = tree();
    std::fs::write(
        dir.path().join("dog/broken.png"),
        b"\x89PNG\r\n\x1a\n garbage",
    )
    .unwrap();
    let ds = ImageFolder::new(dir.path(), ImageFolderConfig::default()).unwrap();
    let err = ds.get(3).unwrap_err();
    assert!(matches!(err, DataError::UnreadableImage { .. }), "{err}");
    assert!(err.to_string().contains("broken.png"));
    assert!(ds.load_into_memory().is_err());
}

#[test]
fn different_sizes_need_a_resize_to_stack() {
    let dir = tree();
    write_image(
        &dir.path().join("dog/z.png"),
        7,
        5,
        [0, 0, 0],
        ImageFormat::Png,
    );
    let ds = ImageFolder::new(dir.path(), ImageFolderConfig::default()).unwrap();
    assert!(matches!(
        ds.load_into_memory(),
        Err(DataError::ShapeMismatch { index: 3, .. })
    ));
    let cfg = ImageFolderConfig {
        resize: Some((5, 6)),
        ..Default::default()
    };
    let ds = ImageFolder::new(dir.path(), cfg).unwrap();
    assert_eq!(ds.load_into_memory().unwrap().image_shape(), [3, 5, 6]);
}

#[test]
fn images_above_max_pixels_are_refused_before_decoding() {
    let dir = tree();
    let cfg = ImageFolderConfig {
        max_pixels: 29,
        ..Default::default()
    };
    let ds = ImageFolder::new(dir.path(), cfg).unwrap();
    let err = ds.get(0).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::ImageTooLarge {
                width: 6,
                height: 5,
                max_pixels: 29,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("b.png"));
    let cfg = ImageFolderConfig {
        max_pixels: 30,
        ..Default::default()
    };
    assert!(ImageFolder::new(dir.path(), cfg).unwrap().get(0).is_ok());
    let cfg = ImageFolderConfig {
        max_pixels: 0,
        ..Default::default()
    };
    assert!(ImageFolder::new(dir.path(), cfg).is_err());
}

#[test]
fn validation_folders_take_the_training_labels() {
    let dir = tree();
    let classes = vec!["cat".to_string(), "dog".to_string(), "emu".to_string()];
    let val = tempfile::tempdir().unwrap();
    write_image(
        &val.path().join("dog/x.png"),
        6,
        5,
        [1, 1, 1],
        ImageFormat::Png,
    );
    write_image(
        &val.path().join("emu/y.png"),
        6,
        5,
        [2, 2, 2],
        ImageFormat::Png,
    );
    let ds = ImageFolder::with_classes(val.path(), &classes, ImageFolderConfig::default()).unwrap();
    assert_eq!(ds.num_classes(), 3);
    assert_eq!((ds.label(0).unwrap(), ds.label(1).unwrap()), (1, 2));
    // A class the training folder does not have is an error naming the folder.
    let err = ImageFolder::with_classes(dir.path(), &classes[1..], ImageFolderConfig::default())
        .unwrap_err();
    assert!(matches!(err, DataError::UnknownClassFolder { .. }), "{err}");
    assert!(
        err.to_string().contains("cat") && err.to_string().contains("dog, emu"),
        "{err}"
    );
    let empty = tempfile::tempdir().unwrap();
    std::fs::create_dir(empty.path().join("dog")).unwrap();
    let err = ImageFolder::with_classes(empty.path(), &classes, ImageFolderConfig::default())
        .unwrap_err();
    assert!(matches!(err, DataError::EmptyClassFolder { .. }), "{err}");
}

#[test]
fn expected_size_names_the_odd_file() {
    let dir = tree();
    write_image(
        &dir.path().join("dog/z.png"),
        7,
        5,
        [0, 0, 0],
        ImageFormat::Png,
    );
    let cfg = ImageFolderConfig {
        expect_size: Some((5, 6)),
        ..Default::default()
    };
    let ds = ImageFolder::new(dir.path(), cfg).unwrap();
    assert!(ds.get(0).is_ok());
    let err = ds.get(3).unwrap_err();
    assert!(
        matches!(err, DataError::ImageSize { width: 7, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("z.png") && err.to_string().contains("size = [5, 6]"),
        "{err}"
    );
}

#[test]
fn the_cache_returns_the_same_images_within_its_budget() {
    let dir = tree();
    let plain = ImageFolder::new(dir.path(), ImageFolderConfig::default()).unwrap();
    // 3 images of 3x5x6 = 90 bytes each: a budget of 200 keeps two.
    let cached = plain.clone().with_cache(200);
    for _ in 0..2 {
        for i in 0..3 {
            assert_eq!(cached.get(i).unwrap(), plain.get(i).unwrap());
        }
    }
    let cache = cached.cache().unwrap();
    assert_eq!((cache.cached(), cache.used_bytes()), (2, 180));
    // Once cached, an image is not read again: deleting its file does not matter.
    std::fs::remove_file(dir.path().join("cat/b.png")).unwrap();
    assert_eq!(cached.get(0).unwrap(), cached.get(0).unwrap());
    assert!(plain.get(0).is_err());
}

/// A PNG that declares `w × h` 8-bit gray pixels but holds a few bytes of data: decoding it
/// would allocate `w · h` bytes; only the header may be read.
pub(crate) fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
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

/// A baseline JPEG whose frame header is patched to declare `w × h` (each < 65,536).
pub(crate) fn jpeg_bomb(w: u16, h: u16) -> Vec<u8> {
    let mut bytes = Vec::new();
    RgbImage::from_pixel(8, 8, Rgb([9, 9, 9]))
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Jpeg)
        .unwrap();
    let sof = bytes
        .windows(2)
        .position(|m| m == [0xff, 0xc0])
        .expect("a baseline JPEG has SOF0");
    bytes[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    bytes
}

#[test]
fn decompression_bombs_are_refused_from_the_header() {
    let cfg = ImageFolderConfig::default();
    let origin = Path::new("bomb.png");
    let err = decode_image(&png_bomb(100_000, 100_000), origin, &cfg).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::ImageTooLarge {
                width: 100_000,
                height: 100_000,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("bomb.png"), "{err}");
    let err = decode_image(&jpeg_bomb(60_000, 60_000), Path::new("bomb.jpg"), &cfg).unwrap_err();
    assert!(
        matches!(err, DataError::ImageTooLarge { width: 60_000, .. }),
        "{err}"
    );
    // Below the limit the (lying) file is decoded and found short: a typed error too.
    let err = decode_image(&png_bomb(100, 100), origin, &cfg).unwrap_err();
    assert!(matches!(err, DataError::UnreadableImage { .. }), "{err}");
    // The limit is configurable, and applies to decode_bounded as well.
    assert!(matches!(
        decode_bounded(&png_bomb(100, 100), origin, 9_999),
        Err(DataError::ImageTooLarge { .. })
    ));
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_is_an_error_naming_the_link() {
    let dir = tree();
    let link = dir.path().join("cat/sub/again");
    std::os::unix::fs::symlink(dir.path().join("cat"), &link).unwrap();
    let err = ImageFolder::new(dir.path(), ImageFolderConfig::default()).unwrap_err();
    assert!(
        err.to_string().contains("again") && err.to_string().contains("loop"),
        "{err}"
    );
    // A link to a folder elsewhere (not a loop) is followed, as torchvision's os.walk does.
    std::fs::remove_file(&link).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    write_image(
        &elsewhere.path().join("x.png"),
        6,
        5,
        [0, 0, 0],
        ImageFormat::Png,
    );
    std::os::unix::fs::symlink(elsewhere.path(), &link).unwrap();
    let ds = ImageFolder::new(dir.path(), ImageFolderConfig::default()).unwrap();
    assert!(ds.files().iter().any(|(p, _)| p.ends_with("again/x.png")));
}
