//! The `[penalty]` block and the chained batch hooks (cutout → mixup / CutMix), end to end
//! through a [`Session`].

use std::collections::BTreeMap;

use nn_core::{Array, Ctx, Mode, Module, Tensor};
use nn_data::batch_rng;
use nn_regularize::{CutoutConfig, MixupConfig, PenaltyConfig};
use nn_train::accumulate::forward_stream;
use nn_train::data::loader;
use nn_train::regularize::{PenaltyParams, PenaltyType};
use nn_train::{
    Callback, CutoutSettings, MixupSettings, PenaltySettings, Session, TrainConfig, train,
};

/// Captures the gradients the optimizer is about to use.
#[derive(Default)]
struct Grads(BTreeMap<String, Array>);

impl Callback for Grads {
    fn after_backward(&mut self, model: &dyn Module, _step: u64) {
        self.0 = model
            .named_parameters()
            .into_iter()
            .filter_map(|(n, p)| p.grad().map(|g| (n, g)))
            .collect();
    }
}

fn job(penalty: Option<PenaltySettings>) -> TrainConfig {
    TrainConfig {
        batch_size: 32,
        epochs: 2,
        penalty,
        model: nn_train::ModelConfig::mlp(vec![32]).with_norm(nn_train::zoo::NormConfig::Batch),
        ..TrainConfig::default()
    }
}

fn elastic() -> PenaltySettings {
    PenaltySettings {
        kind: PenaltyType::ElasticNet,
        strength: 1e-2,
        beta: Some(0.5),
        params: PenaltyParams::Weights,
    }
}

#[test]
fn the_step_adds_exactly_nn_regularizes_penalty_gradient() {
    let config = job(Some(elastic()));
    let mut s = Session::new(&config).unwrap();
    let batch = s.train_loader.epoch(0).next().unwrap().unwrap();
    let mut seen = Grads::default();
    s.train_step(batch.clone(), 0, 0, &mut [&mut seen]).unwrap();

    // The same step by hand: data loss and nn-regularize's penalty, on a fresh copy.
    let r = Session::new(&config).unwrap();
    let mut ctx = Ctx::new(Mode::Train, forward_stream(config.seed, 0, 0));
    let logits = r
        .model
        .forward(&Tensor::from_array(batch.images.into_dyn()), &mut ctx);
    r.model.zero_grad();
    r.loss_fn.forward(&logits, &batch.labels).backward();
    let data_only: BTreeMap<String, Array> = r
        .model
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.grad().unwrap()))
        .collect();
    let penalty = PenaltyConfig::elastic_net(1e-2, 0.5).init().unwrap();
    penalty.loss(r.model.as_ref()).backward();
    for (name, p) in r.model.named_parameters() {
        let want = p.grad().unwrap();
        assert_eq!(
            seen.0[&name], want,
            "{name}: bit-identical to nn-regularize"
        );
        // The penalty's part: λ(2βW + sign W) on weights, nothing on biases and BN (1-d).
        let diff = &seen.0[&name] - &data_only[&name];
        let w = p.value().to_owned();
        for (d, w) in diff.iter().zip(w.iter()) {
            let expect = if p.shape().len() >= 2 {
                1e-2 * (2.0 * 0.5 * w + w.signum() * (*w != 0.0) as u8 as f32)
            } else {
                0.0
            };
            assert!((d - expect).abs() < 1e-6, "{name}: {d} vs {expect}");
        }
    }
}

#[test]
fn an_l1_penalty_shrinks_the_weights() {
    let l1_norm = |penalty| {
        let t = train(&job(penalty), &mut |_| {}).unwrap();
        t.model
            .named_parameters()
            .iter()
            .filter(|(_, p)| p.shape().len() >= 2)
            .map(|(_, p)| p.value().iter().map(|w| w.abs()).sum::<f32>())
            .sum::<f32>()
    };
    let plain = l1_norm(None);
    let l1 = l1_norm(Some(PenaltySettings {
        kind: PenaltyType::L1,
        strength: 1e-3,
        beta: None,
        params: PenaltyParams::Weights,
    }));
    assert!(l1 < 0.9 * plain, "L1 {l1} vs none {plain}");
}

#[test]
fn penalty_errors_name_the_field() {
    let mut c = job(Some(elastic()));
    c.penalty.as_mut().unwrap().beta = None;
    let e = Session::new(&c).err().unwrap().to_string();
    assert!(e.contains("penalty.beta"), "{e}");
    let e = TrainConfig::from_toml(
        "[penalty]\nkind = \"l1\"\nstrength = 1e-4\nparms = \"all\"",
        "job.toml".as_ref(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("parms") && e.contains("job.toml"), "{e}");
}

#[test]
fn cutout_then_mixup_chain_on_one_generator_per_batch() {
    let mut config = job(None);
    config.cutout = Some(CutoutSettings {
        size: 3,
        fill: 0.0,
        ..CutoutSettings::default()
    });
    config.mixup = Some(MixupSettings {
        mixup_alpha: 0.4,
        cutmix_alpha: 1.0,
        switch_prob: 0.5,
        label_smoothing: 0.1,
        ..MixupSettings::default()
    });
    let s = Session::new(&config).unwrap();
    // The same loader without hooks, then the hooks by hand in the stated order.
    let plain = loader(
        s.data.train.clone(),
        s.train_loader.config().clone(),
        None,
        s.data.preprocess.clone(),
        Vec::new(),
    )
    .unwrap();
    let cutout = CutoutConfig {
        size: 3,
        ..CutoutConfig::default()
    }
    .init()
    .unwrap();
    let mixup = MixupConfig {
        mixup_alpha: 0.4,
        cutmix_alpha: 1.0,
        switch_prob: 0.5,
        label_smoothing: 0.1,
        ..MixupConfig::new(10)
    }
    .init()
    .unwrap();
    for (b, (hooked, raw)) in s.train_loader.epoch(1).zip(plain.epoch(1)).enumerate() {
        let (hooked, mut raw) = (hooked.unwrap(), raw.unwrap());
        let mut rng = batch_rng(config.seed, 1, b as u64);
        cutout.apply_batch(raw.images.view_mut(), &mut rng);
        let mixed = mixup.apply(raw.images, &raw.labels, &mut rng).unwrap();
        assert_eq!(hooked.images, mixed.images, "batch {b}");
        assert_eq!(hooked.soft_targets.as_ref(), Some(&mixed.targets));
    }
    // And it trains.
    let t = train(&config, &mut |_| {}).unwrap();
    assert!(t.report.test_acc > 0.5, "{}", t.report.test_acc);
}
