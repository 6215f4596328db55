//! Your own images as a job's data: `source = { image_folder = "DIR" }` ([`ImageFolderSource`]).
//!
//! Layouts (torchvision's `ImageFolder` under each split):
//! * `DIR/train/CLASS/*.{png,jpg,jpeg}` with optional `DIR/val/` (or `valid/`, `validation/`)
//!   and `DIR/test/` of the same form. A missing `val/` is a seeded stratified
//!   `data.val_fraction` of `train/`; a missing `test/` is a seeded stratified `test_fraction`
//!   of it.
//! * `DIR/CLASS/*` (no `train/`): one seeded stratified split into train / validation / test
//!   (`1 − data.val_fraction − test_fraction`, `data.val_fraction`, `test_fraction`).
//!
//! Classes are the training folder's sub-folders, sorted by name (their names are kept in the
//! run folder as `classes.json`); a validation or test folder may only hold those. Images are
//! decoded, converted (`color`) and resized (`size`, bilinear with antialiasing as
//! torchvision's `Resize`) when the loader reads them, in its parallel workers; decoded images
//! stay in a bounded cache of `cache_mb` MiB ([`nn_data::ImageCache`]), so a set that fits is
//! decoded once and a larger one streams from disk. Without `size`, every image must have the
//! size of the first training image (an image of another size is an error naming the file).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nn_data::{ColorMode, Dataset, ImageFolder, ImageFolderConfig};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{IMAGE_FOLDER_MAX_PIXELS, Result, TrainError, invalid};

/// The channels images are converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ImageColor {
    /// 3 channels (torchvision's default loader converts to RGB).
    #[default]
    Rgb,
    /// 1 channel (luma).
    Gray,
}

/// `source = { image_folder = ... }`: the folder and how to read it. `"DIR"` alone means
/// [`ImageFolderSource::new`]`("DIR")`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageFolderSource {
    /// The folder (with `train/`, or with one sub-folder per class).
    pub path: PathBuf,
    /// Resize every image to `[height, width]` on load. Default: keep the files' size, which
    /// must then be the same for all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<[u32; 2]>,
    /// `rgb` (default) or `gray`.
    #[serde(default)]
    pub color: ImageColor,
    /// Share of each class held out for testing when there is no `test/` folder. Default 0.15.
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
    /// MiB of decoded pixels (1 byte per channel value) kept in memory. Default 1024.
    #[serde(default = "default_cache_mb")]
    pub cache_mb: u64,
    /// The largest image accepted, in pixels (width × height, read from the file's header
    /// before decoding: a guard against decompression bombs). Default PIL's 89,478,485.
    #[serde(default = "default_max_pixels")]
    pub max_pixels: u64,
}

fn default_test_fraction() -> f64 {
    0.15
}
fn default_cache_mb() -> u64 {
    1024
}
fn default_max_pixels() -> u64 {
    nn_data::DEFAULT_MAX_PIXELS
}

impl ImageFolderSource {
    /// The folder `path` with the defaults: files' own size, RGB, 15 % test split when there is
    /// no `test/`, a 1 GiB cache.
    pub fn new(path: impl Into<PathBuf>) -> ImageFolderSource {
        ImageFolderSource {
            path: path.into(),
            size: None,
            color: ImageColor::Rgb,
            test_fraction: default_test_fraction(),
            cache_mb: default_cache_mb(),
            max_pixels: default_max_pixels(),
        }
    }

    /// Checks the values (`val_fraction` is the job's `data.val_fraction`).
    pub fn validate(&self, val_fraction: f64) -> Result<()> {
        if let Some([h, w]) = self.size
            && (h == 0 || w == 0)
        {
            return Err(invalid(
                "data.source.image_folder.size",
                format!("[{h}, {w}]"),
                "[height, width] of at least 1 pixel",
            ));
        }
        if self.max_pixels == 0 {
            return Err(invalid(IMAGE_FOLDER_MAX_PIXELS, 0, "at least 1 pixel"));
        }
        if !(0.0..1.0).contains(&self.test_fraction) || self.test_fraction + val_fraction >= 1.0 {
            return Err(invalid(
                "data.source.image_folder.test_fraction",
                self.test_fraction,
                "a fraction in [0, 1) with test_fraction + data.val_fraction < 1",
            ));
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for ImageFolderSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ImageFolderSource;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a folder \"DIR\" or a table { path = \"DIR\", size = [H, W], color = \"rgb\"|\"gray\", test_fraction = 0.15, cache_mb = 1024, max_pixels = 89478485 }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
                Ok(ImageFolderSource::new(v))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                Table::deserialize(de::value::MapAccessDeserializer::new(map)).map(Into::into)
            }
        }
        d.deserialize_any(V)
    }
}

/// The table form of [`ImageFolderSource`] (derived, so that unknown keys are named).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    path: PathBuf,
    #[serde(default)]
    size: Option<[u32; 2]>,
    #[serde(default)]
    color: ImageColor,
    #[serde(default = "default_test_fraction")]
    test_fraction: f64,
    #[serde(default = "default_cache_mb")]
    cache_mb: u64,
    #[serde(default = "default_max_pixels")]
    max_pixels: u64,
}

impl From<Table> for ImageFolderSource {
    fn from(t: Table) -> Self {
        ImageFolderSource {
            path: t.path,
            size: t.size,
            color: t.color,
            test_fraction: t.test_fraction,
            cache_mb: t.cache_mb,
            max_pixels: t.max_pixels,
        }
    }
}

/// The three splits of an image folder.
pub struct FolderSplits {
    /// Training images.
    pub train: Arc<dyn Dataset>,
    /// Validation images.
    pub val: Arc<dyn Dataset>,
    /// Test images.
    pub test: Arc<dyn Dataset>,
}

/// The first existing sub-folder of `dir` among `names`.
fn sub_folder(dir: &Path, names: &[&str]) -> Option<PathBuf> {
    names.iter().map(|n| dir.join(n)).find(|p| p.is_dir())
}

/// Lists and splits the folder of `spec` (see the module docs); `seed` drives the splits.
pub fn load_image_folder(
    spec: &ImageFolderSource,
    val_fraction: f64,
    seed: u64,
) -> Result<FolderSplits> {
    spec.validate(val_fraction)?;
    let mut config = ImageFolderConfig {
        resize: spec.size.map(|[h, w]| (h, w)),
        color: match spec.color {
            ImageColor::Rgb => ColorMode::Rgb,
            ImageColor::Gray => ColorMode::Gray,
        },
        max_pixels: spec.max_pixels,
        ..ImageFolderConfig::default()
    };
    let root = &spec.path;
    if !root.is_dir() {
        return Err(TrainError::Data(nn_data::DataError::io(
            root,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such image folder (data.source.image_folder)",
            ),
        )));
    }
    let train_dir = sub_folder(root, &["train"]);
    let listing_root = train_dir.clone().unwrap_or_else(|| root.clone());
    let listed = ImageFolder::new(&listing_root, config.clone())?;
    if config.resize.is_none() {
        // Every image must have the first one's size: check it from each header as it is read.
        let first = listed.get_u8(0)?;
        let (_, h, w) = first.dim();
        config.expect_size = Some((h as u32, w as u32));
    }
    let classes: Vec<String> = listed
        .class_names()
        .map(<[String]>::to_vec)
        .unwrap_or_default();
    let budget = spec.cache_mb.saturating_mul(1 << 20);
    let train_folder = ImageFolder::new(&listing_root, config.clone())?;
    if train_dir.is_none() {
        let all = Arc::new(train_folder.with_cache(budget));
        let parts = nn_data::train_val_test_split(all, val_fraction, spec.test_fraction, seed)?;
        return Ok(FolderSplits {
            train: Arc::new(parts.train),
            val: Arc::new(parts.val),
            test: Arc::new(parts.test),
        });
    }
    let open = |dir: &Path| ImageFolder::with_classes(dir, &classes, config.clone());
    let val_folder = sub_folder(root, &["val", "valid", "validation"])
        .map(|d| open(&d))
        .transpose()?;
    let test_folder = sub_folder(root, &["test"]).map(|d| open(&d)).transpose()?;
    // The cache budget is shared in proportion to the files of each folder.
    let total = (train_folder.len()
        + val_folder.as_ref().map_or(0, |f| f.len())
        + test_folder.as_ref().map_or(0, |f| f.len())) as u64;
    let share = |n: usize| budget / total.max(1) * n as u64;
    let train_all = Arc::new(train_folder.clone().with_cache(share(train_folder.len())));
    let cached = |f: ImageFolder| -> Arc<dyn Dataset> {
        let n = f.len();
        Arc::new(f.with_cache(share(n)))
    };
    let (train, val, test): (Arc<dyn Dataset>, Arc<dyn Dataset>, Arc<dyn Dataset>) =
        match (val_folder, test_folder) {
            (Some(v), Some(t)) => (train_all, cached(v), cached(t)),
            (Some(v), None) => {
                let (tr, te) = nn_data::train_val_split(train_all, spec.test_fraction, seed)?;
                (Arc::new(tr), cached(v), Arc::new(te))
            }
            (None, Some(t)) => {
                let (tr, va) = nn_data::train_val_split(train_all, val_fraction, seed)?;
                (Arc::new(tr), Arc::new(va), cached(t))
            }
            (None, None) => {
                let p = nn_data::train_val_test_split(
                    train_all,
                    val_fraction,
                    spec.test_fraction,
                    seed,
                )?;
                (Arc::new(p.train), Arc::new(p.val), Arc::new(p.test))
            }
        };
    Ok(FolderSplits { train, val, test })
}

/// Writes the embedded UCI digits as an image folder: `dir/{train,val,test}/<digit>/<index>.png`
/// (8×8 grayscale PNGs; the digits' own stratified 70/15/15 split of seed 0), for trying the
/// `image_folder` source (`jobs/image-folder.toml`). Does nothing if `dir` exists already; the
/// folder is written under a temporary name and renamed, so a reader never sees half of it.
pub fn write_digits_folder(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let err = |source| TrainError::Write {
        path: dir.to_path_buf(),
        source,
    };
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(err)?;
    let tmp = parent.join(format!(
        ".{}.{}.tmp",
        dir.file_name().and_then(|n| n.to_str()).unwrap_or("digits"),
        std::process::id()
    ));
    let split = nn_data::digits_split(0);
    let parts: [(&str, &dyn Dataset); 3] = [
        ("train", &split.train),
        ("val", &split.val),
        ("test", &split.test),
    ];
    for (name, part) in parts {
        for i in 0..part.len() {
            let s = part.get(i)?;
            let (_, h, w) = s.image.dim();
            let pixels: Vec<u8> = s.image.iter().map(|v| (v * 255.0).round() as u8).collect();
            let img =
                image::GrayImage::from_raw(w as u32, h as u32, pixels).expect("w·h gray pixels");
            let path = tmp
                .join(name)
                .join(s.label.to_string())
                .join(format!("{i:04}.png"));
            std::fs::create_dir_all(path.parent().expect("has a parent")).map_err(err)?;
            img.save(&path).map_err(|e| TrainError::Write {
                path: path.clone(),
                source: std::io::Error::other(e),
            })?;
        }
    }
    match std::fs::rename(&tmp, dir) {
        Ok(()) => Ok(()),
        // Another process wrote it first.
        Err(_) if dir.is_dir() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(())
        }
        Err(e) => Err(err(e)),
    }
}
