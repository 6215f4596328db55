//! [`Flatten`]: merges a range of axes into one, as PyTorch's `nn.Flatten(start_dim=1,
//! end_dim=-1)` — by default every axis but the batch axis, e.g. `[N, C, H, W] → [N, C·H·W]`
//! between the convolutional and the fully connected part of a network.

use std::fmt;

use super::LayerError;
use crate::module::{Ctx, Entry, Module};
use crate::tensor::Tensor;

/// Flattens axes `start_dim..=end_dim` (negative values count from the end, as in PyTorch);
/// see [`Tensor::flatten`]. The gradient is reshaped back.
///
/// ```
/// use nn_core::layers::Flatten;
/// use nn_core::{Ctx, Module, Tensor};
///
/// let y = Flatten::default().forward(&Tensor::zeros(&[8, 3, 4, 4]), &mut Ctx::eval());
/// assert_eq!(y.shape(), &[8, 48]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flatten {
    start_dim: isize,
    end_dim: isize,
}

impl Default for Flatten {
    /// PyTorch's default: `start_dim = 1`, `end_dim = -1`.
    fn default() -> Self {
        Flatten {
            start_dim: 1,
            end_dim: -1,
        }
    }
}

impl Flatten {
    /// Flattens `start_dim..=end_dim`.
    ///
    /// # Errors
    /// [`LayerError::InvalidConfig`] when both are of the same sign and `start_dim > end_dim`
    /// (an empty range for every input).
    pub fn new(start_dim: isize, end_dim: isize) -> Result<Flatten, LayerError> {
        if (start_dim >= 0) == (end_dim >= 0) && start_dim > end_dim {
            return Err(LayerError::invalid(
                "Flatten",
                "end_dim",
                end_dim,
                format!("an axis at or after start_dim = {start_dim}"),
            ));
        }
        Ok(Flatten { start_dim, end_dim })
    }

    fn resolve(&self, ndim: usize, shape: &[usize]) -> (usize, usize) {
        let r = |d: isize| {
            let a = if d < 0 { d + ndim as isize } else { d };
            assert!(
                (0..ndim.max(1) as isize).contains(&a),
                "Flatten: dimension {d} is out of range for an input of shape {shape:?}"
            );
            a as usize
        };
        (r(self.start_dim), r(self.end_dim))
    }
}

impl Module for Flatten {
    /// # Panics
    /// If the axes are out of range for the input (the message names the shape).
    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        let (s, e) = self.resolve(x.ndim(), x.shape());
        x.flatten(s, e)
    }

    fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(Entry<'_>)) {}

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        Some(self)
    }

    fn describe(&self) -> String {
        format!(
            "Flatten(start_dim={}, end_dim={})",
            self.start_dim, self.end_dim
        )
    }
}

impl fmt::Display for Flatten {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn shapes_follow_pytorch() {
        let x = Tensor::zeros(&[2, 3, 4, 5]);
        let shape = |f: Flatten| f.forward(&x, &mut Ctx::eval()).shape().to_vec();
        assert_eq!(shape(Flatten::default()), [2, 60]);
        assert_eq!(shape(Flatten::new(0, -1).unwrap()), [120]);
        assert_eq!(shape(Flatten::new(1, 2).unwrap()), [2, 12, 5]);
        assert_eq!(shape(Flatten::new(-3, -2).unwrap()), [2, 12, 5]);
        assert_eq!(shape(Flatten::new(2, 2).unwrap()), [2, 3, 4, 5]);
        assert_eq!(
            Flatten::default().to_string(),
            "Flatten(start_dim=1, end_dim=-1)"
        );
        assert!(Flatten::new(2, 1).is_err());
        assert!(Flatten::new(-1, -2).is_err());
        let v: Vec<f32> = (0..24).map(|i| i as f32).collect();
        let x = Tensor::from_vec(v.clone(), &[2, 3, 4]);
        assert_eq!(Flatten::default().forward(&x, &mut Ctx::eval()).to_vec(), v);
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn out_of_range_axes_panic() {
        Flatten::new(1, 3)
            .unwrap()
            .forward(&Tensor::zeros(&[2, 3]), &mut Ctx::eval());
    }

    #[test]
    fn gradient() {
        assert_gradients(
            |x| {
                let w = Tensor::from_vec((0..12).map(|i| i as f32 - 5.5).collect(), &[2, 6]);
                &Flatten::default().forward(&x[0], &mut Ctx::eval()) * &w
            },
            &[&[2, 2, 3]],
            1,
        );
    }
}
