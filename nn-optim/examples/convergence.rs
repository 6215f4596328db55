//! Prints the README's table: steps each optimizer needs to bring ‖x − x*‖ below 1e-3 on the
//! Rosenbrock function and on 10-D quadratics with condition number 100 (axis-aligned and
//! rotated), with the best learning rate of a grid. Run:
//! `cargo run --release -p nn-optim --example convergence`

use nn_optim::problems::{
    Objective, Quadratic, Rosenbrock, lbfgs_iterations_to_converge, steps_to_converge,
};
use nn_optim::{
    AdaGradConfig, AdamConfig, LbfgsConfig, LineSearch, OptimizerConfig, RmsPropConfig, SgdConfig,
};

const TOL: f64 = 1e-3;
const MAX_STEPS: usize = 50_000;
const LRS: [f64; 13] = [
    1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0,
];

fn main() {
    let problems: Vec<Box<dyn Objective>> = vec![
        Box::new(Rosenbrock),
        Box::new(Quadratic::new(10, 100.0, false)),
        Box::new(Quadratic::new(10, 100.0, true)),
    ];
    type Make = fn(f64) -> OptimizerConfig;
    let rows: Vec<(&str, Make)> = vec![
        ("SGD", |lr| {
            OptimizerConfig::Sgd(SgdConfig {
                lr,
                ..Default::default()
            })
        }),
        ("SGD + momentum 0.9", |lr| {
            OptimizerConfig::Sgd(SgdConfig {
                lr,
                momentum: 0.9,
                ..Default::default()
            })
        }),
        ("SGD + Nesterov 0.9", |lr| {
            OptimizerConfig::Sgd(SgdConfig {
                lr,
                momentum: 0.9,
                nesterov: true,
                ..Default::default()
            })
        }),
        ("AdaGrad", |lr| {
            OptimizerConfig::AdaGrad(AdaGradConfig {
                lr,
                ..Default::default()
            })
        }),
        ("RMSprop", |lr| {
            OptimizerConfig::RmsProp(RmsPropConfig {
                lr,
                ..Default::default()
            })
        }),
        ("Adam", |lr| {
            OptimizerConfig::Adam(AdamConfig {
                lr,
                ..Default::default()
            })
        }),
        ("Adam (AMSGrad)", |lr| {
            OptimizerConfig::Adam(AdamConfig {
                lr,
                amsgrad: true,
                ..Default::default()
            })
        }),
    ];
    print!("| optimizer |");
    for p in &problems {
        print!(" {} |", p.name());
    }
    println!();
    println!("|---|{}", "---|".repeat(problems.len()));
    for (name, make) in &rows {
        print!("| {name} |");
        for p in &problems {
            let best = LRS
                .iter()
                .filter_map(|&lr| {
                    let mut opt = make(lr).build(vec![]).expect("valid config");
                    steps_to_converge(opt.as_mut(), p.as_ref(), TOL, MAX_STEPS)
                        .expect("step")
                        .map(|n| (n, lr))
                })
                .min_by_key(|&(n, _)| n);
            match best {
                Some((n, lr)) => print!(" {n} (lr {lr}) |"),
                None => print!(" > {MAX_STEPS} |"),
            }
        }
        println!();
    }
    for (name, ls) in [
        ("L-BFGS, fixed step 1", LineSearch::None),
        ("L-BFGS, strong Wolfe", LineSearch::StrongWolfe),
    ] {
        print!("| {name} |");
        for p in &problems {
            let mut opt = LbfgsConfig {
                max_iter: 1,
                max_eval: Some(25),
                line_search: ls,
                ..Default::default()
            }
            .init()
            .unwrap();
            match lbfgs_iterations_to_converge(&mut opt, p.as_ref(), TOL, MAX_STEPS).expect("step")
            {
                Some((iters, evals)) => print!(" {iters} ({evals} evaluations) |"),
                None => print!(" diverges or stalls |"),
            }
        }
        println!();
    }
}
