//! L-BFGS iterates match `torch.optim.LBFGS` (fixed step and strong-Wolfe line search) on the
//! least-squares problem and on Rosenbrock's function.

mod common;

use common::{LeastSquares, fixture, floats, max_diff};
use nn_optim::{LbfgsConfig, LbfgsState, LineSearch};

/// Rosenbrock's function in f32, with the gradient in the order PyTorch's autograd computes
/// it for `(1 - x)**2 + 100 * (y - x * x)**2` (so that rounding matches closely).
fn rosenbrock(v: &[f32]) -> (f32, Vec<f32>) {
    let (x, y) = (v[0], v[1]);
    let a = 1.0 - x;
    let c = y - x * x;
    let f = a * a + 100.0 * (c * c);
    let dc = 100.0 * (2.0 * c);
    let db = -dc;
    let gx = db * x + db * x - 2.0 * a;
    (f, vec![gx, dc])
}

#[test]
fn lbfgs_matches_pytorch() {
    let fx = fixture("lbfgs_trajectories.json");
    let lsq = LeastSquares::from_fixture(&fx["problem"]);
    for case in fx["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let c = &case["config"];
        let cfg = LbfgsConfig {
            lr: c["lr"].as_f64().unwrap(),
            max_iter: c["max_iter"].as_u64().unwrap() as usize,
            history_size: c["history_size"].as_u64().unwrap() as usize,
            line_search: serde_json::from_value::<LineSearch>(c["line_search"].clone()).unwrap(),
            ..Default::default()
        };
        let mut opt = cfg.init().unwrap();
        let mut x = floats(&case["x0"]);
        for (k, (it, loss)) in case["iterates"]
            .as_array()
            .unwrap()
            .iter()
            .zip(case["losses"].as_array().unwrap())
            .enumerate()
        {
            let l = if name.starts_with("lsq") {
                opt.step(&mut x, |v| lsq.flat(v))
            } else {
                opt.step(&mut x, rosenbrock)
            }
            .unwrap();
            let want = loss.as_f64().unwrap() as f32;
            assert!(
                (l - want).abs() <= 1e-5 * want.abs().max(1.0),
                "{name}: call {k}: loss {l} vs {want}"
            );
            let d = max_diff(&x, &floats(it));
            // 1e-5 relative to the iterate's scale (f32 rounding noise of the closure's gradient
            // is amplified by Rosenbrock's curved valley).
            let tol = 1e-5 * x.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            eprintln!("{name} call {k}: max |ours − PyTorch| = {d:e} (tolerance {tol:e})");
            assert!(
                d <= tol,
                "{name}: call {k}: iterate differs by {d:e}: {x:?} vs {it}"
            );
        }
        let st: LbfgsState = opt.state();
        assert_eq!(
            st.func_evals,
            case["func_evals"].as_u64().unwrap(),
            "{name}: func_evals"
        );
        assert_eq!(
            st.n_iter,
            case["n_iter"].as_u64().unwrap(),
            "{name}: n_iter"
        );
    }
}
