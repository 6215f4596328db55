//! Unit tests of [`super::Mixup`]: validation, pairing, λ consistency between images and targets.

use super::*;
use nn_core::rng::seeded;

/// A batch where image i is constant 10·i + 1 (so a mixed pixel reveals λ), labels i.
fn constant_batch(n: usize, hw: usize) -> (Array4<f32>, Vec<usize>) {
    let mut x = Array4::zeros((n, 2, hw, hw));
    for (i, mut xi) in x.outer_iter_mut().enumerate() {
        xi.fill(10.0 * i as f32 + 1.0);
    }
    (x, (0..n).collect())
}

#[test]
fn validation() {
    let ok = MixupConfig::new(10);
    assert!(ok.init().is_ok());
    let mut c = ok;
    c.mixup_alpha = 0.0;
    let e = c.init().unwrap_err();
    assert!(e.to_string().contains("mixup_alpha/cutmix_alpha"), "{e}");
    c.cutmix_minmax = Some((0.2, 0.8));
    let m = c.init().unwrap();
    assert_eq!(m.config().cutmix_alpha, 1.0);
    c.cutmix_minmax = Some((0.8, 0.2));
    assert!(c.init().is_err());
    let mut c = ok;
    c.label_smoothing = 1.0;
    assert!(c.init().is_err());
    c = ok;
    c.num_classes = 0;
    assert!(c.init().is_err());
    c = ok;
    c.mixup_alpha = -1.0;
    assert!(c.init().is_err());
    c = ok;
    c.prob = 2.0;
    assert!(c.init().is_err());
}

#[test]
fn batch_errors() {
    let m = MixupConfig::new(3).init().unwrap();
    let e = m
        .apply(Array4::zeros((2, 1, 4, 4)), &[0], &mut seeded(0))
        .unwrap_err();
    assert_eq!(e.to_string(), "Mixup: 2 images but 1 labels/targets");
    let e = m
        .apply(Array4::zeros((2, 1, 4, 4)), &[0, 3], &mut seeded(0))
        .unwrap_err();
    assert!(matches!(
        e,
        RegularizeError::LabelOutOfRange {
            label: 3,
            index: 1,
            ..
        }
    ));
    let e = m
        .apply_soft(
            Array4::zeros((2, 1, 4, 4)),
            Array2::zeros((2, 4)),
            &mut seeded(0),
        )
        .unwrap_err();
    assert!(e.to_string().contains("4 columns"), "{e}");
    let mut c = MixupConfig::new(3);
    c.mode = MixMode::Pair;
    let e = c
        .init()
        .unwrap()
        .apply(Array4::zeros((3, 1, 4, 4)), &[0, 1, 2], &mut seeded(0));
    assert!(e.unwrap_err().to_string().contains("even"));
}

/// For every mode and for mixup and CutMix: each image is λᵢ of itself and 1 − λᵢ of its partner,
/// and its target row gives weight λᵢ to its own label and 1 − λᵢ to the partner's.
#[test]
fn images_and_targets_use_the_same_lambda() {
    for mode in [MixMode::Batch, MixMode::Pair, MixMode::Elem] {
        for (mix_a, cut_a) in [(0.4, 0.0), (0.0, 1.0), (1.0, 1.0)] {
            let mut c = MixupConfig::new(8);
            c.mode = mode;
            c.mixup_alpha = mix_a;
            c.cutmix_alpha = cut_a;
            c.label_smoothing = 0.0;
            let m = c.init().unwrap();
            let mut rng = seeded(7);
            for _ in 0..20 {
                let (x, y) = constant_batch(8, 6);
                let out = m.apply(x.clone(), &y, &mut rng).unwrap();
                for i in 0..8 {
                    let j = 7 - i;
                    let (vi, vj) = (x[[i, 0, 0, 0]], x[[j, 0, 0, 0]]);
                    let img = out.images.index_axis(Axis(0), i);
                    // Mean pixel = λ·vi + (1 − λ)·vj for both mixup and CutMix (by area).
                    let lam_img = if i == j {
                        1.0
                    } else {
                        (img.mean().unwrap() - vj) / (vi - vj)
                    };
                    let row = out.targets.row(i);
                    assert!((row.sum() - 1.0).abs() < 1e-5);
                    if i != j {
                        assert!((row[i] - out.lam[i]).abs() < 1e-5);
                        assert!((row[j] - (1.0 - out.lam[i])).abs() < 1e-5);
                    }
                    assert!(
                        (lam_img - out.lam[i]).abs() < 1e-4,
                        "{mode:?} {mix_a}/{cut_a}: image λ {lam_img} vs target λ {}",
                        out.lam[i]
                    );
                }
                if mode != MixMode::Elem {
                    for i in 0..8 {
                        assert_eq!(out.lam[i], out.lam[7 - i], "pairs share λ");
                    }
                }
                if mode == MixMode::Batch {
                    assert!(out.lam.iter().all(|&l| l == out.lam[0]));
                }
            }
        }
    }
}

#[test]
fn cutmix_pastes_a_rectangle_from_the_partner() {
    let mut c = MixupConfig::new(4);
    c.mixup_alpha = 0.0;
    c.cutmix_alpha = 1.0;
    c.label_smoothing = 0.0;
    let m = c.init().unwrap();
    let (x, y) = constant_batch(4, 16);
    let mut rng = seeded(3);
    let params = m.sample(4, (16, 16), &mut rng).unwrap();
    let b = params[0].cutmix.expect("CutMix only");
    let out = Mixup::mix_images(&x, &params);
    for yy in 0..16 {
        for xx in 0..16 {
            let inside = (b.y0..b.y1).contains(&yy) && (b.x0..b.x1).contains(&xx);
            let expect = if inside {
                x[[3, 1, yy, xx]]
            } else {
                x[[0, 1, yy, xx]]
            };
            assert_eq!(out[[0, 1, yy, xx]], expect);
        }
    }
    let _ = y;
}

#[test]
fn smoothing_applies_without_mixing_and_prob_zero_is_identity() {
    let mut c = MixupConfig::new(5);
    c.prob = 0.0;
    let m = c.init().unwrap();
    let (x, y) = constant_batch(4, 3);
    let out = m.apply(x.clone(), &y[..4], &mut seeded(0)).unwrap();
    assert_eq!(out.images, x);
    assert!(out.lam.iter().all(|&l| l == 1.0));
    let expected = smooth_one_hot(&[0, 1, 2, 3], 5, 0.1).unwrap();
    assert_eq!(out.targets, expected);
}

#[test]
fn seeded_and_soft_targets() {
    let m = MixupConfig::new(4).init().unwrap();
    let (x, y) = constant_batch(4, 3);
    let a = m.apply(x.clone(), &y, &mut seeded(5)).unwrap();
    let b = m.apply(x.clone(), &y, &mut seeded(5)).unwrap();
    assert_eq!(a, b);
    // apply_soft with the smoothed targets gives the same result as apply.
    let t = smooth_one_hot(&y, 4, 0.1).unwrap();
    let c = m.apply_soft(x, t, &mut seeded(5)).unwrap();
    assert_eq!(a, c);
}
