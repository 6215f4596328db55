//! Powers: tensor to a constant exponent, and tensor to a tensor exponent (with broadcasting).
//!
//! y = xᵖ:  ∂L/∂x = ∂L/∂y · p·x^(p−1)  (0 for p = 0, as in PyTorch).
//!
//! z = x^y (elementwise, broadcast):  ∂L/∂x = sum_to_shape(∂L/∂z · y·x^(y−1)) (0 where y = 0),
//! ∂L/∂y = sum_to_shape(∂L/∂z · z·ln x) (0 where x = 0 and y ≥ 0, PyTorch's convention, so that
//! 0^y does not produce NaN gradients).

use ndarray::{IxDyn, Zip};

use super::broadcast::{broadcast_shapes, sum_to_shape};
use super::elementwise::chain_unary;
use crate::autograd::{Backward, BackwardCtx};
use crate::tensor::{Array, Tensor};

fn powf(x: f32, p: f32) -> f32 {
    if p == 2.0 { x * x } else { x.powf(p) }
}

struct PowScalarBackward {
    p: f32,
}

impl Backward for PowScalarBackward {
    fn name(&self) -> &'static str {
        "pow_scalar"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let p = self.p;
        chain_unary(ctx, g, |x, _| {
            if p == 0.0 {
                0.0
            } else if p == 2.0 {
                2.0 * x
            } else {
                p * x.powf(p - 1.0)
            }
        })
    }
}

struct PowBackward;

impl Backward for PowBackward {
    fn name(&self) -> &'static str {
        "pow"
    }
    fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
        let (x, y) = (ctx.inputs[0].data(), ctx.inputs[1].data());
        let shape = g.shape().to_vec();
        let xb = x.broadcast(IxDyn(&shape)).expect("broadcast in forward");
        let yb = y.broadcast(IxDyn(&shape)).expect("broadcast in forward");
        let gx = ctx.needs_grad(0).then(|| {
            let d = Zip::from(&g).and(&xb).and(&yb).map_collect(|&g, &x, &y| {
                if y == 0.0 {
                    0.0
                } else {
                    g * y * x.powf(y - 1.0)
                }
            });
            sum_to_shape(d, x.shape())
        });
        let gy =
            ctx.needs_grad(1).then(|| {
                let d = Zip::from(&g).and(ctx.output).and(&xb).and(&yb).map_collect(
                    |&g, &z, &x, &y| {
                        if x == 0.0 && y >= 0.0 {
                            0.0
                        } else {
                            g * z * x.ln()
                        }
                    },
                );
                sum_to_shape(d, y.shape())
            });
        vec![gx, gy]
    }
}

impl Tensor {
    /// `self` to the constant power `p`, elementwise (PyTorch's `x ** p`; NaN for a negative base
    /// and a non-integer `p`).
    pub fn powf(&self, p: f32) -> Tensor {
        let value = self.data().mapv(|x| powf(x, p));
        Tensor::from_op(value, vec![self.clone()], PowScalarBackward { p })
    }

    /// `self²` elementwise (same as `powf(2.0)`).
    pub fn square(&self) -> Tensor {
        self.powf(2.0)
    }

    /// `self` to the power `exponent`, elementwise with NumPy broadcasting (PyTorch's
    /// `torch.pow(x, y)`).
    ///
    /// # Panics
    /// If the shapes cannot be broadcast together.
    pub fn pow(&self, exponent: &Tensor) -> Tensor {
        let shape = broadcast_shapes("pow", self.shape(), exponent.shape());
        let xb = self.data().broadcast(IxDyn(&shape)).expect("broadcastable");
        let yb = exponent
            .data()
            .broadcast(IxDyn(&shape))
            .expect("broadcastable");
        let value = Zip::from(&xb).and(&yb).map_collect(|&x, &y| powf(x, y));
        Tensor::from_op(value, vec![self.clone(), exponent.clone()], PowBackward)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use crate::gradcheck::{GradCheckConfig, assert_gradients, assert_gradients_at, random_inputs};

    #[test]
    fn forward() {
        let x = Tensor::from_vec(vec![2.0, -3.0, 4.0], &[3]);
        assert_eq!(x.powf(2.0).to_vec(), vec![4.0, 9.0, 16.0]);
        assert_eq!(x.powf(3.0).to_vec(), vec![8.0, -27.0, 64.0]);
        assert_eq!(x.square().to_vec(), vec![4.0, 9.0, 16.0]);
        let e = Tensor::from_vec(vec![0.5], &[1]);
        let z = x.pow(&e).to_vec();
        assert!((z[0] - std::f32::consts::SQRT_2).abs() < 1e-7 && z[1].is_nan() && z[2] == 2.0);
    }

    #[test]
    fn zero_exponent_and_zero_base_gradients() {
        let x = Tensor::from_vec(vec![0.0, 2.0], &[2]).with_requires_grad();
        x.powf(0.0).sum_all().backward();
        assert_eq!(x.grad().unwrap().as_slice().unwrap(), &[0.0, 0.0]);
        let b = Tensor::from_vec(vec![0.0, 2.0], &[2]);
        let e = Tensor::from_vec(vec![2.0, 3.0], &[2]).with_requires_grad();
        b.pow(&e).sum_all().backward();
        let ge = e.grad().unwrap();
        assert_eq!(ge[[0]], 0.0);
        assert!((ge[[1]] - 8.0 * 2f32.ln()).abs() < 1e-5);
    }

    #[test]
    fn gradient() {
        assert_gradients(|x| x[0].powf(2.0), &[&[3, 4]], 1);
        assert_gradients(|x| x[0].powf(3.0), &[&[3, 4]], 2);
        assert_gradients(|x| x[0].powf(-1.0), &[&[3, 4]], 3);
        let pos = random_inputs(&[&[3, 4]], 4)[0].mapv(|v| v.abs() + 0.2);
        let cfg = GradCheckConfig::default();
        assert_gradients_at(|x| x[0].powf(1.5), std::slice::from_ref(&pos), &cfg);
        let e = random_inputs(&[&[4]], 5).remove(0);
        assert_gradients_at(|x| x[0].pow(&x[1]), &[pos.clone(), e], &cfg);
        let e = random_inputs(&[&[3, 1]], 6).remove(0);
        assert_gradients_at(|x| x[0].pow(&x[1]), &[pos, e], &cfg);
    }
}
