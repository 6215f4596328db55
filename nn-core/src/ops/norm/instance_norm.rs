//! Instance normalisation (Ulyanov, Vedaldi & Lempitsky 2016, "Instance normalization: the
//! missing ingredient for fast stylization"), PyTorch's `F.instance_norm`.
//!
//! Every (sample, channel) plane of `[N, C, *]` is normalised with its own mean and biased
//! variance (group normalisation with one channel per group), then `y = γ_c·x̂ + β_c`. With
//! running statistics and `use_input_stats` (training), the running averages are updated with
//! the batch means of the per-instance statistics:
//! `running_mean ← (1 − m)·running_mean + m·mean_n(μ_nc)`,
//! `running_var ← (1 − m)·running_var + m·mean_n(σ²_nc·L/(L − 1))`; without `use_input_stats`
//! the running statistics normalise, as batch normalisation in evaluation mode.

use ndarray::IxDyn;
use rayon::prelude::*;

use super::Moments;
use super::batch_norm::{BatchNormOptions, RunningStats, channel_values, check_channel_param, ncl};
use super::group_norm::{GroupNormBackward, group_forward};
use crate::tensor::{Array, Tensor};

impl Tensor {
    /// Instance normalisation of this `[N, C, *]` tensor, as PyTorch's `F.instance_norm(x,
    /// running_mean, running_var, weight, bias, use_input_stats, momentum, eps)` with
    /// `use_input_stats = o.training`; see the [module docs](crate::ops::norm).
    ///
    /// ```
    /// use nn_core::{Tensor, ops::BatchNormOptions};
    /// let x = Tensor::from_vec(vec![1.0, 3.0, 10.0, 30.0], &[1, 2, 2]);
    /// let o = BatchNormOptions { eps: 0.0, ..Default::default() };
    /// assert_eq!(x.instance_norm(None, None, None, o).to_vec(), vec![-1.0, 1.0, -1.0, 1.0]);
    /// ```
    ///
    /// # Panics
    /// If the shapes do not fit, if using input statistics with one value per plane while
    /// tracking, or if not using input statistics without running statistics.
    pub fn instance_norm(
        &self,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        running: Option<RunningStats<'_>>,
        o: BatchNormOptions,
    ) -> Tensor {
        let (n, c, l) = ncl("instance_norm", self.shape());
        if !o.training {
            assert!(
                running.is_some(),
                "instance_norm: running statistics are required when not using input statistics"
            );
            return self.batch_norm(weight, bias, running, o);
        }
        check_channel_param("instance_norm", "weight", weight, c);
        check_channel_param("instance_norm", "bias", bias, c);
        let x = self.data().as_standard_layout();
        let x = x.as_slice().expect("standard layout");
        let moments: Vec<Moments> = if l == 0 {
            vec![Moments::default(); n * c]
        } else {
            x.par_chunks(l).map(Moments::of).collect()
        };
        if let Some(r) = running {
            assert!(
                l > 1,
                "instance_norm: expected more than 1 spatial element when training, got input \
                 shape {:?}",
                self.shape()
            );
            assert!(
                r.mean.shape() == [c] && r.var.shape() == [c],
                "instance_norm: running statistics of shapes {:?} and {:?} do not match {c} \
                 channels",
                r.mean.shape(),
                r.var.shape()
            );
            let (mo, unbias) = (o.momentum as f64, l as f64 / (l as f64 - 1.0));
            let avg = |f: &dyn Fn(&Moments) -> f64, ch: usize| {
                (0..n).map(|ni| f(&moments[ni * c + ch])).sum::<f64>() / n as f64
            };
            r.mean.update(|mut v| {
                for (ch, rm) in v.iter_mut().enumerate() {
                    *rm = ((1.0 - mo) * *rm as f64 + mo * avg(&|m| m.mean, ch)) as f32;
                }
            });
            r.var.update(|mut v| {
                for (ch, rv) in v.iter_mut().enumerate() {
                    *rv = ((1.0 - mo) * *rv as f64 + mo * avg(&|m| m.var() * unbias, ch)) as f32;
                }
            });
        }
        let (mean, rstd): (Vec<f32>, Vec<f32>) = moments
            .iter()
            .map(|m| {
                (
                    m.mean as f32,
                    (1.0 / (m.var() + o.eps as f64).sqrt()) as f32,
                )
            })
            .unzip();
        let gamma = channel_values(weight, c, 1.0);
        let beta = channel_values(bias, c, 0.0);
        let y = group_forward(x, (c, l), c, (&mean, &rstd), (&gamma, &beta));
        let mut inputs = vec![self.clone()];
        inputs.extend(weight.cloned());
        inputs.extend(bias.cloned());
        Tensor::from_op(
            Array::from_shape_vec(IxDyn(self.shape()), y).expect("shape"),
            inputs,
            GroupNormBackward {
                groups: c,
                mean,
                rstd,
                has_weight: weight.is_some(),
                has_bias: bias.is_some(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::assert_gradients;
    use crate::module::Buffer;

    #[test]
    fn running_stats_average_the_instances() {
        // Two instances of one channel: [0, 2] (mean 1, unbiased var 2), [4, 8] (6, 8).
        let x = Tensor::from_vec(vec![0.0, 2.0, 4.0, 8.0], &[2, 1, 2]);
        let rm = Buffer::new(Array::zeros(IxDyn(&[1])));
        let rv = Buffer::new(Array::ones(IxDyn(&[1])));
        let r = RunningStats {
            mean: &rm,
            var: &rv,
        };
        let _ = x.instance_norm(None, None, Some(r), BatchNormOptions::default());
        assert!((rm.value()[0] - 0.35).abs() < 1e-6);
        assert!((rv.value()[0] - (0.9 + 0.1 * 5.0)).abs() < 1e-6);
        // Not using input statistics: the running ones normalise.
        let o = BatchNormOptions {
            training: false,
            eps: 0.0,
            ..Default::default()
        };
        let y = x.instance_norm(None, None, Some(r), o);
        assert!((y.to_vec()[0] - (0.0 - 0.35) / 1.4f32.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn gradients() {
        let o = BatchNormOptions::default();
        assert_gradients(
            |t| t[0].instance_norm(Some(&t[1]), Some(&t[2]), None, o),
            &[&[2, 3, 2, 3], &[3], &[3]],
            1,
        );
        assert_gradients(
            |t| t[0].instance_norm(None, None, None, o),
            &[&[3, 2, 5]],
            2,
        );
    }
}
