//! Differentiable ops. One op per file: forward, backward, the formula in the doc comment and the
//! gradient test together. Ops are inherent methods of [`crate::Tensor`] (`x.relu()`,
//! `x.matmul(&w)`); the arithmetic ones also overload `+ - * /` on tensors and references.

mod broadcast;

mod add;
mod bmm;
mod linear;
mod matmul;
mod mul;
pub(crate) mod relu;
mod sum;

pub mod conv;
pub mod layout;
pub use conv::Conv2dOptions;
pub mod pool;
pub use pool::{AvgPool2dOptions, MaxPool2dOptions, MaxUnpool2dOptions};
pub mod norm;
pub use norm::{BatchNormOptions, RunningStats};

// Elementwise arithmetic, reductions, shape ops, activations, softmax.
mod abs;
pub mod activation;
mod axes;
mod clamp;
mod concat;
mod div;
mod elementwise;
mod exp;
mod gather;
mod log;
mod log_softmax;
mod max;
mod neg;
mod permute;
mod pow;
mod reshape;
mod scalar;
mod slice;
mod softmax;
mod sqrt;
mod stack;
mod sub;
mod var;

pub use activation::{GeluApproximate, SELU_ALPHA, SELU_SCALE, erf};
pub use broadcast::{broadcast_shapes, sum_to_shape};

/// Implements `std::ops::$trait` for every combination of `Tensor` and `&Tensor` by calling the
/// inherent method `$method`.
macro_rules! impl_binary_operator {
    ($trait:ident, $method:ident) => {
        impl std::ops::$trait<&$crate::Tensor> for &$crate::Tensor {
            type Output = $crate::Tensor;
            fn $method(self, rhs: &$crate::Tensor) -> $crate::Tensor {
                $crate::Tensor::$method(self, rhs)
            }
        }
        impl std::ops::$trait<$crate::Tensor> for $crate::Tensor {
            type Output = $crate::Tensor;
            fn $method(self, rhs: $crate::Tensor) -> $crate::Tensor {
                $crate::Tensor::$method(&self, &rhs)
            }
        }
        impl std::ops::$trait<&$crate::Tensor> for $crate::Tensor {
            type Output = $crate::Tensor;
            fn $method(self, rhs: &$crate::Tensor) -> $crate::Tensor {
                $crate::Tensor::$method(&self, rhs)
            }
        }
        impl std::ops::$trait<$crate::Tensor> for &$crate::Tensor {
            type Output = $crate::Tensor;
            fn $method(self, rhs: $crate::Tensor) -> $crate::Tensor {
                $crate::Tensor::$method(self, &rhs)
            }
        }
    };
}
pub(crate) use impl_binary_operator;
