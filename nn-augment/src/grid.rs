//! Seeing the augmentations: render one image under several transforms into a PNG-ready grid
//! (one labelled row per transform, `columns` random draws per row), so users can look at a
//! pipeline before training with it.

use crate::color::jitter::ColorJitterConfig;
use crate::compose::SequenceConfig;
use crate::config::TransformConfig as T;
use crate::convert::to_rgb;
use crate::error::{AugmentError, Result};
use crate::font::draw_text;
use crate::geometry::resize::resize;
use crate::transform::Transform;
use crate::types::Interpolation;
use image::{Rgb, RgbImage};
use ndarray::Array3;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

const PAD: u32 = 4;
const LABEL_H: u32 = 16;
const BG: [u8; 3] = [245, 245, 245];

/// Maps an output to `[0, 1]` for display: clamps, or min-max rescales images that are far outside
/// (normalised outputs).
fn displayable(img: &Array3<f32>, cell: usize) -> Array3<f32> {
    let (lo, hi) = img
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let mut out = if lo < -0.05 || hi > 1.05 {
        let s = if hi > lo { 1.0 / (hi - lo) } else { 1.0 };
        img.mapv(|x| (x - lo) * s)
    } else {
        img.mapv(|x| x.clamp(0.0, 1.0))
    };
    let (_, h, w) = out.dim();
    if h > cell || w > cell {
        let s = cell as f64 / h.max(w) as f64;
        let nh = ((h as f64 * s).round() as usize).max(1);
        let nw = ((w as f64 * s).round() as usize).max(1);
        out = resize(&out, nh, nw, Interpolation::Bilinear, true).mapv(|x| x.clamp(0.0, 1.0));
    }
    out
}

fn blit(canvas: &mut RgbImage, img: &Array3<f32>, x0: u32, y0: u32, cell: u32) {
    let rgb = to_rgb(img);
    let (w, h) = rgb.dimensions();
    let ox = x0 + (cell - w) / 2;
    let oy = y0 + (cell - h) / 2;
    for (x, y, p) in rgb.enumerate_pixels() {
        canvas.put_pixel(ox + x, oy + y, *p);
    }
}

/// Renders `image` under each `(label, transform)` row, `columns` random draws per row, on a grid
/// whose cells are as large as the input's longer side (larger outputs are shrunk to fit, smaller
/// ones centred). The first row shows the input. Row `r` draws from
/// `ChaCha8Rng::seed_from_u64(seed)` with stream `r`, so the picture is reproducible.
///
/// # Panics
/// If `columns` is 0 or the image has neither 1 nor 3 channels.
pub fn render_grid(
    image: &Array3<f32>,
    rows: &[(&str, &dyn Transform)],
    columns: usize,
    seed: u64,
) -> RgbImage {
    assert!(columns > 0, "render_grid: columns must be ≥ 1");
    let (_, h, w) = image.dim();
    let cell = h.max(w).max(8);
    let c = cell as u32;
    let width = PAD + columns as u32 * (c + PAD);
    let height = (rows.len() as u32 + 1) * (LABEL_H + c + PAD) + PAD;
    let label_w = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0)
        .max(8) as u32
        * 8;
    let mut canvas = RgbImage::from_pixel(width.max(label_w + 2 * PAD), height, Rgb(BG));
    let mut y = PAD;
    draw_text(&mut canvas, PAD, y + 3, "original", 2, [20, 20, 20]);
    y += LABEL_H;
    blit(&mut canvas, &displayable(image, cell), PAD, y, c);
    y += c + PAD;
    for (r, (label, t)) in rows.iter().enumerate() {
        draw_text(&mut canvas, PAD, y + 3, label, 2, [20, 20, 20]);
        y += LABEL_H;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(r as u64);
        for k in 0..columns {
            let out = t.apply_random(image, &mut rng);
            blit(
                &mut canvas,
                &displayable(&out, cell),
                PAD + k as u32 * (c + PAD),
                y,
                c,
            );
        }
        y += c + PAD;
    }
    canvas
}

/// The showcase rows used by the `augment_grid` example: one per transform family plus the CIFAR
/// recipe and an ImageNet-style pipeline, sized for a square input of side `size`.
pub fn showcase_rows(size: usize) -> Vec<(String, Box<dyn Transform>)> {
    let s = size;
    let j = |text: &str| -> Box<dyn Transform> {
        T::from_json(text)
            .and_then(|c| c.build())
            .expect("showcase configs are valid")
    };
    let pipeline = |cfg: SequenceConfig| -> Box<dyn Transform> {
        Box::new(cfg.init().expect("showcase pipelines are valid"))
    };
    vec![
        ("horizontal flip".into(), j(r#"{"type": "horizontal_flip"}"#)),
        ("vertical flip".into(), j(r#"{"type": "vertical_flip"}"#)),
        (
            format!("random crop {}, pad {}", s, s / 8),
            j(&format!(r#"{{"type": "random_crop", "size": {s}, "padding": {}}}"#, s / 8)),
        ),
        (
            "random crop, reflect pad".into(),
            j(&format!(
                r#"{{"type": "random_crop", "size": {s}, "padding": {}, "padding_mode": "reflect"}}"#,
                s / 4
            )),
        ),
        (
            format!("random resized crop {s}"),
            j(&format!(r#"{{"type": "random_resized_crop", "size": {s}}}"#)),
        ),
        (
            "scale aug: short side 1-1.9x, crop".into(),
            pipeline(SequenceConfig {
                transforms: vec![
                    T::from_json(&format!(
                        r#"{{"type": "random_resize", "min_size": {s}, "max_size": {}}}"#,
                        s * 15 / 8
                    ))
                    .expect("valid"),
                    T::from_json(&format!(r#"{{"type": "random_crop", "size": {s}}}"#)).expect("valid"),
                ],
            }),
        ),
        ("translate 20%".into(), j(r#"{"type": "random_affine", "translate": [0.2, 0.2], "interpolation": "bilinear"}"#)),
        ("rotate +-30".into(), j(r#"{"type": "random_rotation", "degrees": 30, "interpolation": "bilinear"}"#)),
        ("stretch x,y 0.7-1.3".into(), j(r#"{"type": "random_stretch", "x": [0.7, 1.3], "y": [0.7, 1.3]}"#)),
        ("shear +-20".into(), j(r#"{"type": "random_affine", "shear": [-20, 20, -20, 20], "interpolation": "bilinear"}"#)),
        (
            "affine: rot,translate,scale,shear".into(),
            j(r#"{"type": "random_affine", "degrees": 15, "translate": [0.1, 0.1], "scale": [0.8, 1.2], "shear": 10, "interpolation": "bilinear"}"#),
        ),
        ("lens: barrel (k1 0.2-0.5)".into(), j(r#"{"type": "lens_distortion", "k1": [0.2, 0.5]}"#)),
        ("lens: pincushion (k1 -0.3--0.1)".into(), j(r#"{"type": "lens_distortion", "k1": [-0.3, -0.1]}"#)),
        ("brightness 0.5-1.5".into(), j(r#"{"type": "color_jitter", "brightness": 0.5}"#)),
        ("contrast 0.5-1.5".into(), j(r#"{"type": "color_jitter", "contrast": 0.5}"#)),
        ("saturation 0-2".into(), j(r#"{"type": "color_jitter", "saturation": 1.0}"#)),
        ("hue +-0.3".into(), j(r#"{"type": "color_jitter", "hue": 0.3}"#)),
        (
            "color jitter 0.4,0.4,0.4,0.1".into(),
            Box::new(ColorJitterConfig::new(0.4, 0.4, 0.4, 0.1).init().expect("valid")),
        ),
        ("grayscale p=0.5".into(), j(r#"{"type": "random_grayscale", "p": 0.5}"#)),
        (
            "pca lighting (alexnet), sigma 0.5".into(),
            j(r#"{"type": "pca_lighting", "alpha_std": 0.5, "eigenvalues": [0.2175, 0.0188, 0.0045], "eigenvectors": [[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.814], [-0.5836, -0.6948, 0.4203]], "clamp": true}"#),
        ),
        ("autoaugment imagenet".into(), j(r#"{"type": "auto_augment", "policy": "imagenet"}"#)),
        ("autoaugment cifar10".into(), j(r#"{"type": "auto_augment", "policy": "cifar10"}"#)),
        ("randaugment n=2 m=9".into(), j(r#"{"type": "rand_augment"}"#)),
        ("trivialaugment wide".into(), j(r#"{"type": "trivial_augment_wide"}"#)),
        (
            "pipeline: cifar crop+flip".into(),
            pipeline(SequenceConfig {
                transforms: vec![
                    T::from_json(&format!(r#"{{"type": "random_crop", "size": {s}, "padding": {}}}"#, s / 8))
                        .expect("valid"),
                    T::from_json(r#"{"type": "horizontal_flip"}"#).expect("valid"),
                ],
            }),
        ),
        (
            "pipeline: rrc+flip+jitter+pca".into(),
            pipeline(SequenceConfig {
                transforms: vec![
                    T::from_json(&format!(r#"{{"type": "random_resized_crop", "size": {s}}}"#)).expect("valid"),
                    T::from_json(r#"{"type": "horizontal_flip"}"#).expect("valid"),
                    T::ColorJitter(ColorJitterConfig::new(0.4, 0.4, 0.4, 0.0)),
                    T::from_json(r#"{"type": "pca_lighting", "eigenvalues": [0.2175, 0.0188, 0.0045], "eigenvectors": [[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.814], [-0.5836, -0.6948, 0.4203]], "clamp": true}"#).expect("valid"),
                ],
            }),
        ),
    ]
}

/// Writes a PNG atomically (temporary file in the same directory, then rename).
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    let err = |e: &dyn std::fmt::Display| AugmentError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| err(&"not a file path"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    img.save_with_format(&tmp, image::ImageFormat::Png)
        .map_err(|e| err(&e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(&e)
    })
}
