//! Model size and memory estimates computed from a [`super::ModelConfig`] alone: parameter
//! count, per-sample activation memory, output shape — and whether the input shape works at all —
//! without building the network or allocating a tensor ([`super::ModelConfig::estimate`]).
//!
//! The estimate walks the same layer sequence as the builder, in shapes only (a `Tracer`, `zoo/trace.rs`):
//!
//! * **parameters** — the scalars of every parameter; equals [`nn_core::Module::num_parameters`]
//!   of the built model (tested for every zoo model), and PyTorch's
//!   `sum(p.numel() for p in model.parameters())` for the twin models.
//! * **buffers** — BatchNorm's running mean and variance and `num_batches_tracked`.
//! * **activations per sample** — the `f32` values the training graph holds per sample from the
//!   forward pass until backward frees it: the output of every op (convolution, normalisation,
//!   activation, pooling, dropout, residual addition, …; views such as `Flatten` hold none).
//!   Checked against [`nn_core::Tensor::graph_size`] of a real forward pass.
//! * **peak evaluation values per sample** — the largest input + output of one layer: what a
//!   no-graph inference pass holds at once.
//!
//! [`ModelEstimate::training_bytes`] combines them for a batch size and an optimizer.

use serde::Serialize;

/// Bytes [`ModelEstimate::training_bytes_upper`] allows for scratch that does not grow with the
/// model: per-thread im2col / Winograd / GEMM packing blocks and the allocator's slack (16 MiB).
pub const SCRATCH_BYTES: u64 = 16 << 20;

/// One layer of an estimate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerEstimate {
    /// The module's dotted name in the built model (`layer2.0.conv1`; the parameters are
    /// `layer2.0.conv1.weight`, …). Parameter-free layers are named as in the builder.
    pub name: String,
    /// What the layer is (`Conv2d(16, 32, k=3, s=2, p=1)`).
    pub layer: String,
    /// The output shape of one sample (`[C, H, W]` or `[features]`).
    pub output: Vec<usize>,
    /// Scalars in the layer's parameters.
    pub parameters: usize,
    /// `f32` values per sample the layer's output keeps in the training graph (0 for views).
    pub activations: usize,
}

/// What a model needs for one input shape and class count (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelEstimate {
    /// The CHW input shape the estimate is for.
    pub input: [usize; 3],
    /// The output shape of one sample (`[classes]`).
    pub output: Vec<usize>,
    /// Scalars in all parameters (= `num_parameters()` of the built model).
    pub parameters: usize,
    /// Scalars in all buffers (BatchNorm running statistics and counters).
    pub buffers: usize,
    /// `f32` values the training graph holds once per step whatever the batch size: the masked
    /// weight copies of DropConnect layers (0 without DropConnect).
    pub per_step_values: usize,
    /// `f32` values the training graph holds per sample (sum of [`LayerEstimate::activations`]).
    pub activations_per_sample: usize,
    /// The largest single-layer output per sample.
    pub largest_layer_per_sample: usize,
    /// The largest input + output of one layer per sample: what a no-graph pass holds at once.
    pub peak_eval_per_sample: usize,
    /// The layers in forward order.
    pub layers: Vec<LayerEstimate>,
}

impl ModelEstimate {
    /// Bytes of the parameters (`f32`).
    pub fn parameter_bytes(&self) -> u64 {
        4 * self.parameters as u64
    }

    /// Bytes of activations the training graph holds per sample.
    pub fn activation_bytes_per_sample(&self) -> u64 {
        4 * self.activations_per_sample as u64
    }

    /// Estimated bytes of one training step with `batch_size` samples and an optimizer keeping
    /// `optimizer_slots` values per parameter (SGD 0, SGD with momentum 1, Adam 2):
    ///
    /// ```text
    /// 4 · ( P·(2 + slots) + buffers + D + batch·(A + 2·L) )
    /// ```
    ///
    /// P parameters (values and gradients), D the per-step values (DropConnect's masked
    /// weights), A activations per sample, L the largest layer per sample (the gradient flowing
    /// back through it and the one it produces). An estimate, not a bound: it leaves out per-op
    /// scratch (im2col buffers, masks, indices) and the data set.
    pub fn training_bytes(&self, batch_size: usize, optimizer_slots: usize) -> u64 {
        let p = self.parameters as u64;
        let per_sample = (self.activations_per_sample + 2 * self.largest_layer_per_sample) as u64;
        4 * (p * (2 + optimizer_slots as u64)
            + self.buffers as u64
            + self.per_step_values as u64
            + batch_size as u64 * per_sample)
    }

    /// A conservative figure for one training step, for checking a job against the machine's
    /// memory: as [`ModelEstimate::training_bytes`] with every activation counted twice (its
    /// value and, at the peak of backward, its gradient and the buffers the pass keeps for
    /// reuse) instead of the largest layer's, plus [`SCRATCH_BYTES`] for the per-thread
    /// convolution and GEMM blocks:
    ///
    /// ```text
    /// 4 · ( P·(2 + slots) + buffers + D + batch·(2·A + L) ) + SCRATCH_BYTES
    /// ```
    ///
    /// Measured (nn-train `examples/estimate_memory.rs`: 32 px, one SGD-momentum step, peak
    /// resident-set growth from before the model was built): the MLP 1024-1024, a 3-stage CNN,
    /// ResNet-20, CIFAR-stem ResNet-18 and a small VGG at batch 64, the CNN and ResNet-20 at
    /// 16 and 256 used 1.04x-1.56x [`ModelEstimate::training_bytes`] and 0.5x-0.9x of this
    /// figure.
    pub fn training_bytes_upper(&self, batch_size: usize, optimizer_slots: usize) -> u64 {
        let p = self.parameters as u64;
        let per_sample = (2 * self.activations_per_sample + self.largest_layer_per_sample) as u64;
        4 * (p * (2 + optimizer_slots as u64)
            + self.buffers as u64
            + self.per_step_values as u64
            + batch_size as u64 * per_sample)
            + SCRATCH_BYTES
    }

    /// Estimated bytes of an evaluation pass (no graph) over `batch_size` samples.
    pub fn eval_bytes(&self, batch_size: usize) -> u64 {
        4 * (self.parameters as u64
            + self.buffers as u64
            + batch_size as u64 * self.peak_eval_per_sample as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zoo::trace::Tracer;

    #[test]
    fn bytes_combine_parameters_and_activations() {
        let mut t = Tracer::new([1, 4, 4]);
        t.conv("0", 2, 3, 1, 1, false).unwrap();
        t.batch_norm("1");
        t.flatten("2");
        t.linear("3", 3, true);
        let e = t.finish();
        assert_eq!(e.parameters, 2 * 9 + 4 + 32 * 3 + 3);
        assert_eq!(e.buffers, 5);
        assert_eq!(e.activations_per_sample, 32 + 32 + 3);
        assert_eq!(e.largest_layer_per_sample, 32);
        assert_eq!(e.peak_eval_per_sample, 64);
        assert_eq!(e.output, vec![3]);
        assert_eq!(
            e.training_bytes(10, 1),
            4 * (e.parameters as u64 * 3 + 5 + 10 * (67 + 64))
        );
        assert_eq!(
            e.training_bytes_upper(10, 1),
            4 * (e.parameters as u64 * 3 + 5 + 10 * (2 * 67 + 32)) + SCRATCH_BYTES
        );
        assert_eq!(e.eval_bytes(10), 4 * (e.parameters as u64 + 5 + 10 * 64));
        let err = Tracer::new([1, 1, 1])
            .max_pool("p", 2, 2, 0, false)
            .unwrap_err();
        assert!(err.0.contains("1×1"), "{}", err.0);
    }
}
