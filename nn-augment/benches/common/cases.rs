//! Benchmark cases shared by the criterion bench and the torchvision comparison driver: the same
//! transform configs as `bench-compare/compare.py` builds with torchvision v2.

use nn_augment::{DynTransform, TransformConfig};

/// `(name, config JSON)` for an `s × s` RGB image.
pub fn cases(s: usize) -> Vec<(&'static str, String)> {
    vec![
        ("hflip", r#"{"type": "horizontal_flip", "p": 1.0}"#.to_string()),
        ("random_crop_pad", format!(r#"{{"type": "random_crop", "size": {s}, "padding": {}}}"#, s / 8)),
        ("center_crop", format!(r#"{{"type": "center_crop", "size": {}}}"#, s * 7 / 8)),
        ("resize_bilinear_half", format!(r#"{{"type": "resize", "size": [{0}, {0}]}}"#, s / 2)),
        ("random_resized_crop", format!(r#"{{"type": "random_resized_crop", "size": {s}}}"#)),
        ("color_jitter", r#"{"type": "color_jitter", "brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1}"#.to_string()),
        ("affine_bilinear", r#"{"type": "random_affine", "degrees": 15, "translate": [0.1, 0.1], "scale": [0.9, 1.1], "shear": 10, "interpolation": "bilinear"}"#.to_string()),
        ("rotation_nearest", r#"{"type": "random_rotation", "degrees": 30}"#.to_string()),
        ("auto_augment", r#"{"type": "auto_augment"}"#.to_string()),
        ("rand_augment", r#"{"type": "rand_augment"}"#.to_string()),
        ("trivial_augment", r#"{"type": "trivial_augment_wide"}"#.to_string()),
        ("normalize", r#"{"type": "normalize", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}"#.to_string()),
        ("random_erasing", r#"{"type": "random_erasing", "p": 1.0}"#.to_string()),
    ]
}

/// Builds a case's transform.
pub fn build(json: &str) -> Box<dyn DynTransform> {
    TransformConfig::from_json(json)
        .and_then(|c| c.build())
        .expect("bench configs are valid")
}
