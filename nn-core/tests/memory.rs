//! Memory does not grow over training: 1,000 SGD steps of a small MLP (forward, loss, backward,
//! in-place update through `Parameter::update`) leave the number of live tensor nodes and the
//! resident memory flat after warm-up, because backward frees the graph. A control run that keeps
//! its graphs alive shows that the counter detects a leak.
//!
//! Everything runs in one test function: the node counter is process-wide and the test harness
//! would otherwise run tests of this file concurrently.

use nn_core::layers::{LinearConfig, ReLU, Sequential};
use nn_core::rng::seeded;
use nn_core::tensor::live_tensor_count;
use nn_core::{Ctx, Module, Tensor, with_no_grad};

/// Resident set size in bytes, from /proc/self/statm (Linux); `None` elsewhere.
fn resident_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Mean squared error from the basic ops: Σ (y − t)² / n.
fn mse(y: &Tensor, t: &Tensor) -> Tensor {
    let d = y + &(t * &Tensor::scalar(-1.0));
    (&(&d * &d) * &Tensor::scalar(1.0 / y.len() as f32)).sum_all()
}

fn step(model: &Sequential, x: &Tensor, t: &Tensor, lr: f32) -> f32 {
    let loss = mse(&model.forward(x, &mut Ctx::train(0)), t);
    let value = loss.item();
    loss.backward();
    for (_, p) in model.named_parameters() {
        p.update(|mut w, g| w.scaled_add(-lr, &g.expect("every parameter has a gradient")));
        p.zero_grad();
    }
    value
}

#[test]
fn training_steps_do_not_grow_memory() {
    let mut rng = seeded(0);
    let model = Sequential::new()
        .with(LinearConfig::new(32, 128).init(&mut rng).unwrap())
        .with(ReLU)
        .with(LinearConfig::new(128, 128).init(&mut rng).unwrap())
        .with(ReLU)
        .with(LinearConfig::new(128, 10).init(&mut rng).unwrap());
    let x = Tensor::randn(&[32, 32], 0.0, 1.0, &mut rng);
    let t = Tensor::randn(&[32, 10], 0.0, 0.5, &mut rng);
    let weight_ptr = |m: &Sequential| m.named_parameters()[0].1.value().as_ptr() as usize;

    let first = step(&model, &x, &t, 0.05);
    for _ in 0..99 {
        step(&model, &x, &t, 0.05);
    }
    let nodes_after_warmup = live_tensor_count();
    let rss_after_warmup = resident_bytes();
    let ptr = weight_ptr(&model);
    let mut max_nodes = nodes_after_warmup;
    let mut last = first;
    for i in 0..900 {
        last = step(&model, &x, &t, 0.05);
        // Other test binaries are separate processes, so the count is ours alone.
        max_nodes = max_nodes.max(live_tensor_count());
        if i % 100 == 0 {
            // Eval passes build no graph and leave nothing behind either.
            with_no_grad(|| model.forward(&x, &mut Ctx::eval()));
        }
    }
    assert!(
        last < 0.5 * first,
        "training should make progress: {first} → {last}"
    );
    assert_eq!(
        live_tensor_count(),
        nodes_after_warmup,
        "live tensor nodes changed between step 100 and step 1000"
    );
    assert_eq!(max_nodes, nodes_after_warmup, "nodes outlived their step");
    // No graph kept the weights alive: every update was in place, never copied on write.
    assert_eq!(weight_ptr(&model), ptr, "parameter storage was reallocated");
    if let (Some(before), Some(after)) = (rss_after_warmup, resident_bytes()) {
        // A leaked step would keep its activations and a copy of every weight (updates copy on
        // write while a graph shares the value: 22k floats, 88 KB): 900 leaked steps would add
        // more than 80 MiB. Allow a few MiB of allocator noise.
        let growth = after.saturating_sub(before);
        assert!(
            growth < 8 << 20,
            "resident memory grew by {growth} bytes over 900 steps"
        );
    }

    // Control: keeping each step's graph alive (no backward) is detected as growth.
    let before = live_tensor_count();
    let kept: Vec<Tensor> = (0..10)
        .map(|_| mse(&model.forward(&x, &mut Ctx::train(0)), &t))
        .collect();
    let grown = live_tensor_count() - before;
    assert!(
        grown >= 10 * 8,
        "a kept graph must show as live nodes (grew by {grown})"
    );
    drop(kept);
    assert_eq!(
        live_tensor_count(),
        before,
        "dropping the graphs frees every node"
    );
}
