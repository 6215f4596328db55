//! Arithmetic with a constant scalar c (no broadcasting tensor needed).
//!
//! x + c, x − c, c − x, x·c, x/c;  ∂L/∂x = ∂L/∂y for ±c, −∂L/∂y for c − x, c·∂L/∂y for ·c,
//! ∂L/∂y / c for /c. The operators `tensor + c`, `tensor - c`, `tensor * c`, `tensor / c`,
//! `c + tensor`, `c - tensor` and `c * tensor` (for `f32` c) call these.

use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

/// y = a·x + b: the backward of every scalar form is a multiplication by `a`.
struct AffineBackward {
    a: f32,
    name: &'static str,
}

impl Backward for AffineBackward {
    fn name(&self) -> &'static str {
        self.name
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, mut g: Array) -> Vec<Option<Array>> {
        if !ctx.needs_grad(0) {
            return vec![None];
        }
        if self.a != 1.0 {
            let a = self.a;
            g.mapv_inplace(|v| a * v);
        }
        vec![Some(g)]
    }
}

fn affine(x: &Tensor, value: Array, a: f32, name: &'static str) -> Tensor {
    Tensor::from_op(value, vec![x.clone()], AffineBackward { a, name })
}

impl Tensor {
    /// `self + c` elementwise.
    pub fn add_scalar(&self, c: f32) -> Tensor {
        affine(self, self.data().mapv(|v| v + c), 1.0, "add_scalar")
    }

    /// `self − c` elementwise.
    pub fn sub_scalar(&self, c: f32) -> Tensor {
        affine(self, self.data().mapv(|v| v - c), 1.0, "sub_scalar")
    }

    /// `c − self` elementwise (PyTorch's `torch.rsub`).
    pub fn rsub_scalar(&self, c: f32) -> Tensor {
        affine(self, self.data().mapv(|v| c - v), -1.0, "rsub_scalar")
    }

    /// `self · c` elementwise.
    pub fn mul_scalar(&self, c: f32) -> Tensor {
        affine(self, self.data().mapv(|v| v * c), c, "mul_scalar")
    }

    /// `self / c` elementwise (a true division, so `x / 3` matches PyTorch bit for bit).
    pub fn div_scalar(&self, c: f32) -> Tensor {
        let value = self.data().mapv(|v| v / c);
        affine(self, value, 1.0 / c, "div_scalar")
    }
}

macro_rules! impl_scalar_operator {
    ($trait:ident, $op:ident, $method:ident) => {
        impl std::ops::$trait<f32> for &Tensor {
            type Output = Tensor;
            fn $op(self, c: f32) -> Tensor {
                self.$method(c)
            }
        }
        impl std::ops::$trait<f32> for Tensor {
            type Output = Tensor;
            fn $op(self, c: f32) -> Tensor {
                self.$method(c)
            }
        }
    };
}

impl_scalar_operator!(Add, add, add_scalar);
impl_scalar_operator!(Sub, sub, sub_scalar);
impl_scalar_operator!(Mul, mul, mul_scalar);
impl_scalar_operator!(Div, div, div_scalar);

macro_rules! impl_scalar_lhs_operator {
    ($trait:ident, $op:ident, $method:ident) => {
        impl std::ops::$trait<&Tensor> for f32 {
            type Output = Tensor;
            fn $op(self, x: &Tensor) -> Tensor {
                x.$method(self)
            }
        }
        impl std::ops::$trait<Tensor> for f32 {
            type Output = Tensor;
            fn $op(self, x: Tensor) -> Tensor {
                x.$method(self)
            }
        }
    };
}

impl_scalar_lhs_operator!(Add, add, add_scalar);
impl_scalar_lhs_operator!(Sub, sub, rsub_scalar);
impl_scalar_lhs_operator!(Mul, mul, mul_scalar);

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::assert_gradients;

    #[test]
    fn forward_and_operators() {
        let x = Tensor::from_vec(vec![1.0, -2.0], &[2]);
        assert_eq!((&x + 1.0).to_vec(), vec![2.0, -1.0]);
        assert_eq!((&x - 1.0).to_vec(), vec![0.0, -3.0]);
        assert_eq!((1.0 - &x).to_vec(), vec![0.0, 3.0]);
        assert_eq!((&x * 3.0).to_vec(), vec![3.0, -6.0]);
        assert_eq!((2.0 * &x).to_vec(), vec![2.0, -4.0]);
        assert_eq!((&x / 4.0).to_vec(), vec![0.25, -0.5]);
        assert_eq!((0.5 + x).to_vec(), vec![1.5, -1.5]);
    }

    #[test]
    fn gradients() {
        assert_gradients(|x| x[0].add_scalar(2.0), &[&[3, 2]], 1);
        assert_gradients(|x| x[0].sub_scalar(2.0), &[&[3, 2]], 2);
        assert_gradients(|x| x[0].rsub_scalar(2.0), &[&[3, 2]], 3);
        assert_gradients(|x| x[0].mul_scalar(-1.5), &[&[3, 2]], 4);
        assert_gradients(|x| x[0].div_scalar(0.7), &[&[3, 2]], 5);
    }
}
