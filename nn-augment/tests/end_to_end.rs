//! End to end: a JSON pipeline plugged into a data-loader style per-sample hook, run over a batch
//! with per-item random streams (reproducible whatever the order), its output shape known before
//! it runs, conversion to `image` images and TTA views.

use ndarray::{Array3, Axis};
use nn_augment::{Pipeline, PipelineConfig, Transform, convert, synthetic, tta};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The shape of nn-data's per-sample hook.
fn hook(p: Pipeline) -> impl Fn(Array3<f32>, &mut ChaCha8Rng) -> Array3<f32> + Send + Sync {
    move |img, rng| p.apply_random_owned(img, rng)
}

#[test]
fn pipeline_as_loader_hook_is_reproducible_per_item() {
    let config = PipelineConfig::from_json(
        r#"{"transforms": [
            {"type": "random_crop", "size": 32, "padding": 4},
            {"type": "horizontal_flip"},
            {"type": "random_apply", "p": 0.8, "transforms": [{"type": "color_jitter", "brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1}]},
            {"type": "random_grayscale", "p": 0.2},
            {"type": "normalize", "mean": [0.4914, 0.4822, 0.4465], "std": [0.247, 0.2435, 0.2616]},
            {"type": "cutout", "size": 8},
            {"type": "random_erasing"}
        ]}"#,
    )
    .unwrap();
    // The shape a model will see, known before any image is loaded; impossible inputs rejected.
    assert_eq!(config.output_shape([3, 33, 32]).unwrap(), [3, 32, 32]);
    let e = config.output_shape([1, 32, 32]).unwrap_err().to_string();
    assert!(e.contains("transforms[4].normalize"), "{e}");
    let f = hook(config.init().unwrap());
    let images: Vec<Array3<f32>> = (0..8)
        .map(|i| synthetic::test_image(32 + i % 2, 32))
        .collect();
    let run = |order: &[usize]| -> Vec<Array3<f32>> {
        let mut out = vec![Array3::zeros((0, 0, 0)); images.len()];
        for &i in order {
            let mut rng = ChaCha8Rng::seed_from_u64(42);
            rng.set_stream(i as u64);
            out[i] = f(images[i].clone(), &mut rng);
        }
        out
    };
    let a = run(&[0, 1, 2, 3, 4, 5, 6, 7]);
    let b = run(&[7, 3, 5, 1, 0, 2, 6, 4]);
    assert_eq!(a, b);
    assert!(a.iter().all(|x| x.dim() == (3, 32, 32)));
    // Different streams give different augmentations.
    assert!(a.windows(2).any(|w| w[0] != w[1]));
}

#[test]
fn image_conversion_and_tta() {
    let img = synthetic::test_image(40, 48);
    let rgb = convert::to_rgb(&img);
    let back = convert::from_rgb(&rgb);
    assert!(
        img.iter()
            .zip(&back)
            .all(|(a, b)| (a - b).abs() <= 0.5 / 255.0 + 1e-6)
    );
    let gray = convert::from_dynamic(&image::DynamicImage::ImageRgb8(rgb).grayscale());
    assert_eq!(gray.dim(), (1, 40, 48));

    let views = tta::TtaViews::MultiScaleTenCrop {
        scales: vec![32, 40],
        crop: 32,
    };
    views.validate().unwrap();
    let batch = views.views(&img);
    assert_eq!(batch.dim(), (20, 3, 32, 32));
    assert_eq!(batch.len_of(Axis(0)), views.num_views());
    assert!(
        tta::TtaViews::MultiScaleTenCrop {
            scales: vec![16],
            crop: 32
        }
        .validate()
        .is_err()
    );
}
