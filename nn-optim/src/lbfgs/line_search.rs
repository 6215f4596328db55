//! The strong-Wolfe line search of PyTorch's L-BFGS (ported from `lswolfe.lua` of torch/optim
//! via `torch.optim.lbfgs._strong_wolfe`; Nocedal & Wright, "Numerical Optimization", 2006,
//! algorithms 3.5 and 3.6), with its cubic interpolation.

use crate::error::OptimError;

/// Python's `max(a, b)`: keeps `a` unless `b > a` (so a NaN in `a` propagates).
pub(crate) fn pymax(a: f64, b: f64) -> f64 {
    if b > a { b } else { a }
}

/// Python's `min(a, b)`: keeps `a` unless `b < a`.
pub(crate) fn pymin(a: f64, b: f64) -> f64 {
    if b < a { b } else { a }
}

/// Minimiser of the cubic interpolating (x₁, f₁, g₁) and (x₂, f₂, g₂), clamped to `bounds`
/// (default: the interval between x₁ and x₂); the midpoint of the bounds if the cubic has no
/// minimiser.
pub(crate) fn cubic_interpolate(
    x1: f64,
    f1: f64,
    g1: f64,
    x2: f64,
    f2: f64,
    g2: f64,
    bounds: Option<(f64, f64)>,
) -> f64 {
    let (xmin_bound, xmax_bound) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        pymin(pymax(min_pos, xmin_bound), xmax_bound)
    } else {
        (xmin_bound + xmax_bound) / 2.0
    }
}

pub(crate) fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

/// What the line search found: loss, gradient and step at the accepted point, and the number
/// of function evaluations it used.
pub(crate) struct Found {
    pub(crate) loss: f64,
    pub(crate) grad: Vec<f32>,
    pub(crate) t: f64,
    pub(crate) evals: usize,
}

/// Strong-Wolfe line search along `d` from the point with loss `f`, gradient `g` and
/// directional derivative `gtd`, starting at step `t`. `obj(t)` evaluates loss and gradient at
/// x + t·d.
#[allow(clippy::too_many_arguments)]
pub(crate) fn strong_wolfe(
    obj: &mut dyn FnMut(f64) -> Result<(f64, Vec<f32>), OptimError>,
    mut t: f64,
    d: &[f32],
    f: f64,
    g: &[f32],
    gtd: f64,
    c1: f64,
    c2: f64,
    tolerance_change: f64,
    max_ls: i64,
) -> Result<Found, OptimError> {
    let d_norm = d.iter().fold(0.0f64, |m, &v| pymax(m, v.abs() as f64));
    let (mut f_new, mut g_new) = obj(t)?;
    let mut evals = 1;
    let mut gtd_new = dot(&g_new, d);

    let (mut t_prev, mut f_prev, mut g_prev, mut gtd_prev) = (0.0, f, g.to_vec(), gtd);
    let mut done = false;
    let mut ls_iter: i64 = 0;
    let mut bracket: Vec<f64> = Vec::new();
    let mut bracket_f: Vec<f64> = Vec::new();
    let mut bracket_g: Vec<Vec<f32>> = Vec::new();
    let mut bracket_gtd: Vec<f64> = Vec::new();
    while ls_iter < max_ls {
        if f_new > f + c1 * t * gtd || (ls_iter > 1 && f_new >= f_prev) {
            bracket = vec![t_prev, t];
            bracket_f = vec![f_prev, f_new];
            bracket_g = vec![g_prev.clone(), g_new.clone()];
            bracket_gtd = vec![gtd_prev, gtd_new];
            break;
        }
        if gtd_new.abs() <= -c2 * gtd {
            bracket = vec![t];
            bracket_f = vec![f_new];
            bracket_g = vec![g_new.clone()];
            done = true;
            break;
        }
        if gtd_new >= 0.0 {
            bracket = vec![t_prev, t];
            bracket_f = vec![f_prev, f_new];
            bracket_g = vec![g_prev.clone(), g_new.clone()];
            bracket_gtd = vec![gtd_prev, gtd_new];
            break;
        }
        // interpolate
        let min_step = t + 0.01 * (t - t_prev);
        let max_step = t * 10.0;
        let tmp = t;
        t = cubic_interpolate(
            t_prev,
            f_prev,
            gtd_prev,
            t,
            f_new,
            gtd_new,
            Some((min_step, max_step)),
        );
        // next step
        t_prev = tmp;
        f_prev = f_new;
        g_prev = g_new;
        gtd_prev = gtd_new;
        (f_new, g_new) = obj(t)?;
        evals += 1;
        gtd_new = dot(&g_new, d);
        ls_iter += 1;
    }
    if ls_iter == max_ls {
        bracket = vec![0.0, t];
        bracket_f = vec![f, f_new];
        bracket_g = vec![g.to_vec(), g_new.clone()];
    }

    // zoom phase
    let mut insuf_progress = false;
    let (mut low_pos, mut high_pos) = if bracket_f[0] <= bracket_f[bracket_f.len() - 1] {
        (0, 1)
    } else {
        (1, 0)
    };
    while !done && ls_iter < max_ls {
        if (bracket[1] - bracket[0]).abs() * d_norm < tolerance_change {
            break;
        }
        t = cubic_interpolate(
            bracket[0],
            bracket_f[0],
            bracket_gtd[0],
            bracket[1],
            bracket_f[1],
            bracket_gtd[1],
            None,
        );
        let (bmax, bmin) = (pymax(bracket[0], bracket[1]), pymin(bracket[0], bracket[1]));
        let eps = 0.1 * (bmax - bmin);
        if pymin(bmax - t, t - bmin) < eps {
            if insuf_progress || t >= bmax || t <= bmin {
                t = if (t - bmax).abs() < (t - bmin).abs() {
                    bmax - eps
                } else {
                    bmin + eps
                };
                insuf_progress = false;
            } else {
                insuf_progress = true;
            }
        } else {
            insuf_progress = false;
        }
        (f_new, g_new) = obj(t)?;
        evals += 1;
        gtd_new = dot(&g_new, d);
        ls_iter += 1;

        if f_new > f + c1 * t * gtd || f_new >= bracket_f[low_pos] {
            bracket[high_pos] = t;
            bracket_f[high_pos] = f_new;
            bracket_g[high_pos] = g_new.clone();
            bracket_gtd[high_pos] = gtd_new;
            (low_pos, high_pos) = if bracket_f[0] <= bracket_f[1] {
                (0, 1)
            } else {
                (1, 0)
            };
        } else {
            if gtd_new.abs() <= -c2 * gtd {
                done = true;
            } else if gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0.0 {
                bracket[high_pos] = bracket[low_pos];
                bracket_f[high_pos] = bracket_f[low_pos];
                bracket_g[high_pos] = bracket_g[low_pos].clone();
                bracket_gtd[high_pos] = bracket_gtd[low_pos];
            }
            bracket[low_pos] = t;
            bracket_f[low_pos] = f_new;
            bracket_g[low_pos] = g_new.clone();
            bracket_gtd[low_pos] = gtd_new;
        }
    }
    let grad = std::mem::take(&mut bracket_g[low_pos]);
    Ok(Found {
        loss: bracket_f[low_pos],
        grad,
        t: bracket[low_pos],
        evals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cubic_finds_the_minimum_of_a_quadratic() {
        // f(x) = (x − 1)², f' = 2(x − 1): exact minimiser 1 from points 0 and 3.
        let x = cubic_interpolate(0.0, 1.0, -2.0, 3.0, 4.0, 4.0, None);
        assert!((x - 1.0).abs() < 1e-12);
        // No real minimiser → midpoint of the bounds.
        let x = cubic_interpolate(0.0, 0.0, 1.0, 1.0, 0.0, 1.0, Some((0.0, 2.0)));
        assert!(x.is_finite());
    }

    #[test]
    fn strong_wolfe_on_a_parabola_satisfies_the_conditions() {
        // φ(t) = (t − 2)² along d = [1] from x = 0.
        let mut obj = |t: f64| -> Result<(f64, Vec<f32>), OptimError> {
            Ok(((t - 2.0).powi(2), vec![(2.0 * (t - 2.0)) as f32]))
        };
        let found = strong_wolfe(
            &mut obj,
            1.0,
            &[1.0],
            4.0,
            &[-4.0],
            -4.0,
            1e-4,
            0.9,
            1e-9,
            25,
        )
        .unwrap();
        assert!(found.loss <= 4.0 + 1e-4 * found.t * -4.0);
        assert!((found.grad[0] as f64).abs() <= 0.9 * 4.0);
    }
}
