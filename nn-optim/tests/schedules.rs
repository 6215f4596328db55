//! Schedules reproduce PyTorch's schedulers' sequences (fixtures), and properties: bounds,
//! monotone cosine, continuous linear warm-up.

mod common;

use common::fixture;
use nn_optim::schedule::{
    Cosine, CosineWarmRestarts, Exponential, InverseSqrt, Linear, MultiStep, OneCycle, Sequential,
    Step, Warmup,
};
use nn_optim::{Anneal, Interval, LrControl, LrScheduler, Schedule, SgdConfig};
use proptest::prelude::*;

#[test]
fn every_schedule_matches_pytorch() {
    let fx = fixture("schedules.json");
    let cases = fx["cases"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let s: Schedule = serde_json::from_value(c["schedule"].clone()).unwrap();
        s.validate().unwrap();
        let bases: Vec<f64> = c["bases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        // Through the driver, on an optimizer with one group per base rate.
        let groups = (1..bases.len())
            .map(|i| {
                nn_optim::ParamGroup::new(
                    format!("g{i}"),
                    nn_optim::Matcher::Names(vec![format!("p{i}")]),
                )
                .with_lr(bases[i])
            })
            .collect();
        let mut opt = SgdConfig {
            lr: bases[0],
            ..Default::default()
        }
        .init_with_groups(groups)
        .unwrap();
        let mut drv = LrScheduler::new(s.clone(), Interval::Step, &mut opt).unwrap();
        for (t, row) in c["lrs"].as_array().unwrap().iter().enumerate() {
            for (g, want) in row.as_array().unwrap().iter().enumerate() {
                let want = want.as_f64().unwrap();
                let pure = s.lr(bases[g], t as u64);
                let driven = opt.lr(g);
                assert!(
                    (pure - want).abs() <= 1e-12 + 1e-9 * want.abs(),
                    "{name}: t = {t}, group {g}: {pure} vs PyTorch {want}"
                );
                assert_eq!(
                    pure, driven,
                    "{name}: driver and pure function differ at t = {t}"
                );
            }
            drv.on_step(&mut opt);
        }
    }
}

#[test]
fn one_cycle_momentum_cycling_matches_pytorch() {
    use nn_optim::{AdamConfig, MomentumCycle, Optimizer};
    let fx = fixture("schedules.json");
    for c in fx["momentum_cases"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let s: Schedule = serde_json::from_value(c["schedule"].clone()).unwrap();
        let groups = vec![
            nn_optim::ParamGroup::new("g1", nn_optim::Matcher::Names(vec!["p1".into()]))
                .with_lr(1.0),
        ];
        let mut opt: Box<dyn Optimizer> = match c["optimizer"].as_str().unwrap() {
            "sgd" => Box::new(
                SgdConfig {
                    lr: 0.1,
                    momentum: 0.9,
                    ..Default::default()
                }
                .init_with_groups(groups)
                .unwrap(),
            ),
            _ => Box::new(
                AdamConfig {
                    lr: 0.1,
                    ..Default::default()
                }
                .init_with_groups(groups)
                .unwrap(),
            ),
        };
        let mut drv = LrScheduler::new(s, Interval::Step, opt.as_mut())
            .unwrap()
            .with_momentum_cycle(MomentumCycle::default(), opt.as_mut())
            .unwrap();
        for (t, (lrs, m)) in c["lrs"]
            .as_array()
            .unwrap()
            .iter()
            .zip(c["momentum"].as_array().unwrap())
            .enumerate()
        {
            let m = m.as_f64().unwrap();
            assert!(
                (opt.momentum().unwrap() - m).abs() < 1e-12,
                "{name}: momentum at t = {t}: {:?} vs {m}",
                opt.momentum()
            );
            for (g, want) in lrs.as_array().unwrap().iter().enumerate() {
                let want = want.as_f64().unwrap();
                assert!(
                    (opt.lr(g) - want).abs() <= 1e-12 + 1e-9 * want,
                    "{name}: lr at t = {t}"
                );
            }
            drv.on_step(opt.as_mut());
        }
    }
}

fn arb_schedule() -> impl Strategy<Value = Schedule> {
    let leaf = prop_oneof![
        Just(Schedule::Constant),
        (1u64..20, 0.05f64..1.0)
            .prop_map(|(step_size, gamma)| Schedule::Step(Step { step_size, gamma })),
        (proptest::collection::vec(0u64..100, 0..4), 0.05f64..1.0).prop_map(|(mut m, gamma)| {
            m.sort();
            Schedule::MultiStep(MultiStep {
                milestones: m,
                gamma,
            })
        }),
        (0.5f64..1.0).prop_map(|gamma| Schedule::Exponential(Exponential { gamma })),
        (1u64..100, 0.0f64..0.01)
            .prop_map(|(t_max, eta_min)| Schedule::Cosine(Cosine { t_max, eta_min })),
        (1u64..20, 1u64..4, 0.0f64..0.01).prop_map(|(t_0, t_mult, eta_min)| {
            Schedule::CosineWarmRestarts(CosineWarmRestarts {
                t_0,
                t_mult,
                eta_min,
            })
        }),
        (0.01f64..1.0, 0.0f64..1.0, 1u64..50).prop_map(|(s, e, n)| Schedule::Linear(Linear {
            start_factor: s,
            end_factor: e,
            total_iters: n
        })),
        (1u64..50).prop_map(|timescale| Schedule::InverseSqrt(InverseSqrt { timescale })),
        (20u64..200, 0.1f64..0.45, any::<bool>(), any::<bool>()).prop_map(
            |(total_steps, pct_start, cos, three_phase)| {
                Schedule::OneCycle(OneCycle {
                    total_steps,
                    pct_start,
                    anneal: if cos { Anneal::Cos } else { Anneal::Linear },
                    div_factor: 25.0,
                    final_div_factor: 1e4,
                    three_phase,
                })
            }
        ),
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (0u64..30, 0.0f64..1.0, inner.clone()).prop_map(|(steps, start_factor, s)| {
                Schedule::Warmup(Warmup {
                    steps,
                    start_factor,
                    inner: Box::new(s),
                })
            }),
            (inner.clone(), inner, 1u64..50).prop_map(|(a, b, m)| Schedule::Sequential(
                Sequential {
                    schedules: vec![a, b],
                    milestones: vec![m]
                }
            )),
        ]
    })
}

proptest! {
    #[test]
    fn schedules_stay_within_floor_and_peak(s in arb_schedule(), base in 1e-4f64..10.0) {
        prop_assert!(s.validate().is_ok(), "{s:?}");
        let (lo, hi) = s.bounds(base);
        for (t, lr) in s.series(base, 400).into_iter().enumerate() {
            prop_assert!(lr.is_finite());
            prop_assert!(lr >= lo - 1e-12 * base && lr <= hi + 1e-12 * base, "t = {t}: {lr} not in [{lo}, {hi}] for {s:?}");
        }
    }

    #[test]
    fn cosine_is_monotone_on_zero_to_t_max(t_max in 1u64..500, eta_min in 0.0f64..0.05, base in 0.05f64..10.0) {
        let s = Schedule::Cosine(Cosine { t_max, eta_min });
        let v = s.series(base, t_max + 1);
        prop_assert!(v.windows(2).all(|w| w[1] <= w[0]));
        prop_assert!((v[0] - base).abs() < 1e-12 && (v[t_max as usize] - eta_min).abs() < 1e-12);
    }

    #[test]
    fn warmup_is_linear_and_continuous(steps in 1u64..100, start_factor in 0.0f64..1.0, base in 1e-3f64..1.0, t_max in 1u64..100) {
        let inner = Schedule::Cosine(Cosine { t_max, eta_min: 0.0 });
        let s = Schedule::Warmup(Warmup { steps, start_factor, inner: Box::new(inner.clone()) });
        let v = s.series(base, steps + 1);
        // constant increments during the warm-up ...
        let inc = (1.0 - start_factor) * base / steps as f64;
        for t in 0..steps as usize {
            let expected_next = if t + 1 == steps as usize { inner.lr(base, 0) } else { v[t] + inc };
            prop_assert!((v[t + 1] - expected_next).abs() < 1e-12, "t = {t}");
        }
        // ... that land exactly on the wrapped schedule's start
        prop_assert!((v[0] - start_factor * base).abs() < 1e-12);
        prop_assert_eq!(v[steps as usize], inner.lr(base, 0));
    }
}
