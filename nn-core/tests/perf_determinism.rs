//! The performance machinery must not change results: a few training steps of an MLP give
//! bitwise the same parameters on 1, 2 and 3 rayon threads, and with the buffer pool on or off
//! (pooled buffers hold stale values from earlier steps; every op must overwrite them).

use nn_core::layers::{LinearConfig, ReLU, Sequential};
use nn_core::loss::cross_entropy;
use nn_core::{Ctx, Module, Tensor, buffer_pool, rng::seeded};

/// Trains a 300→256→256→10 MLP (sizes that take the pooled and parallel paths) for 3 steps, with
/// both the modules and the fused linear+ReLU op, and returns the bits of every parameter.
fn train() -> Vec<u32> {
    let mut rng = seeded(42);
    let net = Sequential::new()
        .with(LinearConfig::new(300, 256).init(&mut rng).unwrap())
        .with(ReLU)
        .with(LinearConfig::new(256, 256).init(&mut rng).unwrap())
        .with(ReLU)
        .with(LinearConfig::new(256, 10).init(&mut rng).unwrap());
    let params: Vec<_> = net.named_parameters().into_iter().map(|(_, p)| p).collect();
    let x = Tensor::randn(&[96, 300], 0.0, 1.0, &mut rng);
    let labels: Vec<usize> = (0..96).map(|i| (i * 7) % 10).collect();
    for step in 0..4 {
        let logits = if step % 2 == 0 {
            net.forward(&x, &mut Ctx::train(0))
        } else {
            let p: Vec<Tensor> = params.iter().map(|p| p.tensor()).collect();
            x.linear_relu(&p[0], Some(&p[1]))
                .linear_relu(&p[2], Some(&p[3]))
                .linear(&p[4], Some(&p[5]))
        };
        cross_entropy(&logits, &labels).backward();
        for p in &params {
            p.update(|mut w, g| w.scaled_add(-0.1, &g.unwrap()));
            p.zero_grad();
        }
    }
    params
        .iter()
        .flat_map(|p| p.value().iter().map(|v| v.to_bits()).collect::<Vec<_>>())
        .collect()
}

fn on_threads(n: usize) -> Vec<u32> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .unwrap()
        .install(train)
}

#[test]
fn training_is_bitwise_identical_on_any_number_of_threads() {
    let one = on_threads(1);
    assert!(one == on_threads(2), "1 vs 2 threads differ");
    assert!(one == on_threads(3), "1 vs 3 threads differ");
}

#[test]
fn training_is_bitwise_identical_with_and_without_the_pool() {
    let with_pool = train();
    let again = train(); // now mostly from buffers the first run returned
    let capacity = buffer_pool::capacity_bytes();
    buffer_pool::set_capacity_bytes(0);
    let without = train();
    buffer_pool::set_capacity_bytes(capacity);
    assert!(
        with_pool == again,
        "a second run on recycled buffers differs"
    );
    assert!(with_pool == without, "pool on vs off differ");
}

#[test]
fn a_training_step_reuses_its_buffers() {
    // After a warm-up step, a step's large buffers come from the pool (counted on this thread;
    // the GEMM's own temporaries may be taken on worker threads).
    let mut rng = seeded(3);
    let w = nn_core::Parameter::new(Tensor::randn(&[512, 300], 0.0, 0.05, &mut rng).to_array());
    let x = Tensor::randn(&[128, 300], 0.0, 1.0, &mut rng);
    let step = || {
        let y = x.linear_relu(&w.tensor(), None);
        (&y * &y).sum_all().backward();
        w.update(|mut v, g| v.scaled_add(-0.01, &g.unwrap()));
        w.zero_grad();
    };
    step();
    step();
    let before = buffer_pool::thread_stats();
    step();
    let after = buffer_pool::thread_stats();
    let hits = after.hits - before.hits;
    let misses = after.misses - before.misses;
    assert!(
        hits >= 2,
        "expected the output and the weight gradient to be reused: {hits} hits"
    );
    assert_eq!(misses, 0, "no large allocation in a warm step");
}

/// A small channels-last residual network (direct convolutions with stride 1 and 2, a 1×1
/// projection, fused conv → BN → ReLU, fused BN + add + ReLU, then 128-channel convolutions on the
/// NHWC im2col + GEMM path — 3×3 stride 2 and a plain 1×1 — max pooling and global pooling):
/// 3 training steps, the bits of every parameter.
fn train_channels_last() -> Vec<u32> {
    use nn_core::layers::{BatchNormConfig, Conv2dConfig};
    let mut rng = seeded(7);
    let conv = |ci, co, k, s, rng: &mut _| {
        Conv2dConfig::new(ci, co, k)
            .with_stride(s)
            .with_padding(k / 2)
            .with_bias(false)
            .init(rng)
            .unwrap()
    };
    let stem = conv(3, 16, 3, 1, &mut rng);
    let c1 = conv(16, 32, 3, 2, &mut rng);
    let c2 = conv(32, 32, 3, 1, &mut rng);
    let proj = conv(16, 32, 1, 2, &mut rng);
    let wide = conv(32, 128, 1, 1, &mut rng);
    let wide3 = conv(128, 128, 3, 2, &mut rng);
    let wide1 = conv(128, 128, 1, 1, &mut rng);
    let bns: Vec<_> = [16, 32, 32, 32, 128, 128, 128]
        .iter()
        .map(|&c| BatchNormConfig::new(c).init_2d().unwrap())
        .collect();
    let fc = LinearConfig::new(128, 10).init(&mut rng).unwrap();
    let x = Tensor::randn(&[16, 3, 16, 16], 0.0, 1.0, &mut rng);
    let labels: Vec<usize> = (0..16).map(|i| (i * 3) % 10).collect();
    let mut params = Vec::new();
    for m in [&stem, &c1, &c2, &proj, &wide, &wide3, &wide1] {
        params.extend(m.named_parameters().into_iter().map(|(_, p)| p));
    }
    for m in &bns {
        params.extend(m.named_parameters().into_iter().map(|(_, p)| p));
    }
    params.extend(fc.named_parameters().into_iter().map(|(_, p)| p));
    for step in 0..3 {
        let ctx = &mut Ctx::train(step);
        let h = stem.forward_bn(&bns[0], &x.to_channels_last(), ctx, true);
        let a = c1.forward_bn(&bns[1], &h, ctx, true);
        let s = proj.forward_bn(&bns[3], &h, ctx, false);
        let y = c2.forward_bn_add_relu(&bns[2], &a, &s, ctx);
        let y = wide.forward_bn(&bns[4], &y, ctx, true);
        let y = wide3.forward_bn(&bns[5], &y, ctx, true);
        let y = wide1.forward_bn(&bns[6], &y, ctx, true);
        let y = y
            .max_pool2d(nn_core::ops::MaxPool2dOptions::new(2))
            .global_avg_pool2d()
            .reshape(&[16, 128]);
        cross_entropy(&fc.forward(&y, ctx), &labels).backward();
        for p in &params {
            p.update(|mut w, g| w.scaled_add(-0.1, &g.unwrap()));
            p.zero_grad();
        }
    }
    params
        .iter()
        .flat_map(|p| p.value().iter().map(|v| v.to_bits()).collect::<Vec<_>>())
        .collect()
}

#[test]
fn channels_last_training_is_bitwise_identical_on_any_number_of_threads_and_pool_setting() {
    let pool = |n: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let one = pool(1).install(train_channels_last);
    assert!(
        one == pool(2).install(train_channels_last),
        "1 vs 2 threads differ"
    );
    assert!(
        one == pool(3).install(train_channels_last),
        "1 vs 3 threads differ"
    );
    let capacity = buffer_pool::capacity_bytes();
    buffer_pool::set_capacity_bytes(0);
    let without = pool(2).install(train_channels_last);
    buffer_pool::set_capacity_bytes(capacity);
    assert!(one == without, "pool on vs off differ");
}
