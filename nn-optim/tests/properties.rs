//! Properties: zero learning rate is a no-op; the fused loops equal a naive per-element
//! reference for any layout (contiguous or not) and size (serial or parallel path); results
//! do not depend on the number of threads.

use ndarray::{ArrayD, IxDyn, ShapeBuilder};
use nn_optim::{
    AdaGradConfig, AdamConfig, GradClip, Optimizer, OptimizerConfig, PAR_MIN, ParamMut,
    RmsPropConfig, SgdConfig,
};
use proptest::prelude::*;

fn configs(lr: f64) -> Vec<OptimizerConfig> {
    vec![
        OptimizerConfig::Sgd(SgdConfig {
            lr,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 0.1,
            ..Default::default()
        }),
        OptimizerConfig::Sgd(SgdConfig {
            lr,
            ..Default::default()
        }),
        OptimizerConfig::AdaGrad(AdaGradConfig {
            lr,
            weight_decay: 0.1,
            ..Default::default()
        }),
        OptimizerConfig::RmsProp(RmsPropConfig {
            lr,
            momentum: 0.5,
            centered: true,
            ..Default::default()
        }),
        OptimizerConfig::Adam(AdamConfig {
            lr,
            amsgrad: true,
            weight_decay: 0.1,
            ..Default::default()
        }),
        OptimizerConfig::AdamW(nn_optim::AdamWConfig {
            lr,
            ..Default::default()
        }),
    ]
}

/// Naive Adam (L2 decay, AMSGrad optional) for one element, in PyTorch's operation order.
#[allow(clippy::too_many_arguments)]
fn naive_adam(
    p: &mut f32,
    g: f32,
    m: &mut f32,
    v: &mut f32,
    vmax: &mut f32,
    t: u64,
    lr: f64,
    wd: f32,
    ams: bool,
) {
    let (b1, b2) = (0.9f64, 0.999f64);
    let g = g + wd * *p;
    *m += (1.0 - b1) as f32 * (g - *m);
    *v = *v * b2 as f32 + (1.0 - b2) as f32 * g * g;
    let step_size = lr / (1.0 - b1.powf(t as f64));
    let inv = 1.0f32 / ((1.0 - b2.powf(t as f64)).sqrt() as f32);
    let vv = if ams {
        *vmax = vmax.max(*v);
        *vmax
    } else {
        *v
    };
    *p += (-step_size) as f32 * *m / (vv.sqrt() * inv + 1e-8);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn zero_learning_rate_leaves_parameters_unchanged(
        vals in proptest::collection::vec(-10.0f32..10.0, 1..50),
        grads in proptest::collection::vec(-10.0f32..10.0, 50),
    ) {
        for cfg in configs(0.0) {
            let mut opt = cfg.build(vec![]).unwrap();
            let mut p = ArrayD::from_shape_vec(IxDyn(&[vals.len()]), vals.clone()).unwrap();
            let g = ArrayD::from_shape_vec(IxDyn(&[vals.len()]), grads[..vals.len()].to_vec()).unwrap();
            for _ in 0..3 {
                opt.step(&mut [ParamMut::new("p", p.view_mut(), g.view())]).unwrap();
            }
            prop_assert_eq!(p.as_slice().unwrap(), &vals[..], "{:?}", cfg);
        }
    }

    #[test]
    fn fused_adam_equals_naive_reference_for_any_layout(
        rows in 1usize..9, cols in 1usize..9, transposed in any::<bool>(), ams in any::<bool>(),
        seed in 0u32..1000,
    ) {
        let f = |i: usize, k: u32| ((i as u32).wrapping_mul(2654435761).wrapping_add(seed * 97 + k) % 2001) as f32 / 1000.0 - 1.0;
        let n = rows * cols;
        let mut p = ArrayD::from_shape_vec(IxDyn(&[rows, cols]).set_f(transposed), (0..n).map(|i| f(i, 0)).collect()).unwrap();
        let mut naive: Vec<f32> = p.iter().copied().collect();
        let (mut m, mut v, mut vmax) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let mut opt = AdamConfig { lr: 0.01, weight_decay: 0.05, amsgrad: ams, ..Default::default() }.init().unwrap();
        for t in 1..=3u64 {
            let g = ArrayD::from_shape_fn(IxDyn(&[rows, cols]), |ix| f(ix[0] * cols + ix[1], t as u32));
            for (k, gk) in g.iter().enumerate() {
                naive_adam(&mut naive[k], *gk, &mut m[k], &mut v[k], &mut vmax[k], t, 0.01, 0.05, ams);
            }
            opt.step(&mut [ParamMut::new("p", p.view_mut(), g.view())]).unwrap();
        }
        let got: Vec<f32> = p.iter().copied().collect();
        prop_assert_eq!(got, naive);
    }
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let n = 3 * PAR_MIN + 11; // parallel path, uneven split
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut out = Vec::new();
            for cfg in configs(0.01) {
                let mut cfg = cfg;
                if let OptimizerConfig::Sgd(c) = &mut cfg {
                    c.clip = GradClip::norm(1.0);
                }
                let mut opt = cfg.build(vec![]).unwrap();
                let mut p =
                    ArrayD::from_shape_fn(IxDyn(&[n]), |i| ((i[0] % 101) as f32 - 50.0) * 1e-2);
                for s in 0..3 {
                    let g = ArrayD::from_shape_fn(IxDyn(&[n]), |i| {
                        ((i[0] * 7 + s) % 53) as f32 * 1e-3 - 0.02
                    });
                    opt.step(&mut [ParamMut::new("p", p.view_mut(), g.view())])
                        .unwrap();
                }
                out.push((p, opt.last_grad_norm()));
            }
            out
        })
    };
    let (one, two) = (run(1), run(2));
    assert!(
        one == two,
        "1 thread and 2 threads give different parameters"
    );
}

#[test]
fn large_parameters_match_small_ones_elementwise() {
    // The same values updated as one big (parallel) array or many small (serial) ones.
    let n = 2 * PAR_MIN;
    let vals: Vec<f32> = (0..n).map(|i| ((i % 37) as f32 - 18.0) * 0.05).collect();
    let grads: Vec<f32> = (0..n).map(|i| ((i % 29) as f32 - 14.0) * 0.01).collect();
    let mut big = ArrayD::from_shape_vec(IxDyn(&[n]), vals.clone()).unwrap();
    let gbig = ArrayD::from_shape_vec(IxDyn(&[n]), grads.clone()).unwrap();
    let mut opt = RmsPropConfig {
        lr: 0.01,
        momentum: 0.9,
        ..Default::default()
    }
    .init()
    .unwrap();
    opt.step(&mut [ParamMut::new("big", big.view_mut(), gbig.view())])
        .unwrap();
    let chunk = 1000;
    let mut small: Vec<ArrayD<f32>> = vals
        .chunks(chunk)
        .map(|c| ArrayD::from_shape_vec(IxDyn(&[c.len()]), c.to_vec()).unwrap())
        .collect();
    let gsmall: Vec<ArrayD<f32>> = grads
        .chunks(chunk)
        .map(|c| ArrayD::from_shape_vec(IxDyn(&[c.len()]), c.to_vec()).unwrap())
        .collect();
    let names: Vec<String> = (0..small.len()).map(|i| format!("p{i}")).collect();
    let mut opt = RmsPropConfig {
        lr: 0.01,
        momentum: 0.9,
        ..Default::default()
    }
    .init()
    .unwrap();
    let mut params: Vec<ParamMut<'_>> = small
        .iter_mut()
        .zip(&gsmall)
        .zip(&names)
        .map(|((p, g), name)| ParamMut::new(name, p.view_mut(), g.view()))
        .collect();
    opt.step(&mut params).unwrap();
    drop(params);
    let flat: Vec<f32> = small.iter().flat_map(|a| a.iter().copied()).collect();
    assert_eq!(big.as_slice().unwrap(), &flat[..]);
}
