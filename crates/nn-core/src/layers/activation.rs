//! Activation layers: parameter-free modules wrapping the activation ops of [`crate::ops`].
//!
//! | layer | y = | PyTorch |
//! |---|---|---|
//! | [`ReLU`] | max(0, x) | `nn.ReLU()` |

use std::fmt;

use crate::module::{Ctx, Entry, Module};
use crate::tensor::Tensor;

/// Implements `Display` as `describe()` for a layer.
macro_rules! display_as_describe {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.describe())
            }
        }
    };
}

/// ReLU, y = max(0, x) elementwise (Nair & Hinton 2010); see [`Tensor::relu`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReLU;

impl Module for ReLU {
    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        x.relu()
    }
    fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(Entry<'_>)) {}
    fn describe(&self) -> String {
        "ReLU()".to_string()
    }
}
display_as_describe!(ReLU);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn relu_layer() {
        let x = Tensor::from_vec(vec![-1.0, 0.5], &[1, 2]);
        assert_eq!(ReLU.forward(&x, &mut Ctx::eval()).to_vec(), vec![0.0, 0.5]);
        assert_eq!(ReLU.num_parameters(), 0);
        assert_eq!(ReLU.to_string(), "ReLU()");
        assert_gradients(|x| ReLU.forward(&x[0], &mut Ctx::eval()), &[&[3, 4]], 1);
    }
}
