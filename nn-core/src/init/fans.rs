//! Fan-in and fan-out of a weight tensor, computed exactly as PyTorch's
//! `torch.nn.init._calculate_fan_in_and_fan_out`.
//!
//! For a weight of shape `[out, in, k₁, k₂, …]` (a `Linear` weight `[out, in]`, a `Conv2d` weight
//! `[out, in/groups, kh, kw]`), with receptive field r = k₁·k₂·… (1 for a 2-d weight):
//!
//! ```text
//! fan_in  = shape[1] · r        fan_out = shape[0] · r
//! ```
//!
//! so for a convolution fan_in = (in/groups)·kh·kw, the "filter_size² · input_channels" of the
//! CS231n lecture, and fan_out = out·kh·kw (PyTorch does not divide fan_out by `groups`).

use serde::{Deserialize, Serialize};

use super::InitError;

/// Whether a Kaiming initialisation preserves the variance of the forward pass (`FanIn`, the
/// default, as in PyTorch) or of the backward pass (`FanOut`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FanMode {
    /// Scale by the number of inputs of a unit: activations keep their variance.
    #[default]
    FanIn,
    /// Scale by the number of outputs of a unit: gradients keep their variance.
    FanOut,
}

/// The fans of a weight tensor (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fans {
    /// Inputs per output unit: `shape[1] · receptive field`.
    pub fan_in: usize,
    /// Outputs per input unit: `shape[0] · receptive field`.
    pub fan_out: usize,
}

impl Fans {
    /// The fans of a weight of `shape`, as PyTorch computes them.
    ///
    /// # Errors
    /// [`InitError::FansUndefined`] for a shape with fewer than 2 dimensions (PyTorch raises
    /// "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions").
    ///
    /// ```
    /// use nn_core::init::Fans;
    /// // Conv2d(32 → 64, 3×3): fan_in = 32·9, fan_out = 64·9.
    /// let f = Fans::of(&[64, 32, 3, 3]).unwrap();
    /// assert_eq!((f.fan_in, f.fan_out), (288, 576));
    /// ```
    pub fn of(shape: &[usize]) -> Result<Fans, InitError> {
        if shape.len() < 2 {
            return Err(InitError::FansUndefined {
                shape: shape.to_vec(),
            });
        }
        let receptive: usize = shape[2..].iter().product();
        Ok(Fans {
            fan_in: shape[1] * receptive,
            fan_out: shape[0] * receptive,
        })
    }

    /// The fan selected by `mode`.
    pub fn select(&self, mode: FanMode) -> usize {
        match mode {
            FanMode::FanIn => self.fan_in,
            FanMode::FanOut => self.fan_out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fans_follow_pytorch() {
        assert_eq!(
            Fans::of(&[10, 784]).unwrap(),
            Fans {
                fan_in: 784,
                fan_out: 10
            }
        );
        // Grouped conv weight [out, in/groups, kh, kw]: no further division by groups.
        assert_eq!(
            Fans::of(&[64, 8, 3, 3]).unwrap(),
            Fans {
                fan_in: 72,
                fan_out: 576
            }
        );
        assert_eq!(
            Fans::of(&[4, 2, 5]).unwrap(),
            Fans {
                fan_in: 10,
                fan_out: 20
            }
        );
        assert!(matches!(
            Fans::of(&[5]),
            Err(InitError::FansUndefined { .. })
        ));
        assert_eq!(Fans::of(&[3, 4]).unwrap().select(FanMode::FanOut), 3);
    }
}
