//! Inference in chunks of the batch, each chunk through the whole model on one worker (depth
//! first).
//!
//! Run layer by layer over a whole batch, a network writes every activation to memory and reads
//! it back for the next layer: at batch 256 a CIFAR ResNet's first-stage activation is 16 MiB,
//! more than the caches hold. Cut into chunks of a few images, each chunk's activations stay in
//! the cache of the core that runs it from one layer to the next, and the chunks run in
//! parallel (one per worker; the ops inside a chunk still split their work when a worker is
//! free). Evaluation mode only: every image's output depends on that image alone, so chunking
//! changes no result beyond the rounding of the ops whose sums depend on the batch's size (a
//! GEMM's blocking); the chunk size is the model's fixed choice
//! ([`Module::inference_chunk`]), never the thread count's, so the bits are the same on any
//! number of threads.
//!
//! ```
//! use nn_core::layers::{LinearConfig, Sequential};
//! use nn_core::{Tensor, infer, rng};
//! let mut r = rng::seeded(0);
//! let net = Sequential::new().with(LinearConfig::new(4, 3).init(&mut r).unwrap());
//! let x = Tensor::randn(&[10, 4], 0.0, 1.0, &mut r);
//! let y = infer::infer(&net, &x);
//! assert_eq!(y.shape(), &[10, 3]);
//! assert!(!y.requires_grad(), "no graph");
//! // In chunks of 4 images (4 + 4 + 2): the same outputs.
//! let chunked = infer::infer_in_chunks(&net, &x, Some(4));
//! assert_eq!(chunked.shape(), &[10, 3]);
//! ```

use rayon::prelude::*;

use crate::{Ctx, Module, Tensor, with_no_grad, workers};

/// `model`'s evaluation-mode output for `x` (batch first) without a graph, in the chunks of
/// [`Module::inference_chunk`] (the whole batch at once where the model names none).
pub fn infer(model: &dyn Module, x: &Tensor) -> Tensor {
    infer_in_chunks(model, x, model.inference_chunk(x.shape()))
}

/// [`infer`] with an explicit chunk size: `None` (or a chunk of at least the batch) runs the
/// whole batch at once; `Some(c)` runs chunks of `c` images (the last one shorter) in parallel,
/// one per worker, and concatenates their outputs in order.
///
/// # Panics
/// If `x` has no batch axis or `chunk` is `Some(0)`.
pub fn infer_in_chunks(model: &dyn Module, x: &Tensor, chunk: Option<usize>) -> Tensor {
    assert!(
        !x.shape().is_empty(),
        "infer: a scalar input has no batch axis"
    );
    assert!(chunk != Some(0), "infer: a chunk of 0 images");
    let n = x.shape()[0];
    let whole = || with_no_grad(|| workers::run(|| model.forward(x, &mut Ctx::eval())));
    let c = match chunk {
        Some(c) if c < n => c,
        _ => return whole(),
    };
    let parts: Vec<Tensor> = (0..n.div_ceil(c))
        .into_par_iter()
        .map(|i| {
            with_no_grad(|| {
                let part = x.slice_axis(0, i * c..((i + 1) * c).min(n), 1);
                model.forward(&part, &mut Ctx::eval())
            })
        })
        .collect();
    Tensor::concat(&parts, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{BatchNormConfig, Conv2dConfig, Flatten, LinearConfig, ReLU, Sequential};
    use crate::rng;
    use crate::workers::on_threads;

    fn net(seed: u64) -> Sequential {
        let mut r = rng::seeded(seed);
        let mut conv = |i: usize, o: usize| Conv2dConfig::new(i, o, 3).with_padding(1).init(&mut r);
        Sequential::new()
            .with(conv(3, 16).unwrap())
            .with(BatchNormConfig::new(16).init_2d().unwrap())
            .with(ReLU)
            .with(conv(16, 16).unwrap())
            .with(Flatten::new(1, -1).unwrap())
            .with(LinearConfig::new(16 * 8 * 8, 5).init(&mut r).unwrap())
    }

    /// Chunks of every size, including a last short chunk and a chunk past the batch, give the
    /// whole batch's outputs (each image's own), and no graph.
    #[test]
    fn chunks_give_the_whole_batchs_outputs() {
        let (m, mut r) = (net(3), rng::seeded(30));
        let x = Tensor::randn(&[11, 3, 8, 8], 0.0, 1.0, &mut r);
        let want = infer_in_chunks(&m, &x, None).to_vec();
        for c in [1, 3, 4, 11, 40] {
            let y = infer_in_chunks(&m, &x, Some(c));
            assert_eq!(y.shape(), &[11, 5]);
            assert!(!y.requires_grad());
            for (a, b) in y.to_vec().iter().zip(&want) {
                assert!(
                    (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                    "chunk {c}: {a} vs {b}"
                );
            }
        }
        // A model without a chunk of its own runs the whole batch.
        assert_eq!(m.inference_chunk(x.shape()), None);
        assert_eq!(infer(&m, &x).to_vec(), want);
    }

    /// The chunks' outputs do not depend on the number of threads that run them.
    #[test]
    fn chunked_bits_do_not_depend_on_the_thread_count() {
        let (m, mut r) = (net(4), rng::seeded(40));
        let x = Tensor::randn(&[9, 3, 8, 8], 0.0, 1.0, &mut r);
        let one = on_threads(1, || infer_in_chunks(&m, &x, Some(2)).to_vec());
        let three = on_threads(3, || infer_in_chunks(&m, &x, Some(2)).to_vec());
        assert_eq!(one, three);
    }

    #[test]
    #[should_panic(expected = "infer: a chunk of 0 images")]
    fn a_chunk_of_zero_is_a_programmer_error() {
        let (m, mut r) = (net(5), rng::seeded(50));
        let x = Tensor::randn(&[2, 3, 8, 8], 0.0, 1.0, &mut r);
        infer_in_chunks(&m, &x, Some(0));
    }
}
