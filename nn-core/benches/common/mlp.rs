//! The MLP training step shared by the `mlp_step` bench and the `perf_compare` example: the net
//! 3072→1024→1024→10 with ReLU, softmax cross-entropy, plain SGD through `Parameter::update`.

use nn_core::layers::{LinearConfig, ReLU, Sequential};
use nn_core::loss::cross_entropy;
use nn_core::{Ctx, Module, Parameter, Tensor, rng::seeded};
use rand::Rng as _;
use rayon::prelude::*;

/// Input features, hidden width, classes (CIFAR-10-sized input).
pub const SIZES: [usize; 4] = [3072, 1024, 1024, 10];

/// A net, a fixed batch and the learning rate.
pub struct Mlp {
    /// Linear, ReLU, Linear, ReLU, Linear (PyTorch's default initialisation).
    pub net: Sequential,
    /// The parameters in order: 0.weight, 0.bias, 2.weight, 2.bias, 4.weight, 4.bias.
    pub params: Vec<Parameter>,
    /// The input batch [batch, 3072] (no gradient).
    pub x: Tensor,
    /// One label per row.
    pub labels: Vec<usize>,
    /// SGD learning rate.
    pub lr: f32,
}

impl Mlp {
    /// A seeded net and a random batch of `batch` rows.
    pub fn new(batch: usize, seed: u64) -> Mlp {
        let mut rng = seeded(seed);
        let [d0, d1, d2, d3] = SIZES;
        let net = Sequential::new()
            .with(
                LinearConfig::new(d0, d1)
                    .init(&mut rng)
                    .expect("valid config"),
            )
            .with(ReLU)
            .with(
                LinearConfig::new(d1, d2)
                    .init(&mut rng)
                    .expect("valid config"),
            )
            .with(ReLU)
            .with(
                LinearConfig::new(d2, d3)
                    .init(&mut rng)
                    .expect("valid config"),
            );
        let params = net.named_parameters().into_iter().map(|(_, p)| p).collect();
        let x = Tensor::randn(&[batch, d0], 0.0, 1.0, &mut rng);
        let labels = (0..batch).map(|_| rng.random_range(0..d3)).collect();
        Mlp {
            net,
            params,
            x,
            labels,
            lr: 0.01,
        }
    }

    /// One step through the modules (what a user writes): forward, loss, backward, SGD update,
    /// gradients cleared. Returns the loss before the update.
    pub fn step(&self) -> f32 {
        let logits = self.net.forward(&self.x, &mut Ctx::train(0));
        self.finish(logits)
    }

    /// The same step with the fused linear+ReLU op (same parameters, same values).
    pub fn step_fused(&self) -> f32 {
        let p: Vec<Tensor> = self.params.iter().map(Parameter::tensor).collect();
        let h1 = self.x.linear_relu(&p[0], Some(&p[1]));
        let h2 = h1.linear_relu(&p[2], Some(&p[3]));
        let logits = h2.linear(&p[4], Some(&p[5]));
        // Only the graph may hold the parameters' values now, so that the update is in place.
        drop((p, h1, h2));
        self.finish(logits)
    }

    /// One step through the modules, timed by phase: [forward + loss, backward, update] in
    /// seconds.
    #[allow(dead_code)] // used by the example, not by the bench
    pub fn step_phases(&self) -> [f64; 3] {
        let t0 = std::time::Instant::now();
        let logits = self.net.forward(&self.x, &mut Ctx::train(0));
        let loss = cross_entropy(&logits, &self.labels);
        loss.item();
        let t1 = std::time::Instant::now();
        loss.backward();
        drop((loss, logits));
        let t2 = std::time::Instant::now();
        self.update();
        let t3 = std::time::Instant::now();
        [t1 - t0, t2 - t1, t3 - t2].map(|d| d.as_secs_f64())
    }

    fn update(&self) {
        for p in &self.params {
            p.update(|w, g| sgd(w, g.expect("every parameter has a gradient"), self.lr));
            p.zero_grad();
        }
    }

    fn finish(&self, logits: Tensor) -> f32 {
        let loss = cross_entropy(&logits, &self.labels);
        let value = loss.item();
        loss.backward();
        drop((loss, logits));
        self.update();
        value
    }
}

/// w ← w − lr·g, in parallel chunks of a fixed size.
fn sgd(mut w: ndarray::ArrayViewMutD<'_, f32>, g: ndarray::ArrayViewD<'_, f32>, lr: f32) {
    const CHUNK: usize = 1 << 15;
    match (w.as_slice_mut(), g.as_slice()) {
        (Some(ws), Some(gs)) => ws
            .par_chunks_mut(CHUNK)
            .zip(gs.par_chunks(CHUNK))
            .for_each(|(w, g)| w.iter_mut().zip(g).for_each(|(w, &g)| *w -= lr * g)),
        _ => w.zip_mut_with(&g, |w, &g| *w -= lr * g),
    }
}
