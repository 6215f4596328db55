//! Convolution tests: naive reference, gradient checks, thread-count independence.

use proptest::prelude::*;

use super::Conv2dOptions;
use crate::Tensor;
use crate::gradcheck::assert_gradients;
use crate::rng::seeded;

/// Direct 7-loop convolution (reference), returning y and the gradients of Σ y·gy.
#[allow(clippy::type_complexity)]
fn naive(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    o: Conv2dOptions,
    gy: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
    let (xs, ws) = (x.shape(), w.shape());
    let (n, cin, h, wd) = (xs[0], xs[1], xs[2], xs[3]);
    let (cout, cin_g, kh, kw) = (ws[0], ws[1], ws[2], ws[3]);
    let cout_g = cout / o.groups;
    let oh = (h + 2 * o.padding.0 - o.dilation.0 * (kh - 1) - 1) / o.stride.0 + 1;
    let ow = (wd + 2 * o.padding.1 - o.dilation.1 * (kw - 1) - 1) / o.stride.1 + 1;
    let (xv, wv) = (x.to_vec(), w.to_vec());
    let bv = b.map(|b| b.to_vec());
    let mut y = vec![0.0f32; n * cout * oh * ow];
    let mut dx = vec![0.0f32; xv.len()];
    let mut dw = vec![0.0f32; wv.len()];
    let mut db = vec![0.0f32; cout];
    for ni in 0..n {
        for co in 0..cout {
            let gi = co / cout_g;
            for oy in 0..oh {
                for ox in 0..ow {
                    let yi = ((ni * cout + co) * oh + oy) * ow + ox;
                    let mut s = bv.as_ref().map_or(0.0, |b| b[co]);
                    db[co] += gy[yi];
                    for c in 0..cin_g {
                        let ci = gi * cin_g + c;
                        for i in 0..kh {
                            for j in 0..kw {
                                let iy = (oy * o.stride.0 + i * o.dilation.0) as isize
                                    - o.padding.0 as isize;
                                let ix = (ox * o.stride.1 + j * o.dilation.1) as isize
                                    - o.padding.1 as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let xi = ((ni * cin + ci) * h + iy as usize) * wd + ix as usize;
                                let wi = ((co * cin_g + c) * kh + i) * kw + j;
                                s += wv[wi] * xv[xi];
                                dx[xi] += wv[wi] * gy[yi];
                                dw[wi] += xv[xi] * gy[yi];
                            }
                        }
                    }
                    y[yi] = s;
                }
            }
        }
    }
    (y, dx, dw, db)
}

fn close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}[{i}]: {x} vs reference {y}"
        );
    }
}

fn check_against_naive(xs: &[usize], ws: &[usize], o: Conv2dOptions, bias: bool, seed: u64) {
    let mut rng = seeded(seed);
    let x = Tensor::randn(xs, 0.0, 1.0, &mut rng).with_requires_grad();
    let w = Tensor::randn(ws, 0.0, 1.0, &mut rng).with_requires_grad();
    let b = bias.then(|| Tensor::randn(&[ws[0]], 0.0, 1.0, &mut rng).with_requires_grad());
    let y = x.conv2d(&w, b.as_ref(), o);
    let gy = Tensor::randn(y.shape(), 0.0, 1.0, &mut rng).to_array();
    let (ry, rdx, rdw, rdb) = naive(&x, &w, b.as_ref(), o, gy.as_slice().unwrap());
    let what = format!("x {xs:?} w {ws:?} {o:?}");
    close(&y.to_vec(), &ry, 1e-4, &format!("y {what}"));
    y.backward_with(gy);
    close(
        x.grad().unwrap().as_slice().unwrap(),
        &rdx,
        1e-4,
        &format!("dx {what}"),
    );
    close(
        w.grad().unwrap().as_slice().unwrap(),
        &rdw,
        1e-4,
        &format!("dw {what}"),
    );
    if let Some(b) = b {
        close(
            b.grad().unwrap().as_slice().unwrap(),
            &rdb,
            1e-4,
            &format!("db {what}"),
        );
    }
}

#[test]
fn forward_small_example() {
    // 1 channel 3×3 input, 2×2 kernel of ones: sums of 2×2 windows.
    let x = Tensor::from_vec((1..=9).map(|v| v as f32).collect(), &[1, 1, 3, 3]);
    let w = Tensor::ones(&[1, 1, 2, 2]);
    let b = Tensor::from_vec(vec![0.5], &[1]);
    let y = x.conv2d(&w, Some(&b), Conv2dOptions::default());
    assert_eq!(y.shape(), &[1, 1, 2, 2]);
    assert_eq!(y.to_vec(), vec![12.5, 16.5, 24.5, 28.5]);
}

#[test]
fn matches_naive_on_all_paths() {
    let d = Conv2dOptions::default();
    // im2col path, one sample per GEMM (large images) and batched samples (small images).
    check_against_naive(&[2, 3, 17, 16], &[4, 3, 3, 3], d.with_padding(1), true, 1);
    check_against_naive(&[5, 3, 5, 4], &[4, 3, 3, 3], d.with_padding(1), true, 2);
    check_against_naive(
        &[3, 4, 7, 6],
        &[6, 4, 3, 2],
        d.with_stride(2).with_padding(1),
        false,
        3,
    );
    check_against_naive(
        &[2, 2, 9, 9],
        &[3, 2, 3, 3],
        d.with_dilation(2).with_padding(2),
        true,
        4,
    );
    check_against_naive(
        &[2, 2, 9, 8],
        &[3, 2, 2, 3],
        Conv2dOptions {
            stride: (2, 3),
            padding: (0, 2),
            dilation: (3, 1),
            groups: 1,
        },
        true,
        5,
    );
    // Pointwise: direct GEMM on the input (large image) and batched (small image).
    check_against_naive(&[2, 5, 16, 17], &[3, 5, 1, 1], d, true, 6);
    check_against_naive(&[6, 5, 3, 3], &[3, 5, 1, 1], d, true, 7);
    // 1×1 with stride 2.
    check_against_naive(&[2, 4, 7, 7], &[3, 4, 1, 1], d.with_stride(2), false, 8);
    // Groups, and depthwise with a channel multiplier.
    check_against_naive(
        &[2, 6, 6, 5],
        &[4, 3, 3, 3],
        d.with_groups(2).with_padding(1),
        true,
        9,
    );
    check_against_naive(
        &[3, 4, 6, 6],
        &[4, 1, 3, 3],
        d.with_groups(4).with_padding(1),
        true,
        10,
    );
    check_against_naive(
        &[2, 3, 7, 6],
        &[6, 1, 5, 5],
        d.with_groups(3).with_padding(2).with_stride(2),
        true,
        11,
    );
    check_against_naive(
        &[2, 2, 7, 7],
        &[2, 1, 3, 3],
        d.with_groups(2).with_dilation(2),
        false,
        12,
    );
    // K = C_in/groups·kH·kW ≥ 64: the weight gradient is accumulated transposed.
    check_against_naive(&[3, 8, 6, 5], &[5, 8, 3, 3], d.with_padding(1), true, 14);
    check_against_naive(
        &[11, 16, 5, 5],
        &[6, 8, 3, 3],
        d.with_groups(2).with_stride(2),
        true,
        15,
    );
    check_against_naive(&[2, 70, 4, 4], &[3, 70, 1, 1], d, true, 16);
    // Many samples: several slices of the weight-gradient reduction.
    check_against_naive(&[37, 2, 4, 4], &[3, 2, 3, 3], d.with_padding(1), true, 13);
}

#[test]
fn one_channel_inputs() {
    // A one-channel input is row-major and channels-last memory at once (a grayscale stem); it
    // runs row-major.
    let d = Conv2dOptions::default();
    check_against_naive(&[3, 1, 9, 7], &[16, 1, 3, 3], d.with_padding(1), true, 21);
    check_against_naive(&[2, 1, 8, 9], &[17, 1, 3, 3], d.with_stride(2), false, 22);
    check_against_naive(&[9, 1, 5, 6], &[32, 1, 3, 2], d.with_padding(1), true, 23);
    check_against_naive(&[2, 1, 7, 7], &[8, 1, 3, 3], d.with_dilation(2), true, 24);
    // Without an input gradient (a network's first layer).
    let mut rng = seeded(25);
    let x = Tensor::randn(&[4, 1, 6, 6], 0.0, 1.0, &mut rng);
    let w = Tensor::randn(&[16, 1, 3, 3], 0.0, 1.0, &mut rng).with_requires_grad();
    let y = x.conv2d(&w, None, d.with_padding(1));
    let gy = Tensor::randn(y.shape(), 0.0, 1.0, &mut rng).to_array();
    let (_, _, rdw, _) = naive(&x, &w, None, d.with_padding(1), gy.as_slice().unwrap());
    y.backward_with(gy);
    assert!(x.grad().is_none());
    close(w.grad().unwrap().as_slice().unwrap(), &rdw, 1e-4, "dw");
}

/// Nothing to compute (no output channels, or an empty batch) channels-last: the shapes of the
/// row-major result and zero gradients, no panic.
#[test]
fn empty_channels_last_convolutions() {
    let d = Conv2dOptions::default();
    let mut rng = seeded(26);
    for (xs, ws) in [
        ([1, 3, 4, 4], [0, 3, 3, 3]),
        ([0, 16, 4, 4], [16, 16, 3, 3]),
    ] {
        let x = Tensor::randn(&xs, 0.0, 1.0, &mut rng)
            .to_channels_last()
            .with_requires_grad();
        let w = Tensor::randn(&ws, 0.0, 1.0, &mut rng).with_requires_grad();
        let y = x.conv2d(&w, None, d);
        assert_eq!(y.shape(), &[xs[0], ws[0], 2, 2]);
        y.sum(&[0, 1, 2, 3], false).backward();
        assert!(x.grad().unwrap().iter().all(|v| *v == 0.0));
        assert!(w.grad().unwrap().iter().all(|v| *v == 0.0));
    }
}

#[test]
fn gradients() {
    let d = Conv2dOptions::default();
    assert_gradients(
        |t| t[0].conv2d(&t[1], Some(&t[2]), d.with_padding(1)),
        &[&[2, 3, 5, 5], &[4, 3, 3, 3], &[4]],
        1,
    );
    assert_gradients(
        |t| {
            t[0].conv2d(
                &t[1],
                None,
                d.with_stride(2).with_padding(2).with_dilation(2),
            )
        },
        &[&[2, 2, 7, 6], &[3, 2, 3, 3]],
        2,
    );
    assert_gradients(
        |t| t[0].conv2d(&t[1], Some(&t[2]), d.with_groups(3).with_padding(1)),
        &[&[2, 3, 5, 5], &[6, 1, 3, 3], &[6]],
        3,
    );
    assert_gradients(
        |t| t[0].conv2d(&t[1], Some(&t[2]), d.with_groups(2)),
        &[&[3, 4, 4, 4], &[4, 2, 1, 1], &[4]],
        4,
    );
}

#[test]
fn only_needed_gradients_are_computed() {
    let mut rng = seeded(3);
    let x = Tensor::randn(&[2, 3, 6, 6], 0.0, 1.0, &mut rng);
    let w = Tensor::randn(&[4, 3, 3, 3], 0.0, 1.0, &mut rng).with_requires_grad();
    let y = x.conv2d(&w, None, Conv2dOptions::default());
    y.sum_all().backward();
    assert!(x.grad().is_none());
    assert_eq!(w.grad().unwrap().shape(), &[4, 3, 3, 3]);
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let run = |threads: usize| {
        crate::workers::on_threads(threads, || {
            let mut rng = seeded(9);
            let x = Tensor::randn(&[19, 8, 6, 6], 0.0, 1.0, &mut rng).with_requires_grad();
            let w = Tensor::randn(&[8, 8, 3, 3], 0.0, 1.0, &mut rng).with_requires_grad();
            let b = Tensor::randn(&[8], 0.0, 1.0, &mut rng).with_requires_grad();
            let y = x.conv2d(&w, Some(&b), Conv2dOptions::default().with_padding(1));
            let gy = Tensor::randn(y.shape(), 0.0, 1.0, &mut rng).to_array();
            y.backward_with(gy);
            (
                y.to_vec(),
                x.grad().unwrap(),
                w.grad().unwrap(),
                b.grad().unwrap(),
            )
        })
    };
    let one = run(1);
    let three = run(3);
    assert_eq!(one.0, three.0);
    assert_eq!(one.1, three.1);
    assert_eq!(one.2, three.2);
    assert_eq!(one.3, three.3);
}

#[test]
#[should_panic(expected = "conv2d: bias shape")]
fn bias_shape_is_checked() {
    let x = Tensor::ones(&[1, 2, 4, 4]);
    let w = Tensor::ones(&[3, 2, 3, 3]);
    let _ = x.conv2d(&w, Some(&Tensor::ones(&[2])), Conv2dOptions::default());
}

#[test]
#[should_panic(expected = "smaller than the kernel")]
fn too_small_input_is_reported() {
    let _ = Tensor::ones(&[1, 1, 2, 2]).conv2d(
        &Tensor::ones(&[1, 1, 3, 3]),
        None,
        Conv2dOptions::default(),
    );
}

/// A channels-last input takes the direct kernels: the same values and gradients as the
/// row-major path, and channels-last output and input gradient.
#[test]
fn channels_last_matches_row_major() {
    for (o, k, bias) in [
        (Conv2dOptions::default().with_padding(1), 3, true),
        (
            Conv2dOptions::default().with_padding(1).with_stride(2),
            3,
            false,
        ),
        (Conv2dOptions::default().with_stride(2), 1, false),
        (
            Conv2dOptions::default().with_padding(1).with_groups(2),
            3,
            true,
        ),
    ] {
        let x = Tensor::randn(&[3, 6, 9, 8], 0.0, 1.0, &mut seeded(1));
        let w = Tensor::randn(&[20, 6 / o.groups, k, k], 0.0, 0.3, &mut seeded(2));
        let b = Tensor::randn(&[20], 0.0, 0.3, &mut seeded(3));
        let run = |cl: bool| {
            let xs = x.detach().with_requires_grad();
            let (ws, bs) = (
                w.detach().with_requires_grad(),
                b.detach().with_requires_grad(),
            );
            let input = if cl {
                xs.to_channels_last()
            } else {
                xs.clone()
            };
            let y = input.conv2d(&ws, bias.then_some(&bs), o);
            assert_eq!(y.is_channels_last(), cl);
            let g = Tensor::randn(y.shape(), 0.0, 1.0, &mut seeded(4));
            (&y * &g).sum_all().backward();
            let v = |t: &Tensor| t.grad().map(|g| g.iter().copied().collect::<Vec<f32>>());
            (y.to_vec(), v(&xs), v(&ws), v(&bs))
        };
        let (a, b2) = (run(false), run(true));
        let close = |p: &[f32], q: &[f32]| {
            p.iter()
                .zip(q)
                .all(|(u, v)| (u - v).abs() <= 1e-4 * (1.0 + v.abs()))
        };
        assert!(close(&a.0, &b2.0), "output {o:?}");
        assert!(close(&a.1.unwrap(), &b2.1.unwrap()), "input gradient {o:?}");
        assert!(
            close(&a.2.unwrap(), &b2.2.unwrap()),
            "weight gradient {o:?}"
        );
        if bias {
            assert!(close(&a.3.unwrap(), &b2.3.unwrap()), "bias gradient {o:?}");
        }
    }
    assert_gradients(
        |t| {
            t[0].to_channels_last().conv2d(
                &t[1],
                Some(&t[2]),
                Conv2dOptions::default().with_padding(1).with_stride(2),
            )
        },
        &[&[2, 3, 5, 5], &[4, 3, 3, 3], &[4]],
        9,
    );
}

/// Values and gradients (input, weight, bias) of `Σ conv2d(x)·g`, with the input stored
/// channels-last (the direct kernels) or row-major (the im2col path).
#[allow(clippy::type_complexity)]
fn conv_and_grads(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    o: Conv2dOptions,
    channels_last: bool,
) -> (Vec<f32>, Vec<f32>, Vec<f32>, Option<Vec<f32>>) {
    let xs = x.detach().with_requires_grad();
    let ws = w.detach().with_requires_grad();
    let bs = b.map(|b| b.detach().with_requires_grad());
    let input = if channels_last {
        xs.to_channels_last()
    } else {
        xs.clone()
    };
    let y = input.conv2d(&ws, bs.as_ref(), o);
    let g = Tensor::randn(y.shape(), 0.0, 1.0, &mut seeded(99));
    (&y * &g).sum_all().backward();
    let v = |t: &Tensor| t.grad().unwrap().iter().copied().collect::<Vec<f32>>();
    (y.to_vec(), v(&xs), v(&ws), bs.as_ref().map(v))
}

/// Within 10⁻⁴ of each value (plus 10⁻⁴ absolute).
fn assert_close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (u, v)) in a.iter().zip(b).enumerate() {
        assert!(
            (u - v).abs() <= 1e-4 * (1.0 + v.abs()),
            "{what}[{i}]: {u} (channels-last) vs {v} (row-major)"
        );
    }
}

/// Within `rel` of the largest value of `b` (the rounding of a Winograd transform grows with
/// the whole tile's values, not with each output's).
fn assert_close_scaled(a: &[f32], b: &[f32], rel: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (i, (u, v)) in a.iter().zip(b).enumerate() {
        assert!(
            (u - v).abs() <= rel * scale,
            "{what}[{i}]: {u} (channels-last) vs {v} (row-major), scale {scale}"
        );
    }
}

/// 64 → 64 channels, 3×3, stride 1: the channels-last forward and backward take the Winograd
/// kernels; the same values and gradients as the row-major path: within 10⁻⁴ of each value with
/// F(4×4) tiles (8×8 maps), within 10⁻⁴ of the largest value with F(7×7) (6×7 maps, one tile).
#[test]
fn channels_last_winograd_matches_row_major() {
    use crate::ops::conv::direct::winograd::{Kind, tile_kind};
    let o = Conv2dOptions::default().with_padding(1);
    for (hw, kind) in [((8, 8), Kind::F4), ((6, 7), Kind::F7)] {
        assert_eq!(tile_kind(1, hw), kind);
        let x = Tensor::randn(&[2, 64, hw.0, hw.1], 0.0, 1.0, &mut seeded(11));
        let w = Tensor::randn(&[64, 64, 3, 3], 0.0, 0.05, &mut seeded(12));
        let b = Tensor::randn(&[64], 0.0, 0.3, &mut seeded(13));
        let (a, c) = (
            conv_and_grads(&x, &w, Some(&b), o, false),
            conv_and_grads(&x, &w, Some(&b), o, true),
        );
        let close = |u: &[f32], v: &[f32], what: &str| match kind {
            Kind::F7 => assert_close_scaled(u, v, 1e-4, &format!("{kind:?} {what}")),
            _ => assert_close(u, v, &format!("{kind:?} {what}")),
        };
        close(&c.0, &a.0, "output");
        close(&c.1, &a.1, "input gradient");
        close(&c.2, &a.2, "weight gradient");
        assert_close(&c.3.unwrap(), &a.3.unwrap(), "bias gradient");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    /// Any convolution: the channels-last path gives the row-major (im2col) path's output and
    /// gradients.
    #[test]
    fn channels_last_matches_row_major_on_any_shape(
        n in 1usize..3, cin_g in 1usize..9, cout_g in 1usize..12, groups in 1usize..3,
        h in 1usize..10, w in 1usize..10, k in 1usize..4, stride in 1usize..3,
        pad in 0usize..3, dil in 1usize..3, bias in any::<bool>(), seed in 0u64..1000,
    ) {
        prop_assume!(h + 2 * pad > dil * (k - 1) && w + 2 * pad > dil * (k - 1));
        let o = Conv2dOptions::default()
            .with_stride(stride)
            .with_padding(pad)
            .with_dilation(dil)
            .with_groups(groups);
        let (cin, cout) = (cin_g * groups, cout_g * groups);
        let x = Tensor::randn(&[n, cin, h, w], 0.0, 1.0, &mut seeded(seed));
        let wt = Tensor::randn(&[cout, cin_g, k, k], 0.0, 0.3, &mut seeded(seed + 1));
        let b = Tensor::randn(&[cout], 0.0, 0.3, &mut seeded(seed + 2));
        let b = bias.then_some(&b);
        let (a, c) = (conv_and_grads(&x, &wt, b, o, false), conv_and_grads(&x, &wt, b, o, true));
        assert_close(&c.0, &a.0, "output");
        assert_close(&c.1, &a.1, "input gradient");
        assert_close(&c.2, &a.2, "weight gradient");
        if let (Some(p), Some(q)) = (c.3, a.3) {
            assert_close(&p, &q, "bias gradient");
        }
    }
}
