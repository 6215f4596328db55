//! Gradient accumulation against the big batch, and the batch-size rule for the learning rate.

use nn_core::Module;
use nn_core::layers::Activation;
use nn_optim::ScalingRule;
use nn_train::{Callback, LrScaling, ModelConfig, Session, StepInfo, TrainConfig, train_with};

fn mlp(batch_norm: bool) -> ModelConfig {
    let m = ModelConfig::mlp(vec![64]).with_activation(Activation::Relu);
    if batch_norm {
        m.with_norm(nn_train::zoo::NormConfig::Batch)
    } else {
        m
    }
}

fn job(batch_size: usize, grad_accumulation: usize, batch_norm: bool) -> TrainConfig {
    TrainConfig {
        epochs: 2,
        batch_size,
        grad_accumulation,
        model: mlp(batch_norm),
        ..TrainConfig::default()
    }
}

/// Records every step's loss, lr and image count.
#[derive(Default)]
struct Steps(Vec<(f32, f64, usize)>);

impl Callback for Steps {
    fn on_step(&mut self, info: &StepInfo<'_>) -> nn_train::Control {
        self.0.push((info.loss, info.lr, info.batch_size));
        nn_train::Control::Continue
    }
}

fn weights(model: &dyn Module) -> Vec<f32> {
    model
        .named_parameters()
        .iter()
        .flat_map(|(_, p)| p.value().iter().copied().collect::<Vec<_>>())
        .collect()
}

fn max_rel_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / (1e-3 + x.abs().max(y.abs())))
        .fold(0.0, f32::max)
}

/// Trains `config`, returning the final weights of the last epoch (not the best snapshot: one
/// epoch only) and the steps.
fn run(config: &TrainConfig) -> (Vec<f32>, Steps) {
    let mut steps = Steps::default();
    let t = train_with(
        &TrainConfig {
            epochs: 1,
            ..config.clone()
        },
        &mut [&mut steps],
    )
    .unwrap();
    (weights(t.model.as_ref()), steps)
}

#[test]
fn micro_batches_are_slices_of_the_big_batch() {
    let small = Session::new(&job(32, 2, false)).unwrap();
    let big = Session::new(&job(64, 1, false)).unwrap();
    let small: Vec<Vec<usize>> = small
        .train_loader
        .epoch(3)
        .map(|b| b.unwrap().indices)
        .collect();
    let big: Vec<Vec<usize>> = big
        .train_loader
        .epoch(3)
        .map(|b| b.unwrap().indices)
        .collect();
    // 1,258 training digits: 40 micro-batches (the last of 10) and 20 big batches (the last of 42).
    assert_eq!((small.len(), big.len()), (40, 20));
    for (s, b) in small.chunks(2).zip(&big) {
        assert_eq!(&s.concat(), b);
    }
}

#[test]
fn accumulation_matches_the_big_batch_to_float_rounding() {
    let (w_acc, s_acc) = run(&job(32, 2, false));
    let (w_big, s_big) = run(&job(64, 1, false));
    assert_eq!(s_acc.0.len(), 20, "one step per two micro-batches");
    for ((la, lra, na), (lb, lrb, nb)) in s_acc.0.iter().zip(&s_big.0) {
        assert_eq!((lra, na), (lrb, nb), "same schedule, same images per step");
        assert!((la - lb).abs() < 1e-5 * lb.abs().max(1.0), "{la} vs {lb}");
    }
    let d = max_rel_diff(&w_acc, &w_big);
    assert!(d < 1e-4, "max relative difference {d}");
    // Sanity: a different step size really is different at this tolerance.
    let (w_other, _) = run(&job(32, 1, false));
    assert!(max_rel_diff(&w_other, &w_big) > 1e-2);
}

#[test]
fn batch_norm_normalises_each_micro_batch_so_accumulation_differs() {
    let (w_acc, _) = run(&job(32, 2, true));
    let (w_big, _) = run(&job(64, 1, true));
    let d = max_rel_diff(&w_acc, &w_big);
    assert!(d > 1e-3, "BN statistics over 32 vs 64 images: {d}");
}

#[test]
fn one_micro_batch_is_the_plain_step_bit_for_bit() {
    let config = job(64, 1, true);
    let mut a = Session::new(&config).unwrap();
    let mut b = Session::new(&config).unwrap();
    for (i, batch) in a.train_loader.epoch(0).take(3).enumerate() {
        let batch = batch.unwrap();
        let sa = a.train_step(batch.clone(), 0, i as u64, &mut []).unwrap();
        let sb = b
            .train_step_group(vec![batch], 0, i as u64, &mut [])
            .unwrap();
        assert_eq!(sa, sb);
    }
    assert_eq!(weights(a.model.as_ref()), weights(b.model.as_ref()));
}

#[test]
fn the_lr_scales_with_the_images_per_step() {
    let mut config = job(64, 2, false);
    config.lr_scaling = Some(LrScaling {
        base_batch: 32,
        rule: ScalingRule::Linear,
    });
    let s = Session::new(&config).unwrap();
    // 0.1 tuned at 32 images; this job steps on 128: 0.4, in every group.
    assert!(
        s.scheduler.base_lrs().iter().all(|&lr| lr == 0.4),
        "{:?}",
        s.scheduler.base_lrs()
    );
    config.lr_scaling.as_mut().unwrap().rule = ScalingRule::Sqrt;
    let s = Session::new(&config).unwrap();
    assert!(s.scheduler.base_lrs().iter().all(|&lr| lr == 0.2));
}

#[test]
fn config_errors_name_the_field() {
    let e = TrainConfig::from_toml("grad_accumulation = 0", "j.toml".as_ref())
        .unwrap_err()
        .to_string();
    assert!(e.contains("grad_accumulation"), "{e}");
    let e = TrainConfig::from_toml("[lr_scaling]\nbase_batch = 0", "j.toml".as_ref())
        .unwrap_err()
        .to_string();
    assert!(e.contains("lr_scaling.base_batch"), "{e}");
    let e = TrainConfig::from_toml(
        "[lr_scaling]\nbase_batch = 8\nrule = \"cube\"",
        "j.toml".as_ref(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("cube") && e.contains("j.toml"), "{e}");
}
