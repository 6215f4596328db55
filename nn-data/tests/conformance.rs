//! Conformance of the preprocessing with numpy / PyTorch (torchvision) references: the fixture
//! `tests/fixtures/preprocess.json` is produced by `tests/fixtures/gen_preprocess.py`.

use ndarray::{Array4, Axis};
use nn_data::{
    ChannelMean, ColorPca, ImagePreprocessor, InMemoryDataset, MeanImage, Normalize, Pca,
    PcaConfig, Zca, ZcaConfig,
};
use serde_json::Value;

const FIXTURE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/preprocess.json"
));

struct Fx(Value);

impl Fx {
    fn load() -> Self {
        Fx(serde_json::from_str(FIXTURE).unwrap())
    }
    fn f64s(&self, key: &str) -> Vec<f64> {
        self.0[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    }
    fn f32s(&self, key: &str) -> Vec<f32> {
        self.f64s(key).into_iter().map(|v| v as f32).collect()
    }
    fn x(&self) -> Array4<f32> {
        let s: Vec<usize> = self.0["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        Array4::from_shape_vec((s[0], s[1], s[2], s[3]), self.f32s("x")).unwrap()
    }
}

fn close(what: &str, got: impl IntoIterator<Item = f64>, want: &[f64], tol: f64) {
    let got: Vec<f64> = got.into_iter().collect();
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}

#[test]
fn mean_image_and_channel_statistics_match_numpy() {
    let fx = Fx::load();
    let x = fx.x();
    let mi = MeanImage::fit_array(x.view()).unwrap();
    close(
        "mean_image",
        mi.mean().iter().map(|&v| f64::from(v)),
        &fx.f64s("mean_image"),
        1e-6,
    );
    let cm = ChannelMean::fit_array(x.view()).unwrap();
    close(
        "channel_mean",
        cm.mean().iter().map(|&v| f64::from(v)),
        &fx.f64s("channel_mean"),
        1e-6,
    );
    let n = Normalize::fit_array(x.view()).unwrap();
    close(
        "channel_std",
        n.std().iter().map(|&v| f64::from(v)),
        &fx.f64s("channel_std"),
        1e-6,
    );
}

#[test]
fn normalize_matches_torchvision_bit_for_bit() {
    let fx = Fx::load();
    let x = fx.x();
    let n = Normalize::new(fx.f32s("channel_mean"), fx.f32s("channel_std")).unwrap();
    let want = fx.f32s("normalized");
    let mut got = Vec::new();
    for img in x.axis_iter(Axis(0)) {
        got.extend(n.apply(img.to_owned()).iter().copied());
    }
    assert_eq!(got, want);
}

#[test]
fn pca_and_whitening_match_numpy() {
    let fx = Fx::load();
    let x = fx.x();
    let k = fx.0["pca_k"].as_u64().unwrap() as usize;
    let pca = Pca::fit_array(x.view(), PcaConfig::components(k)).unwrap();
    close(
        "eigenvalues",
        pca.eigenvalues().iter().copied(),
        &fx.f64s("pca_eigenvalues"),
        1e-6,
    );
    close(
        "components",
        pca.components().iter().map(|&v| f64::from(v)),
        &fx.f64s("pca_components"),
        1e-5,
    );
    let z = pca.transform_images(x.view());
    close(
        "projection",
        z.iter().map(|&v| f64::from(v)),
        &fx.f64s("pca_projection"),
        1e-5,
    );
    let ratio: f64 = pca.explained_variance_ratio().sum();
    let want_ratio = fx.f64s("pca_eigenvalues").iter().sum::<f64>()
        / fx.0["pca_total_variance"].as_f64().unwrap();
    assert!((ratio - want_ratio).abs() < 1e-9);

    let eps = fx.0["pca_whiten_eps"].as_f64().unwrap();
    let white = Pca::fit_array(x.view(), PcaConfig::components(k).whitened(eps)).unwrap();
    let z = white.transform_images(x.view());
    close(
        "whitened",
        z.iter().map(|&v| f64::from(v)),
        &fx.f64s("pca_whitened"),
        1e-4,
    );
}

#[test]
fn zca_matches_numpy() {
    let fx = Fx::load();
    let x = fx.x();
    let eps = fx.0["zca_eps"].as_f64().unwrap();
    let zca = Zca::fit_array(x.view(), ZcaConfig { eps }).unwrap();
    close(
        "zca_matrix",
        zca.matrix().iter().map(|&v| f64::from(v)),
        &fx.f64s("zca_matrix"),
        1e-5,
    );
    let mut batch = x.clone();
    zca.apply_batch(&mut batch);
    close(
        "zca_output",
        batch.iter().map(|&v| f64::from(v)),
        &fx.f64s("zca_output"),
        1e-4,
    );
}

#[test]
fn color_pca_matches_torch_eigh() {
    let fx = Fx::load();
    let x = fx.x();
    let n = x.len_of(Axis(0));
    let ds = InMemoryDataset::from_f32(x, vec![0; n], 1).unwrap();
    let c = ColorPca::fit(&ds).unwrap();
    close(
        "color eigenvalues",
        c.eigenvalues.iter().map(|&v| f64::from(v)),
        &fx.f64s("color_eigenvalues"),
        1e-6,
    );
    let vecs: Vec<f64> = c
        .eigenvectors
        .iter()
        .flatten()
        .map(|&v| f64::from(v))
        .collect();
    close(
        "color eigenvectors",
        vecs,
        &fx.f64s("color_eigenvectors"),
        1e-5,
    );
}
