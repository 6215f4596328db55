//! `source = { image_folder = ... }`: the train/val/test layout, the flat layout with a seeded
//! stratified split, `jobs/image-folder.toml`, and typed errors naming the bad file or folder.

use std::path::{Path, PathBuf};

use image::{ImageFormat, Rgb, RgbImage};
use nn_data::Dataset;
use nn_train::data::prepare;
use nn_train::image_source::{ImageColor, ImageFolderSource, write_digits_folder};
use nn_train::{DataConfig, DataSource, TrainConfig, train};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn folder_job(spec: ImageFolderSource) -> DataConfig {
    DataConfig {
        source: DataSource::ImageFolder(spec),
        ..DataConfig::default()
    }
}

#[test]
fn the_image_folder_job_trains_on_the_digits_written_as_png() {
    // jobs/image-folder.toml as committed, its relative folder resolved against the repo root.
    let mut job = TrainConfig::load(&repo_root().join("jobs/image-folder.toml")).unwrap();
    let DataSource::ImageFolder(spec) = &mut job.data.source else {
        panic!("jobs/image-folder.toml reads an image folder");
    };
    spec.path = repo_root().join(&spec.path);
    write_digits_folder(&spec.path).unwrap();
    let digits = nn_data::digits_split(0);
    let data = prepare(&job.data, job.seed).unwrap();
    assert_eq!(data.input_shape, [1, 8, 8]);
    assert_eq!(
        (data.train.len(), data.val.len(), data.test.len()),
        (digits.train.len(), digits.val.len(), digits.test.len())
    );
    assert_eq!(
        data.class_names,
        (0..10).map(|c| c.to_string()).collect::<Vec<_>>()
    );
    // The pixels are the digits' (8-bit PNG of v·255: within half a step). The folder lists
    // class 0 first, in the digits' order.
    let j = (0..digits.train.len())
        .find(|&j| digits.train.label(j).unwrap() == 0)
        .unwrap();
    let (a, b) = (
        data.train.get(0).unwrap().image,
        digits.train.get(j).unwrap().image,
    );
    assert!(
        a.iter()
            .zip(&b)
            .all(|(x, y)| (x - y).abs() <= 0.5 / 255.0 + 1e-6)
    );
    let trained = train(&job, &mut |_| {}).unwrap();
    let h = &trained.report.history;
    assert!(h.last().unwrap().train_loss < h[0].train_loss, "{h:?}");
    assert!(trained.report.test_acc > 0.8, "{}", trained.report.test_acc);
}

fn write(path: &Path, w: u32, h: u32, px: [u8; 3]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    RgbImage::from_pixel(w, h, Rgb(px))
        .save_with_format(path, ImageFormat::Png)
        .unwrap();
}

/// `root/<class>/<i>.png`: 3 classes of 20 images, each class its own colour.
fn flat_folder(root: &Path, w: u32, h: u32) {
    for (c, name) in ["apple", "kiwi", "plum"].iter().enumerate() {
        for i in 0..20u8 {
            let mut px = [30 + i, 30 + i, 30 + i];
            px[c] = 200;
            write(&root.join(name).join(format!("{i}.png")), w, h, px);
        }
    }
}

#[test]
fn a_flat_folder_is_split_by_class_with_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    flat_folder(dir.path(), 10, 6);
    let spec = ImageFolderSource {
        size: Some([4, 5]),
        test_fraction: 0.25,
        cache_mb: 1,
        ..ImageFolderSource::new(dir.path())
    };
    let config = DataConfig {
        val_fraction: 0.25,
        ..folder_job(spec)
    };
    let data = prepare(&config, 3).unwrap();
    assert_eq!(data.input_shape, [3, 4, 5]);
    assert_eq!(data.class_names, ["apple", "kiwi", "plum"]);
    assert_eq!(
        (data.train.len(), data.val.len(), data.test.len()),
        (30, 15, 15)
    );
    for part in [&data.train, &data.val, &data.test] {
        let labels: Vec<usize> = (0..part.len()).map(|i| part.label(i).unwrap()).collect();
        for c in 0..3 {
            assert_eq!(labels.iter().filter(|&&l| l == c).count() * 3, part.len());
        }
    }
    let again = prepare(&config, 3).unwrap();
    let other = prepare(&config, 4).unwrap();
    let images = |d: &nn_train::data::PreparedData| {
        (0..d.test.len())
            .map(|i| d.test.get(i).unwrap().image)
            .collect::<Vec<_>>()
    };
    assert_eq!(images(&data), images(&again));
    assert_ne!(images(&data), images(&other));
    // data.channels = 1: the same images as luma, 0.2989·R + 0.587·G + 0.114·B (torchvision's
    // Grayscale).
    let gray = prepare(
        &DataConfig {
            channels: Some(1),
            ..config.clone()
        },
        3,
    )
    .unwrap();
    assert_eq!(gray.input_shape, [1, 4, 5]);
    for (rgb, luma) in images(&data).iter().zip(images(&gray)) {
        assert_eq!(luma.dim(), (1, 4, 5));
        for ((y, x), v) in luma.index_axis(ndarray::Axis(0), 0).indexed_iter() {
            let want = 0.2989 * rgb[[0, y, x]] + 0.587 * rgb[[1, y, x]] + 0.114 * rgb[[2, y, x]];
            assert!((v - want).abs() < 1e-5, "{v} vs {want}");
        }
    }
    // A short job trains on it and learns the colours.
    let job = TrainConfig {
        epochs: 15,
        batch_size: 8,
        data: config,
        ..TrainConfig::default()
    };
    let trained = train(&job, &mut |_| {}).unwrap();
    assert!(trained.report.test_acc > 0.9, "{}", trained.report.test_acc);
}

#[test]
fn bad_folders_are_errors_naming_the_file_or_folder() {
    let spec = |p: &Path| ImageFolderSource {
        color: ImageColor::Rgb,
        ..ImageFolderSource::new(p)
    };
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let e = prepare(&folder_job(spec(&missing)), 0)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("nowhere") && e.contains("image_folder"), "{e}");

    // Files are read when the loader needs them (streaming): a bad one fails the job then,
    // named.
    let train_err = |source: ImageFolderSource| {
        let job = TrainConfig {
            epochs: 1,
            data: folder_job(source),
            ..TrainConfig::default()
        };
        train(&job, &mut |_| {})
            .err()
            .expect("the job fails")
            .to_string()
    };
    // A file that is no image.
    let root = dir.path().join("a");
    flat_folder(&root.join("train"), 6, 6);
    std::fs::write(root.join("train/kiwi/7.png"), b"\x89PNG\r\n\x1a\nbroken").unwrap();
    let e = train_err(spec(&root));
    assert!(
        e.contains("kiwi/7.png") && e.contains("unreadable image"),
        "{e}"
    );

    // A test folder with a class the training folder lacks.
    let root = dir.path().join("b");
    flat_folder(&root.join("train"), 6, 6);
    write(&root.join("test/pear/0.png"), 6, 6, [1, 2, 3]);
    let e = prepare(&folder_job(spec(&root)), 0)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("pear") && e.contains("apple, kiwi, plum"), "{e}");

    // An image of another size without `size`: named, with the fix.
    let root = dir.path().join("c");
    flat_folder(&root.join("train"), 6, 6);
    write(&root.join("train/plum/odd.png"), 7, 6, [1, 2, 3]);
    let e = train_err(spec(&root));
    assert!(e.contains("odd.png") && e.contains("size = [6, 6]"), "{e}");
    let fixed = ImageFolderSource {
        size: Some([6, 6]),
        ..spec(&root)
    };
    assert!(prepare(&folder_job(fixed), 0).is_ok());

    // Config values are checked with their field named.
    let bad = ImageFolderSource {
        test_fraction: 0.95,
        ..spec(&root)
    };
    let job = TrainConfig {
        data: folder_job(bad),
        ..TrainConfig::default()
    };
    let e = job.validate().unwrap_err().to_string();
    assert!(e.contains("data.source.image_folder.test_fraction"), "{e}");
}

#[test]
fn val_and_test_folders_are_used_as_given() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    flat_folder(&root.join("train"), 6, 6);
    write(&root.join("validation/plum/0.png"), 6, 6, [1, 2, 200]);
    write(&root.join("test/kiwi/0.png"), 6, 6, [1, 200, 2]);
    write(&root.join("test/kiwi/1.png"), 6, 6, [1, 201, 2]);
    let data = prepare(&folder_job(ImageFolderSource::new(root)), 0).unwrap();
    assert_eq!(
        (data.train.len(), data.val.len(), data.test.len()),
        (60, 1, 2)
    );
    assert_eq!(data.val.label(0).unwrap(), 2);
    assert_eq!(data.test.label(1).unwrap(), 1);
}
