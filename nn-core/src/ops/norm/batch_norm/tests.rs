//! Batch-norm tests: PyTorch semantics, gradients, the channels-last and fused-ReLU paths.

use super::*;
use crate::gradcheck::assert_gradients;
use crate::rng::seeded;

#[test]
fn training_normalises_and_updates_running_stats() {
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], &[2, 2, 2]);
    let rm = Buffer::new(Array::zeros(IxDyn(&[2])));
    let rv = Buffer::new(Array::ones(IxDyn(&[2])));
    let y = x.batch_norm(
        None,
        None,
        Some(RunningStats {
            mean: &rm,
            var: &rv,
        }),
        BatchNormOptions::default(),
    );
    // Channel 0 holds 1, 2, 5, 6: mean 3.5, biased var 4.25, unbiased 17/3.
    let v = y.to_vec();
    let r = 1.0 / (4.25f32 + 1e-5).sqrt();
    assert!((v[0] - (1.0 - 3.5) * r).abs() < 1e-6);
    let rm = rm.value();
    let rv = rv.value();
    assert!((rm[0] - 0.35).abs() < 1e-6 && (rm[1] - 0.55).abs() < 1e-6);
    assert!((rv[0] - (0.9 + 0.1 * 17.0 / 3.0)).abs() < 1e-6);
}

#[test]
fn evaluation_uses_running_stats() {
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let rm = Buffer::new(Array::from_shape_vec(IxDyn(&[2]), vec![1.0, -1.0]).unwrap());
    let rv = Buffer::new(Array::from_shape_vec(IxDyn(&[2]), vec![4.0, 1.0]).unwrap());
    let w = Tensor::from_vec(vec![2.0, 1.0], &[2]);
    let b = Tensor::from_vec(vec![0.5, 0.0], &[2]);
    let o = BatchNormOptions {
        training: false,
        eps: 0.0,
        ..Default::default()
    };
    let y = x.batch_norm(
        Some(&w),
        Some(&b),
        Some(RunningStats {
            mean: &rm,
            var: &rv,
        }),
        o,
    );
    assert_eq!(y.to_vec(), vec![0.5, 3.0, 2.5, 5.0]);
    assert_eq!(
        rm.value().as_slice().unwrap(),
        &[1.0, -1.0],
        "eval never updates"
    );
}

#[test]
fn gradients_in_both_modes() {
    let train = BatchNormOptions::default();
    assert_gradients(
        |t| t[0].batch_norm(Some(&t[1]), Some(&t[2]), None, train),
        &[&[4, 3, 2, 3], &[3], &[3]],
        1,
    );
    assert_gradients(|t| t[0].batch_norm(None, None, None, train), &[&[5, 4]], 2);
    let mut rng = seeded(3);
    let rm = Buffer::new(Tensor::randn(&[3], 0.0, 1.0, &mut rng).to_array());
    let rv = Buffer::new(Tensor::rand_uniform(&[3], 0.5, 2.0, &mut rng).to_array());
    let eval = BatchNormOptions {
        training: false,
        ..train
    };
    assert_gradients(
        |t| {
            let r = RunningStats {
                mean: &rm,
                var: &rv,
            };
            t[0].batch_norm(Some(&t[1]), Some(&t[2]), Some(r), eval)
        },
        &[&[2, 3, 4], &[3], &[3]],
        4,
    );
}

#[test]
#[should_panic(expected = "more than 1 value per channel")]
fn single_value_per_channel_is_rejected_in_training() {
    let _ = Tensor::ones(&[1, 3]).batch_norm(None, None, None, BatchNormOptions::default());
}

/// What follows the normalisation in [`bn_results`].
#[derive(Clone, Copy, Debug)]
enum Relu {
    None,
    /// A separate `relu()` op.
    After,
    /// `batch_norm_relu`.
    Fused,
}

/// One batch norm of `x` with weight `w`, bias `b` and running statistics from fixed seeds,
/// `input` mapping the leaf to the op's input and `output` the op's output back to x's shape,
/// then the backward pass of Σ y·g: [y, dx, dγ, dβ, running mean, running var].
fn bn_results(
    (x, w, b, g): (&Tensor, &Tensor, &Tensor, &Tensor),
    o: BatchNormOptions,
    relu: Relu,
    input: impl Fn(&Tensor) -> Tensor,
    output: impl Fn(Tensor) -> Tensor,
) -> [Vec<f32>; 6] {
    let c = w.len();
    let xs = x.detach().with_requires_grad();
    let (ws, bs) = (
        w.detach().with_requires_grad(),
        b.detach().with_requires_grad(),
    );
    let rm = Buffer::new(Tensor::randn(&[c], 0.0, 0.3, &mut seeded(5)).to_array());
    let rv = Buffer::new(Tensor::rand_uniform(&[c], 0.5, 2.0, &mut seeded(6)).to_array());
    let r = RunningStats {
        mean: &rm,
        var: &rv,
    };
    let xin = input(&xs);
    let y = match relu {
        Relu::Fused => xin.batch_norm_relu(Some(&ws), Some(&bs), Some(r), o),
        Relu::After => xin.batch_norm(Some(&ws), Some(&bs), Some(r), o).relu(),
        Relu::None => xin.batch_norm(Some(&ws), Some(&bs), Some(r), o),
    };
    let y = output(y);
    (&y * g).sum_all().backward();
    let all = |a: &Array| a.iter().copied().collect::<Vec<f32>>();
    let grad = |t: &Tensor| all(&t.grad().unwrap());
    [
        all(&y.to_array()),
        grad(&xs),
        grad(&ws),
        grad(&bs),
        all(&rm.value()),
        all(&rv.value()),
    ]
}

/// Each of [`bn_results`]' six arrays within 1e-4 (relative) of the reference's.
fn assert_close(got: &[Vec<f32>; 6], want: &[Vec<f32>; 6], case: &str) {
    let names = ["output", "dx", "dw", "db", "running mean", "running var"];
    for (what, (a, e)) in names.iter().zip(got.iter().zip(want)) {
        assert_eq!(a.len(), e.len(), "{what} ({case})");
        for (u, v) in a.iter().zip(e) {
            assert!(
                (u - v).abs() <= 1e-4 * (1.0 + v.abs()),
                "{what} ({case}): {u} vs {v}"
            );
        }
    }
}

/// The channels-last path and the fused ReLU give the values and gradients of the reference
/// (row-major, separate ReLU), in training and evaluation.
#[test]
fn channels_last_and_fused_relu_match_the_reference() {
    // 20 channels: the scalar kernels; 32: the vector kernels.
    for (training, c) in [(true, 20), (false, 20), (true, 32), (false, 32)] {
        let o = BatchNormOptions {
            training,
            ..Default::default()
        };
        let shape = [4, c, 5, 7];
        let x = Tensor::randn(&shape, 0.5, 2.0, &mut seeded(1));
        let w = Tensor::randn(&[c], 1.0, 0.5, &mut seeded(2));
        let b = Tensor::randn(&[c], 0.0, 0.5, &mut seeded(3));
        let g = Tensor::randn(&shape, 0.0, 1.0, &mut seeded(4));
        let run = |cl: bool, relu: Relu| {
            let input = |t: &Tensor| if cl { t.to_channels_last() } else { t.clone() };
            let output = |y: Tensor| {
                assert_eq!(y.is_channels_last(), cl);
                y
            };
            bn_results((&x, &w, &b, &g), o, relu, input, output)
        };
        let reference = run(false, Relu::After);
        for (cl, relu) in [
            (false, Relu::Fused),
            (true, Relu::After),
            (true, Relu::Fused),
        ] {
            let case = format!("channels-last {cl}, {relu:?}, training {training}");
            assert_close(&run(cl, relu), &reference, &case);
        }
    }
}

#[test]
fn fused_relu_gradients() {
    let train = BatchNormOptions::default();
    assert_gradients(
        |t| t[0].batch_norm_relu(Some(&t[1]), Some(&t[2]), None, train),
        &[&[3, 4, 2, 3], &[4], &[4]],
        11,
    );
    assert_gradients(
        |t| {
            t[0].to_channels_last()
                .batch_norm_relu(Some(&t[1]), Some(&t[2]), None, train)
        },
        &[&[3, 4, 2, 3], &[4], &[4]],
        12,
    );
    // 16 channels: the vector kernels (the ReLU mask recomputed from the input). The seed keeps
    // the finite differences away from the ReLU's kink.
    assert_gradients(
        |t| {
            t[0].to_channels_last()
                .batch_norm_relu(Some(&t[1]), Some(&t[2]), None, train)
        },
        &[&[2, 16, 2, 3], &[16], &[16]],
        14,
    );
}

/// A `[N, C]` input (BatchNorm1d; the row kernels) gives the values, gradients and running
/// statistics of the same values as one `[1, C, N]` sample (the strided per-channel kernels),
/// with and without the fused ReLU, over more than one block of rows.
#[test]
fn two_d_input_matches_the_per_channel_kernels() {
    for (training, c, relu) in [
        (true, 20, Relu::None),
        (true, 32, Relu::Fused),
        (false, 32, Relu::None),
        (false, 20, Relu::Fused),
    ] {
        let o = BatchNormOptions {
            training,
            ..Default::default()
        };
        let n = 300;
        let x = Tensor::randn(&[n, c], 0.5, 2.0, &mut seeded(7));
        let w = Tensor::randn(&[c], 1.0, 0.5, &mut seeded(8));
        let b = Tensor::randn(&[c], 0.0, 0.5, &mut seeded(9));
        let g = Tensor::randn(&[n, c], 0.0, 1.0, &mut seeded(10));
        let xwbg = (&x, &w, &b, &g);
        let rows = bn_results(xwbg, o, relu, Tensor::clone, |y| y);
        let per_channel = bn_results(
            xwbg,
            o,
            relu,
            |t| t.t().reshape(&[1, c, n]),
            |y| y.reshape(&[c, n]).t(),
        );
        let case = format!("training {training}, {c} channels, {relu:?}");
        assert_close(&rows, &per_channel, &case);
    }
}
