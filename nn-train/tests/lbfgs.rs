//! L-BFGS jobs: full batch only (a clear error for mini-batches and noise), the session's step
//! is nn-optim's `Lbfgs::step` on the model's loss, its state survives a save/restore.

use nn_core::layers::Activation;
use nn_core::{Ctx, Mode, Module, Parameter, Tensor};
use nn_optim::{LbfgsConfig, LineSearch, OptimizerConfig};
use nn_train::accumulate::forward_stream;
use nn_train::{JobOptimizerState, ModelConfig, Session, TrainConfig, train};

/// Training digits after the stratified split.
const N_TRAIN: usize = 1258;

fn job(line_search: LineSearch) -> TrainConfig {
    TrainConfig {
        epochs: 8,
        batch_size: N_TRAIN,
        optimizer: OptimizerConfig::Lbfgs(LbfgsConfig {
            history_size: 10,
            line_search,
            ..LbfgsConfig::default()
        }),
        model: ModelConfig::mlp(vec![32]).with_activation(Activation::Tanh),
        ..TrainConfig::default()
    }
}

fn values(model: &dyn Module) -> Vec<f32> {
    model
        .named_parameters()
        .iter()
        .flat_map(|(_, p)| p.value().iter().copied().collect::<Vec<_>>())
        .collect()
}

#[test]
fn mini_batches_are_rejected_saying_why() {
    let mut c = job(LineSearch::None);
    c.batch_size = 64;
    let e = Session::new(&c)
        .err()
        .expect("mini-batch L-BFGS")
        .to_string();
    assert!(
        e.contains("`batch_size` = 64") && e.contains("batch_size = 1258") && e.contains("mini"),
        "{e}"
    );
}

#[test]
fn noise_is_rejected_naming_the_field() {
    let base = "batch_size = 2000\n[optimizer]\nkind = \"lbfgs\"\n";
    for (extra, field, why) in [
        ("[mixup]\nmixup_alpha = 0.2\n", "mixup", "noise"),
        ("[cutout]\nsize = 2\n", "cutout", "noise"),
        ("[pca_lighting]\nalpha_std = 0.1\n", "pca_lighting", "noise"),
        (
            "[augment]\ntransforms = [{ type = \"horizontal_flip\" }]\n",
            "augment",
            "noise",
        ),
        (
            "[model]\nkind = \"mlp\"\ndropout = 0.5\n",
            "model.dropout",
            "noise",
        ),
        (
            "[lr_scaling]\nbase_batch = 64\n",
            "lr_scaling",
            "full-batch",
        ),
    ] {
        let text = format!("{base}{extra}");
        let e = TrainConfig::from_toml(&text, "job.toml".as_ref())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("`{field}`")) && e.contains(why),
            "{field}: {e}"
        );
    }
    let e = TrainConfig::from_toml(&format!("grad_accumulation = 2\n{base}"), "j.toml".as_ref())
        .unwrap_err()
        .to_string();
    assert!(e.contains("`grad_accumulation`"), "{e}");
}

#[test]
fn the_session_step_is_nn_optims_lbfgs_step_on_the_model_loss() {
    let config = job(LineSearch::StrongWolfe);
    let mut s = Session::new(&config).unwrap();
    let batch = s.train_loader.epoch(0).next().unwrap().unwrap();
    assert_eq!(batch.labels.len(), N_TRAIN);
    assert_eq!(
        s.train_loader.epoch(1).next().unwrap().unwrap().indices,
        batch.indices,
        "no shuffling"
    );
    let stats = s.train_step(batch.clone(), 0, 0, &mut []).unwrap();

    // By hand on an identical fresh model.
    let r = Session::new(&config).unwrap();
    let params: Vec<(String, Parameter)> = r.model.named_parameters();
    let mut x = values(r.model.as_ref());
    let images = Tensor::from_array(batch.images.clone().into_dyn());
    let mut opt = LbfgsConfig {
        history_size: 10,
        line_search: LineSearch::StrongWolfe,
        ..LbfgsConfig::default()
    }
    .init()
    .unwrap();
    let first = opt
        .step(&mut x, |xk| {
            let mut off = 0;
            for (_, p) in &params {
                p.update(|mut v, _| {
                    let n = v.len();
                    v.iter_mut()
                        .zip(&xk[off..off + n])
                        .for_each(|(d, s)| *d = *s);
                    off += n;
                });
            }
            r.model.zero_grad();
            let mut ctx = Ctx::new(Mode::Train, forward_stream(config.seed, 0, 0));
            let loss = r
                .loss_fn
                .forward(&r.model.forward(&images, &mut ctx), &batch.labels);
            let value = loss.item();
            loss.backward();
            let g = params
                .iter()
                .flat_map(|(_, p)| p.grad().unwrap().iter().copied().collect::<Vec<_>>())
                .collect();
            (value, g)
        })
        .unwrap();
    assert_eq!(stats.loss, first);
    assert_eq!(values(s.model.as_ref()), x, "bit-identical parameters");
}

#[test]
fn the_lbfgs_state_restores_the_next_step_exactly() {
    let config = job(LineSearch::None);
    let batch = {
        let s = Session::new(&config).unwrap();
        s.train_loader.epoch(0).next().unwrap().unwrap()
    };
    let mut a = Session::new(&config).unwrap();
    a.train_step(batch.clone(), 0, 0, &mut []).unwrap();
    let saved_state = serde_json::to_string(&a.optimizer.state()).unwrap();
    let saved_model = a.model.state_dict();
    a.train_step(batch.clone(), 1, 1, &mut []).unwrap();

    let mut b = Session::new(&config).unwrap();
    for ((_, p), (_, v)) in b.model.named_parameters().iter().zip(saved_model) {
        p.set_value(v);
    }
    let state: JobOptimizerState = serde_json::from_str(&saved_state).unwrap();
    assert!(matches!(state, JobOptimizerState::Lbfgs(_)));
    b.optimizer.load_state(&state).unwrap();
    b.train_step(batch, 1, 1, &mut []).unwrap();
    assert_eq!(values(a.model.as_ref()), values(b.model.as_ref()));
}

#[test]
fn lbfgs_fits_the_digits_full_batch() {
    let t = train(&job(LineSearch::StrongWolfe), &mut |_| {}).unwrap();
    let last = t.report.history.last().unwrap();
    assert!(last.train_loss < 0.1, "train loss {}", last.train_loss);
    assert!(t.report.test_acc > 0.9, "test acc {}", t.report.test_acc);
    assert!(
        t.report.history.iter().all(|e| e.lr == 1.0),
        "constant step length"
    );
}
