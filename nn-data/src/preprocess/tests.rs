//! Properties of the fitted preprocessing (conformance with numpy/PyTorch is in
//! `tests/conformance.rs`).

use super::*;
use crate::InMemoryDataset;
use ndarray::{Array2, Array4, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `n` correlated images `[3, 2, 2]` (full-rank covariance).
fn data(n: usize, seed: u64) -> Array4<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mix = Array2::from_shape_fn((12, 12), |_| rng.random_range(-1.0f32..1.0));
    let z = Array2::from_shape_fn((n, 12), |_| rng.random_range(-1.0f32..1.0));
    (z.dot(&mix) * 0.1 + 0.5)
        .into_shape_with_order((n, 3, 2, 2))
        .unwrap()
}

fn cov(rows: ArrayView2<'_, f32>) -> Array2<f64> {
    let r = rows.mapv(f64::from);
    let c = &r - &r.mean_axis(ndarray::Axis(0)).unwrap();
    c.t().dot(&c) / r.nrows() as f64
}

fn assert_identity(c: &Array2<f64>, tol: f64) {
    for ((i, j), &v) in c.indexed_iter() {
        let want = if i == j { 1.0 } else { 0.0 };
        assert!((v - want).abs() < tol, "cov[{i},{j}] = {v}");
    }
}

#[test]
fn whitened_training_covariance_is_identity() {
    let x = data(400, 1);
    let pca = Pca::fit_array(x.view(), PcaConfig::default().whitened(0.0)).unwrap();
    assert_identity(&cov(pca.transform_images(x.view()).view()), 1e-3);
    let zca = Zca::fit_array(x.view(), ZcaConfig { eps: 0.0 }).unwrap();
    let mut out = x.clone();
    zca.apply_batch(&mut out);
    assert_identity(
        &cov(out.view().into_shape_with_order((400, 12)).unwrap()),
        1e-3,
    );
    // ZCA's matrix is symmetric, and one image equals its row of the batch.
    let w = zca.matrix();
    assert!((w - &w.t()).iter().all(|d| d.abs() < 1e-4));
    let one = zca.apply(x.index_axis(ndarray::Axis(0), 3).to_owned());
    assert!(
        (&one - &out.index_axis(ndarray::Axis(0), 3))
            .iter()
            .all(|d| d.abs() < 1e-5)
    );
}

#[test]
fn pca_with_all_components_reconstructs() {
    let x = data(100, 2);
    let rows = x.view().into_shape_with_order((100, 12)).unwrap();
    for whiten in [false, true] {
        let cfg = PcaConfig {
            whiten,
            ..PcaConfig::default()
        };
        let pca = Pca::fit_rows(rows, cfg).unwrap();
        let back = pca.inverse_transform_rows(pca.transform_rows(rows).view());
        assert!((&back - &rows).iter().all(|d| d.abs() < 1e-4));
        assert!((pca.explained_variance_ratio().sum() - 1.0).abs() < 1e-9);
    }
    let pca = Pca::fit_rows(rows, PcaConfig::components(3)).unwrap();
    assert_eq!(
        pca.transform_image(&x.index_axis(ndarray::Axis(0), 0).to_owned())
            .len(),
        3
    );
}

#[test]
fn truncation_equals_a_fit_with_k_and_variance_picks_k_like_scikit_learn() {
    let x = data(100, 3);
    let full = Pca::fit_array(x.view(), PcaConfig::default().whitened(1e-3)).unwrap();
    let three = Pca::fit_array(x.view(), PcaConfig::components(3).whitened(1e-3)).unwrap();
    assert_eq!(full.truncated(3).unwrap(), three);
    assert!(full.truncated(0).is_err() && three.truncated(4).is_err());
    let ratio = full.explained_variance_ratio();
    let cum: Vec<f64> = ratio
        .iter()
        .scan(0.0, |c, r| {
            *c += r;
            Some(*c)
        })
        .collect();
    // The smallest k whose cumulative ratio exceeds the fraction; exactly at a cumulative
    // value it takes one more (side = "right").
    let k = full.components_for_variance(0.9).unwrap();
    assert!(
        cum[k - 1] > 0.9 && (k == 1 || cum[k - 2] <= 0.9),
        "{cum:?}: {k}"
    );
    assert_eq!(full.components_for_variance(cum[1]).unwrap(), 3);
    assert!(full.components_for_variance(1.0).is_err());
    assert!(full.components_for_variance(0.0).is_err());
}

#[test]
fn dataset_fit_equals_array_fit_for_any_thread_count() {
    // More samples than one chunk, so the chunked merge is exercised.
    let x = data(600, 3);
    let ds = InMemoryDataset::from_f32(x.clone(), vec![0; 600], 1).unwrap();
    let fit_all = || {
        (
            MeanImage::fit(&ds).unwrap(),
            ChannelMean::fit(&ds).unwrap(),
            Normalize::fit(&ds).unwrap(),
            Pca::fit(&ds, PcaConfig::components(5).whitened(1e-3)).unwrap(),
            Zca::fit(&ds, ZcaConfig::default()).unwrap(),
            ColorPca::fit(&ds).unwrap(),
        )
    };
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let one = pool(1).install(fit_all);
    let two = pool(2).install(fit_all);
    assert_eq!(one, two);
    assert_eq!(one.0, MeanImage::fit_array(x.view()).unwrap());
    assert_eq!(one.2, Normalize::fit_array(x.view()).unwrap());
    assert_eq!(
        one.3,
        Pca::fit_array(x.view(), PcaConfig::components(5).whitened(1e-3)).unwrap()
    );
}

#[test]
fn fitted_steps_round_trip_through_json_files() {
    let x = data(50, 4);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("norm.json");
    let norm = Normalize::fit_array(x.view()).unwrap();
    save_json(&norm, &p).unwrap();
    assert_eq!(load_json::<Normalize>(&p).unwrap(), norm);
    let pca = Pca::fit_array(x.view(), PcaConfig::components(2)).unwrap();
    save_json(&pca, &p).unwrap();
    assert_eq!(load_json::<Pca>(&p).unwrap(), pca);
    let zca = Zca::fit_array(x.view(), ZcaConfig::default()).unwrap();
    assert_eq!(
        serde_json::from_str::<Zca>(&serde_json::to_string(&zca).unwrap()).unwrap(),
        zca
    );
    let c = ColorPca::fit_array(x.view()).unwrap();
    assert_eq!(
        serde_json::from_str::<ColorPca>(&serde_json::to_string(&c).unwrap()).unwrap(),
        c
    );
    let m = MeanImage::fit_array(x.view()).unwrap();
    assert_eq!(
        serde_json::from_str::<MeanImage>(&serde_json::to_string(&m).unwrap()).unwrap(),
        m
    );
    std::fs::write(&p, "{ not json").unwrap();
    let err = load_json::<Normalize>(&p).unwrap_err();
    assert!(matches!(err, crate::DataError::Json { .. }) && err.to_string().contains("norm.json"));
    assert!(load_json::<Normalize>(&dir.path().join("missing.json")).is_err());
}

#[test]
fn channel_steps_apply_per_channel() {
    let x = data(20, 5);
    let norm = Normalize::fit_array(x.view()).unwrap();
    let mut all = x.clone();
    norm.apply_batch(&mut all);
    for c in 0..3 {
        let ch = all.index_axis(ndarray::Axis(1), c).mapv(f64::from);
        let mean = ch.mean().unwrap();
        let std = (ch.mapv(|v| (v - mean).powi(2)).mean().unwrap()).sqrt();
        assert!(
            mean.abs() < 1e-5 && (std - 1.0).abs() < 1e-4,
            "channel {c}: {mean} {std}"
        );
    }
    let cm = ChannelMean::fit_array(x.view()).unwrap();
    let img = cm.apply(x.index_axis(ndarray::Axis(0), 0).to_owned());
    let want = x[[0, 1, 1, 0]] - cm.mean()[1];
    assert_eq!(img[[1, 1, 0]], want);
    let mi = MeanImage::fit_array(x.view()).unwrap();
    let mut b = x.clone();
    mi.apply_batch(&mut b);
    assert_eq!(
        b.index_axis(ndarray::Axis(0), 7),
        mi.apply(x.index_axis(ndarray::Axis(0), 7).to_owned())
    );
}

#[test]
fn bad_fits_are_typed_errors() {
    let x = data(10, 6);
    let empty = Array4::<f32>::zeros((0, 3, 2, 2));
    assert!(MeanImage::fit_array(empty.view()).is_err());
    assert!(Pca::fit_array(x.view(), PcaConfig::components(0)).is_err());
    assert!(Pca::fit_array(x.view(), PcaConfig::components(13)).is_err());
    assert!(Pca::fit_array(x.view(), PcaConfig::components(2).whitened(-1.0)).is_err());
    // 10 samples in 12 dimensions: singular covariance, whitening with eps = 0 is refused.
    assert!(Zca::fit_array(x.view(), ZcaConfig { eps: 0.0 }).is_err());
    assert!(Zca::fit_array(x.view(), ZcaConfig { eps: f64::NAN }).is_err());
    let gray = Array4::<f32>::zeros((2, 1, 2, 2));
    assert!(ColorPca::fit_array(gray.view()).is_err());
    let err = Normalize::fit_array(gray.view()).unwrap_err();
    assert!(err.to_string().contains("std"), "{err}");
    assert!(Normalize::new(vec![0.0], vec![0.0, 1.0]).is_err());
    let mut nan = x.clone();
    nan[[0, 0, 0, 0]] = f32::NAN;
    assert!(Pca::fit_array(nan.view(), PcaConfig::components(2)).is_err());
}

#[test]
#[should_panic(expected = "MeanImage")]
fn applying_to_the_wrong_shape_panics_naming_the_step() {
    let mi = MeanImage::fit_array(data(4, 7).view()).unwrap();
    let _ = mi.apply(ndarray::Array3::zeros((3, 3, 3)));
}

#[test]
fn color_pca_finds_the_dominant_direction() {
    // Pixels vary along (1, 1, 1)/√3 with variance 0.04 plus tiny independent noise.
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let x = Array4::from_shape_fn((30, 3, 4, 4), |_| 0.0f32);
    let mut x = x;
    for n in 0..30 {
        for h in 0..4 {
            for w in 0..4 {
                let t: f32 = rng.random_range(-0.3464f32..0.3464); // var = 0.04
                for c in 0..3 {
                    x[[n, c, h, w]] = 0.5 + t / 3f32.sqrt() + rng.random_range(-0.01f32..0.01);
                }
            }
        }
    }
    let c = ColorPca::fit_array(x.view()).unwrap();
    assert!(
        (c.eigenvalues[0] - 0.04).abs() < 0.006,
        "{:?}",
        c.eigenvalues
    );
    assert!(c.eigenvalues[1] < 1e-3 && c.eigenvalues[2] <= c.eigenvalues[1]);
    for ch in 0..3 {
        assert!((c.eigenvectors[ch][0] - 1.0 / 3f32.sqrt()).abs() < 0.01);
    }
    let off = c.offset([1.0, 0.0, 0.0]);
    for (o, channel_row) in off.iter().zip(&c.eigenvectors) {
        assert!((o - c.eigenvalues[0] * channel_row[0]).abs() < 1e-7);
    }
    // Columns are orthonormal.
    for a in 0..3 {
        for b in 0..3 {
            let dot: f32 = (0..3)
                .map(|ch| c.eigenvectors[ch][a] * c.eigenvectors[ch][b])
                .sum();
            assert!((dot - if a == b { 1.0 } else { 0.0 }).abs() < 1e-5);
        }
    }
}

#[test]
fn apply_to_dataset_keeps_labels_and_matches_per_image_application() {
    let x = data(300, 9);
    let ds = InMemoryDataset::from_f32(x.clone(), (0..300).map(|i| i % 3).collect(), 3)
        .unwrap()
        .with_class_names(["a", "b", "c"])
        .unwrap();
    let zca = Zca::fit(&ds, ZcaConfig { eps: 1e-3 }).unwrap();
    let out = apply_to_dataset(&zca, &ds).unwrap();
    use crate::Dataset;
    assert_eq!(out.len(), 300);
    assert_eq!(out.labels(), ds.labels());
    assert_eq!(out.class_names().unwrap(), ["a", "b", "c"]);
    let one = zca.apply(x.index_axis(ndarray::Axis(0), 299).to_owned());
    let got = out.get(299).unwrap().image;
    assert!((&got - &one).iter().all(|d| d.abs() < 1e-5));
}
