//! Statistical tests of the regularisers' training-time randomness, with fixed seeds.
//!
//! Every tolerance is computed from the sample size: an estimate m̂ of a mean from n independent
//! draws has standard error σ/√n (σ known from the distribution, e.g. √(q(1−q)) for a
//! Bernoulli(q), or estimated by the sample standard deviation), and a test accepts
//! |m̂ − m| ≤ 5·σ/√n. For a correct implementation a 5σ deviation has probability < 6·10⁻⁷ (normal
//! approximation, n in the thousands); a wrong scale (e.g. forgetting 1/q) or a wrong rate
//! deviates by hundreds of standard errors at these sample sizes. The seeds are fixed, so the
//! outcome is reproducible.

use ndarray::{Array4, Axis};
use nn_core::rng::seeded;
use nn_core::{Ctx, Module, Tensor, with_no_grad};
use nn_regularize::{
    CutoutConfig, DropConnectConfig, DropPathMode, DropoutConfig, DropoutVariant, MaskSharing,
    MixupConfig, StochasticDepthConfig, linear_decay,
};

const Z: f64 = 5.0;

fn assert_close(what: &str, estimate: f64, expected: f64, std_err: f64) {
    assert!(
        (estimate - expected).abs() <= Z * std_err,
        "{what}: estimate {estimate} vs expected {expected} (tolerance {Z}·{std_err:.3e})"
    );
}

#[test]
fn inverted_dropout_keeps_fraction_q_and_preserves_the_expected_activation() {
    let n = 200_000;
    let x = Tensor::rand_uniform(&[n], 0.5, 1.5, &mut seeded(0));
    let xs = x.to_vec();
    for (k, q) in [0.2f64, 0.5, 0.9].into_iter().enumerate() {
        let d = DropoutConfig::with_keep_prob(q as f32).init().unwrap();
        let y = d.forward(&x, &mut Ctx::train(k as u64)).to_vec();
        // Kept fraction: Binomial(n, q)/n, σ = √(q(1−q)/n).
        let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / n as f64;
        assert_close("kept fraction", kept, q, (q * (1.0 - q) / n as f64).sqrt());
        // E[y] = x: mean(y − x) has σ = √(Σ x²·(1−q)/q)/n.
        let diff: f64 = y
            .iter()
            .zip(&xs)
            .map(|(&a, &b)| (a - b) as f64)
            .sum::<f64>()
            / n as f64;
        let var: f64 = xs
            .iter()
            .map(|&v| (v as f64).powi(2) * (1.0 - q) / q)
            .sum::<f64>();
        assert_close("mean(y − x)", diff, 0.0, var.sqrt() / n as f64);
    }
}

#[test]
fn vanilla_dropout_training_mean_equals_its_test_output() {
    let n = 100_000;
    let q = 0.7f64;
    let x = Tensor::full(&[n], 2.0);
    let d = DropoutConfig::with_keep_prob(q as f32)
        .variant(DropoutVariant::Vanilla)
        .init()
        .unwrap();
    let train: f64 = d
        .forward(&x, &mut Ctx::train(3))
        .to_vec()
        .iter()
        .map(|&v| v as f64)
        .sum::<f64>()
        / n as f64;
    let test = d.forward(&x, &mut Ctx::eval()).to_vec()[0] as f64;
    assert!((test - 1.4).abs() < 1e-6);
    // y = 2·m, σ(y) = 2√(q(1−q)).
    assert_close(
        "vanilla E[y]",
        train,
        test,
        2.0 * (q * (1.0 - q) / n as f64).sqrt(),
    );
}

#[test]
fn channel_dropout_keeps_fraction_q_of_channels() {
    let (n, c) = (500, 64);
    let q = 0.6f64;
    let d = DropoutConfig::with_keep_prob(q as f32).init_2d().unwrap();
    let y = d
        .forward(&Tensor::ones(&[n, c, 2, 2]), &mut Ctx::train(9))
        .to_array();
    let channels = (n * c) as f64;
    let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / 4.0 / channels;
    assert_close("kept channels", kept, q, (q * (1.0 - q) / channels).sqrt());
}

/// E_M[x·(W ⊙ M/q)ᵀ + b] = x·Wᵀ + b: the mean over many training passes of every output element
/// matches the evaluation output within 5 standard errors (sample std / √passes).
#[test]
fn dropconnect_expected_training_output_equals_the_test_output() {
    let passes = 3000;
    for sharing in [MaskSharing::PerBatch, MaskSharing::PerSample] {
        let layer = DropConnectConfig::new(0.5)
            .sharing(sharing)
            .init_linear(16, 6, true, &mut seeded(1))
            .unwrap();
        let x = Tensor::randn(&[4, 16], 0.0, 1.0, &mut seeded(2));
        let test = layer.forward(&x, &mut Ctx::eval()).to_vec();
        let mut sum = vec![0.0f64; test.len()];
        let mut sum_sq = vec![0.0f64; test.len()];
        let mut ctx = Ctx::train(3);
        with_no_grad(|| {
            for _ in 0..passes {
                for (i, v) in layer.forward(&x, &mut ctx).to_vec().into_iter().enumerate() {
                    sum[i] += v as f64;
                    sum_sq[i] += (v as f64).powi(2);
                }
            }
        });
        for i in 0..test.len() {
            let mean = sum[i] / passes as f64;
            let var = (sum_sq[i] / passes as f64 - mean * mean).max(0.0);
            assert_close(
                &format!("{sharing:?} output {i}"),
                mean,
                test[i] as f64,
                (var / passes as f64).sqrt(),
            );
        }
    }
}

/// Per-sample (row) mode drops each block's branch at rate 1 − pₗ with pₗ from the linear decay
/// rule; batch mode drops whole passes at that rate.
#[test]
fn stochastic_depth_drops_blocks_at_the_configured_rates() {
    let survival = linear_decay(5, 0.5).unwrap();
    for (l, &p) in survival.iter().enumerate() {
        let p = p as f64;
        let sd = StochasticDepthConfig::with_survival_prob(p as f32)
            .init()
            .unwrap();
        let n = 20_000;
        let y = sd
            .forward(&Tensor::ones(&[n, 3]), &mut Ctx::train(l as u64))
            .to_array();
        let dropped = y.axis_iter(Axis(0)).filter(|r| r[0] == 0.0).count() as f64 / n as f64;
        assert_close(
            &format!("row drop rate of block {}", l + 1),
            dropped,
            1.0 - p,
            (p * (1.0 - p) / n as f64).sqrt(),
        );
        let sd = StochasticDepthConfig::with_survival_prob(p as f32)
            .mode(DropPathMode::Batch)
            .init()
            .unwrap();
        let passes = 4000;
        let mut ctx = Ctx::train(100 + l as u64);
        let x = Tensor::ones(&[2, 2]);
        let dropped = (0..passes)
            .filter(|_| sd.forward(&x, &mut ctx).to_vec()[0] == 0.0)
            .count() as f64
            / passes as f64;
        assert_close(
            &format!("batch drop rate of block {}", l + 1),
            dropped,
            1.0 - p,
            (p * (1.0 - p) / passes as f64).sqrt(),
        );
    }
}

/// λ ~ Beta(α, α): mean 1/2, variance 1/(4(2α + 1)); checked for the batch-level draws.
#[test]
fn mixup_lambda_follows_beta_alpha_alpha() {
    for alpha in [0.2f64, 1.0, 4.0] {
        let mut cfg = MixupConfig::new(3);
        cfg.mixup_alpha = alpha as f32;
        let m = cfg.init().unwrap();
        let mut rng = seeded(11);
        let draws = 20_000;
        let lams: Vec<f64> = (0..draws)
            .map(|_| m.sample(2, (4, 4), &mut rng).unwrap()[0].lam as f64)
            .collect();
        let mean = lams.iter().sum::<f64>() / draws as f64;
        let var_true = 1.0 / (4.0 * (2.0 * alpha + 1.0));
        assert_close(
            &format!("mean λ, α = {alpha}"),
            mean,
            0.5,
            (var_true / draws as f64).sqrt(),
        );
        let var = lams.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (draws - 1) as f64;
        // Standard error of a sample variance: √((μ₄ − σ⁴)/n) with μ₄ of Beta(α, α):
        // μ₄ = 3σ⁴·(2α + 1)/(2α + 3).
        let mu4 = 3.0 * var_true * var_true * (2.0 * alpha + 1.0) / (2.0 * alpha + 3.0);
        assert_close(
            &format!("var λ, α = {alpha}"),
            var,
            var_true,
            ((mu4 - var_true * var_true) / draws as f64).sqrt(),
        );
    }
}

/// The zeroed area of cutout on an all-ones image equals the exact expected clipped area,
/// E[area] = E[len_y]·E[len_x] with the centre uniform over the image (computed by enumerating
/// the centres); and with p = 0.5 half of the images are cut.
#[test]
fn cutout_zeroes_the_configured_area() {
    let (h, w, size) = (12usize, 10usize, 6usize);
    let mean_len = |n: usize| {
        (0..n)
            .map(|c| {
                let lo = c as isize - (size / 2) as isize;
                let hi = (lo + size as isize).min(n as isize);
                (hi - lo.max(0)) as f64
            })
            .sum::<f64>()
            / n as f64
    };
    let expected = mean_len(h) * mean_len(w);
    let cut = CutoutConfig::new(size).init().unwrap();
    let n = 5000;
    let out = cut.transform_batch(Array4::ones((n, 2, h, w)), &mut seeded(5));
    let areas: Vec<f64> = out
        .axis_iter(Axis(0))
        .map(|img| {
            img.index_axis(Axis(0), 0)
                .iter()
                .filter(|&&v| v == 0.0)
                .count() as f64
        })
        .collect();
    // Both channels are cut identically.
    for img in out.axis_iter(Axis(0)) {
        assert_eq!(img.index_axis(Axis(0), 0), img.index_axis(Axis(0), 1));
    }
    let mean = areas.iter().sum::<f64>() / n as f64;
    let sd = (areas.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    assert_close("cutout area", mean, expected, sd / (n as f64).sqrt());
    assert!(areas.iter().all(|&a| a <= (size * size) as f64));

    let mut half = CutoutConfig::new(size);
    half.p = 0.5;
    let out = half
        .init()
        .unwrap()
        .transform_batch(Array4::ones((n, 1, h, w)), &mut seeded(6));
    let cut_frac = out
        .axis_iter(Axis(0))
        .filter(|img| img.iter().any(|&v| v == 0.0))
        .count() as f64
        / n as f64;
    assert_close("cut fraction", cut_frac, 0.5, (0.25 / n as f64).sqrt());
}
