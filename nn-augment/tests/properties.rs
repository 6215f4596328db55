//! Property tests: involutions, bounds, identities, shapes, determinism and mask/image agreement.

use ndarray::{Array2, Array3, s};
use nn_augment::functional as F;
use nn_augment::kernels::crop::crop_padded;
use nn_augment::{
    ColorJitterConfig, CropBox, Fill, Interpolation, PaddingMode, RandomAffineConfig,
    RandomCropConfig, RandomResizedCrop, Range, ShapeRange, Transform, TransformConfig, tta,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn image(c: usize, h: usize, w: usize, seed: u64) -> Array3<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    use rand::Rng;
    Array3::from_shape_fn((c, h, w), |_| rng.random::<f32>())
}

fn max_diff(a: &Array3<f32>, b: &Array3<f32>) -> f32 {
    assert_eq!(a.dim(), b.dim());
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

/// Naive pad-then-crop: build the padded image element by element, then slice.
fn naive_pad_crop(
    img: &Array3<f32>,
    top: isize,
    left: isize,
    h: usize,
    w: usize,
    mode: PaddingMode,
    fill: f32,
) -> Array3<f32> {
    let (c, ih, iw) = img.dim();
    Array3::from_shape_fn((c, h, w), |(ch, i, j)| {
        let (y, x) = (top + i as isize, left + j as isize);
        match (mode.map_index(y, ih), mode.map_index(x, iw)) {
            (Some(y), Some(x)) => img[[ch, y, x]],
            _ => fill,
        }
    })
}

fn modes() -> impl Strategy<Value = PaddingMode> {
    prop_oneof![
        Just(PaddingMode::Constant),
        Just(PaddingMode::Edge),
        Just(PaddingMode::Reflect),
        Just(PaddingMode::Symmetric)
    ]
}

/// One config of every transform type (for images of at least 20×20), and containers.
fn every_transform() -> Vec<&'static str> {
    vec![
        r#"{"type": "horizontal_flip"}"#,
        r#"{"type": "vertical_flip", "p": 0.7}"#,
        r#"{"type": "random_crop", "size": 16, "padding": 2, "padding_mode": "reflect"}"#,
        r#"{"type": "center_crop", "size": [12, 18]}"#,
        r#"{"type": "pad", "padding": [1, 2, 3, 4], "padding_mode": "edge"}"#,
        r#"{"type": "resize", "size": 13}"#,
        r#"{"type": "random_resize", "min_size": 10, "max_size": 30}"#,
        r#"{"type": "random_resized_crop", "size": 16}"#,
        r#"{"type": "random_affine", "degrees": 15, "translate": [0.1, 0.1], "scale": [0.8, 1.2], "shear": 10, "interpolation": "bilinear"}"#,
        r#"{"type": "random_rotation", "degrees": 170, "expand": true}"#,
        r#"{"type": "random_rotation", "degrees": [20, 70], "expand": true, "interpolation": "bilinear"}"#,
        r#"{"type": "random_stretch", "x": [0.7, 1.3], "y": [0.8, 1.1]}"#,
        r#"{"type": "lens_distortion", "k1": [-0.3, 0.3]}"#,
        r#"{"type": "color_jitter", "brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1}"#,
        r#"{"type": "grayscale", "num_output_channels": 1}"#,
        r#"{"type": "random_grayscale", "p": 0.5}"#,
        r#"{"type": "pca_lighting", "eigenvalues": [0.2175, 0.0188, 0.0045], "eigenvectors": [[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.814], [-0.5836, -0.6948, 0.4203]]}"#,
        r#"{"type": "normalize", "mean": [0.5, 0.5, 0.5], "std": [0.2, 0.2, 0.2]}"#,
        r#"{"type": "cutout", "size": 6, "n_holes": 2, "p": 0.7}"#,
        r#"{"type": "random_erasing", "p": 0.8, "value": "random"}"#,
        r#"{"type": "random_erasing", "p": 1.0, "value": [0.1, 0.2, 0.3]}"#,
        r#"{"type": "auto_augment", "policy": "cifar10"}"#,
        r#"{"type": "rand_augment"}"#,
        r#"{"type": "trivial_augment_wide"}"#,
        r#"{"type": "sequence", "transforms": [{"type": "random_resize", "min_size": 20, "max_size": 30}, {"type": "random_crop", "size": 18}]}"#,
        r#"{"type": "random_apply", "p": 0.5, "transforms": [{"type": "resize", "size": [10, 12]}]}"#,
        r#"{"type": "one_of", "transforms": [{"type": "center_crop", "size": 10}, {"type": "grayscale"}], "p": [1, 2]}"#,
        r#"{"type": "random_order", "transforms": [{"type": "pad", "padding": 2}, {"type": "center_crop", "size": 12}, {"type": "horizontal_flip"}]}"#,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn flips_are_involutions(c in 1usize..4, h in 1usize..12, w in 1usize..12, seed in any::<u64>()) {
        let img = image(c, h, w, seed);
        prop_assert_eq!(F::hflip(&F::hflip(&img)), img.clone());
        prop_assert_eq!(F::vflip(&F::vflip(&img)), img.clone());
        prop_assert_eq!(F::rot90(&F::rot90(&img, 1), 3), img.clone());
        prop_assert_eq!(F::hflip(&F::vflip(&img)), F::rot90(&img, 2));
    }

    #[test]
    fn fused_crop_equals_naive_pad_then_crop(h in 1usize..10, w in 1usize..10, top in -12isize..12, left in -12isize..12,
                                            ch in 1usize..14, cw in 1usize..14, mode in modes(), seed in any::<u64>()) {
        let img = image(2, h, w, seed);
        let ours = crop_padded(&img, top, left, ch, cw, mode, &Fill::Scalar(0.25));
        prop_assert_eq!(ours, naive_pad_crop(&img, top, left, ch, cw, mode, 0.25));
    }

    #[test]
    fn random_crop_stays_in_padded_bounds(h in 4usize..20, w in 4usize..20, pad in 0usize..5, seed in any::<u64>()) {
        let size = (h.min(w) + pad).min(h.min(w) + 2 * pad);
        let t = RandomCropConfig::new(size).with_padding(pad).init().unwrap();
        let img = image(3, h, w, seed);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..8 {
            let b: CropBox = t.sample_params([3, h, w], &mut rng);
            prop_assert!(b.top >= -(pad as isize) && b.left >= -(pad as isize));
            prop_assert!(b.top + size as isize <= (h + pad) as isize);
            prop_assert!(b.left + size as isize <= (w + pad) as isize);
            let out = t.apply(&img, &b);
            prop_assert_eq!(out.dim(), (3, size, size));
            // Every pixel comes from the image or is the zero fill.
            let inside = naive_pad_crop(&img, b.top, b.left, size, size, PaddingMode::Constant, 0.0);
            prop_assert_eq!(out, inside);
        }
    }

    #[test]
    fn random_resized_crop_box_inside_image(h in 8usize..64, w in 8usize..64, out in 4usize..20, seed in any::<u64>()) {
        let t = RandomResizedCrop::new(out).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..8 {
            let b = t.sample_box(h, w, &mut rng);
            prop_assert!(b.top >= 0 && b.left >= 0 && b.height >= 1 && b.width >= 1);
            prop_assert!(b.top as usize + b.height <= h && b.left as usize + b.width <= w);
        }
        let img = image(3, h, w, seed);
        prop_assert_eq!(t.apply_random(&img, &mut rng).dim(), (3, out, out));
    }

    #[test]
    fn rotation_by_zero_or_full_turns_is_identity(h in 1usize..12, w in 1usize..12, k in -2i32..3, bilinear in any::<bool>(), seed in any::<u64>()) {
        let img = image(3, h, w, seed);
        let interp = if bilinear { Interpolation::Bilinear } else { Interpolation::Nearest };
        let out = F::rotate(&img, 360.0 * k as f64, interp, false, None, Some(&Fill::Scalar(0.0)));
        prop_assert_eq!(out, img);
    }

    #[test]
    fn identity_affine_is_identity(h in 2usize..12, w in 2usize..12, seed in any::<u64>()) {
        let img = image(3, h, w, seed);
        let id = nn_augment::AffineParams::IDENTITY;
        let near = F::affine(&img, &id, Interpolation::Nearest, Some(&Fill::Scalar(0.0)), None);
        prop_assert_eq!(&near, &img);
        let bil = F::affine(&img, &id, Interpolation::Bilinear, Some(&Fill::Scalar(0.0)), None);
        prop_assert!(max_diff(&bil, &img) < 1e-5);
    }

    #[test]
    fn colour_adjustments_with_factor_one_are_identity(h in 1usize..10, w in 1usize..10, seed in any::<u64>()) {
        let img = image(3, h, w, seed);
        prop_assert_eq!(F::adjust_brightness(&img, 1.0), img.clone());
        prop_assert_eq!(F::adjust_contrast(&img, 1.0), img.clone());
        prop_assert_eq!(F::adjust_saturation(&img, 1.0), img.clone());
        prop_assert!(max_diff(&F::adjust_hue(&img, 0.0), &img) < 1e-6);
        prop_assert!(max_diff(&F::adjust_sharpness(&img, 1.0), &img) < 1e-6);
        // ColorJitter whose ranges are all the neutral point.
        let cfg = ColorJitterConfig {
            brightness: Some(Range::Between([1.0, 1.0])),
            contrast: Some(Range::Between([1.0, 1.0])),
            saturation: Some(Range::Between([1.0, 1.0])),
            hue: Some(Range::Between([0.0, 0.0])),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        prop_assert_eq!(cfg.init().unwrap().apply_random(&img, &mut rng), img.clone());
    }

    #[test]
    fn hsv_roundtrip(r in 0.0f32..=1.0, g in 0.0f32..=1.0, b in 0.0f32..=1.0) {
        let (h, s, v) = F::rgb_to_hsv(r, g, b);
        prop_assert!((0.0..1.0).contains(&h) && (0.0..=1.0).contains(&s));
        let (r2, g2, b2) = F::hsv_to_rgb(h, s, v);
        prop_assert!((r - r2).abs() < 1e-5 && (g - g2).abs() < 1e-5 && (b - b2).abs() < 1e-5);
    }

    #[test]
    fn point_ops_invariants(h in 1usize..10, w in 1usize..10, bits in 0u32..9, seed in any::<u64>()) {
        let img = image(3, h, w, seed);
        prop_assert!(max_diff(&F::invert(&F::invert(&img)), &img) < 1e-6);
        let p = F::posterize(&img, bits);
        prop_assert_eq!(F::posterize(&p, bits), p);
        prop_assert_eq!(F::solarize(&img, 1.5), img.clone());
        let e = F::equalize(&img);
        prop_assert!(e.iter().all(|&x| ((x * 255.0).round() - x * 255.0).abs() < 1e-3));
        let a = F::autocontrast(&img);
        for (ch, orig) in a.outer_iter().zip(img.outer_iter()) {
            let lo = ch.fold(f32::MAX, |m, &x| m.min(x));
            let hi = ch.fold(f32::MIN, |m, &x| m.max(x));
            let constant = orig.iter().all(|&x| x == orig[[0, 0]]);
            if constant {
                prop_assert_eq!(ch, orig); // torchvision leaves constant channels unchanged
            } else {
                prop_assert!(lo.abs() < 1e-6 && (hi - 1.0).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn nearest_upsample_by_two_then_down_is_identity(h in 1usize..10, w in 1usize..10, seed in any::<u64>()) {
        let img = image(2, h, w, seed);
        let up = F::resize(&img, 2 * h, 2 * w, Interpolation::Nearest, true);
        prop_assert_eq!(F::resize(&up, h, w, Interpolation::Nearest, true), img);
    }

    #[test]
    fn resize_preserves_constants(h in 1usize..16, w in 1usize..16, oh in 1usize..24, ow in 1usize..24, aa in any::<bool>(), bicubic in any::<bool>()) {
        let img = Array3::from_elem((3, h, w), 0.375f32);
        let interp = if bicubic { Interpolation::Bicubic } else { Interpolation::Bilinear };
        let out = F::resize(&img, oh, ow, interp, aa);
        prop_assert_eq!(out.dim(), (3, oh, ow));
        prop_assert!(out.iter().all(|&x| (x - 0.375).abs() < 1e-5));
    }

    #[test]
    fn ten_crop_second_half_is_mirrored(h in 4usize..16, w in 4usize..16, seed in any::<u64>()) {
        let img = image(3, h, w, seed);
        let (ch, cw) = (h / 2 + 1, w / 2 + 1);
        let v = F::ten_crop(&img, ch, cw, false);
        // Corners of the mirrored image are the mirrored opposite corners.
        prop_assert_eq!(&v[5], &F::hflip(&v[1]));
        prop_assert_eq!(&v[6], &F::hflip(&v[0]));
        prop_assert_eq!(&v[7], &F::hflip(&v[3]));
        prop_assert_eq!(&v[8], &F::hflip(&v[2]));
        if (w - cw) % 2 == 0 {
            prop_assert_eq!(&v[9], &F::hflip(&v[4]));
        }
    }

    #[test]
    fn tta_average_is_a_distribution(views in 1usize..12, classes in 1usize..8, seed in any::<u64>()) {
        let logits = image(1, views, classes, seed).index_axis_move(ndarray::Axis(0), 0).mapv(|x| 4.0 * x - 2.0);
        let probs: Array2<f32> = tta::softmax_rows(&logits);
        let pred = tta::tta_predict(&probs);
        prop_assert!((pred.probabilities.sum() - 1.0).abs() < 1e-5);
        prop_assert!(pred.class < classes);
        prop_assert!(pred.probabilities.iter().all(|&p| p <= pred.confidence));
    }

    #[test]
    fn every_transform_reports_its_output_shape_and_is_seeded(seed in any::<u64>(), h in 20usize..40, w in 20usize..40) {
        let img = image(3, h, w, seed);
        for name in every_transform() {
            let t = TransformConfig::from_json(name).unwrap().build().unwrap();
            let mut r1 = ChaCha8Rng::seed_from_u64(seed);
            let p = t.sample_params([3, h, w], &mut r1);
            let out = t.apply(&img, &p);
            let [c2, h2, w2] = t.output_shape([3, h, w], &p);
            prop_assert_eq!(out.dim(), (c2, h2, w2), "{}", name);
            // The output is within the range the transform reports for this input.
            let r = t.output_size(ShapeRange::exact([3, h, w])).unwrap();
            let within = |x: usize, b: [usize; 2]| b[0] <= x && x <= b[1];
            prop_assert!(within(c2, r.channels) && within(h2, r.height) && within(w2, r.width),
                "{}: {:?} outside {}", name, (c2, h2, w2), r);
            // Same seed, same params, same output; owned and borrowed paths agree.
            let mut r2 = ChaCha8Rng::seed_from_u64(seed);
            prop_assert_eq!(&t.sample_params([3, h, w], &mut r2), &p, "{}", name);
            prop_assert_eq!(&t.apply_owned(img.clone(), &p), &out, "{}", name);
            let mut r3 = ChaCha8Rng::seed_from_u64(seed);
            prop_assert_eq!(&t.apply_random(&img, &mut r3), &out, "{}", name);
        }
    }

    #[test]
    fn masks_follow_the_image_geometry(seed in any::<u64>(), h in 8usize..24, w in 8usize..24) {
        // With nearest sampling and fill 0, warping the mask and warping the image agree on the
        // image channel the mask was copied from.
        let img = image(3, h, w, seed);
        let mask = img.slice(s![0..1, .., ..]).to_owned();
        let configs = [
            r#"{"type": "horizontal_flip"}"#,
            r#"{"type": "vertical_flip"}"#,
            r#"{"type": "random_crop", "size": 8, "padding": 3}"#,
            r#"{"type": "random_resized_crop", "size": 10, "interpolation": "nearest"}"#,
            r#"{"type": "random_affine", "degrees": 30, "translate": [0.2, 0.1], "scale": [0.8, 1.2], "shear": 10}"#,
            r#"{"type": "random_rotation", "degrees": 45, "expand": true}"#,
            r#"{"type": "lens_distortion", "k1": 0.3, "interpolation": "nearest"}"#,
            r#"{"type": "sequence", "transforms": [{"type": "random_crop", "size": 8}, {"type": "random_order", "transforms": [{"type": "horizontal_flip"}, {"type": "vertical_flip"}]}]}"#,
        ];
        for cfg in configs {
            let t = TransformConfig::from_json(cfg).unwrap().build().unwrap();
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let p = t.sample_params([3, h, w], &mut rng);
            let out = t.apply(&img, &p);
            let m = t.apply_mask(&mask, &p);
            prop_assert_eq!(m.slice(s![0, .., ..]), out.slice(s![0, .., ..]), "{}", cfg);
        }
    }

    #[test]
    fn affine_fill_is_used_outside(seed in any::<u64>(), tx in 3.0f64..6.0) {
        let img = image(3, 8, 8, seed);
        let t = RandomAffineConfig { translate: Some([0.0, 0.0]), fill: Some(Fill::PerChannel(vec![0.1, 0.2, 0.3])), ..Default::default() }.init().unwrap();
        let p = nn_augment::AffineParams { translate: (tx.round(), 0.0), ..nn_augment::AffineParams::IDENTITY };
        let out = t.apply(&img, &p);
        for ch in 0..3 {
            prop_assert_eq!(out[[ch, 4, 0]], [0.1, 0.2, 0.3][ch]);
        }
        prop_assert_eq!(out[[0, 4, 7]], img[[0, 4, 7 - tx.round() as usize]]);
    }
}
