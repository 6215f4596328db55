//! `lab optimizers`: the paths behind the contour plots, and the job's curves.

use nn_train::TrainConfig;
use nn_train::lab::optimizers::{Method, OptPath, PathEnd, run_surface, surfaces};
use nn_train::lab::optimizers_job::{
    FULL_BATCH, default_lr, job_method, pick_lr, run_job_curve, with_method,
};
use nn_train::zoo::ModelConfig;

use super::{nn_train, png};

fn paths(name: &str) -> Vec<OptPath> {
    let s = surfaces().into_iter().find(|s| s.name == name).unwrap();
    let r = run_surface(&s, &Method::ALL).unwrap();
    // The numbers behind the pictures: f at every point of every path, one point per step.
    for p in &r.paths {
        assert_eq!(p.points.len(), p.losses.len());
        assert_eq!(p.points.len(), p.evaluations.len());
        if p.method != Method::Lbfgs && p.end != PathEnd::Diverged {
            assert_eq!(p.points.len(), s.steps + 1, "{:?}", p.method);
        }
        for (&(x, y), &f) in p.points.iter().zip(&p.losses) {
            let g = f64::from(s.objective.eval(&[x as f32, y as f32]).0);
            assert!(
                (g - f).abs() <= 1e-6 * (1.0 + f.abs()),
                "{:?}: {g} vs {f}",
                p.method
            );
        }
    }
    assert!(r.verdict.starts_with(name), "{}", r.verdict);
    r.paths
}

fn get(paths: &[OptPath], m: Method) -> &OptPath {
    paths.iter().find(|p| p.method == m).unwrap()
}

#[test]
fn rosenbrock_lbfgs_and_momentum_reach_the_end_of_the_valley_sgd_does_not() {
    let p = paths("rosenbrock");
    let lbfgs = get(&p, Method::Lbfgs);
    assert_eq!(lbfgs.end, PathEnd::Reached);
    assert!(lbfgs.reached_at.unwrap() < 100, "{:?}", lbfgs.reached_at);
    let (sgd, momentum) = (get(&p, Method::Sgd), get(&p, Method::Momentum));
    assert_eq!(sgd.end, PathEnd::NotReached);
    assert_eq!(momentum.end, PathEnd::Reached);
    assert!(sgd.final_distance > 0.1, "{}", sgd.final_distance);
}

#[test]
fn sgd_lingers_at_the_saddle_adaptive_methods_do_not() {
    let p = paths("saddle");
    // Steps spent within 0.1 of the saddle point (0, 0).
    let near = |m| {
        get(&p, m)
            .points
            .iter()
            .filter(|(x, y)| x.hypot(*y) < 0.1)
            .count()
    };
    let (sgd, adam, adagrad) = (near(Method::Sgd), near(Method::Adam), near(Method::AdaGrad));
    assert!(sgd > 50, "SGD {sgd} steps near the saddle");
    assert!(
        sgd > 5 * adam.max(1) && sgd > 5 * adagrad.max(1),
        "{sgd} {adam} {adagrad}"
    );
    // Everyone escapes to a minimum eventually.
    assert!(p.iter().all(|q| q.end == PathEnd::Reached), "{p:?}");
}

#[test]
fn sgd_zigzags_across_the_ill_conditioned_valley() {
    let p = paths("ill-conditioned");
    // The steep direction of the rotated quadratic (eigenvalue 50) is (-0.8, -0.6).
    let flips = |m| {
        let across: Vec<f64> = get(&p, m)
            .points
            .iter()
            .map(|(x, y)| -0.8 * x - 0.6 * y)
            .collect();
        across.windows(2).filter(|w| w[0] * w[1] < 0.0).count()
    };
    assert!(flips(Method::Sgd) > 20, "SGD flips {}", flips(Method::Sgd));
    let steps = |m| get(&p, m).reached_at.unwrap_or(usize::MAX);
    assert!(steps(Method::Nesterov) < steps(Method::Sgd));
    // A quadratic in 2-D: L-BFGS with an exact enough line search needs a handful of iterations.
    assert!(steps(Method::Lbfgs) <= 5, "{}", steps(Method::Lbfgs));
}

fn tiny_job() -> TrainConfig {
    TrainConfig {
        epochs: 2,
        model: ModelConfig::mlp(vec![32]).with_dropout(0.2),
        ..TrainConfig::default()
    }
}

#[test]
fn every_method_trains_the_job() {
    let job = tiny_job();
    assert_eq!(job_method(&job), Some(Method::Nesterov));
    assert_eq!(default_lr(&job, Method::Nesterov), job.optimizer.lr());
    assert_eq!(default_lr(&job, Method::Adam), 1e-3);
    let lb = with_method(&job, Method::Lbfgs, 1.0).unwrap();
    assert_eq!(lb.batch_size, FULL_BATCH);
    // A job with random colour noise: L-BFGS runs it without (one fixed function per step).
    let noisy = TrainConfig {
        pca_lighting: Some(Default::default()),
        ..tiny_job()
    };
    let lb_noisy = with_method(&noisy, Method::Lbfgs, 1.0).unwrap();
    assert!(lb_noisy.pca_lighting.is_none());
    // --lr-find: the range test's suggestion for the method (a given rate wins; none for
    // L-BFGS, whose line search sets the step).
    let probe = with_method(&job, Method::Adam, default_lr(&job, Method::Adam)).unwrap();
    let suggested = nn_train::LrFinderConfig::default()
        .run(&probe)
        .unwrap()
        .suggested;
    assert!(suggested.is_some());
    assert_eq!(pick_lr(&job, Method::Adam, None, true).ok(), suggested);
    assert_eq!(pick_lr(&job, Method::Adam, Some(0.5), true).unwrap(), 0.5);
    assert_eq!(
        pick_lr(&job, Method::Lbfgs, None, true).unwrap(),
        default_lr(&job, Method::Lbfgs)
    );
    assert!(matches!(lb.model, ModelConfig::Mlp { dropout, .. } if dropout == 0.0));
    for m in [Method::Sgd, Method::Adam, Method::Lbfgs] {
        let c = run_job_curve(&job, m, default_lr(&job, m)).unwrap();
        assert!(c.error.is_none(), "{m:?}: {:?}", c.error);
        assert_eq!(c.epochs.len(), 2);
        assert_eq!(c.steps.len(), 2 * c.steps_per_epoch);
        if m == Method::Lbfgs {
            assert_eq!(c.steps_per_epoch, 1);
        }
        let first = c.steps[0].1;
        let last = c.steps.last().unwrap().1;
        assert!(last < first, "{m:?}: {first} -> {last}");
        assert!(c.test_acc.unwrap() > 0.2, "{m:?}: {:?}", c.test_acc);
    }
}

#[test]
fn cli_lab_optimizers_writes_pictures_and_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let (ok, stdout, stderr) = nn_train(&[
        "lab",
        "optimizers",
        "--out",
        d,
        "--epochs",
        "1",
        "--methods",
        "sgd,adam,lbfgs",
        "--lr",
        "adam=3e-3",
    ]);
    assert!(ok, "{stdout}\n{stderr}");
    for f in [
        "optimizers_paths.png",
        "optimizers_2d_loss.png",
        "optimizers_job.png",
    ] {
        let (w, h, inked) = png(&dir.path().join(f));
        assert!(
            w >= 1000 && h >= 400 && inked > 10_000,
            "{f}: {w}x{h} {inked}"
        );
    }
    assert!(
        stdout.contains("rosenbrock: reached") && stdout.contains("lr 3.00e-3"),
        "{stdout}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("optimizers.json")).unwrap())
            .unwrap();
    assert_eq!(json["surfaces"].as_array().unwrap().len(), 3);
    assert_eq!(json["job"].as_array().unwrap().len(), 3);
    let (ok, _, stderr) = nn_train(&["lab", "optimizers", "--methods", "sgd,adamw", "--no-job"]);
    assert!(!ok && stderr.contains("unknown method `adamw`"), "{stderr}");
}
