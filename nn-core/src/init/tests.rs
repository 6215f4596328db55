//! Unit tests of the initialisation schemes ([`Init`]): spreads, bounds, degenerate cases,
//! validation, seeding and serde.

use super::*;
use crate::rng::seeded;
use crate::tensor::Array;

fn mean_std(a: &Array) -> (f32, f32) {
    let n = a.len() as f64;
    let mean = a.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = a.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean as f32, var.sqrt() as f32)
}

#[test]
fn distributions_have_the_documented_spread() {
    let fans = Fans::of(&[200, 300]).unwrap();
    let cases = [
        (Init::small_random(), 0.01),
        (
            Init::XavierNormal { gain: 2.0 },
            2.0 * (2.0f32 / 500.0).sqrt(),
        ),
        (
            Init::XavierUniform { gain: 1.0 },
            (6.0f32 / 500.0).sqrt() / 3f32.sqrt(),
        ),
        (
            Init::kaiming_normal(Nonlinearity::Relu),
            (2.0f32 / 300.0).sqrt(),
        ),
        (
            Init::KaimingUniform {
                a: 0.2,
                mode: FanMode::FanOut,
                nonlinearity: Nonlinearity::LeakyRelu,
            },
            (2.0f32 / 1.04 / 200.0).sqrt(),
        ),
        (Init::TorchDefault, 1.0 / 300f32.sqrt() / 3f32.sqrt()),
    ];
    for (init, std) in cases {
        let d = init.distribution(fans).unwrap();
        assert!(
            (d.std() - std).abs() < 1e-6 * std.max(1.0),
            "{init}: {}",
            d.std()
        );
        let a = init.sample(&[200, 300], &mut seeded(1)).unwrap();
        let (m, s) = mean_std(&a);
        assert!(m.abs() < 0.02 * std, "{init}: mean {m}");
        assert!((s / std - 1.0).abs() < 0.02, "{init}: std {s} vs {std}");
    }
}

#[test]
fn uniform_schemes_respect_their_bounds() {
    let a = Init::TorchDefault
        .sample(&[50, 25], &mut seeded(2))
        .unwrap();
    assert!(a.iter().all(|v| v.abs() < 0.2));
    assert!(a.iter().any(|v| v.abs() > 0.19));
}

#[test]
fn constants_and_degenerate_cases() {
    let mut rng = seeded(0);
    assert!(
        Init::Zeros
            .sample(&[3], &mut rng)
            .unwrap()
            .iter()
            .all(|&v| v == 0.0)
    );
    assert!(
        Init::Ones
            .sample(&[3], &mut rng)
            .unwrap()
            .iter()
            .all(|&v| v == 1.0)
    );
    let c = Init::Constant { value: 0.1 }
        .sample(&[2, 2], &mut rng)
        .unwrap();
    assert!(c.iter().all(|&v| v == 0.1));
    let u = Init::Uniform {
        low: 2.0,
        high: 2.0,
    }
    .sample(&[4], &mut rng)
    .unwrap();
    assert!(u.iter().all(|&v| v == 2.0));
    // Zero-element tensors are a no-op, even where fans would be 0.
    assert_eq!(
        Init::TorchDefault.sample(&[0, 5], &mut rng).unwrap().len(),
        0
    );
    // A bias with the weight's fans; fan_in 0 gives bound 0 as in PyTorch.
    let fans = Fans {
        fan_in: 0,
        fan_out: 3,
    };
    let b = Init::TorchDefault
        .sample_with_fans(&[3], fans, &mut rng)
        .unwrap();
    assert!(b.iter().all(|&v| v == 0.0));
}

#[test]
fn invalid_parameters_are_rejected_with_their_name() {
    let e = Init::Normal {
        mean: 0.0,
        std: -1.0,
    }
    .validate()
    .unwrap_err();
    assert!(
        e.to_string().contains("std") && e.to_string().contains("-1"),
        "{e}"
    );
    assert!(
        Init::Uniform {
            low: 1.0,
            high: 0.0
        }
        .validate()
        .is_err()
    );
    assert!(Init::XavierNormal { gain: f32::NAN }.validate().is_err());
    assert!(
        Init::KaimingNormal {
            a: f32::INFINITY,
            mode: FanMode::FanIn,
            nonlinearity: Nonlinearity::Relu
        }
        .sample(&[2, 2], &mut seeded(0))
        .is_err()
    );
    let e = Init::XavierUniform { gain: 1.0 }
        .sample(&[5], &mut seeded(0))
        .unwrap_err();
    assert!(matches!(e, InitError::FansUndefined { .. }), "{e}");
}

#[test]
fn orthogonal_through_the_scheme() {
    let w = Init::Orthogonal { gain: 1.5 }
        .sample(&[20, 30], &mut seeded(0))
        .unwrap();
    let norms: Vec<f32> = w
        .outer_iter()
        .map(|r| r.iter().map(|v| v * v).sum::<f32>().sqrt())
        .collect();
    assert!(norms.iter().all(|n| (n - 1.5).abs() < 1e-5), "{norms:?}");
    let fans = Fans::of(&[20, 30]).unwrap();
    assert!(matches!(
        Init::Orthogonal { gain: 1.0 }.distribution(fans),
        Err(InitError::NotElementwise { .. })
    ));
    assert_eq!(
        Init::Orthogonal { gain: 1.0 }
            .sample(&[0, 3], &mut seeded(0))
            .unwrap()
            .len(),
        0
    );
    assert!(Init::Orthogonal { gain: -1.0 }.validate().is_err());
    let i: Init = serde_json::from_str(r#"{"kind":"orthogonal"}"#).unwrap();
    assert_eq!(i, Init::Orthogonal { gain: 1.0 });
}

#[test]
fn truncated_normal_scheme() {
    let i: Init = serde_json::from_str(r#"{"kind":"truncated_normal","std":0.02}"#).unwrap();
    assert_eq!(
        i,
        Init::TruncatedNormal {
            mean: 0.0,
            std: 0.02,
            low: -2.0,
            high: 2.0
        }
    );
    // timm's trunc_normal_(std=.02) with bounds ±2 (absolute): practically untruncated.
    let d = i.distribution(Fans::of(&[4, 4]).unwrap()).unwrap();
    assert!((d.std() - 0.02).abs() < 1e-7);
    let tight = Init::TruncatedNormal {
        mean: 1.0,
        std: 1.0,
        low: 0.0,
        high: 0.5,
    };
    let a = tight.sample(&[1000], &mut seeded(2)).unwrap();
    assert!(a.iter().all(|v| (0.0..=0.5).contains(v)));
    let far = Init::TruncatedNormal {
        mean: 0.0,
        std: 1.0,
        low: 5.0,
        high: 6.0,
    };
    let e = far.validate().unwrap_err();
    assert!(e.to_string().contains("0.1 %"), "{e}");
    assert!(
        Init::TruncatedNormal {
            mean: 0.0,
            std: 1.0,
            low: 1.0,
            high: -1.0
        }
        .validate()
        .is_err()
    );
}

#[test]
fn same_seed_same_values() {
    let i = Init::kaiming_uniform(Nonlinearity::Relu);
    let a = i.sample(&[8, 8], &mut seeded(5)).unwrap();
    let b = i.sample(&[8, 8], &mut seeded(5)).unwrap();
    let c = i.sample(&[8, 8], &mut seeded(6)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn serde_round_trip_with_pytorch_defaults() {
    let i: Init = serde_json::from_str(r#"{"kind":"kaiming_uniform"}"#).unwrap();
    assert_eq!(
        i,
        Init::KaimingUniform {
            a: 0.0,
            mode: FanMode::FanIn,
            nonlinearity: Nonlinearity::LeakyRelu
        }
    );
    let i: Init = serde_json::from_str(r#"{"kind":"xavier_normal"}"#).unwrap();
    assert_eq!(i, Init::XavierNormal { gain: 1.0 });
    for init in [
        Init::small_random(),
        Init::TorchDefault,
        Init::Constant { value: 0.5 },
        Init::Orthogonal { gain: 2.0 },
        Init::KaimingNormal {
            a: 0.1,
            mode: FanMode::FanOut,
            nonlinearity: Nonlinearity::Tanh,
        },
    ] {
        let s = serde_json::to_string(&init).unwrap();
        assert_eq!(serde_json::from_str::<Init>(&s).unwrap(), init, "{s}");
    }
    assert!(serde_json::from_str::<Init>(r#"{"kind":"glorot"}"#).is_err());
}
