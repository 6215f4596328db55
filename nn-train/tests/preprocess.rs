//! `data.preprocess` with PCA and ZCA fitted on the training split, reused from a saved
//! `preprocess.json` bit for bit, and `[pca_lighting]` fitted instead of typed by hand.

use nn_data::{ColorPca, Dataset, ImagePreprocessor, Pca, PcaConfig, Zca, ZcaConfig};
use nn_train::data::prepare;
use nn_train::preprocess::{Fitted, FittedPreprocessing};
use nn_train::{
    CutoutSettings, DataConfig, ModelConfig, PcaLightingSettings, PcaSettings, Preprocess, Session,
    TrainConfig, ZcaSettings, train,
};

fn job(preprocess: Preprocess) -> TrainConfig {
    TrainConfig {
        epochs: 4,
        data: DataConfig {
            preprocess,
            ..DataConfig::default()
        },
        model: ModelConfig::mlp(vec![64]),
        ..TrainConfig::default()
    }
}

fn pca_variance(v: f64) -> Preprocess {
    Preprocess::Pca(PcaSettings {
        variance: Some(v),
        whiten: true,
        eps: 1e-2,
        ..PcaSettings::default()
    })
}

#[test]
fn pca_keeps_the_components_for_the_variance_and_the_mlp_takes_k_features() {
    let config = job(pca_variance(0.9));
    let s = Session::new(&config).unwrap();
    let full = Pca::fit(s.data.train.as_ref(), PcaConfig::default().whitened(1e-2)).unwrap();
    let k = full.components_for_variance(0.9).unwrap();
    assert!(k > 5 && k < 64, "k = {k}");
    assert_eq!(*s.data.preprocess, Fitted::Pca(full.truncated(k).unwrap()));
    assert_eq!(s.data.input_shape, [k, 1, 1]);
    assert_eq!(s.model.named_parameters()[0].1.shape(), [64, k]);
    let batch = s.val_loader.epoch(0).next().unwrap().unwrap();
    assert_eq!(&batch.images.shape()[1..], [k, 1, 1]);
    let t = train(&config, &mut |_| {}).unwrap();
    assert!(t.report.test_acc > 0.85, "{}", t.report.test_acc);
}

#[test]
fn zca_is_nn_datas_fit_on_the_training_split_applied_per_batch() {
    let config = job(Preprocess::Zca(ZcaSettings { eps: 0.1 }));
    let s = Session::new(&config).unwrap();
    let zca = Zca::fit(s.data.train.as_ref(), ZcaConfig { eps: 0.1 }).unwrap();
    assert_eq!(*s.data.preprocess, Fitted::Zca(zca.clone()));
    assert_eq!(s.data.input_shape, [1, 8, 8]);
    // The loader's batch: the raw images, whitened with one matrix product.
    let batch = s.val_loader.epoch(0).next().unwrap().unwrap();
    let mut raw = batch.images.clone();
    for (i, &index) in batch.indices.iter().enumerate() {
        raw.index_axis_mut(ndarray::Axis(0), i)
            .assign(&s.data.val.get(index).unwrap().image);
    }
    zca.apply_batch(&mut raw);
    assert_eq!(batch.images, raw);
    let t = train(&config, &mut |_| {}).unwrap();
    assert!(t.report.test_acc > 0.85, "{}", t.report.test_acc);
}

#[test]
fn a_saved_fit_is_reused_bit_for_bit_not_refitted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("preprocess.json");
    // Fitted on digits 0-4 ...
    let mut source = DataConfig {
        classes: Some(vec![0, 1, 2, 3, 4]),
        preprocess: Preprocess::Zca(ZcaSettings { eps: 0.05 }),
        ..DataConfig::default()
    };
    let a = prepare(&source, 0).unwrap();
    a.fitted().save(&path).unwrap();
    assert_eq!(FittedPreprocessing::load(&path).unwrap(), a.fitted());
    // ... reused on digits 5-9: the same statistics, not those of 5-9.
    source.classes = Some(vec![5, 6, 7, 8, 9]);
    let refit = prepare(&source, 0).unwrap();
    source.preprocess_from = Some(path.clone());
    let reused = prepare(&source, 0).unwrap();
    assert_eq!(*reused.preprocess, *a.preprocess);
    assert_ne!(*reused.preprocess, *refit.preprocess);
    let image = reused.test.get(0).unwrap().image;
    assert_eq!(
        reused.preprocess.apply(image.clone()),
        a.preprocess.apply(image)
    );
    // A different setting is an error naming the field.
    source.preprocess = Preprocess::Standardize;
    let e = prepare(&source, 0).err().unwrap().to_string();
    assert!(
        e.contains("data.preprocess") && e.contains("preprocess.json"),
        "{e}"
    );
}

#[test]
fn pca_does_not_feed_image_models_or_image_hooks() {
    let mut c = job(pca_variance(0.9));
    c.model = ModelConfig::cnn(vec![8]);
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("model.kind") && e.contains("zca"), "{e}");
    let mut c = job(pca_variance(0.9));
    c.cutout = Some(CutoutSettings::default());
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("`cutout`"), "{e}");
    let e = TrainConfig::from_toml(
        "[data]\npreprocess = { pca = { variance = 1.5 } }",
        "j.toml".as_ref(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("data.preprocess.pca.variance"), "{e}");
}

#[test]
fn pca_lighting_is_fitted_on_the_rgb_training_split() {
    let mut c = job(Preprocess::Standardize);
    c.pca_lighting = Some(PcaLightingSettings::default());
    let e = Session::new(&c).err().unwrap().to_string();
    assert!(
        e.contains("pca_lighting") && e.contains("data.channels = 3"),
        "{e}"
    );
    c.data.channels = Some(3);
    let s = Session::new(&c).unwrap();
    assert_eq!(s.data.image_shape, [3, 8, 8]);
    let fitted = ColorPca::fit(s.data.train.as_ref()).unwrap();
    assert_eq!(s.data.color_pca, Some(fitted));
    assert_eq!(s.data.fitted().color_pca, Some(fitted));
    // Gray replicated into RGB: one direction of variance, (1, 1, 1)/√3.
    assert!(fitted.eigenvalues[0] > 0.0 && fitted.eigenvalues[1] < 1e-6);
    for c in 0..3 {
        assert!((fitted.eigenvectors[c][0] - 3f32.sqrt().recip()).abs() < 1e-4);
    }
    // Every training image gets its own constant offset per channel (o/σ after
    // standardisation): compare with the same job without the lighting.
    let plain = Session::new(&TrainConfig {
        pca_lighting: None,
        ..c.clone()
    })
    .unwrap();
    let lit = s.train_loader.epoch(0).next().unwrap().unwrap();
    let unlit = plain.train_loader.epoch(0).next().unwrap().unwrap();
    assert_eq!(lit.indices, unlit.indices);
    let diff = &lit.images - &unlit.images;
    let mut offsets = Vec::new();
    for image in diff.outer_iter() {
        for plane in image.outer_iter() {
            let o = plane[[0, 0]];
            assert!(plane.iter().all(|v| (v - o).abs() < 1e-4), "{plane}");
            offsets.push(o);
        }
    }
    assert!(offsets.iter().any(|o| o.abs() > 1e-3), "{offsets:?}");
    let val = s.val_loader.epoch(0).next().unwrap().unwrap();
    let val_plain = plain.val_loader.epoch(0).next().unwrap().unwrap();
    assert_eq!(val.images, val_plain.images, "evaluation is not augmented");
    let t = train(&c, &mut |_| {}).unwrap();
    assert!(t.report.test_acc > 0.85, "{}", t.report.test_acc);
}
