//! Parameter sampling of the random transforms (ranges, counts, distributions) and the formulas
//! of the transforms without a torchvision counterpart (lens distortion, PCA lighting).

#![allow(clippy::needless_range_loop)] // channel-indexed formulas read better with indices

use ndarray::Array3;
use nn_augment::functional as F;
use nn_augment::{
    AugOp, AutoAugment, AutoAugmentPolicy, ColorJitter, CropBox, Fill, Interpolation,
    LensCoefficients, LensDistortionConfig, MagnitudeSpace, PcaLightingConfig, RandAugment,
    RandomResizeConfig, Transform, TrivialAugmentWideConfig, synthetic,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn resized_crop_from_a_view_equals_crop_then_resize() {
    let img = synthetic::test_image(30, 40);
    for (b, i) in [
        (
            CropBox {
                top: 3,
                left: 5,
                height: 17,
                width: 22,
            },
            Interpolation::Bilinear,
        ),
        (
            CropBox {
                top: 0,
                left: 0,
                height: 30,
                width: 40,
            },
            Interpolation::Bicubic,
        ),
        (
            CropBox {
                top: 10,
                left: 30,
                height: 9,
                width: 10,
            },
            Interpolation::Nearest,
        ),
    ] {
        let ours = F::resized_crop(&img, b, 24, 24, i, true);
        let naive = F::resize(
            &F::crop(&img, b.top, b.left, b.height, b.width),
            24,
            24,
            i,
            true,
        );
        assert_eq!(ours, naive);
    }
}

#[test]
fn color_jitter_factors_stay_in_range_and_orders_are_permutations() {
    let t = ColorJitter::new(0.4, 0.3, 0.2, 0.1).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut seen_first = [0usize; 4];
    for _ in 0..400 {
        let p = t.sample_params([3, 8, 8], &mut rng);
        let mut o = p.order;
        seen_first[o[0] as usize] += 1;
        o.sort();
        assert_eq!(o, [0, 1, 2, 3]);
        assert!((0.6..=1.4).contains(&p.brightness.unwrap()));
        assert!((0.7..=1.3).contains(&p.contrast.unwrap()));
        assert!((0.8..=1.2).contains(&p.saturation.unwrap()));
        assert!((-0.1..=0.1).contains(&p.hue.unwrap()));
    }
    assert!(
        seen_first.iter().all(|&n| n > 60),
        "orders are not uniform: {seen_first:?}"
    );
}

#[test]
fn random_resize_covers_both_ends_inclusive() {
    let t = RandomResizeConfig {
        min_size: 256,
        max_size: 260,
        interpolation: Interpolation::Bilinear,
        antialias: true,
    }
    .init()
    .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let (h, w) = t.sample_params([3, 100, 150], &mut rng);
        assert_eq!(w, h * 3 / 2);
        seen.insert(h);
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        vec![256, 257, 258, 259, 260]
    );
}

#[test]
fn policies_sample_ops_from_their_tables() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let aa = AutoAugment::new(AutoAugmentPolicy::Cifar10).unwrap();
    let table = AutoAugmentPolicy::Cifar10.sub_policies();
    for _ in 0..200 {
        let ops = aa.sample_params([3, 32, 32], &mut rng);
        assert!(ops.len() <= 2);
        for (op, m) in &ops {
            let entry = table
                .iter()
                .flatten()
                .find(|e| e.0 == *op)
                .expect("op of the policy");
            if let Some((v, _)) = MagnitudeSpace::Standard.magnitude(*op, entry.2, 10, 32, 32) {
                // Some bin of this op in the policy gives |m|.
                let ok = table.iter().flatten().filter(|e| e.0 == *op).any(|e| {
                    (MagnitudeSpace::Standard
                        .magnitude(*op, e.2, 10, 32, 32)
                        .unwrap()
                        .0
                        - m.abs())
                    .abs()
                        < 1e-9
                });
                assert!(ok, "{op:?} {m} (e.g. {v})");
            }
        }
    }
    let ra = RandAugment::new(3, 9).unwrap();
    for _ in 0..100 {
        let ops = ra.sample_params([3, 32, 32], &mut rng);
        assert_eq!(ops.len(), 3);
        for (op, m) in ops {
            assert!(AugOp::RANDAUGMENT.contains(&op));
            match MagnitudeSpace::Standard.magnitude(op, 9, 31, 32, 32) {
                Some((v, _)) => assert!((m.abs() - v).abs() < 1e-12, "{op:?}"),
                None => assert_eq!(m, 0.0),
            }
        }
    }
    let ta = TrivialAugmentWideConfig::default().init().unwrap();
    let mut ops_seen = std::collections::HashSet::new();
    for _ in 0..400 {
        let ops = ta.sample_params([3, 32, 32], &mut rng);
        assert_eq!(ops.len(), 1);
        ops_seen.insert(ops[0].0);
    }
    assert_eq!(
        ops_seen.len(),
        14,
        "TrivialAugment draws from all 14 operations"
    );
}

#[test]
fn lens_distortion_barrel_pulls_in_and_zero_is_identity() {
    let img = synthetic::test_image(33, 33);
    assert_eq!(
        F::lens_distort(&img, 0.0, 0.0, Interpolation::Nearest, None),
        img
    );
    // k > 0 samples further out: the corners come from outside the image (fill), the centre stays.
    let fill = Fill::Scalar(0.5);
    let barrel = F::lens_distort(&img, 0.4, 0.0, Interpolation::Bilinear, Some(&fill));
    for c in 0..3 {
        assert_eq!(barrel[[c, 0, 0]], 0.5);
        assert_eq!(barrel[[c, 16, 16]], img[[c, 16, 16]]);
    }
    // k < 0 samples inwards: no fill anywhere.
    let pin = F::lens_distort(
        &img,
        -0.3,
        0.0,
        Interpolation::Nearest,
        Some(&Fill::Scalar(-1.0)),
    );
    assert!(pin.iter().all(|&x| x >= 0.0));
    // A pixel at radius r maps from radius r(1 + k r²): check one off-centre column.
    let t = LensDistortionConfig::new([0.2, 0.2]).init().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    assert_eq!(
        t.sample_params([3, 33, 33], &mut rng),
        LensCoefficients { k1: 0.2, k2: 0.0 }
    );
}

#[test]
fn pca_lighting_adds_eigenbasis_offset() {
    let cfg = PcaLightingConfig {
        alpha_std: 0.1,
        eigenvalues: [0.2, 0.02, 0.002],
        eigenvectors: [[0.6, 0.7, 0.4], [0.5, 0.0, -0.8], [0.6, -0.7, 0.4]],
        clamp: false,
    };
    let t = cfg.init().unwrap();
    let o = t.offset([1.0, -2.0, 0.5]);
    for c in 0..3 {
        let want = cfg.eigenvectors[c][0] * 0.2 - cfg.eigenvectors[c][1] * 2.0 * 0.02
            + cfg.eigenvectors[c][2] * 0.5 * 0.002;
        assert!((o[c] - want).abs() < 1e-7);
    }
    let img = Array3::from_elem((3, 4, 5), 0.5f32);
    let out = t.apply(&img, &o);
    for c in 0..3 {
        assert!(
            out.index_axis(ndarray::Axis(0), c)
                .iter()
                .all(|&x| (x - 0.5 - o[c]).abs() < 1e-7)
        );
    }
    // α ~ N(0, σ²): the sampled offsets have the predicted spread along the first eigenvector.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let n = 4000;
    let mut s2 = 0.0f64;
    for _ in 0..n {
        let o = t.sample_params([3, 4, 5], &mut rng);
        let proj: f64 = (0..3)
            .map(|c| o[c] as f64 * cfg.eigenvectors[c][0] as f64)
            .sum();
        s2 += proj * proj;
    }
    // Var(p1·offset) = σ² Σ_i λ_i² (p1·p_i)².
    let dot = |a: usize, b: usize| -> f64 {
        (0..3)
            .map(|c| cfg.eigenvectors[c][a] as f64 * cfg.eigenvectors[c][b] as f64)
            .sum()
    };
    let expect: f64 = (0..3)
        .map(|i| 0.01 * (cfg.eigenvalues[i] as f64).powi(2) * dot(0, i).powi(2))
        .sum();
    let got = s2 / n as f64;
    assert!(
        (got / expect - 1.0).abs() < 0.1,
        "variance {got} vs {expect}"
    );
}
