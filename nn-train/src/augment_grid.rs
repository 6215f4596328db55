//! Seeing the augmentations: one image under several transforms, rendered into a PNG grid (one
//! labelled row per transform, `columns` random draws per row), so users can look at a pipeline
//! before training with it (`nn-train augment-grid`). Labels use the embedded font of [`crate::plot`].

use std::path::Path;

use image::RgbImage;
use ndarray::Array3;
use nn_augment::config::TransformConfig as T;
use nn_augment::functional::resize;
use nn_augment::{ColorJitterConfig, DynTransform, Interpolation, SequenceConfig, Transform};
use plotters::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Result, TrainError};
use crate::plot::{FAMILY, register_font};
use crate::write_atomic;

const PAD: u32 = 4;
const LABEL_H: u32 = 18;
const BG: [u8; 3] = [245, 245, 245];

/// Maps an output to `[0, 1]` for display: clamps, or min-max rescales images that are far
/// outside (normalised outputs); shrinks outputs larger than the cell.
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

/// Copies `img` (centred) into the `cell`-sized square at `(x0, y0)`.
fn blit(canvas: &mut RgbImage, img: &Array3<f32>, x0: u32, y0: u32, cell: u32) {
    let rgb = nn_augment::convert::to_rgb(img);
    let (w, h) = rgb.dimensions();
    let (ox, oy) = (x0 + (cell - w) / 2, y0 + (cell - h) / 2);
    for (x, y, p) in rgb.enumerate_pixels() {
        canvas.put_pixel(ox + x, oy + y, *p);
    }
}

/// The `(width, height)` in pixels of the grid [`render_grid`] draws for an image whose longer
/// side is `cell` pixels, with `rows` transform rows of `columns` draws and labels of at most
/// `label_chars` characters (in `u64`, so that callers can bound it before drawing).
pub fn grid_size(cell: usize, columns: usize, rows: usize, label_chars: usize) -> (u64, u64) {
    let (c, pad) = (cell.max(8) as u64, u64::from(PAD));
    let label_w = label_chars.max(8) as u64 * 7;
    let width = (pad + columns as u64 * (c + pad)).max(label_w + 2 * pad);
    let height = (rows as u64 + 1) * (u64::from(LABEL_H) + c + pad) + pad;
    (width, height)
}

/// Renders `image` under each `(label, transform)` row, `columns` random draws per row, on a
/// grid whose cells are as large as the input's longer side (larger outputs are shrunk to fit,
/// smaller ones centred). The first row shows the input. Row `r` draws from
/// `ChaCha8Rng::seed_from_u64(seed)` with stream `r`, so the picture is reproducible.
///
/// # Panics
/// If `columns` is 0 or the image has neither 1 nor 3 channels.
pub fn render_grid(
    image: &Array3<f32>,
    rows: &[(&str, &dyn DynTransform)],
    columns: usize,
    seed: u64,
) -> RgbImage {
    assert!(columns > 0, "render_grid: columns must be ≥ 1");
    register_font();
    let (_, h, w) = image.dim();
    let cell = h.max(w).max(8);
    let c = cell as u32;
    let labels = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let (width, height) = grid_size(cell, columns, rows.len(), labels);
    let (width, height) = (width as u32, height as u32);
    let mut buf = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        root.fill(&RGBColor(BG[0], BG[1], BG[2]))
            .expect("drawing into a buffer");
        let labels = std::iter::once("original").chain(rows.iter().map(|(l, _)| *l));
        for (r, label) in labels.enumerate() {
            let y = PAD + 1 + r as u32 * (LABEL_H + c + PAD);
            let style = (FAMILY, 14).into_font().color(&RGBColor(20, 20, 20));
            root.draw(&Text::new(label.to_string(), (PAD as i32, y as i32), style))
                .expect("drawing into a buffer");
        }
        root.present().expect("drawing into a buffer");
    }
    let mut canvas = RgbImage::from_raw(width, height, buf).expect("w·h·3 bytes");
    let row_top = |r: usize| PAD + r as u32 * (LABEL_H + c + PAD) + LABEL_H;
    blit(&mut canvas, &displayable(image, cell), PAD, row_top(0), c);
    for (r, (_, t)) in rows.iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(r as u64);
        for k in 0..columns {
            let out = t.apply_random(image, &mut rng);
            let x = PAD + k as u32 * (c + PAD);
            blit(&mut canvas, &displayable(&out, cell), x, row_top(r + 1), c);
        }
    }
    canvas
}

/// Writes a grid as PNG, atomically.
pub fn save_grid_png(grid: &RgbImage, path: &Path) -> Result<()> {
    let mut png = std::io::Cursor::new(Vec::new());
    grid.write_to(&mut png, image::ImageFormat::Png)
        .map_err(|e| TrainError::Plot {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    write_atomic(path, png.get_ref())
}

/// One row per transform family plus the CIFAR recipe and an ImageNet-style pipeline, sized for
/// a square input of side `size` (`nn-train augment-grid --showcase`).
pub fn showcase_rows(size: usize) -> Vec<(String, Box<dyn DynTransform>)> {
    let s = size;
    let j = |text: &str| -> Box<dyn DynTransform> {
        T::from_json(text)
            .and_then(|c| c.build())
            .expect("showcase configs are valid")
    };
    let pipeline = |transforms: Vec<&str>| -> Box<dyn DynTransform> {
        let transforms = transforms
            .into_iter()
            .map(|t| T::from_json(t).expect("showcase configs are valid"))
            .collect();
        Box::new(
            SequenceConfig { transforms }
                .init()
                .expect("showcase pipelines are valid"),
        )
    };
    let pca = r#"{"type": "pca_lighting", "alpha_std": 0.5, "eigenvalues": [0.2175, 0.0188, 0.0045], "eigenvectors": [[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.814], [-0.5836, -0.6948, 0.4203]], "clamp": true}"#;
    let crop = format!(
        r#"{{"type": "random_crop", "size": {s}, "padding": {}}}"#,
        s / 8
    );
    let rrc = format!(r#"{{"type": "random_resized_crop", "size": {s}}}"#);
    let flip = r#"{"type": "horizontal_flip"}"#;
    vec![
        ("horizontal flip".into(), j(flip)),
        ("vertical flip".into(), j(r#"{"type": "vertical_flip"}"#)),
        (format!("random crop {s}, pad {}", s / 8), j(&crop)),
        (
            "random crop, reflect pad".into(),
            j(&format!(
                r#"{{"type": "random_crop", "size": {s}, "padding": {}, "padding_mode": "reflect"}}"#,
                s / 4
            )),
        ),
        (format!("random resized crop {s}"), j(&rrc)),
        (
            "scale aug: short side 1-1.9x, crop".into(),
            pipeline(vec![
                &format!(
                    r#"{{"type": "random_resize", "min_size": {s}, "max_size": {}}}"#,
                    s * 15 / 8
                ),
                &format!(r#"{{"type": "random_crop", "size": {s}}}"#),
            ]),
        ),
        (
            "translate 20%".into(),
            j(r#"{"type": "random_affine", "translate": [0.2, 0.2], "interpolation": "bilinear"}"#),
        ),
        (
            "rotate +-30".into(),
            j(r#"{"type": "random_rotation", "degrees": 30, "interpolation": "bilinear"}"#),
        ),
        (
            "stretch x,y 0.7-1.3".into(),
            j(r#"{"type": "random_stretch", "x": [0.7, 1.3], "y": [0.7, 1.3]}"#),
        ),
        (
            "shear +-20".into(),
            j(
                r#"{"type": "random_affine", "shear": [-20, 20, -20, 20], "interpolation": "bilinear"}"#,
            ),
        ),
        (
            "affine: rot,translate,scale,shear".into(),
            j(
                r#"{"type": "random_affine", "degrees": 15, "translate": [0.1, 0.1], "scale": [0.8, 1.2], "shear": 10, "interpolation": "bilinear"}"#,
            ),
        ),
        (
            "lens: barrel (k1 0.2-0.5)".into(),
            j(r#"{"type": "lens_distortion", "k1": [0.2, 0.5]}"#),
        ),
        (
            "lens: pincushion (k1 -0.3--0.1)".into(),
            j(r#"{"type": "lens_distortion", "k1": [-0.3, -0.1]}"#),
        ),
        (
            "brightness 0.5-1.5".into(),
            j(r#"{"type": "color_jitter", "brightness": 0.5}"#),
        ),
        (
            "contrast 0.5-1.5".into(),
            j(r#"{"type": "color_jitter", "contrast": 0.5}"#),
        ),
        (
            "saturation 0-2".into(),
            j(r#"{"type": "color_jitter", "saturation": 1.0}"#),
        ),
        (
            "hue +-0.3".into(),
            j(r#"{"type": "color_jitter", "hue": 0.3}"#),
        ),
        (
            "color jitter 0.4,0.4,0.4,0.1".into(),
            Box::new(
                ColorJitterConfig::new(0.4, 0.4, 0.4, 0.1)
                    .init()
                    .expect("valid"),
            ),
        ),
        (
            "grayscale p=0.5".into(),
            j(r#"{"type": "random_grayscale", "p": 0.5}"#),
        ),
        ("pca lighting (alexnet), sigma 0.5".into(), j(pca)),
        (
            format!("cutout {}", s / 2),
            j(&format!(r#"{{"type": "cutout", "size": {}}}"#, s / 2)),
        ),
        (
            "random erasing p=1, random values".into(),
            j(r#"{"type": "random_erasing", "p": 1.0, "value": "random"}"#),
        ),
        (
            "autoaugment imagenet".into(),
            j(r#"{"type": "auto_augment", "policy": "imagenet"}"#),
        ),
        (
            "autoaugment cifar10".into(),
            j(r#"{"type": "auto_augment", "policy": "cifar10"}"#),
        ),
        (
            "randaugment n=2 m=9".into(),
            j(r#"{"type": "rand_augment"}"#),
        ),
        (
            "trivialaugment wide".into(),
            j(r#"{"type": "trivial_augment_wide"}"#),
        ),
        (
            "pipeline: cifar crop+flip".into(),
            pipeline(vec![&crop, flip]),
        ),
        (
            "pipeline: rrc+flip+jitter+pca".into(),
            pipeline(vec![
                &rrc,
                flip,
                r#"{"type": "color_jitter", "brightness": 0.4, "contrast": 0.4, "saturation": 0.4}"#,
                pca,
            ]),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_are_reproducible_and_sized_by_rows_and_columns() {
        let img = nn_augment::synthetic::test_image(24, 24);
        let rows = showcase_rows(24);
        let refs: Vec<(&str, &dyn DynTransform)> =
            rows.iter().map(|(l, t)| (l.as_str(), t.as_ref())).collect();
        let grid = render_grid(&img, &refs, 3, 7);
        assert_eq!(grid, render_grid(&img, &refs, 3, 7));
        assert_ne!(grid, render_grid(&img, &refs, 3, 8));
        let per_row = LABEL_H + 24 + PAD;
        assert_eq!(grid.height(), (rows.len() as u32 + 1) * per_row + PAD);
        // The original is drawn in the first row; labels are dark text on the background.
        let first = grid.get_pixel(PAD + 12, PAD + LABEL_H + 12);
        assert_ne!(*first, image::Rgb(BG));
        assert!(grid.pixels().any(|p| p.0.iter().all(|&v| v < 100)));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.png");
        save_grid_png(&grid, &path).unwrap();
        assert_eq!(image::open(&path).unwrap().to_rgb8(), grid);
    }
}
