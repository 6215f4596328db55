//! Property tests of convolution and normalisation: conv2d (forward and all gradients) equals a
//! naive direct convolution on random small shapes and hyperparameters; batch norm in training
//! mode gives per-channel mean ≈ 0 and variance ≈ 1; a folded convolution equals conv → BN(eval).

use nn_core::fold::fold_conv_bn;
use nn_core::layers::{BatchNormConfig, Conv2dConfig};
use nn_core::ops::{BatchNormOptions, Conv2dOptions};
use nn_core::rng::seeded;
use nn_core::{Ctx, Module, Tensor};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 40,
        ..ProptestConfig::default()
    }
}

/// A random convolution problem: (input shape, weight shape, options, bias, seed) with a
/// non-empty output.
fn conv_problem() -> impl Strategy<Value = ([usize; 4], [usize; 4], Conv2dOptions, bool, u64)> {
    (
        1usize..4, // n
        1usize..4, // groups
        1usize..4, // in channels per group
        1usize..4, // out channels per group
        1usize..4, // kh
        1usize..4, // kw
        (1usize..3, 1usize..3),
        (0usize..3, 0usize..3),
        (1usize..3, 1usize..3),
        (3usize..9, 3usize..9),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_filter_map(
            "output must be non-empty",
            |(n, g, cig, cog, kh, kw, stride, padding, dilation, (h, w), bias, seed)| {
                let span_h = dilation.0 * (kh - 1) + 1;
                let span_w = dilation.1 * (kw - 1) + 1;
                (h + 2 * padding.0 >= span_h && w + 2 * padding.1 >= span_w).then_some((
                    [n, g * cig, h, w],
                    [g * cog, cig, kh, kw],
                    Conv2dOptions {
                        stride,
                        padding,
                        dilation,
                        groups: g,
                    },
                    bias,
                    seed,
                ))
            },
        )
}

/// Direct convolution and its gradients for output gradient `gy` (f64 accumulation).
fn naive(
    xs: [usize; 4],
    ws: [usize; 4],
    o: Conv2dOptions,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    gy: &[f32],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let [n, cin, h, wd] = xs;
    let [cout, cig, kh, kw] = ws;
    let cog = cout / o.groups;
    let oh = (h + 2 * o.padding.0 - o.dilation.0 * (kh - 1) - 1) / o.stride.0 + 1;
    let ow = (wd + 2 * o.padding.1 - o.dilation.1 * (kw - 1) - 1) / o.stride.1 + 1;
    let mut y = vec![0.0f64; n * cout * oh * ow];
    let mut dx = vec![0.0f64; x.len()];
    let mut dw = vec![0.0f64; w.len()];
    for ni in 0..n {
        for co in 0..cout {
            for oy in 0..oh {
                for ox in 0..ow {
                    let yi = ((ni * cout + co) * oh + oy) * ow + ox;
                    let mut s = b.map_or(0.0, |b| b[co] as f64);
                    for c in 0..cig {
                        let ci = co / cog * cig + c;
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
                                let wi = ((co * cig + c) * kh + i) * kw + j;
                                s += w[wi] as f64 * x[xi] as f64;
                                dx[xi] += w[wi] as f64 * gy[yi] as f64;
                                dw[wi] += x[xi] as f64 * gy[yi] as f64;
                            }
                        }
                    }
                    y[yi] = s;
                }
            }
        }
    }
    (y, dx, dw)
}

fn close(got: &[f32], want: &[f64], what: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len(), "{}: length", what);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        prop_assert!(
            (*g as f64 - w).abs() <= 1e-4 * (1.0 + w.abs()),
            "{}[{}]: {} vs naive {}",
            what,
            i,
            g,
            w
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn conv2d_equals_naive_convolution((xs, ws, o, bias, seed) in conv_problem()) {
        let mut rng = seeded(seed);
        let x = Tensor::randn(&xs, 0.0, 1.0, &mut rng).with_requires_grad();
        let w = Tensor::randn(&ws, 0.0, 1.0, &mut rng).with_requires_grad();
        let b = bias.then(|| Tensor::randn(&[ws[0]], 0.0, 1.0, &mut rng).with_requires_grad());
        let y = x.conv2d(&w, b.as_ref(), o);
        let gy = Tensor::randn(y.shape(), 0.0, 1.0, &mut rng).to_array();
        let bv = b.as_ref().map(|b| b.to_vec());
        let (ry, rdx, rdw) = naive(
            xs, ws, o, &x.to_vec(), &w.to_vec(), bv.as_deref(), gy.as_slice().unwrap(),
        );
        close(&y.to_vec(), &ry, "y")?;
        y.backward_with(gy.clone());
        close(x.grad().unwrap().as_slice().unwrap(), &rdx, "dx")?;
        close(w.grad().unwrap().as_slice().unwrap(), &rdw, "dw")?;
        if let Some(b) = b {
            let [n, c, oh, ow] = [gy.shape()[0], gy.shape()[1], gy.shape()[2], gy.shape()[3]];
            let g = gy.as_slice().unwrap();
            let db: Vec<f64> = (0..c)
                .map(|ci| (0..n).map(|ni| g[(ni * c + ci) * oh * ow..][..oh * ow].iter().map(|&v| v as f64).sum::<f64>()).sum())
                .collect();
            close(b.grad().unwrap().as_slice().unwrap(), &db, "db")?;
        }
    }

    #[test]
    fn batch_norm_training_output_is_standardised(
        n in 2usize..6, c in 1usize..5, l in 1usize..20, mean in -5.0f32..5.0,
        std in 0.5f32..4.0, seed in any::<u64>(),
    ) {
        let x = Tensor::randn(&[n, c, l], mean, std, &mut seeded(seed));
        let xa = x.to_array();
        let y = x.batch_norm(None, None, None, BatchNormOptions::default()).to_array();
        let m = (n * l) as f64;
        let moments = |a: &nn_core::Array, ci: usize| {
            let v: Vec<f64> = (0..n)
                .flat_map(|ni| (0..l).map(move |li| (ni, li)))
                .map(|(ni, li)| a[[ni, ci, li]] as f64)
                .collect();
            let mu = v.iter().sum::<f64>() / m;
            (mu, v.iter().map(|a| (a - mu).powi(2)).sum::<f64>() / m)
        };
        for ci in 0..c {
            let (mu, var) = moments(&y, ci);
            // Exactly: var = s²/(s² + ε) for the batch variance s² of the input channel, i.e.
            // 1 up to ε's share.
            let (_, s2) = moments(&xa, ci);
            prop_assert!(mu.abs() < 1e-4, "channel {} mean {}", ci, mu);
            prop_assert!((var - s2 / (s2 + 1e-5)).abs() < 1e-4, "channel {} variance {}", ci, var);
            if s2 > 1e-2 {
                prop_assert!((var - 1.0).abs() < 2e-3, "channel {} variance {}", ci, var);
            }
        }
    }

    #[test]
    fn folded_conv_equals_conv_then_bn_eval(
        (xs, ws, o, bias, seed) in conv_problem(), affine in any::<bool>(),
    ) {
        let mut rng = seeded(seed);
        let cout = ws[0];
        let conv = Conv2dConfig {
            stride: o.stride,
            padding: o.padding,
            dilation: o.dilation,
            bias,
            ..Conv2dConfig::new(xs[1], cout, 1).with_kernel_size(ws[2], ws[3]).with_groups(o.groups)
        }
        .init(&mut rng)
        .unwrap();
        let bn = BatchNormConfig::new(cout).with_affine(affine).init_2d().unwrap();
        // Running statistics from two training batches (at least 2 samples, so that every
        // channel has more than one value even when the conv output is 1×1), then random γ, β.
        let warm = [xs[0] + 2, xs[1], xs[2], xs[3]];
        for _ in 0..2 {
            let xb = Tensor::randn(&warm, 1.0, 2.0, &mut rng);
            let _ = bn.forward(&conv.forward(&xb, &mut Ctx::train(0)), &mut Ctx::train(0));
        }
        if affine {
            bn.weight().unwrap().set_value(Tensor::rand_uniform(&[cout], 0.5, 2.0, &mut rng).to_array());
            bn.bias().unwrap().set_value(Tensor::randn(&[cout], 0.0, 1.0, &mut rng).to_array());
        }
        let x = Tensor::randn(&xs, 0.0, 1.0, &mut rng);
        let mut ctx = Ctx::eval();
        let want = bn.forward(&conv.forward(&x, &mut ctx), &mut ctx).to_vec();
        let got = fold_conv_bn(&conv, &bn).unwrap().forward(&x, &mut ctx).to_vec();
        for (g, w) in got.iter().zip(&want) {
            prop_assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "{} vs {}", g, w);
        }
    }
}
