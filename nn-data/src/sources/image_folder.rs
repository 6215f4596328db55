//! An image-folder data set (torchvision's `ImageFolder`): `root/<class>/…/<image>`, one
//! sub-folder per class, classes sorted by name, images decoded with the `image` crate (PNG and
//! JPEG are enabled), optionally resized on load. Images are decoded when read (in the loader's
//! parallel workers), optionally through a bounded cache ([`ImageFolder::with_cache`]) for sets
//! that do not fit in memory; [`ImageFolder::with_classes`] reads a validation or test folder
//! with the training folder's labels.

mod cache;

pub use cache::ImageCache;

use super::read_file;
use crate::dataset::check_index;
use crate::{DataError, Dataset, InMemoryDataset, Sample};
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use ndarray::{Array3, Array4, Axis};
use rayon::prelude::*;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The channels images are converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorMode {
    /// 3 channels (torchvision's default loader converts to RGB).
    #[default]
    Rgb,
    /// 1 channel (luma).
    Gray,
}

/// How an [`ImageFolder`] finds and decodes images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFolderConfig {
    /// Resize every image to `(height, width)` with a bilinear, antialiased filter
    /// (like torchvision's `Resize((h, w))`); `None` keeps the size of the file.
    pub resize: Option<(u32, u32)>,
    /// The channels of the decoded images.
    pub color: ColorMode,
    /// Accepted file extensions, lower case, without dot (matched case-insensitively).
    pub extensions: Vec<String>,
    /// Largest accepted `width × height` (checked from the header, before decoding): a guard
    /// against decompression bombs (a few hundred bytes of JPEG can announce 60 Mpx). The
    /// default is PIL's `Image.MAX_IMAGE_PIXELS`, 89,478,485.
    pub max_pixels: u64,
    /// Without `resize`: refuse images whose `(height, width)` differs from this (checked from
    /// the header, a typed error naming the file), instead of failing later when a batch is
    /// stacked. `None` accepts any size.
    pub expect_size: Option<(u32, u32)>,
}

/// PIL's default decompression-bomb limit (`Image.MAX_IMAGE_PIXELS`).
pub const DEFAULT_MAX_PIXELS: u64 = 89_478_485;

impl Default for ImageFolderConfig {
    fn default() -> Self {
        Self {
            resize: None,
            color: ColorMode::Rgb,
            extensions: ["png", "jpg", "jpeg"].map(String::from).to_vec(),
            max_pixels: DEFAULT_MAX_PIXELS,
            expect_size: None,
        }
    }
}

impl ImageFolderConfig {
    /// Checks the configuration (a resize to 0 pixels or no extension is an error).
    pub fn validate(&self) -> Result<(), DataError> {
        if let Some((h, w)) = self.resize {
            if h == 0 || w == 0 {
                return Err(DataError::invalid(
                    "resize",
                    format!("({h}, {w})"),
                    "sizes ≥ 1",
                ));
            }
        }
        if self.max_pixels == 0 {
            return Err(DataError::invalid("max_pixels", 0, "≥ 1"));
        }
        if self.extensions.is_empty() {
            return Err(DataError::invalid(
                "extensions",
                "[]",
                "at least one extension",
            ));
        }
        Ok(())
    }
}

/// Reads an encoded image's header (format detected from the content) and returns its
/// decoder, with the `image` crate's [`Limits`] set from `max_pixels` (at most 8 bytes, RGBA16,
/// per pixel), after checking the declared `width × height` against `max_pixels`: a
/// decompression bomb (a few hundred bytes of PNG or JPEG can announce gigapixels) is refused
/// before anything is decoded. A 0-pixel image is refused too. Errors name `origin`.
pub fn image_decoder<'a>(
    bytes: &'a [u8],
    origin: &Path,
    max_pixels: u64,
) -> Result<impl ImageDecoder + 'a, DataError> {
    let unreadable = |source| DataError::UnreadableImage {
        path: origin.into(),
        source,
    };
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DataError::io(origin, e))?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(8).saturating_add(1 << 20));
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(unreadable)?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(DataError::ImageTooLarge {
            path: origin.into(),
            width,
            height,
            max_pixels,
        });
    }
    if width == 0 || height == 0 {
        return Err(DataError::malformed(
            origin,
            format!("image of {width}x{height} pixels (expected at least 1x1)"),
        ));
    }
    Ok(decoder)
}

/// Decodes an encoded image through [`image_decoder`] (bounded by `max_pixels` from the header).
pub fn decode_bounded(
    bytes: &[u8],
    origin: &Path,
    max_pixels: u64,
) -> Result<DynamicImage, DataError> {
    let decoder = image_decoder(bytes, origin, max_pixels)?;
    DynamicImage::from_decoder(decoder).map_err(|source| DataError::UnreadableImage {
        path: origin.into(),
        source,
    })
}

/// Decodes an encoded image (format detected from the content) to CHW bytes, converting colour
/// and resizing as `config` says; images above `config.max_pixels` are refused before decoding.
/// Errors name `origin`.
pub fn decode_image(
    bytes: &[u8],
    origin: &Path,
    config: &ImageFolderConfig,
) -> Result<Array3<u8>, DataError> {
    let unreadable = |source| DataError::UnreadableImage {
        path: origin.into(),
        source,
    };
    let decoder = image_decoder(bytes, origin, config.max_pixels)?;
    let (width, height) = decoder.dimensions();
    if let (None, Some(expected)) = (config.resize, config.expect_size) {
        if (height, width) != expected {
            return Err(DataError::ImageSize {
                path: origin.into(),
                height,
                width,
                expected_height: expected.0,
                expected_width: expected.1,
            });
        }
    }
    let mut img = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    let (color, resize) = (config.color, config.resize);
    if let Some((h, w)) = resize {
        if (img.height(), img.width()) != (h, w) {
            img = img.resize_exact(w, h, FilterType::Triangle);
        }
    }
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (c, raw) = match color {
        ColorMode::Rgb => (3, img.into_rgb8().into_raw()),
        ColorMode::Gray => (1, img.into_luma8().into_raw()),
    };
    // raw is HWC; permute to CHW.
    let hwc = Array3::from_shape_vec((h, w, c), raw)
        .map_err(|e| DataError::malformed(origin, e.to_string()))?;
    Ok(hwc
        .permuted_axes([2, 0, 1])
        .as_standard_layout()
        .into_owned())
}

/// A lazily decoded image-folder data set: listing happens in [`ImageFolder::new`], decoding in
/// [`Dataset::get`] (so an unreadable file is reported when it is read, naming it), or all at
/// once with [`ImageFolder::load_into_memory`].
#[derive(Debug, Clone)]
pub struct ImageFolder {
    root: PathBuf,
    classes: Vec<String>,
    files: Vec<(PathBuf, usize)>,
    config: ImageFolderConfig,
    cache: Option<Arc<ImageCache>>,
}

impl ImageFolder {
    /// Lists `root`: every sub-folder is a class (sorted by name); every file below it (recursively,
    /// sorted) with an accepted extension is a sample. Errors on a missing root, no class folder,
    /// or a class folder without images.
    pub fn new(root: impl Into<PathBuf>, config: ImageFolderConfig) -> Result<Self, DataError> {
        config.validate()?;
        let root = root.into();
        let mut classes: Vec<String> = read_dir_sorted(&root)?
            .into_iter()
            .filter(|p| p.is_dir())
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        classes.sort();
        if classes.is_empty() {
            return Err(DataError::NoClassFolders { path: root });
        }
        let mut files = Vec::new();
        for (label, class) in classes.iter().enumerate() {
            let dir = root.join(class);
            let before = files.len();
            walk(&root, &dir, &config.extensions, &mut |p| {
                files.push((p, label))
            })?;
            if files.len() == before {
                return Err(DataError::EmptyClassFolder {
                    path: dir,
                    extensions: config.extensions.join(", "),
                });
            }
        }
        Ok(Self {
            root,
            classes,
            files,
            config,
            cache: None,
        })
    }

    /// Lists `root` with the labels of `classes` (typically the training folder's
    /// [`class_names`](Dataset::class_names)): every sub-folder must be one of them (else
    /// [`DataError::UnknownClassFolder`]), classes without a folder or without images simply
    /// have no samples; at least one image overall. For validation and test folders.
    pub fn with_classes(
        root: impl Into<PathBuf>,
        classes: &[String],
        config: ImageFolderConfig,
    ) -> Result<Self, DataError> {
        config.validate()?;
        let root = root.into();
        let mut files = Vec::new();
        let mut any_folder = false;
        for dir in read_dir_sorted(&root)?.into_iter().filter(|p| p.is_dir()) {
            any_folder = true;
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let Some(label) = classes.iter().position(|c| *c == name) else {
                return Err(DataError::UnknownClassFolder {
                    path: dir,
                    known: classes.join(", "),
                });
            };
            walk(&root, &dir, &config.extensions, &mut |p| {
                files.push((p, label))
            })?;
        }
        if !any_folder {
            return Err(DataError::NoClassFolders { path: root });
        }
        if files.is_empty() {
            return Err(DataError::EmptyClassFolder {
                path: root,
                extensions: config.extensions.join(", "),
            });
        }
        // Sorted by class, then path, as `new` lists them.
        files.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        Ok(Self {
            root,
            classes: classes.to_vec(),
            files,
            config,
            cache: None,
        })
    }

    /// Keeps decoded images in a bounded cache of `bytes` bytes of pixels (1 byte per channel
    /// value): the first images decoded stay until the budget is spent, nothing is evicted (see
    /// [`ImageCache`]). A budget of at least `len · C · H · W` bytes decodes every image once.
    pub fn with_cache(mut self, bytes: u64) -> Self {
        self.cache = (bytes > 0).then(|| Arc::new(ImageCache::new(self.files.len(), bytes)));
        self
    }

    /// The cache, if any.
    pub fn cache(&self) -> Option<&ImageCache> {
        self.cache.as_deref()
    }

    /// The decoding configuration.
    pub fn config(&self) -> &ImageFolderConfig {
        &self.config
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every sample's file and label, in index order.
    pub fn files(&self) -> &[(PathBuf, usize)] {
        &self.files
    }

    /// Reads and decodes image `index` as CHW bytes.
    pub fn get_u8(&self, index: usize) -> Result<Array3<u8>, DataError> {
        check_index(index, self.len())?;
        if let Some(hit) = self.cache.as_ref().and_then(|c| c.get(index)) {
            return Ok((*hit).clone());
        }
        let path = &self.files[index].0;
        let image = decode_image(&read_file(path)?, path, &self.config)?;
        if let Some(cache) = &self.cache {
            cache.offer(index, &image);
        }
        Ok(image)
    }

    /// Decodes every image (in parallel on the current rayon pool) into an in-memory data set.
    /// All images must have one size (set [`ImageFolderConfig::resize`] otherwise).
    pub fn load_into_memory(&self) -> Result<InMemoryDataset, DataError> {
        let images: Vec<Array3<u8>> = (0..self.len())
            .into_par_iter()
            .map(|i| self.get_u8(i))
            .collect::<Result<_, _>>()?;
        let shape = images[0].shape().to_vec();
        let mut all = Array4::zeros((images.len(), shape[0], shape[1], shape[2]));
        for (i, (img, mut dst)) in images.iter().zip(all.axis_iter_mut(Axis(0))).enumerate() {
            if img.shape() != shape.as_slice() {
                return Err(DataError::ShapeMismatch {
                    index: i,
                    expected: shape,
                    found: img.shape().to_vec(),
                });
            }
            dst.assign(img);
        }
        let labels = self.files.iter().map(|(_, l)| *l).collect();
        InMemoryDataset::from_u8(all, 255.0, labels, self.classes.len())?
            .with_class_names(self.classes.iter().cloned())
    }
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut entries = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|err| DataError::io(dir, err)))
        .collect::<Result<Vec<_>, _>>()?;
    entries.sort();
    Ok(entries)
}

/// Lists the files below `dir` with an accepted extension, sorted, following symbolic links
/// to folders; a link back to a folder above it, up to the data set's `root` (a loop, which would list the same images
/// again and again under longer and longer names) is [`DataError::Malformed`] naming the link.
fn walk(
    root: &Path,
    dir: &Path,
    exts: &[String],
    found: &mut dyn FnMut(PathBuf),
) -> Result<(), DataError> {
    let real = |p: &Path| std::fs::canonicalize(p).map_err(|e| DataError::io(p, e));
    walk_below(dir, exts, found, &mut vec![real(root)?, real(dir)?])
}

fn walk_below(
    dir: &Path,
    exts: &[String],
    found: &mut dyn FnMut(PathBuf),
    ancestors: &mut Vec<PathBuf>,
) -> Result<(), DataError> {
    for p in read_dir_sorted(dir)? {
        if p.is_dir() {
            let real = std::fs::canonicalize(&p).map_err(|e| DataError::io(&p, e))?;
            if ancestors.contains(&real) {
                return Err(DataError::malformed(
                    &p,
                    format!(
                        "symbolic link loop: it leads back to {}, a folder above it",
                        real.display()
                    ),
                ));
            }
            ancestors.push(real);
            walk_below(&p, exts, found, ancestors)?;
            ancestors.pop();
        } else if p
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .is_some_and(|e| exts.iter().any(|x| x.eq_ignore_ascii_case(&e)))
        {
            found(p);
        }
    }
    Ok(())
}

impl Dataset for ImageFolder {
    fn len(&self) -> usize {
        self.files.len()
    }

    fn get(&self, index: usize) -> Result<Sample, DataError> {
        let image = self.get_u8(index)?.mapv(|v| f32::from(v) / 255.0);
        Ok(Sample {
            image,
            label: self.files[index].1,
        })
    }

    fn num_classes(&self) -> usize {
        self.classes.len()
    }

    fn class_names(&self) -> Option<&[String]> {
        Some(&self.classes)
    }

    fn label(&self, index: usize) -> Result<usize, DataError> {
        check_index(index, self.len())?;
        Ok(self.files[index].1)
    }
}

#[cfg(test)]
mod tests;
