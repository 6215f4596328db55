//! Classic test problems for optimizers, and a convergence counter: the Rosenbrock function and
//! ill-conditioned quadratics (axis-aligned and rotated). They show when momentum, adaptive
//! methods or L-BFGS win (the table in the crate README comes from
//! `cargo run --release -p nn-optim --example convergence`).

use crate::error::OptimError;
use crate::lbfgs::Lbfgs;
use crate::optimizer::Optimizer;
use crate::param::ParamMut;
use ndarray::{ArrayD, IxDyn};

/// A differentiable objective with a known minimiser.
pub trait Objective {
    /// A short name for tables.
    fn name(&self) -> String;
    /// The starting point.
    fn start(&self) -> Vec<f32>;
    /// The minimiser x*.
    fn minimum(&self) -> Vec<f32>;
    /// Loss and gradient at `x`.
    fn eval(&self, x: &[f32]) -> (f32, Vec<f32>);
}

/// Rosenbrock's banana function f(x, y) = (1 − x)² + 100(y − x²)² (Rosenbrock 1960), from
/// (−1.2, 1); minimum at (1, 1) at the end of a long curved valley.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rosenbrock;

impl Objective for Rosenbrock {
    fn name(&self) -> String {
        "Rosenbrock".into()
    }
    fn start(&self) -> Vec<f32> {
        vec![-1.2, 1.0]
    }
    fn minimum(&self) -> Vec<f32> {
        vec![1.0, 1.0]
    }
    fn eval(&self, v: &[f32]) -> (f32, Vec<f32>) {
        let (x, y) = (v[0] as f64, v[1] as f64);
        let f = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
        let gx = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x);
        let gy = 200.0 * (y - x * x);
        (f as f32, vec![gx as f32, gy as f32])
    }
}

/// f(x) = ½ xᵀAx with A = QΛQᵀ, eigenvalues λᵢ log-spaced from 1 to κ (condition number κ),
/// from xᵢ = 1 + ½·sin(1.7·i); minimum at 0. With `rotated = false`, Q = I (axis-aligned: a diagonal
/// preconditioner such as Adam's fits it exactly); with `rotated = true`, Q is the Householder
/// reflection I − 2vvᵀ/vᵀv for a fixed dense v (no coordinate-wise method can undo it).
#[derive(Clone, Debug)]
pub struct Quadratic {
    a: Vec<f64>,
    dim: usize,
    kappa: f64,
    rotated: bool,
}

impl Quadratic {
    /// A `dim`-dimensional quadratic with condition number `kappa`.
    pub fn new(dim: usize, kappa: f64, rotated: bool) -> Self {
        let lam: Vec<f64> = (0..dim)
            .map(|i| {
                kappa.powf(if dim > 1 {
                    i as f64 / (dim - 1) as f64
                } else {
                    0.0
                })
            })
            .collect();
        let v: Vec<f64> = (0..dim).map(|i| 1.0 + ((i * 7) % 5) as f64 * 0.5).collect();
        let vv: f64 = v.iter().map(|x| x * x).sum();
        let q = |i: usize, j: usize| {
            let id = if i == j { 1.0 } else { 0.0 };
            if rotated {
                id - 2.0 * v[i] * v[j] / vv
            } else {
                id
            }
        };
        let mut a = vec![0.0; dim * dim];
        for i in 0..dim {
            for j in 0..dim {
                a[i * dim + j] = (0..dim).map(|k| q(i, k) * lam[k] * q(j, k)).sum();
            }
        }
        Self {
            a,
            dim,
            kappa,
            rotated,
        }
    }
}

impl Objective for Quadratic {
    fn name(&self) -> String {
        format!(
            "quadratic κ={} {}",
            self.kappa,
            if self.rotated {
                "rotated"
            } else {
                "axis-aligned"
            }
        )
    }
    fn start(&self) -> Vec<f32> {
        (0..self.dim)
            .map(|i| 1.0 + 0.5 * (i as f32 * 1.7).sin())
            .collect()
    }
    fn minimum(&self) -> Vec<f32> {
        vec![0.0; self.dim]
    }
    fn eval(&self, x: &[f32]) -> (f32, Vec<f32>) {
        let g: Vec<f64> = (0..self.dim)
            .map(|i| {
                (0..self.dim)
                    .map(|j| self.a[i * self.dim + j] * x[j] as f64)
                    .sum()
            })
            .collect();
        let f: f64 = 0.5 * g.iter().zip(x).map(|(gi, &xi)| gi * xi as f64).sum::<f64>();
        (f as f32, g.iter().map(|&v| v as f32).collect())
    }
}

fn dist(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| ((x - y) as f64).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Steps `opt` on `obj` from its start until ‖x − x*‖ ≤ `tol`; returns the number of steps
/// (gradient evaluations), or `None` if `max_steps` were not enough or x stopped being finite.
pub fn steps_to_converge(
    opt: &mut dyn Optimizer,
    obj: &dyn Objective,
    tol: f64,
    max_steps: usize,
) -> Result<Option<usize>, OptimError> {
    let mut x = ArrayD::from_shape_vec(IxDyn(&[obj.start().len()]), obj.start()).expect("1-D");
    let xmin = obj.minimum();
    for k in 0..=max_steps {
        let xs = x.as_slice().expect("contiguous");
        if dist(xs, &xmin) <= tol {
            return Ok(Some(k));
        }
        if k == max_steps || !xs.iter().all(|v| v.is_finite()) {
            break;
        }
        let (_, g) = obj.eval(xs);
        let g = ArrayD::from_shape_vec(IxDyn(&[g.len()]), g).expect("1-D");
        opt.step(&mut [ParamMut::new("x", x.view_mut(), g.view())])?;
    }
    Ok(None)
}

/// Runs L-BFGS on `obj` one iteration per [`Lbfgs::step`] call until ‖x − x*‖ ≤ `tol`; returns
/// (iterations, closure evaluations), or `None` if `max_iters` were not enough. Build `opt`
/// with `max_iter = 1` and an explicit `max_eval` (e.g. 25) so the line search has room.
pub fn lbfgs_iterations_to_converge(
    opt: &mut Lbfgs,
    obj: &dyn Objective,
    tol: f64,
    max_iters: usize,
) -> Result<Option<(u64, u64)>, OptimError> {
    let mut x = obj.start();
    let xmin = obj.minimum();
    let mut evals = 0u64;
    for _ in 0..max_iters {
        if dist(&x, &xmin) <= tol {
            return Ok(Some((opt.state().n_iter, evals)));
        }
        if !x.iter().all(|v| v.is_finite()) {
            return Ok(None);
        }
        let before = opt.state().n_iter;
        opt.step(&mut x, |v| {
            evals += 1;
            obj.eval(v)
        })?;
        if opt.state().n_iter == before {
            // converged by the gradient tolerance without reaching `tol`
            break;
        }
    }
    Ok(if dist(&x, &xmin) <= tol {
        Some((opt.state().n_iter, evals))
    } else {
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradients_match_finite_differences() {
        let objs: Vec<Box<dyn Objective>> = vec![
            Box::new(Rosenbrock),
            Box::new(Quadratic::new(4, 10.0, true)),
            Box::new(Quadratic::new(3, 5.0, false)),
        ];
        for o in objs {
            let x: Vec<f32> = (0..o.start().len()).map(|i| 0.3 + 0.2 * i as f32).collect();
            let (_, g) = o.eval(&x);
            for i in 0..x.len() {
                let h = 1e-3f32;
                let (mut xp, mut xm) = (x.clone(), x.clone());
                xp[i] += h;
                xm[i] -= h;
                let fd = (o.eval(&xp).0 as f64 - o.eval(&xm).0 as f64) / (2.0 * h as f64);
                assert!(
                    (fd - g[i] as f64).abs() < 2e-2 * (1.0 + fd.abs()),
                    "{}: {fd} vs {}",
                    o.name(),
                    g[i]
                );
            }
            assert_eq!(
                o.eval(&o.minimum())
                    .1
                    .iter()
                    .map(|v| v.abs())
                    .fold(0.0, f32::max),
                0.0
            );
        }
    }
}
