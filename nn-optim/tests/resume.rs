//! Saving and restoring optimizer state (through JSON) gives bit-identical next steps, for every
//! optimizer; loading a mismatched state is an error that changes nothing.

mod common;

use common::{LeastSquares, fixture};
use ndarray::{ArrayD, IxDyn};
use nn_optim::{
    AdaGradConfig, AdamConfig, AdamWConfig, GradClip, LbfgsConfig, LbfgsState, LineSearch, Matcher,
    OptimError, OptimState, Optimizer, ParamGroup, ParamMut, RmsPropConfig, SgdConfig,
};

fn start() -> (ArrayD<f32>, ArrayD<f32>) {
    let w = ArrayD::from_shape_fn(IxDyn(&[3, 4]), |i| {
        (i[0] as f32 - 1.0) * 0.3 + i[1] as f32 * 0.1
    });
    let b = ArrayD::from_shape_fn(IxDyn(&[3]), |i| i[0] as f32 * -0.2);
    (w, b)
}

fn run(
    opt: &mut dyn Optimizer,
    prob: &LeastSquares,
    w: &mut ArrayD<f32>,
    b: &mut ArrayD<f32>,
    steps: usize,
) {
    for _ in 0..steps {
        let (_, gw, gb) = prob.loss_grad(w, b);
        opt.step(&mut [
            ParamMut::new("fc.weight", w.view_mut(), gw.view()),
            ParamMut::new("fc.bias", b.view_mut(), gb.view()),
        ])
        .unwrap();
    }
}

type Maker = Box<dyn Fn() -> Box<dyn Optimizer>>;

fn makers() -> Vec<(&'static str, Maker)> {
    let groups = || {
        vec![
            ParamGroup::new("nd", Matcher::no_decay())
                .with_weight_decay(0.0)
                .with_lr_scale(0.5),
        ]
    };
    vec![
        (
            "sgd",
            Box::new(move || {
                Box::new(
                    SgdConfig {
                        lr: 0.05,
                        momentum: 0.9,
                        nesterov: true,
                        weight_decay: 0.01,
                        ..Default::default()
                    }
                    .init_with_groups(groups())
                    .unwrap(),
                )
            }),
        ),
        (
            "adagrad",
            Box::new(|| {
                Box::new(
                    AdaGradConfig {
                        lr: 0.1,
                        lr_decay: 0.01,
                        ..Default::default()
                    }
                    .init()
                    .unwrap(),
                )
            }),
        ),
        (
            "rmsprop",
            Box::new(|| {
                Box::new(
                    RmsPropConfig {
                        lr: 0.01,
                        momentum: 0.5,
                        centered: true,
                        ..Default::default()
                    }
                    .init()
                    .unwrap(),
                )
            }),
        ),
        (
            "adam",
            Box::new(|| {
                Box::new(
                    AdamConfig {
                        lr: 0.05,
                        amsgrad: true,
                        clip: GradClip::norm(0.5),
                        ..Default::default()
                    }
                    .init()
                    .unwrap(),
                )
            }),
        ),
        (
            "adamw",
            Box::new(move || {
                Box::new(
                    AdamWConfig {
                        lr: 0.05,
                        ..Default::default()
                    }
                    .init_with_groups(groups())
                    .unwrap(),
                )
            }),
        ),
    ]
}

#[test]
fn restored_state_gives_bit_identical_steps() {
    let prob = LeastSquares::from_fixture(&fixture("optim_trajectories.json")["problem"]);
    for (name, make) in makers() {
        let (mut w, mut b) = start();
        let mut a = make();
        run(a.as_mut(), &prob, &mut w, &mut b, 4);
        a.set_lr(0, a.lr(0) * 0.5); // as a schedule would
        let json = serde_json::to_string(&a.state()).unwrap();
        let (mut w2, mut b2) = (w.clone(), b.clone());
        let mut restored = make();
        restored
            .load_state(&serde_json::from_str::<OptimState>(&json).unwrap())
            .unwrap();
        assert_eq!(restored.lr(0), a.lr(0), "{name}: lr restored");
        run(a.as_mut(), &prob, &mut w, &mut b, 3);
        run(restored.as_mut(), &prob, &mut w2, &mut b2, 3);
        assert_eq!(w, w2, "{name}: weights after resume");
        assert_eq!(b, b2, "{name}: biases after resume");
        assert_eq!(a.state(), restored.state(), "{name}: state after resume");
    }
}

#[test]
fn mismatched_state_is_rejected_without_changes() {
    let sgd_state = SgdConfig {
        lr: 0.1,
        momentum: 0.9,
        ..Default::default()
    }
    .init()
    .unwrap()
    .state();
    let mut adam = AdamConfig::default().init().unwrap();
    let before = adam.state();
    assert!(matches!(
        adam.load_state(&sgd_state),
        Err(OptimError::IncompatibleState(_))
    ));
    assert_eq!(adam.state(), before);

    // A state whose buffers do not fit the parameter: the step fails and changes nothing.
    let prob = LeastSquares::from_fixture(&fixture("optim_trajectories.json")["problem"]);
    let (mut w, mut b) = start();
    run(&mut adam, &prob, &mut w, &mut b, 1);
    let mut st = adam.state();
    for ps in st.params.values_mut() {
        for buf in ps.buffers.values_mut() {
            *buf = ArrayD::zeros(IxDyn(&[7]));
        }
    }
    adam.load_state(&st).unwrap();
    let (w0, b0) = (w.clone(), b.clone());
    let (_, gw, gb) = prob.loss_grad(&w, &b);
    let e = adam
        .step(&mut [
            ParamMut::new("fc.weight", w.view_mut(), gw.view()),
            ParamMut::new("fc.bias", b.view_mut(), gb.view()),
        ])
        .unwrap_err();
    assert!(matches!(e, OptimError::ShapeMismatch { .. }), "{e}");
    assert_eq!((w, b), (w0, b0));
}

#[test]
fn lbfgs_state_round_trips() {
    let prob = LeastSquares::from_fixture(&fixture("optim_trajectories.json")["problem"]);
    let cfg = LbfgsConfig {
        max_iter: 3,
        history_size: 4,
        line_search: LineSearch::StrongWolfe,
        ..Default::default()
    };
    let mut a = cfg.clone().init().unwrap();
    let mut x: Vec<f32> = (0..15).map(|i| (i as f32 * 0.37).sin()).collect();
    a.step(&mut x, |v| prob.flat(v)).unwrap();
    let json = serde_json::to_string(&a.state()).unwrap();
    let mut b = cfg.init().unwrap();
    b.load_state(serde_json::from_str::<LbfgsState>(&json).unwrap())
        .unwrap();
    let mut x2 = x.clone();
    a.step(&mut x, |v| prob.flat(v)).unwrap();
    b.step(&mut x2, |v| prob.flat(v)).unwrap();
    assert_eq!(x, x2);
}
