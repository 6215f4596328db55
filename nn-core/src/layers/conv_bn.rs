//! A convolution followed by batch normalisation (and optionally ReLU, or a residual addition
//! and ReLU), the building blocks of ResNets, fused where the mode allows:
//! [`Conv2d::forward_bn`], [`Conv2d::forward_bn_add_relu`].

use crate::layers::{BatchNorm2d, Conv2d};
use crate::module::{Ctx, Module, Parameter};
use crate::tensor::Tensor;

impl Conv2d {
    /// `bn(self(x))`, then ReLU if `relu`: the same values as the layers one after the other,
    /// computed with fewer passes over memory.
    ///
    /// * Evaluation without a graph ([`crate::no_grad`]), `bn` with running statistics and `x`
    ///   channels-last ([`Tensor::to_channels_last`]): one op. BatchNorm is an affine map per
    ///   channel, `scale = γ/√(running_var + ε)`, `shift = β − running_mean·scale`, folded into
    ///   the convolution's weights and bias; the ReLU is applied before the output is stored.
    /// * Training (one process) on a channels-last input: the convolution gathers BN's batch
    ///   statistics while each output image is in cache (the same values BN would compute),
    ///   then BN + ReLU normalise in one pass.
    /// * Otherwise: the convolution, then [`BatchNorm2d::forward_relu`] (BN and ReLU in one op)
    ///   or [`Module::forward`].
    ///
    /// ```
    /// use nn_core::layers::{BatchNormConfig, Conv2dConfig};
    /// use nn_core::{Ctx, Module, Tensor, no_grad, rng::seeded};
    ///
    /// let conv = Conv2dConfig::new(3, 16, 3).with_padding(1).with_bias(false).init(&mut seeded(0)).unwrap();
    /// let bn = BatchNormConfig::new(16).init_2d().unwrap();
    /// let x = Tensor::randn(&[2, 3, 8, 8], 0.0, 1.0, &mut seeded(1)).to_channels_last();
    /// let _g = no_grad();
    /// let fused = conv.forward_bn(&bn, &x, &mut Ctx::eval(), true);
    /// let plain = bn.forward(&conv.forward(&x, &mut Ctx::eval()), &mut Ctx::eval()).relu();
    /// for (a, b) in fused.to_vec().iter().zip(plain.to_vec()) {
    ///     assert!((a - b).abs() < 1e-5);
    /// }
    /// ```
    pub fn forward_bn(&self, bn: &BatchNorm2d, x: &Tensor, ctx: &mut Ctx, relu: bool) -> Tensor {
        if !ctx.is_train()
            && !crate::is_grad_enabled()
            && let Some(y) = self.inference_fused(bn, x, relu, None)
        {
            return y;
        }
        if ctx.is_train() && ctx.replicas().is_none() {
            // The batch statistics gathered by the convolution while each output image is in
            // cache: BN then makes one pass (normalise + ReLU) instead of two.
            let b = self.bias().map(Parameter::tensor);
            let (y, moments) =
                x.conv2d_with_moments(&self.weight().tensor(), b.as_ref(), self.options());
            return bn.forward_with_moments(&y, ctx, relu, moments);
        }
        let y = self.forward(x, ctx);
        if relu {
            bn.forward_relu(&y, ctx)
        } else {
            bn.forward(&y, ctx)
        }
    }

    /// `relu(bn(self(x)) + shortcut)`, the end of a residual block: the same values and
    /// gradients as [`Conv2d::forward_bn`] (without ReLU) followed by [`Tensor::add_relu`], bit
    /// for bit.
    ///
    /// In training (one process) on channels-last tensors, the batch norm, the addition and the
    /// ReLU are one op: one pass over memory forward (BN's output is never stored) and two
    /// fewer backward. Otherwise (evaluation, data-parallel replicas, row-major tensors) the two
    /// ops.
    ///
    /// ```
    /// use nn_core::layers::{BatchNormConfig, Conv2dConfig};
    /// use nn_core::{Ctx, Module, Tensor, rng::seeded};
    ///
    /// let conv = Conv2dConfig::new(16, 16, 3).with_padding(1).with_bias(false).init(&mut seeded(0)).unwrap();
    /// let bn = BatchNormConfig::new(16).init_2d().unwrap();
    /// let x = Tensor::randn(&[2, 16, 8, 8], 0.0, 1.0, &mut seeded(1)).to_channels_last();
    /// let z = conv.forward_bn_add_relu(&bn, &x, &x, &mut Ctx::train(0));
    /// assert!(z.is_channels_last() && z.to_vec().iter().all(|&v| v >= 0.0));
    /// ```
    ///
    /// # Panics
    /// If the shapes do not fit (the shortcut must have the shape of the convolution's output).
    pub fn forward_bn_add_relu(
        &self,
        bn: &BatchNorm2d,
        x: &Tensor,
        shortcut: &Tensor,
        ctx: &mut Ctx,
    ) -> Tensor {
        if ctx.is_train() && ctx.replicas().is_none() {
            // As `forward_bn`'s training path, then BN + add + ReLU in one op when both tensors
            // are channels-last (`forward_add_relu` falls back to the two ops otherwise).
            let b = self.bias().map(Parameter::tensor);
            let (y, moments) =
                x.conv2d_with_moments(&self.weight().tensor(), b.as_ref(), self.options());
            return bn.forward_add_relu(&y, ctx, moments, shortcut);
        }
        if !ctx.is_train()
            && !crate::is_grad_enabled()
            && let Some(y) = self.inference_fused(bn, x, true, Some(shortcut))
        {
            return y;
        }
        self.forward_bn(bn, x, ctx, false).add_relu(shortcut)
    }

    /// Evaluation without a graph: the convolution with the BatchNorm folded in, then ReLU (or
    /// the residual added, then ReLU) in the same op; `None` where that op does not apply.
    fn inference_fused(
        &self,
        bn: &BatchNorm2d,
        x: &Tensor,
        relu: bool,
        residual: Option<&Tensor>,
    ) -> Option<Tensor> {
        let (mean, var) = (bn.running_mean()?.value(), bn.running_var()?.value());
        let c = bn.num_features();
        if c != self.out_channels() {
            return None;
        }
        let gamma = bn.weight().map(|w| w.tensor().to_vec());
        let beta = bn.bias().map(|b| b.tensor().to_vec());
        let scale: Vec<f32> = (0..c)
            .map(|i| {
                let r = 1.0 / (var[i] as f64 + bn.eps() as f64).sqrt();
                (gamma.as_ref().map_or(1.0, |g| g[i] as f64) * r) as f32
            })
            .collect();
        let shift: Vec<f32> = (0..c)
            .map(|i| beta.as_ref().map_or(0.0, |b| b[i]) - mean[i] * scale[i])
            .collect();
        let b = self.bias().map(Parameter::tensor);
        x.conv2d_affine_inference(
            &self.weight().tensor(),
            b.as_ref(),
            self.options(),
            (&scale, &shift),
            relu,
            residual,
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::layers::{BatchNormConfig, Conv2dConfig};
    use crate::rng::seeded;
    use crate::{Ctx, Module, Tensor, no_grad};

    /// The fused inference op against the layers one by one (trained running statistics, a
    /// bias, with and without ReLU): stride 2 on the direct kernels, and 64 → 64 channels at
    /// stride 1, where the forward takes the Winograd kernels.
    #[test]
    fn fused_inference_matches_the_layers() {
        for (cin, cout, stride, seed) in [(5, 20, 2, 0), (64, 64, 1, 2)] {
            check_fused_inference(cin, cout, stride, seed);
        }
    }

    /// Training: the statistics gathered by the convolution image by image give bit-for-bit
    /// the values, running statistics and gradients of the convolution followed by the batch
    /// norm (images of fewer, exactly and more than 256 pixels; the direct and the Winograd
    /// kernels; with and without ReLU and a convolution bias).
    #[test]
    fn fused_training_is_bit_identical_to_the_layers() {
        for (cin, cout, stride, hw, bias, relu) in [
            (3, 16, 1, 9, false, true),
            (16, 32, 2, 33, true, false),
            (8, 16, 1, 16, false, true),
            (64, 64, 1, 6, false, true),
        ] {
            let mk = || {
                let conv = Conv2dConfig::new(cin, cout, 3)
                    .with_padding(1)
                    .with_stride(stride)
                    .with_bias(bias)
                    .init(&mut seeded(7))
                    .unwrap();
                (conv, BatchNormConfig::new(cout).init_2d().unwrap())
            };
            let x = Tensor::randn(&[3, cin, hw, hw], 0.5, 1.0, &mut seeded(8)).to_channels_last();
            let ((c1, b1), (c2, b2)) = (mk(), mk());
            let mut outs = Vec::new();
            for (fused, conv, bn) in [(true, &c1, &b1), (false, &c2, &b2)] {
                let xs = x.detach().with_requires_grad();
                let mut ctx = Ctx::train(0);
                let y = if fused {
                    conv.forward_bn(bn, &xs, &mut ctx, relu)
                } else {
                    let h = bn.forward(&conv.forward(&xs, &mut ctx), &mut ctx);
                    if relu { h.relu() } else { h }
                };
                assert!(y.is_channels_last());
                let g = Tensor::randn(y.shape(), 0.0, 1.0, &mut seeded(9));
                (&y * &g).sum_all().backward();
                let v = |a: ndarray::ArrayD<f32>| a.iter().copied().collect::<Vec<f32>>();
                outs.push((
                    y.to_vec(),
                    v(xs.grad().unwrap()),
                    v(conv.weight().grad().unwrap()),
                    v(bn.weight().unwrap().grad().unwrap()),
                    v(bn.running_mean().unwrap().value().to_owned()),
                    v(bn.running_var().unwrap().value().to_owned()),
                ));
            }
            assert!(outs[0] == outs[1], "{cin}->{cout} stride {stride} @{hw}");
        }
    }

    /// Training: conv → BN → residual add → ReLU as one op gives bit for bit the output, the
    /// gradients of the input, the shortcut, the convolution's weight, γ and β, and the running
    /// statistics of `forward_bn` (no ReLU) followed by `add_relu`: 16 channels at 28² and 64
    /// at 7² (the vector kernels; 1568 and 392 rows: several blocks of 256 rows, the last one
    /// partial), and 24 channels (the scalar kernels); the shortcut a tensor of its own or the
    /// block's input.
    #[test]
    fn fused_add_relu_training_is_bit_identical_to_the_layers() {
        for (c, hw, n, identity) in [
            (16, 28, 2, false),
            (64, 7, 8, false),
            (24, 10, 3, false),
            (16, 12, 2, true),
        ] {
            let mk = || {
                let conv = Conv2dConfig::new(c, c, 3)
                    .with_padding(1)
                    .with_bias(false)
                    .init(&mut seeded(7))
                    .unwrap();
                let bn = BatchNormConfig::new(c).init_2d().unwrap();
                let mut rng = seeded(10);
                for p in [bn.weight().unwrap(), bn.bias().unwrap()] {
                    let v = Tensor::randn(&[c], 0.5, 1.0, &mut rng).to_array();
                    p.update(|mut w, _| w.assign(&v));
                }
                (conv, bn)
            };
            let x = Tensor::randn(&[n, c, hw, hw], 0.2, 1.0, &mut seeded(8)).to_channels_last();
            let s = Tensor::randn(&[n, c, hw, hw], 0.0, 1.0, &mut seeded(11)).to_channels_last();
            let ((c1, b1), (c2, b2)) = (mk(), mk());
            let mut outs = Vec::new();
            for (fused, conv, bn) in [(true, &c1, &b1), (false, &c2, &b2)] {
                let xs = x.detach().with_requires_grad();
                let ss = if identity {
                    xs.clone()
                } else {
                    s.detach().with_requires_grad()
                };
                let mut ctx = Ctx::train(0);
                let z = if fused {
                    conv.forward_bn_add_relu(bn, &xs, &ss, &mut ctx)
                } else {
                    conv.forward_bn(bn, &xs, &mut ctx, false).add_relu(&ss)
                };
                let op = if fused {
                    "batch_norm_add_relu"
                } else {
                    "add_relu"
                };
                assert_eq!(z.op_name(), Some(op));
                assert!(z.is_channels_last());
                let g = Tensor::randn(z.shape(), 0.0, 1.0, &mut seeded(9));
                (&z * &g).sum_all().backward();
                let bits =
                    |a: ndarray::ArrayD<f32>| a.iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
                let mut o = vec![
                    bits(z.to_array()),
                    bits(xs.grad().unwrap()),
                    bits(conv.weight().grad().unwrap()),
                    bits(bn.weight().unwrap().grad().unwrap()),
                    bits(bn.bias().unwrap().grad().unwrap()),
                    bits(bn.running_mean().unwrap().value().to_owned()),
                    bits(bn.running_var().unwrap().value().to_owned()),
                ];
                if !identity {
                    o.push(bits(ss.grad().unwrap()));
                }
                outs.push(o);
            }
            let what = [
                "z",
                "dx",
                "dw",
                "dγ",
                "dβ",
                "running mean",
                "running var",
                "ds",
            ];
            for (i, (a, b)) in outs[0].iter().zip(&outs[1]).enumerate() {
                assert!(
                    a == b,
                    "{} differs: {c} channels @{hw}, identity {identity}",
                    what[i]
                );
            }
        }
    }

    /// Evaluation: conv → BN → residual add → ReLU as one op (the residual added to each output
    /// image in place) gives bit for bit `forward_bn` (no ReLU) then `add_relu`: 16 channels at
    /// 28² (Winograd), 24 at 10² (the direct kernels), 64 at 7² with 9 images (Winograd's calls
    /// on groups of images, the last one partial); and the residual in row-major order falls
    /// back to the two ops.
    #[test]
    fn fused_add_relu_inference_is_bit_identical_to_the_layers() {
        for (c, hw, n) in [(16, 28, 2), (24, 10, 3), (64, 7, 9)] {
            let conv = Conv2dConfig::new(c, c, 3)
                .with_padding(1)
                .with_bias(false)
                .init(&mut seeded(3))
                .unwrap();
            let bn = BatchNormConfig::new(c).init_2d().unwrap();
            let x = Tensor::randn(&[n, c, hw, hw], 0.0, 1.0, &mut seeded(4)).to_channels_last();
            for step in 0..2 {
                let _ = conv.forward_bn(&bn, &x, &mut Ctx::train(step), true);
            }
            let _g = no_grad();
            let r = Tensor::randn(&[n, c, hw, hw], 0.0, 1.0, &mut seeded(5));
            for shortcut in [r.to_channels_last(), r.clone()] {
                let fused = conv.forward_bn_add_relu(&bn, &x, &shortcut, &mut Ctx::eval());
                let plain = conv
                    .forward_bn(&bn, &x, &mut Ctx::eval(), false)
                    .add_relu(&shortcut);
                assert_eq!(fused.shape(), plain.shape());
                let bits = |t: &Tensor| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert!(bits(&fused) == bits(&plain), "{c} channels @{hw}");
                assert!(fused.to_vec().iter().all(|&v| v >= 0.0));
            }
        }
    }

    fn check_fused_inference(cin: usize, cout: usize, stride: usize, seed: u64) {
        let conv = Conv2dConfig::new(cin, cout, 3)
            .with_padding(1)
            .with_stride(stride)
            .init(&mut seeded(seed))
            .unwrap();
        let bn = BatchNormConfig::new(cout).init_2d().unwrap();
        let x = Tensor::randn(&[3, cin, 9, 9], 0.0, 1.0, &mut seeded(seed + 1)).to_channels_last();
        for step in 0..3 {
            let _ = conv.forward_bn(&bn, &x, &mut Ctx::train(step), true);
        }
        let _g = no_grad();
        for relu in [false, true] {
            let fused = conv.forward_bn(&bn, &x, &mut Ctx::eval(), relu);
            assert!(fused.is_channels_last());
            let y = bn.forward(&conv.forward(&x, &mut Ctx::eval()), &mut Ctx::eval());
            let plain = if relu { y.relu() } else { y };
            for (a, b) in fused.to_vec().iter().zip(plain.to_vec()) {
                assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
            }
        }
    }
}
