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
