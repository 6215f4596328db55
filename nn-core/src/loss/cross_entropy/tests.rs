//! Unit tests of the softmax cross-entropy (hand computations, stability, gradients, weights).

use super::*;
use crate::gradcheck::assert_gradients;

#[test]
fn matches_hand_computation() {
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 0.0, 0.0, 0.0], &[2, 3]);
    let lse0 = (1f32.exp() + 2f32.exp() + 3f32.exp()).ln();
    let want = ((lse0 - 1.0) + 3f32.ln()) / 2.0;
    assert!((cross_entropy(&x, &[0, 1]).item() - want).abs() < 1e-6);
    let none = CrossEntropyConfig {
        reduction: Reduction::None,
        ..Default::default()
    }
    .init()
    .unwrap();
    let l = none.forward(&x, &[2, 1]).to_vec();
    assert!((l[0] - (lse0 - 3.0)).abs() < 1e-6 && (l[1] - 3f32.ln()).abs() < 1e-6);
}

#[test]
fn stable_for_huge_logits() {
    let x = Tensor::from_vec(vec![1e4, 0.0, -1e4, 1e30], &[2, 2]);
    let l = cross_entropy(&x, &[1, 0]).item();
    assert!(l.is_finite() && (l / 5e29 - 1.0).abs() < 1e-6, "{l}");
    assert_eq!(cross_entropy(&x, &[0, 1]).item(), 0.0);
}

#[test]
fn labels_equal_one_hot_soft_targets_with_smoothing() {
    let x = Tensor::randn(&[4, 5], 0.0, 2.0, &mut crate::rng::seeded(3)).with_requires_grad();
    let labels = [0, 4, 2, 2];
    let mut onehot = vec![0.0; 20];
    for (i, &l) in labels.iter().enumerate() {
        onehot[i * 5 + l] = 1.0;
    }
    let t = Tensor::from_vec(onehot, &[4, 5]);
    let ce = CrossEntropyConfig {
        label_smoothing: 0.2,
        ..Default::default()
    }
    .init()
    .unwrap();
    let a = ce.forward(&x, &labels);
    let b = ce.forward_soft(&x, &t);
    assert!((a.item() - b.item()).abs() < 1e-6);
    a.backward();
    let ga = x.grad().unwrap();
    x.zero_grad();
    b.backward();
    let gb = x.grad().unwrap();
    assert!(ga.iter().zip(gb.iter()).all(|(a, b)| (a - b).abs() < 1e-6));
}

#[test]
fn gradients() {
    assert_gradients(|x| cross_entropy(&x[0], &[1, 0, 3]), &[&[3, 4]], 1);
    for reduction in [Reduction::Mean, Reduction::Sum, Reduction::None] {
        let ce = CrossEntropyConfig {
            reduction,
            label_smoothing: 0.15,
            ..Default::default()
        }
        .init()
        .unwrap();
        assert_gradients(|x| ce.forward(&x[0], &[1, 0, 3]), &[&[3, 4]], 2);
        // Soft targets: gradients w.r.t. both logits and (unnormalised) targets.
        assert_gradients(|x| ce.forward_soft(&x[0], &x[1]), &[&[3, 4], &[3, 4]], 3);
    }
}

#[test]
fn parallel_path_matches_serial_path() {
    let mut rng = crate::rng::seeded(5);
    let (n, c) = (4096, 10);
    let x = Tensor::randn(&[n, c], 0.0, 3.0, &mut rng).with_requires_grad();
    let labels: Vec<usize> = (0..n).map(|i| (i * 7) % c).collect();
    let l = cross_entropy(&x, &labels);
    l.backward();
    let g = x.grad().unwrap();
    let none = CrossEntropyConfig {
        reduction: Reduction::None,
        ..Default::default()
    }
    .init()
    .unwrap();
    let per_row = none.forward(&x.detach(), &labels).to_vec();
    let mean = per_row.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
    assert!((l.item() as f64 - mean).abs() < 1e-6);
    // Single rows take the serial path.
    for i in [0usize, 1, 2047, 4095] {
        let row = Tensor::from_array(
            x.data()
                .slice(ndarray::s![i..i + 1, ..])
                .to_owned()
                .into_dyn(),
        )
        .with_requires_grad();
        let li = cross_entropy(&row, &labels[i..i + 1]);
        assert_eq!(li.item(), per_row[i]);
        li.backward();
        let gi = row.grad().unwrap();
        for k in 0..c {
            assert!((gi[[0, k]] / n as f32 - g[[i, k]]).abs() < 1e-9);
        }
    }
}

#[test]
fn parallel_result_does_not_depend_on_thread_count() {
    let x = Tensor::randn(&[2048, 32], 0.0, 2.0, &mut crate::rng::seeded(9));
    let labels: Vec<usize> = (0..2048).map(|i| (i * 5) % 32).collect();
    let run = |threads: usize| {
        crate::workers::on_threads(threads, || {
            let x = x.detach().with_requires_grad();
            let l = cross_entropy(&x, &labels);
            l.backward();
            (l.item(), x.grad().unwrap())
        })
    };
    let (l1, g1) = run(1);
    let (l3, g3) = run(3);
    assert_eq!(l1.to_bits(), l3.to_bits());
    assert_eq!(g1, g3);
}

#[test]
#[should_panic(expected = "cross_entropy: label 7 (row 1) is out of range for 4 classes")]
fn label_out_of_range() {
    cross_entropy(&Tensor::zeros(&[2, 4]), &[0, 7]);
}

#[test]
fn invalid_smoothing_is_an_error() {
    let e = CrossEntropyConfig {
        label_smoothing: 1.5,
        ..Default::default()
    }
    .init()
    .unwrap_err();
    assert!(e.to_string().contains("label_smoothing"));
}

const W: [f32; 4] = [0.5, 2.0, 1.0, 0.25];

fn config(reduction: Reduction, eps: f32, weight: bool, ignore: Option<usize>) -> CrossEntropyLoss {
    CrossEntropyConfig {
        reduction,
        label_smoothing: eps,
        weight: weight.then(|| W.to_vec()),
        ignore_index: ignore,
    }
    .init()
    .unwrap()
}

#[test]
fn weighted_mean_is_normalised_by_the_label_weights() {
    let x = Tensor::randn(&[3, 4], 0.0, 2.0, &mut crate::rng::seeded(11));
    let labels = [1, 3, 0];
    let plain = config(Reduction::None, 0.0, false, None)
        .forward(&x, &labels)
        .to_vec();
    let want: f32 = labels
        .iter()
        .zip(&plain)
        .map(|(&y, &l)| W[y] * l)
        .sum::<f32>()
        / labels.iter().map(|&y| W[y]).sum::<f32>();
    let got = config(Reduction::Mean, 0.0, true, None).forward(&x, &labels);
    assert!((got.item() - want).abs() < 1e-6, "{} vs {want}", got.item());
    // Smoothing term: (ε/C)·Σ_c w_c·(lse − x_c), same denominator.
    let eps = 0.2;
    let xs = x.to_vec();
    let mut num = 0.0;
    for (i, &y) in labels.iter().enumerate() {
        let row = &xs[i * 4..i * 4 + 4];
        let lse = row.iter().map(|v| v.exp()).sum::<f32>().ln();
        num += (1.0 - eps) * W[y] * (lse - row[y]);
        num += eps / 4.0 * row.iter().zip(W).map(|(&v, w)| w * (lse - v)).sum::<f32>();
    }
    let want = num / labels.iter().map(|&y| W[y]).sum::<f32>();
    let got = config(Reduction::Mean, eps, true, None).forward(&x, &labels);
    assert!((got.item() - want).abs() < 1e-5, "{} vs {want}", got.item());
}

#[test]
fn ignored_rows_count_for_nothing() {
    let x = Tensor::randn(&[4, 4], 0.0, 2.0, &mut crate::rng::seeded(12)).with_requires_grad();
    let labels = [1, 7, 2, 7];
    for (eps, weight) in [(0.0, false), (0.1, false), (0.1, true)] {
        let l = config(Reduction::Mean, eps, weight, Some(7)).forward(&x, &labels);
        let kept = Tensor::from_array(
            x.data()
                .select(Axis(0), &[0, 2])
                .into_dimensionality::<ndarray::Ix2>()
                .unwrap()
                .into_dyn(),
        );
        let want = config(Reduction::Mean, eps, weight, None).forward(&kept, &[1, 2]);
        assert!((l.item() - want.item()).abs() < 1e-6);
        x.zero_grad();
        l.backward();
        let g = x.grad().unwrap();
        assert!(g.slice(ndarray::s![1, ..]).iter().all(|&v| v == 0.0));
        assert!(g.slice(ndarray::s![3, ..]).iter().all(|&v| v == 0.0));
        assert!(g.slice(ndarray::s![0, ..]).iter().any(|&v| v != 0.0));
        let none = config(Reduction::None, eps, weight, Some(7)).forward(&x.detach(), &labels);
        let none = none.to_vec();
        assert_eq!((none[1], none[3]), (0.0, 0.0));
    }
}

#[test]
fn all_rows_ignored_gives_nan_mean_and_zero_gradient_like_pytorch() {
    let x = Tensor::randn(&[2, 3], 0.0, 1.0, &mut crate::rng::seeded(13)).with_requires_grad();
    let ce = CrossEntropyConfig {
        label_smoothing: 0.1,
        ignore_index: Some(1),
        ..Default::default()
    }
    .init()
    .unwrap();
    let l = ce.forward(&x, &[1, 1]);
    assert!(l.item().is_nan());
    l.backward();
    assert!(x.grad().unwrap().iter().all(|&v| v == 0.0));
}

#[test]
fn weighted_and_ignored_gradients() {
    let labels = [1, 0, 3];
    for reduction in [Reduction::Mean, Reduction::Sum, Reduction::None] {
        for eps in [0.0, 0.15] {
            let ce = config(reduction, eps, true, None);
            assert_gradients(|x| ce.forward(&x[0], &labels), &[&[3, 4]], 4);
            let ce = config(reduction, eps, false, Some(0));
            assert_gradients(|x| ce.forward(&x[0], &labels), &[&[3, 4]], 5);
            let ce = config(reduction, eps, true, Some(3));
            assert_gradients(|x| ce.forward(&x[0], &labels), &[&[3, 4]], 6);
            // Soft targets with weights: gradients w.r.t. logits and targets.
            let ce = config(reduction, eps, true, None);
            assert_gradients(|x| ce.forward_soft(&x[0], &x[1]), &[&[3, 4], &[3, 4]], 7);
        }
    }
}

#[test]
fn weighted_soft_targets_are_averaged_over_rows() {
    let x = Tensor::randn(&[3, 4], 0.0, 2.0, &mut crate::rng::seeded(14));
    let t = x.detach().mul_scalar(0.7).softmax(1);
    let got = config(Reduction::Mean, 0.0, true, None)
        .forward_soft(&x, &t)
        .item();
    let (xs, ts) = (x.to_vec(), t.to_vec());
    let mut want = 0.0;
    for i in 0..3 {
        let row = &xs[i * 4..i * 4 + 4];
        let lse = row.iter().map(|v| v.exp()).sum::<f32>().ln();
        for c in 0..4 {
            want += W[c] * ts[i * 4 + c] * (lse - row[c]);
        }
    }
    assert!((got - want / 3.0).abs() < 1e-5, "{got} vs {}", want / 3.0);
}

#[test]
fn bad_weights_are_config_errors() {
    for (v, index) in [(-1.0, 2), (f32::NAN, 0), (f32::INFINITY, 1)] {
        let mut w = vec![1.0; 3];
        w[index] = v;
        let e = CrossEntropyConfig {
            weight: Some(w),
            ..Default::default()
        }
        .init()
        .unwrap_err();
        match e {
            LossConfigError::ClassWeight { index: i, value } => {
                assert_eq!(i, index);
                assert_eq!(value.to_bits(), v.to_bits());
            }
            other => panic!("unexpected error {other}"),
        }
        assert!(e.to_string().contains(&format!("weight[{index}]")), "{e}");
    }
}

#[test]
#[should_panic(expected = "cross_entropy: 4 class weights for logits with 3 classes")]
fn weight_length_mismatch_panics() {
    config(Reduction::Mean, 0.0, true, None).forward(&Tensor::zeros(&[2, 3]), &[0, 1]);
}

#[test]
#[should_panic(expected = "ignore_index is not supported with soft targets")]
fn ignore_index_with_soft_targets_panics() {
    let t = Tensor::zeros(&[2, 4]);
    config(Reduction::Mean, 0.0, false, Some(0)).forward_soft(&Tensor::zeros(&[2, 4]), &t);
}

#[test]
#[should_panic(
    expected = "cross_entropy: label 9 (row 0) is out of range for 4 classes (ignore_index 7)"
)]
fn labels_other_than_ignore_index_are_still_checked() {
    config(Reduction::Mean, 0.0, false, Some(7)).forward(&Tensor::zeros(&[2, 4]), &[9, 7]);
}
