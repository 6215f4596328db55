//! Gradient clipping by value and by global norm, plus the maximize sign: the gradient
//! pre-processing applied inside every optimizer's fused loop.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{OptimError, check, check_nonneg};
use crate::param::ParamMut;

/// Which norm [`GradClip::max_norm`] measures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormType {
    /// Euclidean norm over all gradients: ‖g‖₂ = √(Σ gᵢ²).
    #[default]
    L2,
    /// Max-abs norm: ‖g‖∞ = maxᵢ |gᵢ|.
    Inf,
}

/// Gradient clipping, applied to the gradients of all parameters of a step before the update.
///
/// * by value (`max_value = c`): gᵢ ← clamp(gᵢ, −c, c) (PyTorch's `clip_grad_value_`);
/// * by global norm (`max_norm = m`, Pascanu et al., "On the difficulty of training recurrent
///   neural networks", 2013): g ← g · min(1, m / (‖g‖ + 1e-6)), the norm taken over all
///   parameters of the step together (PyTorch's `clip_grad_norm_`).
///
/// With both, values are clipped first and the norm is that of the value-clipped gradient. The
/// gradients themselves are never written: clipping is folded into the optimizer's fused loop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GradClip {
    /// Clip the global gradient norm to at most this value.
    #[serde(default)]
    pub max_norm: Option<f64>,
    /// The norm for `max_norm`.
    #[serde(default)]
    pub norm_type: NormType,
    /// Clip each gradient element to `[-max_value, max_value]`.
    #[serde(default)]
    pub max_value: Option<f64>,
}

impl GradClip {
    /// No clipping.
    pub const NONE: GradClip = GradClip {
        max_norm: None,
        norm_type: NormType::L2,
        max_value: None,
    };

    /// Clip by global L2 norm.
    pub fn norm(max_norm: f64) -> Self {
        Self {
            max_norm: Some(max_norm),
            ..Self::NONE
        }
    }

    /// Clip by value.
    pub fn value(max_value: f64) -> Self {
        Self {
            max_value: Some(max_value),
            ..Self::NONE
        }
    }

    /// Checks that the thresholds are valid.
    pub fn validate(&self, owner: &'static str) -> Result<(), OptimError> {
        if let Some(m) = self.max_norm {
            check(
                m.is_finite() && m > 0.0,
                owner,
                "clip.max_norm",
                m,
                "a finite number > 0",
            )?;
        }
        if let Some(v) = self.max_value {
            check_nonneg(owner, "clip.max_value", v)?;
        }
        Ok(())
    }

    /// Computes the per-step pre-processing for `params` (only those with a gradient count),
    /// returning it with the global norm (if norm clipping is on).
    pub(crate) fn prepare(
        &self,
        params: &[ParamMut<'_>],
        maximize: bool,
    ) -> (GradPrep, Option<f32>) {
        let clip = self.max_value.map_or(f32::INFINITY, |v| v as f32);
        let sign = if maximize { -1.0 } else { 1.0 };
        let Some(max_norm) = self.max_norm else {
            return (GradPrep { clip, scale: sign }, None);
        };
        let norm = norm_of(params, self.norm_type, clip);
        let coef = (max_norm / (norm + 1e-6)).min(1.0);
        // PyTorch multiplies by the clamped coefficient in the gradient's dtype.
        (
            GradPrep {
                clip,
                scale: sign * coef as f32,
            },
            Some(norm as f32),
        )
    }
}

/// A step's gradient pre-processing, applied to each gradient element before an update uses it:
/// g ← clamp(g, −clip, clip) · scale, where `clip` comes from clipping by value, and `scale`
/// from clipping by global norm and the sign of `maximize`. With no clipping it is exact (no
/// rounding).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradPrep {
    pub(crate) clip: f32,
    pub(crate) scale: f32,
}

impl GradPrep {
    /// No clipping, no sign change.
    pub const IDENTITY: GradPrep = GradPrep {
        clip: f32::INFINITY,
        scale: 1.0,
    };

    /// The pre-processed gradient element.
    #[inline(always)]
    pub fn apply(self, g: f32) -> f32 {
        // clamp without `f32::clamp`'s assertion (validated once); NaN stays NaN
        let g = if g < -self.clip {
            -self.clip
        } else if g > self.clip {
            self.clip
        } else {
            g
        };
        g * self.scale
    }
}

/// Elements per chunk of the deterministic parallel reduction.
const CHUNK: usize = 1 << 16;

/// The global norm of the gradients of `params` (those with a gradient), each element first
/// clamped to `[-clip, clip]`. Summed in f64 in fixed-size chunks and a fixed order, so the
/// result does not depend on the number of threads.
fn norm_of(params: &[ParamMut<'_>], norm_type: NormType, clip: f32) -> f64 {
    let grads = params.iter().filter_map(|p| p.grad.as_ref());
    match norm_type {
        NormType::L2 => {
            let mut total = 0.0f64;
            for g in grads {
                let sq = |x: &f32| {
                    let v = x.clamp(-clip, clip) as f64;
                    v * v
                };
                total += match g.as_slice_memory_order() {
                    Some(s) if s.len() > CHUNK => {
                        let parts: Vec<f64> = s
                            .par_chunks(CHUNK)
                            .map(|c| c.iter().map(sq).sum::<f64>())
                            .collect();
                        parts.iter().sum::<f64>()
                    }
                    _ => g.iter().map(sq).sum::<f64>(),
                };
            }
            total.sqrt()
        }
        NormType::Inf => grads
            .flat_map(|g| g.iter().map(|x| x.clamp(-clip, clip).abs() as f64))
            .fold(0.0, |a: f64, b| {
                if b.is_nan() || a.is_nan() {
                    f64::NAN
                } else {
                    a.max(b)
                }
            }),
    }
}

/// The global gradient norm of the parameters that have a gradient (what PyTorch's
/// `clip_grad_norm_` returns), for logging.
pub fn global_grad_norm(params: &[ParamMut<'_>], norm_type: NormType) -> f64 {
    norm_of(params, norm_type, f32::INFINITY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn};

    #[test]
    fn norm_clip_scales_to_max_norm() {
        let mut v = ArrayD::<f32>::zeros(IxDyn(&[2]));
        let g = ArrayD::from_shape_vec(IxDyn(&[2]), vec![3.0f32, 4.0]).unwrap();
        let ps = [ParamMut::new("w", v.view_mut(), g.view())];
        assert_eq!(global_grad_norm(&ps, NormType::L2), 5.0);
        assert_eq!(global_grad_norm(&ps, NormType::Inf), 4.0);
        let (prep, n) = GradClip::norm(1.0).prepare(&ps, false);
        assert_eq!(n, Some(5.0));
        assert!((prep.apply(3.0) - 0.6).abs() < 1e-6);
        let (prep, _) = GradClip::norm(10.0).prepare(&ps, true);
        assert_eq!(prep.apply(3.0), -3.0);
        let (prep, _) = GradClip::value(0.5).prepare(&ps, false);
        assert_eq!(prep.apply(3.0), 0.5);
        assert_eq!(prep.apply(-3.0), -0.5);
        assert!(GradClip::norm(-1.0).validate("SGD").is_err());
    }

    #[test]
    fn chunked_norm_matches_naive() {
        let n = 3 * CHUNK + 17;
        let mut v = ArrayD::<f32>::zeros(IxDyn(&[n]));
        let g = ArrayD::from_shape_fn(IxDyn(&[n]), |i| ((i[0] % 97) as f32 - 48.0) * 1e-3);
        let ps = [ParamMut::new("w", v.view_mut(), g.view())];
        let naive: f64 = g
            .iter()
            .map(|&x| (x as f64) * (x as f64))
            .sum::<f64>()
            .sqrt();
        assert!((global_grad_norm(&ps, NormType::L2) - naive).abs() < 1e-9 * naive);
    }
}
