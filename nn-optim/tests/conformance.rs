//! Trajectories of every optimizer and variant on a fixed least-squares problem match
//! PyTorch's to 1e-5 (fixtures from `tests/fixtures/gen_fixtures.py`).

mod common;

use common::{LeastSquares, fixture, floats, max_diff};
use ndarray::{ArrayD, IxDyn};
use nn_optim::{OptimizerConfig, ParamGroup, ParamMut};

#[test]
fn every_optimizer_variant_matches_pytorch() {
    let fx = fixture("optim_trajectories.json");
    let prob = LeastSquares::from_fixture(&fx["problem"]);
    let variants = fx["variants"].as_array().unwrap();
    assert!(variants.len() >= 20);
    let mut worst = Vec::new();
    for v in variants {
        let name = v["name"].as_str().unwrap();
        let cfg: OptimizerConfig = serde_json::from_value(v["config"].clone()).unwrap();
        let groups: Vec<ParamGroup> = serde_json::from_value(v["groups"].clone()).unwrap();
        let mut opt = cfg.build(groups).unwrap();
        let mut w =
            ArrayD::from_shape_vec(IxDyn(&[3, 4]), floats(&fx["problem"]["weight"])).unwrap();
        let mut b = ArrayD::from_shape_vec(IxDyn(&[3]), floats(&fx["problem"]["bias"])).unwrap();
        let mut max_err = 0.0f32;
        for (k, expect) in v["trajectory"].as_array().unwrap().iter().enumerate() {
            let (_, gw, gb) = prob.loss_grad(&w, &b);
            opt.step(&mut [
                ParamMut::new("fc.weight", w.view_mut(), gw.view()),
                ParamMut::new("fc.bias", b.view_mut(), gb.view()),
            ])
            .unwrap();
            let ew = max_diff(w.as_slice().unwrap(), &floats(&expect["fc.weight"]));
            let eb = max_diff(b.as_slice().unwrap(), &floats(&expect["fc.bias"]));
            assert!(
                ew <= 1e-5 && eb <= 1e-5,
                "{name}: step {} differs from PyTorch by {ew:e} / {eb:e}",
                k + 1
            );
            max_err = max_err.max(ew).max(eb);
        }
        worst.push((name.to_string(), max_err));
    }
    eprintln!("max |ours − PyTorch| per variant: {worst:?}");
}
