//! ReduceLrOnPlateau reproduces PyTorch's `ReduceLROnPlateau` learning rates, exactly, on the
//! metric sequences of `tests/fixtures/plateau.json` (`gen_plateau_fixtures.py`): min/max,
//! relative/absolute thresholds, cooldown, per-group floors, eps, negative metrics; and a
//! scheduler restored from its saved state mid-way continues identically. (Equal to within 4
//! ulps: serde_json's default float parsing is not always correctly rounded.)

mod common;

use common::fixture;
use nn_optim::{
    LrControl, Matcher, ParamGroup, ReduceLrOnPlateau, ReduceLrOnPlateauConfig, SgdConfig,
};

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 4.0 * f64::EPSILON * b.abs()
}

#[test]
fn matches_pytorch_and_resumes_exactly() {
    let fx = fixture("plateau.json");
    let bases: Vec<f64> = serde_json::from_value(fx["bases"].clone()).unwrap();
    for case in fx["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let config: ReduceLrOnPlateauConfig = serde_json::from_value(case["config"].clone())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let make_opt = || {
            SgdConfig {
                lr: bases[0],
                ..Default::default()
            }
            .init_with_groups(vec![
                ParamGroup::new("g1", Matcher::Names(vec!["p1".into()])).with_lr(bases[1]),
            ])
            .unwrap()
        };
        let mut opt = make_opt();
        let mut sched = config.init_for(&opt).unwrap();
        let metrics: Vec<f64> = serde_json::from_value(case["metrics"].clone()).unwrap();
        let lrs: Vec<Vec<f64>> = serde_json::from_value(case["lrs"].clone()).unwrap();
        let half = metrics.len() / 2;
        let mut saved = None;
        for (t, (&m, want)) in metrics.iter().zip(&lrs).enumerate() {
            if t == half {
                saved = Some((serde_json::to_string(&sched).unwrap(), opt.lr(0), opt.lr(1)));
            }
            sched.step(m, &mut opt);
            for (g, &w) in want.iter().enumerate() {
                assert!(
                    same(opt.lr(g), w),
                    "{name}: step {t}, group {g}: {} vs PyTorch {w}",
                    opt.lr(g)
                );
            }
        }
        // Resume from the middle: same rates to the end.
        let (json, lr0, lr1) = saved.unwrap();
        let mut sched2: ReduceLrOnPlateau = serde_json::from_str(&json).unwrap();
        let mut opt2 = make_opt();
        opt2.set_lr(0, lr0);
        opt2.set_lr(1, lr1);
        for (t, (&m, want)) in metrics.iter().zip(&lrs).enumerate().skip(half) {
            sched2.step(m, &mut opt2);
            assert!(
                same(opt2.lr(0), want[0]) && same(opt2.lr(1), want[1]),
                "{name}: resumed, step {t}"
            );
        }
        assert_eq!(sched2, sched, "{name}");
    }
}
