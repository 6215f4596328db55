//! Batch normalisation (Ioffe & Szegedy 2015, "Batch normalization: accelerating deep network
//! training by reducing internal covariate shift"), PyTorch's `F.batch_norm`.
//!
//! For an input `[N, C, *]` the statistics of channel c run over the batch and every trailing
//! position (M = N·L values):
//!
//! * **training**: normalise with the batch mean μ_B and the *biased* batch variance σ²_B, and,
//!   if running statistics are given, update them with momentum m using the *unbiased* variance:
//!   `running_mean ← (1 − m)·running_mean + m·μ_B`,
//!   `running_var ← (1 − m)·running_var + m·σ²_B·M/(M − 1)`;
//! * **evaluation**: normalise with the running statistics (a fixed affine map per channel).
//!
//! `y = γ·(x − μ)/√(σ² + ε) + β`. Backward in training mode (r = 1/√(σ²_B + ε)):
//! `∂L/∂x = γr·(dy − mean(dy) − x̂·mean(dy·x̂))`; in evaluation mode `∂L/∂x = γr·dy`;
//! `∂L/∂γ = Σ dy·x̂`, `∂L/∂β = Σ dy` in both.

use ndarray::IxDyn;

pub(crate) use row_major::{channel_affine, channel_dx, channel_grad_sums, channel_moments};

use super::channels_last::Then;
use super::{Moments, channels_last};
use crate::autograd::{Backward, BackwardCtx};
use crate::module::Buffer;
use crate::ops::layout;
use crate::tensor::{Array, Tensor};

/// The running mean and variance buffers of a batch-norm (or instance-norm) layer, shape `[C]`.
#[derive(Debug, Clone, Copy)]
pub struct RunningStats<'a> {
    /// Running mean, updated in training mode.
    pub mean: &'a Buffer,
    /// Running (unbiased) variance, updated in training mode.
    pub var: &'a Buffer,
}

/// Mode and constants of [`Tensor::batch_norm`] (PyTorch's defaults: training, momentum 0.1,
/// ε = 1e-5).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BatchNormOptions {
    /// Use (and update) batch statistics (`true`) or the running statistics (`false`).
    pub training: bool,
    /// Weight of the new batch statistic in the running averages (the layer passes 1/t for a
    /// cumulative average).
    pub momentum: f32,
    /// Added to the variance before the square root.
    pub eps: f32,
}

impl Default for BatchNormOptions {
    fn default() -> Self {
        BatchNormOptions {
            training: true,
            momentum: 0.1,
            eps: 1e-5,
        }
    }
}

/// Splits `[N, C, *]` into (N, C, L) for `op`.
pub(crate) fn ncl(op: &str, shape: &[usize]) -> (usize, usize, usize) {
    assert!(
        shape.len() >= 2,
        "{op}: expected an input [N, C, *] with at least 2 dimensions, got shape {shape:?}"
    );
    (shape[0], shape[1], shape[2..].iter().product())
}

/// Checks that an optional per-channel parameter has shape `[c]`.
pub(crate) fn check_channel_param(op: &str, what: &str, t: Option<&Tensor>, c: usize) {
    if let Some(t) = t {
        assert!(
            t.shape() == [c],
            "{op}: {what} has shape {:?}, expected [{c}] (one value per channel)",
            t.shape()
        );
    }
}

/// The values of an optional per-channel tensor, or `default` repeated.
pub(crate) fn channel_values(t: Option<&Tensor>, c: usize, default: f32) -> Vec<f32> {
    t.map_or_else(|| vec![default; c], Tensor::to_vec)
}

struct BatchNormBackward {
    /// The mean and 1/√(σ² + ε) used in the forward pass, per channel.
    mean: Vec<f32>,
    rstd: Vec<f32>,
    training: bool,
    has_weight: bool,
    has_bias: bool,
    /// A ReLU follows, fused (the op's output is max(0, BN(x))).
    relu: bool,
    /// The per-channel affine map of the forward pass, `y = relu?(fma(scale, x, shift))`: the
    /// channels-last backward recomputes the ReLU mask from it instead of reading the output.
    scale: Vec<f32>,
    shift: Vec<f32>,
    /// The input is channels-last (4-d).
    channels_last: bool,
}

impl Backward for BatchNormBackward {
    fn name(&self) -> &'static str {
        "batch_norm"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, grad: Array) -> Vec<Option<Array>> {
        let shape = ctx.inputs[0].shape();
        let (n, c, l) = ncl("batch_norm", shape);
        let gamma = channel_values(self.has_weight.then(|| &ctx.inputs[1]), c, 1.0);
        if self.channels_last {
            return self.backward_channels_last(ctx, grad, &gamma);
        }
        let x = ctx.inputs[0].data().as_standard_layout();
        let x = x.as_slice().expect("standard layout");
        let mut grad = grad;
        if self.relu {
            // ∂L/∂BN(x) = ∂L/∂y · 𝟙[y > 0].
            let y = ctx.output.as_standard_layout();
            ndarray::Zip::from(&mut grad)
                .and(&y)
                .for_each(|g, &y| *g = if y <= 0.0 { 0.0 } else { *g });
        }
        let dy_std = grad.as_standard_layout();
        let dy = dy_std.as_slice().expect("standard layout");
        let sums = channel_grad_sums(x, dy, (n, c, l), &self.mean);
        let m = (n * l) as f64;
        let dx = ctx.needs_grad(0).then(|| {
            let coef = self.coefficients(&gamma, &sums, m);
            let v = channel_dx(x, dy, (c, l), &coef);
            Array::from_shape_vec(IxDyn(shape), v).expect("input shape")
        });
        // The upstream gradient is consumed here: its buffer goes back to the pool for the next
        // step (instead of to the system allocator, whose fresh pages fault on first touch).
        drop(dy_std);
        crate::buffer_pool::recycle(grad);
        self.outputs(ctx, dx, &sums)
    }
}

impl BatchNormBackward {
    /// The per-channel (a, b, k) of dx = a·dy + b·x + k.
    fn coefficients(&self, gamma: &[f32], sums: &[(f64, f64)], m: f64) -> Vec<(f32, f32, f32)> {
        (0..gamma.len())
            .map(|ci| {
                let (g, r, mu) = (gamma[ci] as f64, self.rstd[ci] as f64, self.mean[ci] as f64);
                if self.training {
                    let (s1, s2) = sums[ci];
                    // dx = γr·dy − γr³·S2/M·(x − μ) − γr·S1/M, S2 = Σ dy·(x − μ)
                    let b = -g * r * r * r * s2 / m;
                    ((g * r) as f32, b as f32, (-g * r * s1 / m - b * mu) as f32)
                } else {
                    ((g * r) as f32, 0.0, 0.0)
                }
            })
            .collect()
    }

    /// Backward for a channels-last input: two passes over rows of channels (reading x and the
    /// upstream gradient; the ReLU mask recomputed from x, the output is not read), dx written
    /// over the upstream gradient's buffer.
    fn backward_channels_last(
        &self,
        ctx: &BackwardCtx<'_>,
        grad: Array,
        gamma: &[f32],
    ) -> Vec<Option<Array>> {
        let shape = ctx.inputs[0].shape().to_vec();
        let (n, c, l) = ncl("batch_norm", &shape);
        let x = ctx.inputs[0]
            .data()
            .as_slice_memory_order()
            .expect("channels-last is contiguous");
        let mut g = layout::into_channels_last(grad);
        let y = self
            .relu
            .then_some((self.scale.as_slice(), self.shift.as_slice()));
        let gs = g.as_slice_memory_order_mut().expect("channels-last");
        let sums = channels_last::grad_sums(x, gs, y, c, &self.mean);
        let dx = if ctx.needs_grad(0) {
            let coef = self.coefficients(gamma, &sums, (n * l) as f64);
            channels_last::input_grad_in_place(x, gs, y, c, &coef);
            Some(g)
        } else {
            crate::buffer_pool::recycle(g);
            None
        };
        self.outputs(ctx, dx, &sums)
    }

    /// [dx, dγ, dβ] (the parameter gradients from the sums).
    fn outputs(
        &self,
        ctx: &BackwardCtx<'_>,
        dx: Option<Array>,
        sums: &[(f64, f64)],
    ) -> Vec<Option<Array>> {
        let c = sums.len();
        let mut out = vec![dx];
        let vec1 = |v: Vec<f32>| Array::from_shape_vec(IxDyn(&[c]), v).expect("[C]");
        if self.has_weight {
            let i = 1;
            out.push(ctx.needs_grad(i).then(|| {
                vec1(
                    sums.iter()
                        .zip(&self.rstd)
                        .map(|(s, &r)| (s.1 * r as f64) as f32)
                        .collect(),
                )
            }));
        }
        if self.has_bias {
            let i = 1 + self.has_weight as usize;
            out.push(
                ctx.needs_grad(i)
                    .then(|| vec1(sums.iter().map(|s| s.0 as f32).collect())),
            );
        }
        out
    }
}

impl Tensor {
    /// `relu(batch_norm(...))` in one op (one pass over memory instead of two, forward and
    /// backward); the same values and gradients as the two ops. See [`Tensor::batch_norm`].
    ///
    /// # Panics
    /// As [`Tensor::batch_norm`].
    pub fn batch_norm_relu(
        &self,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        running: Option<RunningStats<'_>>,
        o: BatchNormOptions,
    ) -> Tensor {
        self.batch_norm_impl(weight, bias, running, o, true, None)
    }

    /// [`Tensor::batch_norm`] (then ReLU if `relu`) of a channels-last input whose per-channel
    /// moments were already gathered (by the convolution that produced it,
    /// [`Tensor::conv2d_with_moments`]): in training mode the statistics pass over the input is
    /// skipped. `moments` must be those of `self` (they are ignored for other inputs or modes).
    pub(crate) fn batch_norm_with_moments(
        &self,
        (weight, bias): (Option<&Tensor>, Option<&Tensor>),
        running: Option<RunningStats<'_>>,
        o: BatchNormOptions,
        relu: bool,
        moments: Option<Vec<Moments>>,
    ) -> Tensor {
        self.batch_norm_impl(weight, bias, running, o, relu, moments)
    }

    /// Batch normalisation of this `[N, C, *]` tensor, as PyTorch's `F.batch_norm(x,
    /// running_mean, running_var, weight, bias, training, momentum, eps)`; see the [module
    /// docs](crate::ops::norm). `weight` (γ) and `bias` (β) are `[C]` and optional (affine off);
    /// `running` is optional in training mode (no tracking) and required in evaluation mode.
    ///
    /// ```
    /// use nn_core::{Tensor, ops::BatchNormOptions};
    /// let x = Tensor::from_vec(vec![1.0, 3.0, 10.0, 30.0], &[2, 2]);
    /// let y = x.batch_norm(None, None, None, BatchNormOptions::default());
    /// let v = y.to_vec(); // each column normalised to mean 0, (biased) variance 1
    /// assert!((v[0] + 1.0).abs() < 1e-4 && (v[2] - 1.0).abs() < 1e-4);
    /// ```
    ///
    /// # Panics
    /// If the shapes do not fit, if training with one value per channel (as PyTorch), or if
    /// evaluating without running statistics.
    pub fn batch_norm(
        &self,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        running: Option<RunningStats<'_>>,
        o: BatchNormOptions,
    ) -> Tensor {
        self.batch_norm_impl(weight, bias, running, o, false, None)
    }

    fn batch_norm_impl(
        &self,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        running: Option<RunningStats<'_>>,
        o: BatchNormOptions,
        relu: bool,
        pre: Option<Vec<Moments>>,
    ) -> Tensor {
        let (x, channels_last) = self.batch_norm_input();
        let st = self.batch_norm_statistics(&x, channels_last, (weight, bias), running, o, pre);
        let y = if channels_last {
            let then = if relu { Then::Relu } else { Then::Nothing };
            let y = channels_last::affine(&x, st.c(), &st.scale, &st.shift, then);
            layout::array_in(layout::Format::ChannelsLast, self.shape(), y)
        } else {
            let (_, c, l) = ncl("batch_norm", self.shape());
            let y = channel_affine(&x, (c, l), &st.scale, &st.shift, relu);
            Array::from_shape_vec(IxDyn(self.shape()), y).expect("shape")
        };
        let mut inputs = vec![self.clone()];
        inputs.extend(weight.cloned());
        inputs.extend(bias.cloned());
        Tensor::from_op(
            y,
            inputs,
            st.into_backward(o.training, (weight, bias), relu, channels_last),
        )
    }

    /// This input's values in memory order (borrowed unless they have to be gathered), and
    /// whether it is channels-last (else row-major order).
    fn batch_norm_input(&self) -> (std::borrow::Cow<'_, [f32]>, bool) {
        use std::borrow::Cow;
        let channels_last = layout::is_channels_last(self.data());
        let x = if channels_last {
            Cow::Borrowed(
                self.data()
                    .as_slice_memory_order()
                    .expect("channels-last is contiguous"),
            )
        } else {
            match self.data().as_slice() {
                Some(s) => Cow::Borrowed(s),
                None => Cow::Owned(self.data().iter().copied().collect()),
            }
        };
        (x, channels_last)
    }

    /// Everything batch norm computes before it normalises: the checks, the statistics
    /// (training: of the batch, from `pre` if given, and the running statistics updated;
    /// evaluation: the running statistics) and the per-channel affine map.
    fn batch_norm_statistics(
        &self,
        x: &[f32],
        channels_last: bool,
        (weight, bias): (Option<&Tensor>, Option<&Tensor>),
        running: Option<RunningStats<'_>>,
        o: BatchNormOptions,
        pre: Option<Vec<Moments>>,
    ) -> Statistics {
        let (n, c, l) = ncl("batch_norm", self.shape());
        check_channel_param("batch_norm", "weight", weight, c);
        check_channel_param("batch_norm", "bias", bias, c);
        if let Some(r) = running {
            assert!(
                r.mean.shape() == [c] && r.var.shape() == [c],
                "batch_norm: running statistics of shapes {:?} and {:?} do not match {c} channels",
                r.mean.shape(),
                r.var.shape()
            );
        }
        let (mean, rstd): (Vec<f32>, Vec<f32>) = if o.training {
            let m = n * l;
            assert!(
                m > 1,
                "batch_norm: expected more than 1 value per channel when training, got input \
                 shape {:?}",
                self.shape()
            );
            let moments = if channels_last {
                match pre {
                    Some(m) => {
                        assert_eq!(m.len(), c, "batch_norm: moments of {} channels", m.len());
                        m
                    }
                    None => channels_last::moments(x, c, l),
                }
            } else {
                channel_moments(x, (n, c, l))
            };
            if let Some(r) = running {
                let unbias = m as f64 / (m as f64 - 1.0);
                let mo = o.momentum as f64;
                r.mean.update(|mut v| {
                    for (rm, mm) in v.iter_mut().zip(&moments) {
                        *rm = ((1.0 - mo) * *rm as f64 + mo * mm.mean) as f32;
                    }
                });
                r.var.update(|mut v| {
                    for (rv, mm) in v.iter_mut().zip(&moments) {
                        *rv = ((1.0 - mo) * *rv as f64 + mo * mm.var() * unbias) as f32;
                    }
                });
            }
            moments
                .iter()
                .map(|m| {
                    (
                        m.mean as f32,
                        (1.0 / (m.var() + o.eps as f64).sqrt()) as f32,
                    )
                })
                .unzip()
        } else {
            let r = running.unwrap_or_else(|| {
                panic!("batch_norm: running statistics are required in evaluation mode")
            });
            let mean = r.mean.value().iter().copied().collect();
            let rstd = r
                .var
                .value()
                .iter()
                .map(|&v| (1.0 / (v as f64 + o.eps as f64).sqrt()) as f32)
                .collect();
            (mean, rstd)
        };
        let gamma = channel_values(weight, c, 1.0);
        let beta = channel_values(bias, c, 0.0);
        let scale: Vec<f32> = gamma.iter().zip(&rstd).map(|(g, r)| g * r).collect();
        let shift: Vec<f32> = (0..c).map(|i| beta[i] - mean[i] * scale[i]).collect();
        Statistics {
            mean,
            rstd,
            scale,
            shift,
        }
    }
}

/// The per-channel statistics of a forward pass and the affine map they give,
/// `BN(x) = scale·x + shift`.
struct Statistics {
    mean: Vec<f32>,
    rstd: Vec<f32>,
    scale: Vec<f32>,
    shift: Vec<f32>,
}

impl Statistics {
    /// The number of channels.
    fn c(&self) -> usize {
        self.mean.len()
    }

    /// The backward node of an op that normalised with these statistics.
    fn into_backward(
        self,
        training: bool,
        (weight, bias): (Option<&Tensor>, Option<&Tensor>),
        relu: bool,
        channels_last: bool,
    ) -> BatchNormBackward {
        BatchNormBackward {
            mean: self.mean,
            rstd: self.rstd,
            training,
            has_weight: weight.is_some(),
            has_bias: bias.is_some(),
            relu,
            channels_last,
            scale: self.scale,
            shift: self.shift,
        }
    }
}

mod add_relu;
mod row_major;

#[cfg(test)]
mod tests;
