//! L-BFGS for full-batch problems, step for step PyTorch's `torch.optim.LBFGS`.

mod line_search;

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::error::{OptimError, check, check_lr, check_nonneg};
use crate::optimizer::LrControl;
use line_search::{dot, pymax, pymin, strong_wolfe};

/// The line search L-BFGS uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineSearch {
    /// Fixed step `lr` (PyTorch's `line_search_fn=None`).
    #[default]
    None,
    /// Strong-Wolfe line search with c₁ = 1e-4, c₂ = 0.9 (`line_search_fn="strong_wolfe"`).
    StrongWolfe,
}

/// Configuration of [`Lbfgs`], with PyTorch's defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LbfgsConfig {
    /// Step length (1).
    pub lr: f64,
    /// Maximum iterations per [`Lbfgs::step`] (20).
    pub max_iter: usize,
    /// Maximum function evaluations per step (`max_iter * 5 / 4` when `None`).
    pub max_eval: Option<usize>,
    /// Stop when max |gᵢ| ≤ this (1e-7).
    pub tolerance_grad: f64,
    /// Stop when the step or the loss change is below this (1e-9).
    pub tolerance_change: f64,
    /// Number of (s, y) pairs kept (100).
    pub history_size: usize,
    /// Line search (none).
    pub line_search: LineSearch,
}

impl Default for LbfgsConfig {
    fn default() -> Self {
        Self {
            lr: 1.0,
            max_iter: 20,
            max_eval: None,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
            history_size: 100,
            line_search: LineSearch::None,
        }
    }
}

impl LbfgsConfig {
    /// Validates and builds the optimizer.
    pub fn init(self) -> Result<Lbfgs, OptimError> {
        const O: &str = "LBFGS";
        check_lr(O, self.lr)?;
        check(
            self.max_iter > 0,
            O,
            "max_iter",
            self.max_iter,
            "at least 1",
        )?;
        check(
            self.history_size > 0,
            O,
            "history_size",
            self.history_size,
            "at least 1",
        )?;
        check_nonneg(O, "tolerance_grad", self.tolerance_grad)?;
        check_nonneg(O, "tolerance_change", self.tolerance_change)?;
        let max_eval = self.max_eval.unwrap_or(self.max_iter * 5 / 4);
        check(max_eval > 0, O, "max_eval", max_eval, "at least 1")?;
        Ok(Lbfgs {
            cfg: self,
            max_eval,
            state: LbfgsState::default(),
        })
    }
}

/// The state L-BFGS keeps between steps (PyTorch's `state` of its first parameter);
/// serialisable, and restoring it makes the next steps identical.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LbfgsState {
    /// Total closure evaluations.
    pub func_evals: u64,
    /// Total iterations.
    pub n_iter: u64,
    /// Last search direction.
    pub d: Vec<f32>,
    /// Last step length.
    pub t: f64,
    /// Gradient differences yₖ = gₖ₊₁ − gₖ (oldest first).
    pub old_dirs: VecDeque<Vec<f32>>,
    /// Steps sₖ = tₖdₖ (oldest first).
    pub old_stps: VecDeque<Vec<f32>>,
    /// ρₖ = 1 / (yₖᵀsₖ).
    pub ro: VecDeque<f64>,
    /// Scale γ = sᵀy / yᵀy of the initial inverse Hessian.
    pub h_diag: f64,
    /// Gradient at the previous iterate (empty before the first iteration).
    pub prev_flat_grad: Vec<f32>,
    /// Loss at the previous iterate.
    pub prev_loss: f64,
    /// Learning rate (changed by schedules through [`LrControl`]).
    pub lr: Option<f64>,
}

/// Limited-memory BFGS (Liu & Nocedal, "On the limited memory BFGS method for large scale
/// optimization", Math. Programming 1989; two-loop recursion: Nocedal 1980), as
/// `torch.optim.LBFGS`.
///
/// Each [`Lbfgs::step`] runs up to `max_iter` iterations: the direction d = −H·g from the
/// two-loop recursion over the last `history_size` pairs (sₖ, yₖ) with H₀ = γI,
/// γ = sᵀy/yᵀy, pairs kept only if yᵀs > 1e-10; the step t = lr (the first iteration ever:
/// min(1, 1/‖g‖₁)·lr), or found by the strong-Wolfe line search; it stops early on
/// max|g| ≤ tolerance_grad, gᵀd > −tolerance_change, max|t·d| ≤ tolerance_change,
/// |Δloss| < tolerance_change, or `max_eval` evaluations.
///
/// The optimizer works on one flat `f32` vector `x` (use [`crate::flatten_values`] /
/// [`crate::unflatten_into`] for named parameters): the closure receives the point to evaluate
/// and returns the loss and the flat gradient there, so it may rebuild the model from `x`
/// while the optimizer holds `x` itself.
#[derive(Clone, Debug)]
pub struct Lbfgs {
    cfg: LbfgsConfig,
    max_eval: usize,
    state: LbfgsState,
}

fn max_abs(v: &[f32]) -> f64 {
    v.iter().fold(0.0f64, |m, &x| pymax(m, x.abs() as f64))
}

/// x ← x + t·d in f32, as PyTorch's `p.add_(d, alpha=t)`.
fn add_scaled(x: &mut [f32], t: f64, d: &[f32]) {
    let t = t as f32;
    for (xi, di) in x.iter_mut().zip(d) {
        *xi += t * di;
    }
}

impl Lbfgs {
    /// The configuration.
    pub fn config(&self) -> &LbfgsConfig {
        &self.cfg
    }

    /// The state, for saving.
    pub fn state(&self) -> LbfgsState {
        LbfgsState {
            lr: Some(self.cfg.lr),
            ..self.state.clone()
        }
    }

    /// Restores a saved state (the learning rate too, if it was saved).
    pub fn load_state(&mut self, state: LbfgsState) -> Result<(), OptimError> {
        if let Some(lr) = state.lr {
            check_lr("LBFGS", lr)?;
            self.cfg.lr = lr;
        }
        let n = state.d.len();
        let consistent = state.old_dirs.len() == state.old_stps.len()
            && state.old_dirs.len() == state.ro.len()
            && state
                .old_dirs
                .iter()
                .chain(&state.old_stps)
                .all(|v| v.len() == n)
            && (state.prev_flat_grad.is_empty() || state.prev_flat_grad.len() == n);
        if !consistent {
            return Err(OptimError::IncompatibleState(
                "L-BFGS history vectors differ in length".into(),
            ));
        }
        self.state = state;
        Ok(())
    }

    /// One optimisation step (up to `max_iter` iterations) on the flat parameters `x`,
    /// `closure(x) = (loss, gradient)`. Returns the loss at the starting point, as PyTorch's
    /// `step(closure)` does.
    ///
    /// Errors if the closure's gradient length differs from `x.len()` or a saved state does not
    /// fit `x`; `x` may then hold a partially updated point.
    pub fn step<F>(&mut self, x: &mut [f32], mut closure: F) -> Result<f32, OptimError>
    where
        F: FnMut(&[f32]) -> (f32, Vec<f32>),
    {
        let n = x.len();
        if !self.state.d.is_empty() && self.state.d.len() != n {
            return Err(OptimError::IncompatibleState(format!(
                "L-BFGS state is for {} parameters, x has {n}",
                self.state.d.len()
            )));
        }
        let mut eval = |x: &[f32]| -> Result<(f64, Vec<f32>), OptimError> {
            let (l, g) = closure(x);
            if g.len() != n {
                return Err(OptimError::GradientLength {
                    found: g.len(),
                    expected: n,
                });
            }
            Ok((l as f64, g))
        };
        let LbfgsConfig {
            lr,
            max_iter,
            tolerance_grad,
            tolerance_change,
            history_size,
            line_search,
            ..
        } = self.cfg.clone();
        let max_eval = self.max_eval;
        let st = &mut self.state;

        let (orig_loss, mut flat_grad) = eval(x)?;
        let mut loss = orig_loss;
        let mut current_evals = 1usize;
        st.func_evals += 1;
        let mut opt_cond = max_abs(&flat_grad) <= tolerance_grad;
        if opt_cond {
            return Ok(orig_loss as f32);
        }

        let mut n_iter = 0;
        let mut trial = vec![0.0f32; n];
        while n_iter < max_iter {
            n_iter += 1;
            st.n_iter += 1;

            // Direction.
            if st.n_iter == 1 {
                st.d = flat_grad.iter().map(|g| -g).collect();
                st.old_dirs.clear();
                st.old_stps.clear();
                st.ro.clear();
                st.h_diag = 1.0;
            } else {
                let t32 = st.t as f32;
                let y: Vec<f32> = flat_grad
                    .iter()
                    .zip(&st.prev_flat_grad)
                    .map(|(a, b)| a - b)
                    .collect();
                let s: Vec<f32> = st.d.iter().map(|d| d * t32).collect();
                // Scalars are 0-d f32 tensors in PyTorch: round them to f32 likewise.
                let ys = dot(&y, &s) as f32;
                if ys as f64 > 1e-10 {
                    if st.old_dirs.len() == history_size {
                        st.old_dirs.pop_front();
                        st.old_stps.pop_front();
                        st.ro.pop_front();
                    }
                    st.h_diag = (ys / dot(&y, &y) as f32) as f64;
                    st.old_dirs.push_back(y);
                    st.old_stps.push_back(s);
                    st.ro.push_back((1.0 / ys) as f64);
                }
                // Two-loop recursion.
                let num_old = st.old_dirs.len();
                let mut al = vec![0.0f32; num_old];
                let mut q: Vec<f32> = flat_grad.iter().map(|g| -g).collect();
                for i in (0..num_old).rev() {
                    al[i] = dot(&st.old_stps[i], &q) as f32 * st.ro[i] as f32;
                    let a = -al[i];
                    for (qj, yj) in q.iter_mut().zip(&st.old_dirs[i]) {
                        *qj += a * yj;
                    }
                }
                let h = st.h_diag as f32;
                let mut r: Vec<f32> = q.iter().map(|v| v * h).collect();
                for (i, &al_i) in al.iter().enumerate() {
                    let be_i = dot(&st.old_dirs[i], &r) as f32 * st.ro[i] as f32;
                    let a = al_i - be_i;
                    for (rj, sj) in r.iter_mut().zip(&st.old_stps[i]) {
                        *rj += a * sj;
                    }
                }
                st.d = r;
            }
            st.prev_flat_grad.clone_from(&flat_grad);
            st.prev_loss = loss;

            // Step length.
            st.t = if st.n_iter == 1 {
                let l1 = flat_grad.iter().map(|g| g.abs() as f64).sum::<f64>() as f32;
                let inv = 1.0f32 / l1;
                // Python's min(1., tensor) * lr: an f32 tensor unless 1. is the minimum.
                if (inv as f64) < 1.0 {
                    (inv * lr as f32) as f64
                } else {
                    pymin(1.0, inv as f64) * lr
                }
            } else {
                lr
            };
            let gtd = dot(&flat_grad, &st.d) as f32 as f64;
            if gtd > -tolerance_change {
                break;
            }

            let mut ls_func_evals = 0;
            match line_search {
                LineSearch::StrongWolfe => {
                    let d = &st.d;
                    let x0: &[f32] = x;
                    let mut obj = |t: f64| {
                        trial.copy_from_slice(x0);
                        add_scaled(&mut trial, t, d);
                        eval(&trial)
                    };
                    let max_ls = max_eval as i64 - current_evals as i64;
                    let found = strong_wolfe(
                        &mut obj,
                        st.t,
                        d,
                        loss,
                        &flat_grad,
                        gtd,
                        1e-4,
                        0.9,
                        tolerance_change,
                        max_ls,
                    )?;
                    loss = found.loss;
                    flat_grad = found.grad;
                    st.t = found.t;
                    ls_func_evals = found.evals;
                    add_scaled(x, st.t, &st.d);
                    opt_cond = max_abs(&flat_grad) <= tolerance_grad;
                }
                LineSearch::None => {
                    add_scaled(x, st.t, &st.d);
                    if n_iter != max_iter {
                        (loss, flat_grad) = eval(x)?;
                        opt_cond = max_abs(&flat_grad) <= tolerance_grad;
                        ls_func_evals = 1;
                    }
                }
            }
            current_evals += ls_func_evals;
            st.func_evals += ls_func_evals as u64;

            // Stopping conditions.
            if n_iter == max_iter || current_evals >= max_eval || opt_cond {
                break;
            }
            let t32 = st.t as f32;
            if st
                .d
                .iter()
                .fold(0.0f64, |m, &d| pymax(m, (d * t32).abs() as f64))
                <= tolerance_change
            {
                break;
            }
            if (loss - st.prev_loss).abs() < tolerance_change {
                break;
            }
        }
        Ok(orig_loss as f32)
    }
}

impl LrControl for Lbfgs {
    fn num_groups(&self) -> usize {
        1
    }
    fn lr(&self, group: usize) -> f64 {
        assert_eq!(
            group, 0,
            "L-BFGS has one parameter group, asked for group {group}"
        );
        self.cfg.lr
    }
    fn set_lr(&mut self, group: usize, lr: f64) {
        assert_eq!(
            group, 0,
            "L-BFGS has one parameter group, asked for group {group}"
        );
        assert!(
            lr.is_finite() && lr >= 0.0,
            "set_lr: learning rate {lr} must be finite and >= 0"
        );
        self.cfg.lr = lr;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quad(x: &[f32]) -> (f32, Vec<f32>) {
        // f = ½ Σ (i+1) xᵢ²
        let f = x
            .iter()
            .enumerate()
            .map(|(i, v)| 0.5 * (i as f32 + 1.0) * v * v)
            .sum();
        (
            f,
            x.iter()
                .enumerate()
                .map(|(i, v)| (i as f32 + 1.0) * v)
                .collect(),
        )
    }

    #[test]
    fn minimises_a_quadratic_with_both_line_searches() {
        for ls in [LineSearch::None, LineSearch::StrongWolfe] {
            let mut opt = LbfgsConfig {
                line_search: ls,
                ..Default::default()
            }
            .init()
            .unwrap();
            let mut x = vec![1.0f32; 5];
            for _ in 0..5 {
                opt.step(&mut x, quad).unwrap();
            }
            assert!(x.iter().all(|v| v.abs() < 1e-4), "{ls:?}: {x:?}");
        }
    }

    #[test]
    fn wrong_gradient_length_is_an_error() {
        let mut opt = LbfgsConfig::default().init().unwrap();
        let mut x = vec![1.0f32; 3];
        let e = opt.step(&mut x, |_| (0.0, vec![1.0; 2])).unwrap_err();
        assert_eq!(
            e,
            OptimError::GradientLength {
                found: 2,
                expected: 3
            }
        );
        assert!(
            LbfgsConfig {
                max_iter: 0,
                ..Default::default()
            }
            .init()
            .is_err()
        );
    }
}
