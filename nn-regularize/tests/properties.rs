//! Property tests of the regularisers' laws over random hyperparameters, shapes and seeds:
//! dropout's expectation, DropConnect's mask rate, mixup as a convex combination, CutMix's
//! area, cutout's area and stochastic depth's survival rate.
//!
//! The exact laws (which values an output may take, which pixels change) hold for every case.
//! The rates are estimates from a few thousand Bernoulli draws and are accepted within 5
//! standard errors, σ = √(q(1−q)/n): a correct implementation fails one case with probability
//! < 6·10⁻⁷. The proptest generator is seeded, so every run tries the same cases.

use ndarray::{Array4, Axis, s};
use nn_core::rng::seeded;
use nn_core::{Mode, Tensor};
use nn_regularize::{
    CutoutConfig, DropConnectConfig, DropPathMode, DropoutConfig, DropoutVariant, MixMode,
    MixupConfig, StochasticDepthConfig,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config() -> Config {
    Config {
        cases: 48,
        rng_seed: RngSeed::Fixed(0x5eed),
        failure_persistence: None,
        ..Config::default()
    }
}

/// |estimate − expected| ≤ 5·√(q(1−q)/n) for a Bernoulli(q) rate estimated from n draws.
fn rate_close(estimate: f64, q: f64, n: usize) -> bool {
    (estimate - q).abs() <= 5.0 * (q * (1.0 - q) / n as f64).sqrt()
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-5 * (1.0 + a.abs().max(b.abs()))
}

/// A batch `[n, c, h, w]` of values in [-2, 2] from `seed`.
fn batch(n: usize, c: usize, h: usize, w: usize, seed: u64) -> Array4<f32> {
    let t = Tensor::rand_uniform(&[n, c, h, w], -2.0, 2.0, &mut seeded(seed));
    t.to_array().into_dimensionality().unwrap()
}

proptest! {
    #![proptest_config(config())]

    /// Inverted dropout: every output is 0 or x/q, the kept fraction is q (so E[y] = x), and
    /// evaluation is the identity. Vanilla dropout: outputs are 0 or x, evaluation is q·x.
    #[test]
    fn dropout_expectation(p in 0.05f32..0.95, seed in any::<u64>(), vanilla in any::<bool>()) {
        let n = 4096;
        let variant = if vanilla { DropoutVariant::Vanilla } else { DropoutVariant::Inverted };
        let d = DropoutConfig::new(p).variant(variant).init().unwrap();
        let q = d.keep_prob();
        let x = Tensor::rand_uniform(&[n], 0.5, 1.5, &mut seeded(seed ^ 1));
        let xs = x.to_vec();
        let y = d.apply(&x, Mode::Train, &mut seeded(seed)).to_vec();
        let scale = if vanilla { 1.0 } else { 1.0 / q };
        let mut kept = 0usize;
        for (&xi, &yi) in xs.iter().zip(&y) {
            if yi != 0.0 {
                prop_assert!(close(yi, xi * scale), "{yi} is neither 0 nor {}", xi * scale);
                kept += 1;
            }
        }
        prop_assert!(rate_close(kept as f64 / n as f64, q as f64, n), "kept {kept} of {n}, q = {q}");
        let eval = d.apply(&x, Mode::Eval, &mut seeded(seed)).to_vec();
        let eval_scale = if vanilla { q } else { 1.0 };
        for (&xi, &ei) in xs.iter().zip(&eval) {
            prop_assert!(close(ei, xi * eval_scale));
        }
    }

    /// DropConnect keeps each weight with probability q: the masked weight is 0 or W/q, the
    /// kept fraction is q; evaluation uses W.
    #[test]
    fn dropconnect_mask_rate(
        p in 0.05f32..0.95,
        out in 8usize..64,
        inp in 32usize..96,
        seed in any::<u64>(),
    ) {
        let cfg = DropConnectConfig::new(p);
        let q = cfg.keep_prob();
        let w = Tensor::rand_uniform(&[out, inp], 0.5, 1.5, &mut seeded(seed ^ 2));
        let ws = w.to_vec();
        let m = cfg.mask_weight(&w, Mode::Train, &mut seeded(seed)).to_vec();
        let mut kept = 0usize;
        for (&wi, &mi) in ws.iter().zip(&m) {
            if mi != 0.0 {
                prop_assert!(close(mi, wi / q));
                kept += 1;
            }
        }
        let n = out * inp;
        prop_assert!(rate_close(kept as f64 / n as f64, q as f64, n), "kept {kept} of {n}, q = {q}");
        prop_assert_eq!(cfg.mask_weight(&w, Mode::Eval, &mut seeded(seed)).to_vec(), ws);
    }

    /// Mixup: image i becomes λᵢ·xᵢ + (1 − λᵢ)·x₍N−1−i₎ with λᵢ ∈ [0, 1], and its target the
    /// same convex combination of the two one-hot rows (rows sum to 1).
    #[test]
    fn mixup_is_a_convex_combination(
        half in 1usize..5,
        alpha in 0.1f32..4.0,
        elem in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let (n, k) = (2 * half, 5);
        let mut cfg = MixupConfig::new(k);
        cfg.mixup_alpha = alpha;
        cfg.label_smoothing = 0.0;
        cfg.mode = if elem { MixMode::Elem } else { MixMode::Batch };
        let mix = cfg.init().unwrap();
        let x = batch(n, 2, 4, 3, seed ^ 3);
        let labels: Vec<usize> = (0..n).map(|i| (i * 3 + seed as usize) % k).collect();
        let out = mix.apply(x.clone(), &labels, &mut seeded(seed)).unwrap();
        for i in 0..n {
            let j = n - 1 - i;
            let l = out.lam[i];
            prop_assert!((0.0..=1.0).contains(&l));
            for ((&o, &a), &b) in out.images.index_axis(Axis(0), i).iter()
                .zip(x.index_axis(Axis(0), i)).zip(x.index_axis(Axis(0), j))
            {
                prop_assert!(close(o, l * a + (1.0 - l) * b), "{o} vs λ = {l}, {a}, {b}");
            }
            let row = out.targets.row(i);
            prop_assert!(close(row.sum(), 1.0));
            for c in 0..k {
                let t = l * f32::from(labels[i] == c) + (1.0 - l) * f32::from(labels[j] == c);
                prop_assert!(close(row[c], t), "target [{i}, {c}] = {} vs {t}", row[c]);
            }
        }
    }

    /// CutMix: every pixel comes from the image itself or its partner, and (λ corrected to the
    /// box) the fraction of its own pixels is λ.
    #[test]
    fn cutmix_keeps_the_fraction_lambda(
        alpha in 0.2f32..2.0,
        h in 4usize..16,
        w in 4usize..16,
        seed in any::<u64>(),
    ) {
        let n = 4;
        let mut cfg = MixupConfig::new(3);
        cfg.mixup_alpha = 0.0;
        cfg.cutmix_alpha = alpha;
        cfg.label_smoothing = 0.0;
        cfg.mode = MixMode::Elem;
        let mix = cfg.init().unwrap();
        // Image i is constant i, so a pixel tells where it came from.
        let mut x = Array4::zeros((n, 1, h, w));
        for i in 0..n {
            x.slice_mut(s![i, .., .., ..]).fill(i as f32);
        }
        let out = mix.apply(x, &[0, 1, 2, 0], &mut seeded(seed)).unwrap();
        for i in 0..n {
            let img = out.images.index_axis(Axis(0), i);
            let own = img.iter().filter(|&&v| v == i as f32).count();
            let partner = img.iter().filter(|&&v| v == (n - 1 - i) as f32).count();
            prop_assert_eq!(own + partner, h * w);
            prop_assert!(close(own as f32 / (h * w) as f32, out.lam[i]));
        }
    }

    /// Cutout zeroes exactly the sampled boxes (area ≤ size², clipped to the image), the same in
    /// every channel, and leaves every other pixel unchanged.
    #[test]
    fn cutout_area(
        size in 1usize..12,
        h in 1usize..20,
        w in 1usize..20,
        seed in any::<u64>(),
    ) {
        let cut = CutoutConfig::new(size).init().unwrap();
        let x = batch(3, 2, h, w, seed ^ 4).mapv(|v| v.abs() + 1.0);
        let mut y = x.clone();
        let boxes = cut.apply_batch(y.view_mut(), &mut seeded(seed));
        for (i, b) in boxes.iter().enumerate() {
            prop_assert_eq!(b.len(), 1);
            let b = b[0];
            prop_assert!(b.area() <= size * size && b.y1 <= h && b.x1 <= w);
            prop_assert!(b.area() > 0, "the centre pixel is always covered");
            for c in 0..2 {
                let zeros = y.slice(s![i, c, .., ..]).iter().filter(|&&v| v == 0.0).count();
                prop_assert_eq!(zeros, b.area());
                for r in 0..h {
                    for col in 0..w {
                        let inside = (b.y0..b.y1).contains(&r) && (b.x0..b.x1).contains(&col);
                        let expect = if inside { 0.0 } else { x[[i, c, r, col]] };
                        prop_assert_eq!(y[[i, c, r, col]], expect);
                    }
                }
            }
        }
    }

    /// Stochastic depth (row mode): each sample's branch survives with probability pₗ, scaled
    /// by 1/pₗ; batch mode keeps or drops the whole branch; evaluation is the identity.
    #[test]
    fn stochastic_depth_survival_rate(survival in 0.1f32..0.95, seed in any::<u64>()) {
        let sd = StochasticDepthConfig::with_survival_prob(survival).init().unwrap();
        let p = sd.survival_prob();
        let n = 4096;
        let y = sd.apply(&Tensor::ones(&[n, 3]), Mode::Train, &mut seeded(seed)).to_array();
        let mut kept = 0usize;
        for row in y.axis_iter(Axis(0)) {
            if row[0] != 0.0 {
                kept += 1;
                prop_assert!(row.iter().all(|&v| close(v, 1.0 / p)));
            } else {
                prop_assert!(row.iter().all(|&v| v == 0.0));
            }
        }
        prop_assert!(rate_close(kept as f64 / n as f64, p as f64, n), "kept {kept} of {n}, p = {p}");
        let batch_sd = StochasticDepthConfig::with_survival_prob(survival)
            .mode(DropPathMode::Batch)
            .init()
            .unwrap();
        let y = batch_sd.apply(&Tensor::ones(&[4, 3]), Mode::Train, &mut seeded(seed)).to_vec();
        prop_assert!(y.iter().all(|&v| v == 0.0) || y.iter().all(|&v| close(v, 1.0 / p)));
        let e = sd.apply(&Tensor::ones(&[4, 3]), Mode::Eval, &mut seeded(seed)).to_vec();
        prop_assert!(e.iter().all(|&v| v == 1.0));
    }
}
