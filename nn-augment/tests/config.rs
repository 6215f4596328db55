//! Config parsing, validation errors (naming field and expected range), defaults and Display.

use nn_augment::{AugmentError, Pipeline, PipelineConfig, TransformConfig, recipes};

fn err(json: &str) -> AugmentError {
    match TransformConfig::from_json(json).and_then(|c| c.build()) {
        Ok(t) => panic!("{json} was accepted as {t}"),
        Err(e) => e,
    }
}

fn invalid_field(e: &AugmentError) -> (&str, &str) {
    match e {
        AugmentError::InvalidParameter {
            transform, field, ..
        } => (transform, field),
        other => panic!("expected InvalidParameter, got {other}"),
    }
}

#[test]
fn invalid_hyperparameters_name_the_field_and_range() {
    let cases = [
        (
            r#"{"type": "horizontal_flip", "p": 1.5}"#,
            "horizontal_flip",
            "p",
        ),
        (
            r#"{"type": "random_crop", "size": 0}"#,
            "random_crop",
            "size",
        ),
        (
            r#"{"type": "random_crop", "size": 32, "padding": [1, 2, 3]}"#,
            "random_crop",
            "padding",
        ),
        (
            r#"{"type": "random_resized_crop", "size": 8, "scale": [0.5, 0.1]}"#,
            "random_resized_crop",
            "scale",
        ),
        (
            r#"{"type": "random_resize", "min_size": 480, "max_size": 256}"#,
            "random_resize",
            "max_size",
        ),
        (
            r#"{"type": "resize", "size": 32, "max_size": 16}"#,
            "resize",
            "max_size",
        ),
        (
            r#"{"type": "random_affine", "translate": [1.5, 0.0]}"#,
            "random_affine",
            "translate",
        ),
        (
            r#"{"type": "random_affine", "shear": [1, 2, 3]}"#,
            "random_affine",
            "shear",
        ),
        (
            r#"{"type": "random_affine", "interpolation": "bicubic"}"#,
            "random_affine",
            "interpolation",
        ),
        (
            r#"{"type": "random_rotation", "degrees": -5}"#,
            "random_rotation",
            "degrees",
        ),
        (
            r#"{"type": "color_jitter", "hue": 0.7}"#,
            "color_jitter",
            "hue",
        ),
        (
            r#"{"type": "color_jitter", "brightness": [1.5, 0.5]}"#,
            "color_jitter",
            "brightness",
        ),
        (
            r#"{"type": "normalize", "mean": [0.5, 0.5], "std": [0.2, 0.0]}"#,
            "normalize",
            "std[1]",
        ),
        (
            r#"{"type": "pca_lighting", "alpha_std": -1, "eigenvalues": [1, 1, 1], "eigenvectors": [[1,0,0],[0,1,0],[0,0,1]]}"#,
            "pca_lighting",
            "alpha_std",
        ),
        (
            r#"{"type": "pca_lighting", "eigenvalues": [1, -1, 1], "eigenvectors": [[1,0,0],[0,1,0],[0,0,1]]}"#,
            "pca_lighting",
            "eigenvalues[1]",
        ),
        (
            r#"{"type": "rand_augment", "magnitude": 31}"#,
            "rand_augment",
            "magnitude",
        ),
        (
            r#"{"type": "lens_distortion", "k1": 2.0}"#,
            "lens_distortion",
            "k1",
        ),
        (
            r#"{"type": "grayscale", "num_output_channels": 2}"#,
            "grayscale",
            "num_output_channels",
        ),
        (
            r#"{"type": "one_of", "transforms": [{"type": "horizontal_flip"}], "p": [1, 2]}"#,
            "one_of",
            "p",
        ),
    ];
    for (json, transform, field) in cases {
        let e = err(json);
        assert_eq!(invalid_field(&e), (transform, field), "{json}: {e}");
        let msg = e.to_string();
        assert!(msg.contains(field) && msg.contains("expected"), "{msg}");
    }
}

#[test]
fn nested_errors_carry_the_path() {
    let e = Pipeline::from_json(
        r#"{"transforms": [{"type": "horizontal_flip"},
            {"type": "random_apply", "transforms": [{"type": "vertical_flip"}, {"type": "random_grayscale", "p": 2}]}]}"#,
    )
    .unwrap_err();
    assert_eq!(
        invalid_field(&e),
        ("random_grayscale", "transforms[1].transforms[1].p"),
        "{e}"
    );
}

#[test]
fn parse_errors_are_typed_and_unknown_fields_rejected() {
    let e = Pipeline::from_json(
        r#"{"transforms": [{"type": "random_crop", "size": 32, "paddin": 4}]}"#,
    )
    .unwrap_err();
    assert!(
        matches!(&e, AugmentError::Parse { format: "JSON", message } if message.contains("paddin")),
        "{e}"
    );
    let e = Pipeline::from_json(r#"{"transforms": [{"type": "warp_drive"}]}"#).unwrap_err();
    assert!(matches!(e, AugmentError::Parse { .. }));
    let e = Pipeline::from_toml("transforms = 3").unwrap_err();
    assert!(matches!(e, AugmentError::Parse { format: "TOML", .. }));
}

#[test]
fn toml_and_json_give_the_same_pipeline() {
    let toml = r#"
        [[transforms]]
        type = "random_crop"
        size = 32
        padding = 4

        [[transforms]]
        type = "horizontal_flip"

        [[transforms]]
        type = "color_jitter"
        brightness = 0.4
        hue = [-0.1, 0.1]
    "#;
    let a = PipelineConfig::from_toml(toml).unwrap();
    let b = PipelineConfig::from_json(&a.to_json()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.init().unwrap().to_string(), b.init().unwrap().to_string());
}

#[test]
fn defaults_follow_torchvision_and_display_describes() {
    let p = Pipeline::from_json(
        r#"{"transforms": [
            {"type": "random_crop", "size": 32, "padding": 4},
            {"type": "horizontal_flip"},
            {"type": "random_affine", "degrees": 10},
            {"type": "random_resized_crop", "size": 24},
            {"type": "one_of", "transforms": [{"type": "auto_augment", "policy": "cifar10"}, {"type": "rand_augment"}]}
        ]}"#,
    )
    .unwrap();
    let s = p.to_string();
    for needle in [
        "Compose(",
        "    RandomCrop(size=(32, 32), padding=[4, 4, 4, 4], pad_if_needed=false, fill=0, padding_mode=constant)",
        "    RandomHorizontalFlip(p=0.5)",
        "RandomAffine(degrees=[-10.0, 10.0], interpolation=nearest, fill=0)",
        "RandomResizedCrop(size=(24, 24), scale=[0.08, 1.0], ratio=[0.7500, 1.3333], interpolation=bilinear, antialias=true)",
        "    OneOf(p=[0.500, 0.500],",
        "        AutoAugment(policy=Cifar10, interpolation=nearest)",
        "        RandAugment(num_ops=2, magnitude=9, num_magnitude_bins=31, interpolation=nearest)",
    ] {
        assert!(s.contains(needle), "missing {needle:?} in\n{s}");
    }
}

#[test]
fn recipes_build_and_round_trip() {
    for cfg in [
        recipes::cifar10_train(),
        recipes::resnet_imagenet_train(),
        recipes::inception_imagenet_train(),
        recipes::imagenet_eval(),
    ] {
        let json = cfg.to_json();
        assert_eq!(PipelineConfig::from_json(&json).unwrap(), cfg);
        assert!(!cfg.init().unwrap().is_empty());
    }
}

fn shape_error(config: &str, input: [usize; 3]) -> (String, String) {
    match PipelineConfig::from_json(config)
        .unwrap()
        .output_shape(input)
    {
        Ok(s) => panic!("{config} accepted {input:?} -> {s:?}"),
        Err(AugmentError::Shape { at, transform, .. }) => (at, transform),
        Err(other) => panic!("expected a shape error, got {other}"),
    }
}

#[test]
fn output_shapes_are_known_before_running() {
    let out = |c: &str, input| PipelineConfig::from_json(c).unwrap().output_shape(input);
    assert_eq!(
        recipes::resnet_imagenet_train().output_shape([3, 375, 500]),
        Ok([3, 224, 224])
    );
    assert_eq!(
        recipes::imagenet_eval().output_shape([3, 300, 400]),
        Ok([3, 224, 224])
    );
    assert_eq!(
        out(
            r#"{"transforms": [{"type": "grayscale"}, {"type": "pad", "padding": [1, 2]}]}"#,
            [3, 28, 28]
        ),
        Ok([1, 32, 30])
    );
    assert_eq!(
        out(
            r#"{"transforms": [{"type": "random_crop", "size": 40, "pad_if_needed": true}]}"#,
            [3, 28, 50]
        ),
        Ok([3, 40, 40])
    );
    // A shape that depends on the draw is reported as a range, and refused as one shape.
    let rr = PipelineConfig::from_json(
        r#"{"transforms": [{"type": "random_resize", "min_size": 32, "max_size": 40}]}"#,
    )
    .unwrap();
    let range = rr.output_range([3, 64, 128]).unwrap();
    assert_eq!((range.height, range.width), ([32, 40], [64, 80]));
    let (at, transform) = shape_error(
        r#"{"transforms": [{"type": "random_resize", "min_size": 32, "max_size": 40}]}"#,
        [3, 64, 128],
    );
    assert_eq!((at.as_str(), transform.as_str()), ("", "pipeline"));
}

#[test]
fn impossible_pipelines_are_rejected_naming_the_transform() {
    let cases = [
        (
            r#"{"transforms": [{"type": "horizontal_flip"}, {"type": "random_crop", "size": 32}]}"#,
            [1, 28, 28],
            "transforms[1].",
            "random_crop",
        ),
        (
            r#"{"transforms": [{"type": "random_apply", "transforms": [{"type": "grayscale"}]}, {"type": "normalize", "mean": [0.5, 0.5, 0.5], "std": [0.2, 0.2, 0.2]}]}"#,
            [3, 8, 8],
            "transforms[1].",
            "normalize",
        ),
        (
            r#"{"transforms": [{"type": "one_of", "transforms": [{"type": "horizontal_flip"}, {"type": "center_crop", "size": 4}]}, {"type": "random_crop", "size": 6}]}"#,
            [3, 8, 8],
            "transforms[1].",
            "random_crop",
        ),
        (
            r#"{"transforms": [{"type": "sequence", "transforms": [{"type": "flip_never_mind", "p": 1}]}]}"#,
            [3, 8, 8],
            "",
            "",
        ),
        (
            r#"{"transforms": [{"type": "pca_lighting", "eigenvalues": [1, 1, 1], "eigenvectors": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}]}"#,
            [1, 8, 8],
            "transforms[0].",
            "pca_lighting",
        ),
        (
            r#"{"transforms": [{"type": "random_order", "transforms": [{"type": "center_crop", "size": 2}, {"type": "random_erasing", "value": [0, 0, 0]}, {"type": "grayscale"}]}]}"#,
            [3, 8, 8],
            "transforms[0].transforms[1].",
            "random_erasing",
        ),
        (
            r#"{"transforms": [{"type": "pad", "padding": 8, "padding_mode": "reflect"}]}"#,
            [3, 8, 8],
            "transforms[0].",
            "pad",
        ),
        (
            r#"{"transforms": [{"type": "cutout", "fill": [0, 0]}]}"#,
            [3, 8, 8],
            "transforms[0].",
            "cutout",
        ),
    ];
    for (config, input, at, transform) in cases {
        if transform.is_empty() {
            // Unknown transform types are parse errors, not shape errors.
            assert!(PipelineConfig::from_json(config).is_err());
            continue;
        }
        assert_eq!(
            shape_error(config, input),
            (at.to_string(), transform.to_string()),
            "{config}"
        );
    }
    let e = PipelineConfig::from_json(r#"{"transforms": [{"type": "random_crop", "size": 32}]}"#)
        .unwrap()
        .output_shape([3, 28, 28])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("transforms[0].random_crop") && e.contains("3×28×28"),
        "{e}"
    );
    assert!(PipelineConfig::default().output_shape([3, 0, 4]).is_err());
}

#[test]
fn cutout_and_random_erasing_configs() {
    let c = PipelineConfig::from_toml(
        r#"
[[transforms]]
type = "cutout"
size = 8
n_holes = 2

[[transforms]]
type = "random_erasing"
p = 0.25
scale = [0.1, 0.2]
value = "random"
"#,
    )
    .unwrap();
    let p = c.init().unwrap();
    let text = p.to_string();
    assert!(
        text.contains("Cutout(size=8, n_holes=2, fill=0, p=1)"),
        "{text}"
    );
    assert!(
        text.contains("RandomErasing(p=0.25, scale=[0.1, 0.2], ratio=[0.3, 3.3], value=random)"),
        "{text}"
    );
    let e = err(r#"{"type": "cutout", "size": 0}"#);
    assert_eq!(invalid_field(&e), ("cutout", "size"));
    let e = err(r#"{"type": "random_erasing", "ratio": [2, 1]}"#);
    assert_eq!(invalid_field(&e), ("random_erasing", "ratio"));
    assert!(TransformConfig::from_json(r#"{"type": "cutout", "holes": 2}"#).is_err());
}
