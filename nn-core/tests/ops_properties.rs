//! Property tests of the ops: broadcasting gradients reduce back to the input shapes, softmax
//! lanes are probability vectors, matmul equals a naive triple loop, cross-entropy of all-zero
//! logits is ln C, the fused cross-entropy equals its composition from log-softmax, equal class
//! weights change nothing (labels) or scale the loss (soft targets), and ignored rows are the same
//! as dropped rows.

use ndarray::IxDyn;
use nn_core::loss::{CrossEntropyConfig, Reduction, cross_entropy, cross_entropy_soft};
use nn_core::{Array, Tensor};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    }
}

fn tensor(shape: &[usize], values: &[f32]) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_vec(values.iter().cycle().take(n).copied().collect(), shape)
}

/// A broadcast shape and two operand shapes that broadcast to it: each operand drops some leading
/// axes and sets some of the remaining ones to 1.
fn broadcast_triple() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, Vec<usize>)> {
    prop::collection::vec(1usize..4, 1..4).prop_flat_map(|out| {
        let n = out.len();
        (
            Just(out),
            0..=n,
            prop::collection::vec(any::<bool>(), n),
            0..=n,
            prop::collection::vec(any::<bool>(), n),
        )
            .prop_map(|(out, da, ma, db, mb)| {
                let make = |drop: usize, mask: &[bool]| -> Vec<usize> {
                    (drop..out.len())
                        .map(|i| if mask[i] { 1 } else { out[i] })
                        .collect()
                };
                let a = make(da, &ma);
                let b = make(db, &mb);
                (out, a, b)
            })
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn broadcasting_gradients_reduce_to_input_shapes(
        (_out, sa, sb) in broadcast_triple(),
        values in prop::collection::vec(0.5f32..2.0, 1..64),
        op in 0usize..5,
    ) {
        let a = tensor(&sa, &values).with_requires_grad();
        let b = tensor(&sb, &values[values.len() / 2..]).with_requires_grad();
        let y = match op {
            0 => &a + &b,
            1 => &a - &b,
            2 => &a * &b,
            3 => &a / &b,
            _ => a.pow(&b),
        };
        // Both operands may drop every axis of `out`; the result has the broadcast shape.
        let out = nn_core::ops::broadcast_shapes("test", &sa, &sb);
        prop_assert_eq!(y.shape(), out.as_slice());
        y.backward_with(Array::ones(IxDyn(&out)));
        let (ga, gb) = (a.grad().unwrap(), b.grad().unwrap());
        prop_assert_eq!(ga.shape(), sa.as_slice());
        prop_assert_eq!(gb.shape(), sb.as_slice());
        // For a sum, each input element receives one unit per output element it was broadcast to.
        if op == 0 {
            let n_out: usize = out.iter().product();
            let ka = (n_out / sa.iter().product::<usize>()) as f32;
            let kb = (n_out / sb.iter().product::<usize>()) as f32;
            prop_assert!(ga.iter().all(|&g| g == ka));
            prop_assert!(gb.iter().all(|&g| g == kb));
        }
    }

    #[test]
    fn softmax_lanes_are_probability_vectors(
        shape in prop::collection::vec(1usize..6, 1..4),
        values in prop::collection::vec(-60.0f32..60.0, 1..128),
        axis_seed in 0usize..8,
    ) {
        let axis = axis_seed % shape.len();
        let x = tensor(&shape, &values);
        let y = x.softmax(axis);
        prop_assert!(y.data().iter().all(|&p| (0.0..=1.0).contains(&p)));
        let sums = y.sum(&[axis], false);
        for s in sums.data().iter() {
            prop_assert!((s - 1.0).abs() < 1e-5, "lane sum {}", s);
        }
        // exp(log_softmax) is the same distribution.
        let z = x.log_softmax(axis).exp();
        for (p, q) in y.data().iter().zip(z.data().iter()) {
            prop_assert!((p - q).abs() < 1e-5);
        }
    }

    #[test]
    fn matmul_equals_naive_triple_loop(
        m in 1usize..24, k in 1usize..24, n in 1usize..24,
        values in prop::collection::vec(-1.0f32..1.0, 1..200),
    ) {
        let a = tensor(&[m, k], &values);
        let b = tensor(&[k, n], &values[values.len() / 3..]);
        let c = a.matmul(&b);
        let (ad, bd) = (a.data(), b.data());
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for l in 0..k {
                    s += ad[[i, l]] as f64 * bd[[l, j]] as f64;
                }
                let got = c.data()[[i, j]] as f64;
                prop_assert!((got - s).abs() < 1e-5 * (1.0 + s.abs()) * k as f64,
                    "c[{}, {}] = {} vs {}", i, j, got, s);
            }
        }
    }

    #[test]
    fn cross_entropy_of_zero_logits_is_ln_c(
        n in 1usize..10, c in 1usize..12,
        label_seed in prop::collection::vec(0usize..1000, 10),
        smoothing in 0.0f32..1.0,
        target_values in prop::collection::vec(0.01f32..1.0, 1..64),
    ) {
        let x = Tensor::zeros(&[n, c]);
        let labels: Vec<usize> = label_seed[..n].iter().map(|l| l % c).collect();
        let ln_c = (c as f32).ln();
        prop_assert!((cross_entropy(&x, &labels).item() - ln_c).abs() < 1e-5);
        let smoothed = CrossEntropyConfig { label_smoothing: smoothing, ..Default::default() }
            .init()
            .unwrap();
        prop_assert!((smoothed.forward(&x, &labels).item() - ln_c).abs() < 1e-5);
        // Any probability rows as soft targets.
        let t = tensor(&[n, c], &target_values);
        let t = &t / &t.sum(&[1], true);
        prop_assert!((cross_entropy_soft(&x, &t).item() - ln_c).abs() < 1e-5);
    }

    #[test]
    fn fused_cross_entropy_equals_its_composition(
        n in 1usize..8, c in 2usize..8,
        values in prop::collection::vec(-8.0f32..8.0, 1..64),
        label_seed in prop::collection::vec(0usize..1000, 8),
    ) {
        let labels: Vec<usize> = label_seed[..n].iter().map(|l| l % c).collect();
        let x1 = tensor(&[n, c], &values).with_requires_grad();
        let x2 = x1.detach().with_requires_grad();
        let fused = cross_entropy(&x1, &labels);
        let composed = x2.log_softmax(1).gather_rows(&labels).mean_all().neg();
        prop_assert!((fused.item() - composed.item()).abs() < 1e-5 * (1.0 + composed.item().abs()));
        fused.backward();
        composed.backward();
        for (a, b) in x1.grad().unwrap().iter().zip(x2.grad().unwrap().iter()) {
            prop_assert!((a - b).abs() < 1e-6, "{} vs {}", a, b);
        }
    }

    #[test]
    fn equal_class_weights_change_nothing_for_labels_and_scale_soft_targets(
        n in 1usize..8, c in 2usize..8,
        values in prop::collection::vec(-8.0f32..8.0, 1..64),
        label_seed in prop::collection::vec(0usize..1000, 8),
        alpha in 0.05f32..5.0,
        smoothing in 0.0f32..0.5,
    ) {
        let labels: Vec<usize> = label_seed[..n].iter().map(|l| l % c).collect();
        let make = |weight: Option<Vec<f32>>| {
            CrossEntropyConfig { label_smoothing: smoothing, weight, ..Default::default() }
                .init()
                .unwrap()
        };
        let (plain, weighted) = (make(None), make(Some(vec![alpha; c])));
        let x1 = tensor(&[n, c], &values).with_requires_grad();
        let x2 = x1.detach().with_requires_grad();
        let a = plain.forward(&x1, &labels);
        let b = weighted.forward(&x2, &labels);
        prop_assert!((a.item() - b.item()).abs() < 1e-5 * (1.0 + a.item().abs()));
        a.backward();
        b.backward();
        for (ga, gb) in x1.grad().unwrap().iter().zip(x2.grad().unwrap().iter()) {
            prop_assert!((ga - gb).abs() < 1e-5, "{} vs {}", ga, gb);
        }
        // Soft targets are not normalised by the weights: the loss scales by alpha.
        let t = tensor(&[n, c], &values).softmax(1);
        let a = plain.forward_soft(&x1.detach(), &t).item();
        let b = weighted.forward_soft(&x1.detach(), &t).item();
        prop_assert!((alpha * a - b).abs() < 1e-4 * (1.0 + b.abs()), "{} vs {}", alpha * a, b);
    }

    #[test]
    fn ignored_rows_equal_dropped_rows(
        n in 1usize..8, c in 2usize..6,
        values in prop::collection::vec(-8.0f32..8.0, 1..64),
        label_seed in prop::collection::vec(0usize..1000, 8),
        weights in prop::collection::vec(0.1f32..3.0, 6),
        smoothing in 0.0f32..0.5,
        sum in any::<bool>(),
    ) {
        // Labels in 0..=c; label c is the ignore_index (no class).
        let labels: Vec<usize> = label_seed[..n].iter().map(|l| l % (c + 1)).collect();
        let kept: Vec<usize> = (0..n).filter(|&i| labels[i] != c).collect();
        let ce = |ignore_index| {
            CrossEntropyConfig {
                reduction: if sum { Reduction::Sum } else { Reduction::Mean },
                label_smoothing: smoothing,
                weight: Some(weights[..c].to_vec()),
                ignore_index,
            }
            .init()
            .unwrap()
        };
        let x = tensor(&[n, c], &values);
        let got = ce(Some(c)).forward(&x, &labels).item();
        if kept.is_empty() {
            let ok = if sum { got == 0.0 } else { got.is_nan() };
            prop_assert!(ok, "all rows ignored: {}", got);
        } else {
            let xk = x.index_select(0, &kept);
            let lk: Vec<usize> = kept.iter().map(|&i| labels[i]).collect();
            let want = ce(None).forward(&xk, &lk).item();
            prop_assert!((got - want).abs() < 1e-5 * (1.0 + want.abs()), "{} vs {}", got, want);
        }
    }
}
