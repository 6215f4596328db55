//! Gradient checking: analytic gradients (backward) against central finite differences.
//!
//! For a function f of tensors with output y, the check reduces y to a scalar with fixed random
//! weights, L = Σᵢ wᵢ·yᵢ (wᵢ ~ N(0, 1), seeded; a plain sum would hide a backward that permutes or
//! mixes up elements), computes ∂L/∂x by backward, and compares each checked coordinate with
//!
//! ```text
//! n = (L(x + ε·eᵢ) − L(x − ε·eᵢ)) / 2ε        (L accumulated in f64)
//! ```
//!
//! and reports per tensor the maximum absolute error and the maximum relative error
//!
//! ```text
//! rel = |a − n| / max(|a|, |n|, 10⁻²·s),   s = max over the tensor of max(|a|, |n|)
//! ```
//!
//! (the floor judges coordinates far below the tensor's gradient scale on an absolute scale, so
//! that f32 rounding on near-zero gradients does not fail a correct op).
//!
//! **Why f32 suffices.** Tensors are f32. With ε = 10⁻³ the truncation error of the central
//! difference is O(ε²·f‴) ≈ 10⁻⁶ and the rounding noise of L is about 6·10⁻⁸·√N·|y| per
//! evaluation, i.e. ≈ 3·10⁻⁵·√N·|y| after dividing by 2ε: for the test sizes used here (N ≤ a few
//! thousand outputs of order 1) the relative error of a correct op stays below 10⁻³, while a wrong
//! backward (a missing term, a wrong factor, a transposed gradient) gives errors of order 10⁻¹
//! to 1. The default tolerance 10⁻² sits between the two; `tests::wrong_backward_is_caught` shows a
//! deliberately wrong backward failing it. Ops with kinks (ReLU, max, abs) must be checked at
//! points farther than ε from a kink: [`assert_gradients`] draws inputs with |x| ∈ [0.1, 1].

use std::fmt;

use ndarray::IxDyn;
use rand::Rng as _;

use crate::autograd::with_no_grad;
use crate::module::{Module, Parameter};
use crate::rng::seeded;
use crate::tensor::{Array, Tensor, random_normal};

/// Settings of a gradient check.
#[derive(Debug, Clone)]
pub struct GradCheckConfig {
    /// Finite-difference step ε. Default 10⁻³.
    pub eps: f32,
    /// Largest acceptable relative error (see the module docs). Default 10⁻².
    pub tolerance: f32,
    /// Seed of the projection weights wᵢ and of coordinate sampling. Default 0.
    pub seed: u64,
    /// Check at most this many coordinates per tensor (chosen at random, seeded); `None` checks
    /// all. Default `None`.
    pub max_coords_per_tensor: Option<usize>,
}

impl Default for GradCheckConfig {
    fn default() -> Self {
        GradCheckConfig {
            eps: 1e-3,
            tolerance: 1e-2,
            seed: 0,
            max_coords_per_tensor: None,
        }
    }
}

/// The result of checking one tensor.
#[derive(Debug, Clone)]
pub struct TensorCheck {
    /// The input index (`"input 0"`) or the parameter's dotted name.
    pub name: String,
    /// max |analytic − numeric| over the checked coordinates.
    pub max_abs_error: f32,
    /// max relative error over the checked coordinates (see the module docs).
    pub max_rel_error: f32,
    /// The coordinate (flat index) with the largest relative error.
    pub worst_index: usize,
    /// Analytic and numeric gradient at `worst_index`.
    pub worst_pair: (f32, f32),
    /// How many coordinates were checked.
    pub checked: usize,
}

/// The result of a gradient check: one entry per checked tensor.
#[derive(Debug, Clone)]
pub struct GradCheckReport {
    /// Per-tensor results.
    pub tensors: Vec<TensorCheck>,
    /// The tolerance the check was run with.
    pub tolerance: f32,
}

impl GradCheckReport {
    /// The largest relative error over all tensors.
    pub fn max_rel_error(&self) -> f32 {
        self.tensors
            .iter()
            .map(|t| t.max_rel_error)
            .fold(0.0, f32::max)
    }

    /// Whether every tensor is within the tolerance.
    pub fn passed(&self) -> bool {
        self.tensors
            .iter()
            .all(|t| t.max_rel_error <= self.tolerance)
    }
}

impl fmt::Display for GradCheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for t in &self.tensors {
            writeln!(
                f,
                "{:<24} max rel {:.2e}  max abs {:.2e}  ({} coords; worst #{}: analytic {:.6e} vs numeric {:.6e}){}",
                t.name,
                t.max_rel_error,
                t.max_abs_error,
                t.checked,
                t.worst_index,
                t.worst_pair.0,
                t.worst_pair.1,
                if t.max_rel_error > self.tolerance {
                    "  FAIL"
                } else {
                    ""
                }
            )?;
        }
        Ok(())
    }
}

/// Checks the gradients of `f` with respect to each of `inputs` (see the module docs).
pub fn check_gradients(
    f: impl Fn(&[Tensor]) -> Tensor,
    inputs: &[Array],
    config: &GradCheckConfig,
) -> GradCheckReport {
    let leaves: Vec<Tensor> = inputs
        .iter()
        .map(|a| Tensor::from_array(a.clone()).with_requires_grad())
        .collect();
    let y = f(&leaves);
    let weights = random_normal(y.shape(), 0.0, 1.0, &mut seeded(config.seed));
    y.backward_with(weights.clone());
    let project = |y: &Tensor| -> f64 {
        y.data()
            .iter()
            .zip(weights.iter())
            .map(|(&a, &b)| a as f64 * b as f64)
            .sum()
    };
    let mut rng = seeded(config.seed.wrapping_add(1));
    let tensors = inputs
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let analytic = leaves[i]
                .grad()
                .unwrap_or_else(|| Array::zeros(IxDyn(x.shape())));
            let coords = pick_coords(x.len(), config.max_coords_per_tensor, &mut rng);
            let numeric: Vec<f32> = coords
                .iter()
                .map(|&c| {
                    let eval = |delta: f32| {
                        let mut xs: Vec<Tensor> =
                            inputs.iter().cloned().map(Tensor::from_array).collect();
                        let mut xi = x.clone();
                        xi.as_slice_mut().expect("standard layout")[c] += delta;
                        xs[i] = Tensor::from_array(xi);
                        with_no_grad(|| project(&f(&xs)))
                    };
                    ((eval(config.eps) - eval(-config.eps)) / (2.0 * config.eps as f64)) as f32
                })
                .collect();
            let analytic = analytic.as_standard_layout();
            let a: Vec<f32> = coords
                .iter()
                .map(|&c| analytic.as_slice().expect("standard layout")[c])
                .collect();
            compare(format!("input {i}"), &coords, &a, &numeric)
        })
        .collect();
    GradCheckReport {
        tensors,
        tolerance: config.tolerance,
    }
}

/// Checks the gradients of the scalar `loss` (a closure that runs the forward pass, e.g. a model
/// and a loss function on a fixed batch in a deterministic mode) with respect to every trainable
/// parameter of `module`. Parameters are perturbed in place and restored.
pub fn check_module_gradients(
    module: &dyn Module,
    loss: impl Fn() -> Tensor,
    config: &GradCheckConfig,
) -> GradCheckReport {
    let params: Vec<(String, Parameter)> = module
        .named_parameters()
        .into_iter()
        .filter(|(_, p)| !p.is_frozen())
        .collect();
    for (_, p) in &params {
        p.zero_grad();
    }
    let l = loss();
    assert_eq!(
        l.len(),
        1,
        "check_module_gradients: the loss must be a scalar, got shape {:?}",
        l.shape()
    );
    l.backward();
    drop(l);
    let mut rng = seeded(config.seed.wrapping_add(1));
    let tensors = params
        .iter()
        .map(|(name, p)| {
            let analytic = p.grad().unwrap_or_else(|| Array::zeros(IxDyn(&p.shape())));
            let analytic = analytic.as_standard_layout();
            let coords = pick_coords(p.len(), config.max_coords_per_tensor, &mut rng);
            let numeric: Vec<f32> = coords
                .iter()
                .map(|&c| {
                    let eval = |delta: f32| {
                        p.update(|mut w, _| {
                            *w.iter_mut().nth(c).expect("coordinate in range") += delta;
                        });
                        let v = with_no_grad(|| loss().item() as f64);
                        p.update(|mut w, _| {
                            *w.iter_mut().nth(c).expect("coordinate in range") -= delta;
                        });
                        v
                    };
                    ((eval(config.eps) - eval(-config.eps)) / (2.0 * config.eps as f64)) as f32
                })
                .collect();
            let a: Vec<f32> = coords
                .iter()
                .map(|&c| analytic.as_slice().expect("standard layout")[c])
                .collect();
            compare(name.clone(), &coords, &a, &numeric)
        })
        .collect();
    GradCheckReport {
        tensors,
        tolerance: config.tolerance,
    }
}

fn pick_coords(len: usize, max: Option<usize>, rng: &mut crate::rng::Rng) -> Vec<usize> {
    match max {
        Some(m) if m < len => {
            let mut all: Vec<usize> = (0..len).collect();
            for i in 0..m {
                let j = rng.random_range(i..len);
                all.swap(i, j);
            }
            all.truncate(m);
            all.sort_unstable();
            all
        }
        _ => (0..len).collect(),
    }
}

fn compare(name: String, coords: &[usize], analytic: &[f32], numeric: &[f32]) -> TensorCheck {
    let scale = analytic
        .iter()
        .chain(numeric)
        .fold(0.0f32, |m, v| m.max(v.abs()));
    let floor = (1e-2 * scale).max(1e-12);
    let mut out = TensorCheck {
        name,
        max_abs_error: 0.0,
        max_rel_error: 0.0,
        worst_index: coords.first().copied().unwrap_or(0),
        worst_pair: (0.0, 0.0),
        checked: coords.len(),
    };
    for ((&c, &a), &n) in coords.iter().zip(analytic).zip(numeric) {
        let abs = (a - n).abs();
        let rel = if a.is_finite() && n.is_finite() {
            abs / a.abs().max(n.abs()).max(floor)
        } else {
            f32::INFINITY
        };
        out.max_abs_error = out.max_abs_error.max(abs);
        if rel > out.max_rel_error || (rel.is_nan() && !out.max_rel_error.is_nan()) {
            out.max_rel_error = rel;
            out.worst_index = c;
            out.worst_pair = (a, n);
        }
    }
    out
}

/// Random inputs for a gradient test: for each shape, values with |x| uniform in [0.1, 1] and a
/// random sign (away from the kinks of ReLU, abs, max at 0), seeded.
pub fn random_inputs(shapes: &[&[usize]], seed: u64) -> Vec<Array> {
    let mut rng = seeded(seed);
    shapes
        .iter()
        .map(|s| {
            Array::from_shape_simple_fn(IxDyn(s), || {
                let m: f32 = rng.random_range(0.1..1.0);
                if rng.random_bool(0.5) { m } else { -m }
            })
        })
        .collect()
}

/// Test helper: checks `f` on [`random_inputs`] of `shapes` (seed `seed`) with the default
/// configuration and panics with the full report if any tensor fails.
pub fn assert_gradients(f: impl Fn(&[Tensor]) -> Tensor, shapes: &[&[usize]], seed: u64) {
    let inputs = random_inputs(shapes, seed);
    assert_gradients_at(
        f,
        &inputs,
        &GradCheckConfig {
            seed,
            ..GradCheckConfig::default()
        },
    );
}

/// Test helper: checks `f` at the given `inputs` and panics with the full report if any tensor
/// fails.
pub fn assert_gradients_at(
    f: impl Fn(&[Tensor]) -> Tensor,
    inputs: &[Array],
    config: &GradCheckConfig,
) {
    let report = check_gradients(f, inputs, config);
    assert!(
        report.passed(),
        "gradient check failed (tolerance {:e}):\n{report}",
        report.tolerance
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{Backward, BackwardCtx};

    /// tanh-like op with a deliberately wrong backward (forgets the chain-rule factor 1 − y²).
    struct WrongTanh;
    impl Backward for WrongTanh {
        fn name(&self) -> &'static str {
            "wrong_tanh"
        }
        fn backward(&self, _ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
            vec![Some(g)]
        }
    }

    /// Square with a subtly wrong backward: 2.1·x instead of 2·x (a 5 % error).
    struct SlightlyWrongSquare;
    impl Backward for SlightlyWrongSquare {
        fn name(&self) -> &'static str {
            "slightly_wrong_square"
        }
        fn backward(&self, ctx: &BackwardCtx<'_>, g: Array) -> Vec<Option<Array>> {
            vec![Some(g * &ctx.inputs[0].data().mapv(|x| 2.1 * x))]
        }
    }

    #[test]
    fn wrong_backward_is_caught() {
        let inputs = random_inputs(&[&[4, 5]], 3);
        let report = check_gradients(
            |x| Tensor::from_op(x[0].data().mapv(f32::tanh), vec![x[0].clone()], WrongTanh),
            &inputs,
            &GradCheckConfig::default(),
        );
        assert!(!report.passed(), "{report}");
        let report = check_gradients(
            |x| {
                Tensor::from_op(
                    x[0].data().mapv(|v| v * v),
                    vec![x[0].clone()],
                    SlightlyWrongSquare,
                )
            },
            &inputs,
            &GradCheckConfig::default(),
        );
        assert!(!report.passed(), "{report}");
        assert!(
            report.max_rel_error() > 0.04 && report.max_rel_error() < 0.06,
            "{report}"
        );
    }

    #[test]
    fn correct_backward_passes_with_margin() {
        let inputs = random_inputs(&[&[6, 7], &[7, 3]], 5);
        // A smooth composition (a ReLU here could put a matmul output within ε of its kink).
        let report = check_gradients(
            |x| {
                let h = x[0].matmul(&x[1]);
                h.mul(&h)
            },
            &inputs,
            &GradCheckConfig::default(),
        );
        assert!(report.passed(), "{report}");
        assert!(report.max_rel_error() < 1e-3, "{report}");
    }

    #[test]
    fn coordinate_sampling_checks_a_subset() {
        let inputs = random_inputs(&[&[10, 10]], 1);
        let cfg = GradCheckConfig {
            max_coords_per_tensor: Some(7),
            ..GradCheckConfig::default()
        };
        let report = check_gradients(|x| x[0].mul(&x[0]), &inputs, &cfg);
        assert_eq!(report.tensors[0].checked, 7);
        assert!(report.passed(), "{report}");
    }
}
