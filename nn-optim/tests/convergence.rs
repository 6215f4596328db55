//! Every optimizer minimises the Rosenbrock function and an ill-conditioned (κ = 100) rotated
//! quadratic from a fixed start, with the learning rates of the README's table (see
//! `examples/convergence.rs`), within a step budget.

use nn_optim::problems::{
    Objective, Quadratic, Rosenbrock, lbfgs_iterations_to_converge, steps_to_converge,
};
use nn_optim::{
    AdaGradConfig, AdamConfig, LbfgsConfig, LineSearch, OptimizerConfig, RmsPropConfig, SgdConfig,
};

const TOL: f64 = 1e-3;

#[test]
fn first_order_optimizers_converge_within_budget() {
    let rosen = Rosenbrock;
    let quad = Quadratic::new(10, 100.0, true);
    // (config, Rosenbrock budget, rotated-quadratic budget): the README's counts plus ~20 %.
    let cases: Vec<(OptimizerConfig, OptimizerConfig, usize, usize)> = vec![
        (
            OptimizerConfig::Sgd(SgdConfig {
                lr: 0.002,
                ..Default::default()
            }),
            OptimizerConfig::Sgd(SgdConfig {
                lr: 0.01,
                ..Default::default()
            }),
            10_500,
            550,
        ),
        (
            OptimizerConfig::Sgd(SgdConfig {
                lr: 0.002,
                momentum: 0.9,
                ..Default::default()
            }),
            OptimizerConfig::Sgd(SgdConfig {
                lr: 0.01,
                momentum: 0.9,
                ..Default::default()
            }),
            1_050,
            180,
        ),
        (
            OptimizerConfig::Sgd(SgdConfig {
                lr: 0.001,
                momentum: 0.9,
                nesterov: true,
                ..Default::default()
            }),
            OptimizerConfig::Sgd(SgdConfig {
                lr: 0.005,
                momentum: 0.9,
                nesterov: true,
                ..Default::default()
            }),
            2_000,
            130,
        ),
        (
            OptimizerConfig::AdaGrad(AdaGradConfig {
                lr: 0.5,
                ..Default::default()
            }),
            OptimizerConfig::AdaGrad(AdaGradConfig {
                lr: 1.0,
                ..Default::default()
            }),
            11_000,
            360,
        ),
        (
            OptimizerConfig::RmsProp(RmsPropConfig {
                lr: 0.2,
                ..Default::default()
            }),
            OptimizerConfig::RmsProp(RmsPropConfig {
                lr: 0.1,
                ..Default::default()
            }),
            400,
            240,
        ),
        (
            OptimizerConfig::Adam(AdamConfig {
                lr: 0.5,
                ..Default::default()
            }),
            OptimizerConfig::Adam(AdamConfig {
                lr: 1.0,
                ..Default::default()
            }),
            800,
            180,
        ),
    ];
    for (rc, qc, rb, qb) in cases {
        let mut o = rc.build(vec![]).unwrap();
        let n = steps_to_converge(o.as_mut(), &rosen, TOL, rb).unwrap();
        assert!(
            n.is_some(),
            "{rc:?} did not reach the Rosenbrock minimum in {rb} steps"
        );
        let mut o = qc.build(vec![]).unwrap();
        let n = steps_to_converge(o.as_mut(), &quad, TOL, qb).unwrap();
        assert!(
            n.is_some(),
            "{qc:?} did not reach the {} minimum in {qb} steps",
            quad.name()
        );
    }
}

#[test]
fn lbfgs_converges_in_few_iterations() {
    for ls in [LineSearch::None, LineSearch::StrongWolfe] {
        for (obj, budget) in [
            (&Rosenbrock as &dyn Objective, 80u64),
            (&Quadratic::new(10, 100.0, true), 30),
        ] {
            let mut opt = LbfgsConfig {
                max_iter: 1,
                max_eval: Some(25),
                line_search: ls,
                ..Default::default()
            }
            .init()
            .unwrap();
            let r = lbfgs_iterations_to_converge(&mut opt, obj, TOL, budget as usize).unwrap();
            let (iters, _) =
                r.unwrap_or_else(|| panic!("L-BFGS {ls:?} did not converge on {}", obj.name()));
            assert!(iters <= budget);
        }
    }
}
