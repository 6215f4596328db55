//! `nn-train lab optimizers`, part 1: the paths of SGD, momentum, Nesterov, AdaGrad, RMSProp,
//! Adam and L-BFGS on 2-D functions (CS231n, "Optimization": SGD zig-zags on ill-conditioned
//! problems and stalls at saddle points; momentum and the adaptive methods help; with full
//! batches, L-BFGS).
//!
//! | surface | f(x, y) | start | minimum |
//! |---|---|---|---|
//! | Rosenbrock | (1 − x)² + 100(y − x²)² ([`problems::Rosenbrock`]) | (−1.2, 1) | (1, 1), at the end of a curved valley |
//! | saddle | x² + y⁴/4 − y²/2 ([`Saddle`]) | (1.5, 10⁻³), on the ridge | (0, ±1); a saddle at (0, 0) |
//! | ill-conditioned quadratic | ½ xᵀAx, A rotated, eigenvalues 1 and 50 ([`problems::Quadratic`]) | (−1.44, 1.42): 2 along the valley, 0.3 up its wall | (0, 0), at the bottom of a narrow diagonal valley |
//!
//! Every method runs from the same start for the surface's number of steps, with the learning
//! rate listed in [`Surface::lr`] (one per method, chosen so that each shows its typical
//! behaviour there: the largest stable-looking rate of a coarse sweep); L-BFGS takes one
//! iteration per step with a strong-Wolfe line search (its rate is 1). A path counts as having
//! *reached* the minimum at the first step within [`Surface::tol`] of a minimiser.

use ndarray::{ArrayD, IxDyn};
use nn_optim::problems::{self, Objective};
use nn_optim::{LbfgsConfig, LineSearch, OptimizerConfig, ParamMut};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// An optimizer of the lecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Plain SGD.
    Sgd,
    /// SGD with momentum 0.9.
    Momentum,
    /// SGD with Nesterov momentum 0.9.
    Nesterov,
    /// AdaGrad.
    #[serde(rename = "adagrad")]
    AdaGrad,
    /// RMSProp (α = 0.99).
    #[serde(rename = "rmsprop")]
    RmsProp,
    /// Adam (β = 0.9, 0.999).
    Adam,
    /// L-BFGS with a strong-Wolfe line search (full batch only).
    #[serde(rename = "lbfgs")]
    Lbfgs,
}

impl Method {
    /// Every method, in the lecture's order.
    pub const ALL: [Method; 7] = [
        Method::Sgd,
        Method::Momentum,
        Method::Nesterov,
        Method::AdaGrad,
        Method::RmsProp,
        Method::Adam,
        Method::Lbfgs,
    ];

    /// The name used in tables, legends and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Method::Sgd => "sgd",
            Method::Momentum => "momentum",
            Method::Nesterov => "nesterov",
            Method::AdaGrad => "adagrad",
            Method::RmsProp => "rmsprop",
            Method::Adam => "adam",
            Method::Lbfgs => "lbfgs",
        }
    }

    /// The method named `name` (as [`Method::name`]).
    pub fn parse(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The element-wise optimizer at rate `lr` with `weight_decay` (PyTorch's defaults
    /// otherwise; momentum 0.9 for the momentum methods); `None` for L-BFGS.
    pub fn config(self, lr: f64, weight_decay: f64) -> Option<OptimizerConfig> {
        use nn_optim::{AdaGradConfig, AdamConfig, RmsPropConfig, SgdConfig};
        let sgd = |momentum, nesterov| {
            OptimizerConfig::Sgd(SgdConfig {
                lr,
                momentum,
                nesterov,
                weight_decay,
                ..SgdConfig::default()
            })
        };
        Some(match self {
            Method::Sgd => sgd(0.0, false),
            Method::Momentum => sgd(0.9, false),
            Method::Nesterov => sgd(0.9, true),
            Method::AdaGrad => OptimizerConfig::AdaGrad(AdaGradConfig {
                lr,
                weight_decay,
                ..AdaGradConfig::default()
            }),
            Method::RmsProp => OptimizerConfig::RmsProp(RmsPropConfig {
                lr,
                weight_decay,
                ..RmsPropConfig::default()
            }),
            Method::Adam => OptimizerConfig::Adam(AdamConfig {
                lr,
                weight_decay,
                ..AdamConfig::default()
            }),
            Method::Lbfgs => return None,
        })
    }
}

/// f(x, y) = x² + y⁴/4 − y²/2: a saddle point at (0, 0) (curving up along x, down along y),
/// minima f = −¼ at (0, ±1). Started on the ridge y ≈ 0, gradient descent first slides to the
/// saddle and only slowly escapes it (y grows by a factor 1 + lr per step).
#[derive(Debug, Clone, Copy, Default)]
pub struct Saddle;

impl Objective for Saddle {
    fn name(&self) -> String {
        "saddle".into()
    }
    fn start(&self) -> Vec<f32> {
        vec![1.5, 1e-3]
    }
    fn minimum(&self) -> Vec<f32> {
        vec![0.0, 1.0]
    }
    fn eval(&self, v: &[f32]) -> (f32, Vec<f32>) {
        let (x, y) = (f64::from(v[0]), f64::from(v[1]));
        let f = x * x + y.powi(4) / 4.0 - y * y / 2.0;
        (f as f32, vec![(2.0 * x) as f32, (y.powi(3) - y) as f32])
    }
}

/// Another objective started from `start`.
pub struct StartAt<O> {
    /// The objective.
    pub inner: O,
    /// The start.
    pub start: Vec<f32>,
}

impl<O: Objective> Objective for StartAt<O> {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn start(&self) -> Vec<f32> {
        self.start.clone()
    }
    fn minimum(&self) -> Vec<f32> {
        self.inner.minimum()
    }
    fn eval(&self, x: &[f32]) -> (f32, Vec<f32>) {
        self.inner.eval(x)
    }
}

/// A 2-D test surface with its window, budget and per-method rates.
pub struct Surface {
    /// Short name (file names, titles).
    pub name: &'static str,
    /// The function.
    pub objective: Box<dyn Objective + Send + Sync>,
    /// Every minimiser (the saddle has two).
    pub minima: Vec<(f64, f64)>,
    /// The x range of the plot.
    pub x: (f64, f64),
    /// The y range of the plot.
    pub y: (f64, f64),
    /// Steps (L-BFGS: iterations) per method.
    pub steps: usize,
    /// Distance to a minimiser that counts as reached.
    pub tol: f64,
    /// Learning rate per method, in [`Method::ALL`] order (L-BFGS: 1).
    pub lrs: [f64; 7],
}

impl Surface {
    /// The learning rate of `method` on this surface.
    pub fn lr(&self, method: Method) -> f64 {
        self.lrs[Method::ALL
            .iter()
            .position(|m| *m == method)
            .expect("in ALL")]
    }
}

/// The three surfaces of the lab (see the module docs).
pub fn surfaces() -> Vec<Surface> {
    vec![
        Surface {
            name: "rosenbrock",
            objective: Box::new(problems::Rosenbrock),
            minima: vec![(1.0, 1.0)],
            x: (-2.0, 2.0),
            y: (-1.0, 3.0),
            steps: 3000,
            tol: 1e-2,
            lrs: [1e-3, 1e-3, 1e-3, 0.5, 1e-2, 5e-2, 1.0],
        },
        Surface {
            name: "saddle",
            objective: Box::new(Saddle),
            minima: vec![(0.0, 1.0), (0.0, -1.0)],
            x: (-1.6, 1.6),
            y: (-1.6, 1.6),
            steps: 300,
            tol: 1e-2,
            lrs: [0.05, 0.05, 0.05, 0.3, 0.01, 0.05, 1.0],
        },
        Surface {
            name: "ill-conditioned",
            objective: Box::new(StartAt {
                inner: problems::Quadratic::new(2, 50.0, true),
                start: vec![-1.44, 1.42],
            }),
            minima: vec![(0.0, 0.0)],
            x: (-2.0, 2.0),
            y: (-2.0, 2.0),
            steps: 300,
            tol: 1e-2,
            lrs: [0.035, 0.01, 0.01, 0.5, 0.01, 0.05, 1.0],
        },
    ]
}

/// How a path ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathEnd {
    /// Within the tolerance of a minimiser at the end.
    Reached,
    /// Finite but not (or no longer) within the tolerance.
    NotReached,
    /// A coordinate became NaN/∞ or beyond 10⁶.
    Diverged,
}

/// The path of one method on one surface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptPath {
    /// The method.
    pub method: Method,
    /// Its learning rate.
    pub lr: f64,
    /// Points, the start first, one per step.
    pub points: Vec<(f64, f64)>,
    /// f at every point.
    pub losses: Vec<f64>,
    /// The first step within tolerance of a minimiser, if any.
    pub reached_at: Option<usize>,
    /// Gradient (closure) evaluations used up to each point (the start: 1).
    pub evaluations: Vec<usize>,
    /// How it ended.
    pub end: PathEnd,
    /// Distance of the last point to the nearest minimiser.
    pub final_distance: f64,
}

fn nearest(minima: &[(f64, f64)], p: (f64, f64)) -> f64 {
    minima
        .iter()
        .map(|m| ((p.0 - m.0).powi(2) + (p.1 - m.1).powi(2)).sqrt())
        .fold(f64::INFINITY, f64::min)
}

/// Runs `method` on `surface` (see the module docs).
pub fn run_path(surface: &Surface, method: Method) -> Result<OptPath> {
    let obj = surface.objective.as_ref();
    let lr = surface.lr(method);
    let start = obj.start();
    let as_pt = |v: &[f32]| (f64::from(v[0]), f64::from(v[1]));
    let mut points = vec![as_pt(&start)];
    let mut losses = vec![f64::from(obj.eval(&start).0)];
    let mut evaluations = vec![1];
    let mut evals = 1;
    let ok = |v: &[f32]| v.iter().all(|x| x.is_finite() && x.abs() < 1e6);
    let mut diverged = false;
    match method.config(lr, 0.0) {
        Some(config) => {
            let mut opt = config.build(vec![])?;
            let mut x = ArrayD::from_shape_vec(IxDyn(&[2]), start).expect("2 values");
            for _ in 0..surface.steps {
                let (_, g) = obj.eval(x.as_slice().expect("contiguous"));
                let g = ArrayD::from_shape_vec(IxDyn(&[2]), g).expect("2 values");
                opt.step(&mut [ParamMut::new("xy", x.view_mut(), g.view())])?;
                let xs = x.as_slice().expect("contiguous");
                if !ok(xs) {
                    diverged = true;
                    break;
                }
                evals += 1;
                evaluations.push(evals);
                points.push(as_pt(xs));
                losses.push(f64::from(obj.eval(xs).0));
            }
        }
        None => {
            let mut opt = LbfgsConfig {
                lr,
                max_iter: 1,
                max_eval: Some(25),
                history_size: 10,
                tolerance_grad: 1e-7,
                tolerance_change: 1e-9,
                line_search: LineSearch::StrongWolfe,
            }
            .init()?;
            let mut x = start;
            for _ in 0..surface.steps {
                let before = opt.state().n_iter;
                opt.step(&mut x, |v| {
                    evals += 1;
                    obj.eval(v)
                })?;
                if !ok(&x) {
                    diverged = true;
                    break;
                }
                if opt.state().n_iter == before {
                    break; // converged (gradient below tolerance)
                }
                evaluations.push(evals);
                points.push(as_pt(&x));
                losses.push(f64::from(obj.eval(&x).0));
            }
        }
    }
    let reached_at = points
        .iter()
        .position(|&p| nearest(&surface.minima, p) <= surface.tol);
    let last = *points.last().expect("the start");
    let final_distance = nearest(&surface.minima, last);
    let end = if diverged {
        PathEnd::Diverged
    } else if final_distance <= surface.tol {
        PathEnd::Reached
    } else {
        PathEnd::NotReached
    };
    Ok(OptPath {
        method,
        lr,
        points,
        losses,
        reached_at,
        evaluations,
        end,
        final_distance,
    })
}

/// The paths of `methods` on one surface, and what they show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurfaceReport {
    /// The surface's name.
    pub surface: String,
    /// One path per method.
    pub paths: Vec<OptPath>,
    /// The verdict in words.
    pub verdict: String,
}

/// Runs `methods` on `surface` and words the outcome: who reached the minimum, after how many
/// steps (fastest first), who did not (and how far it stayed), who diverged.
pub fn run_surface(surface: &Surface, methods: &[Method]) -> Result<SurfaceReport> {
    let paths = methods
        .iter()
        .map(|&m| run_path(surface, m))
        .collect::<Result<Vec<_>>>()?;
    let mut reached: Vec<&OptPath> = paths.iter().filter(|p| p.end == PathEnd::Reached).collect();
    reached.sort_by_key(|p| p.reached_at);
    let steps = |p: &OptPath| {
        let s = p.reached_at.unwrap_or(0);
        if p.method == Method::Lbfgs {
            format!(
                "{} {s} iterations ({} evaluations)",
                p.method.name(),
                p.evaluations[s]
            )
        } else {
            format!("{} {s}", p.method.name())
        }
    };
    let mut v = format!("{}: ", surface.name);
    if reached.is_empty() {
        v += &format!("no method came within {} of a minimum", surface.tol);
    } else {
        let list: Vec<String> = reached.iter().map(|p| steps(p)).collect();
        v += &format!(
            "reached a minimum (within {}) after: {}",
            surface.tol,
            list.join(", ")
        );
    }
    let missed: Vec<String> = paths
        .iter()
        .filter(|p| p.end == PathEnd::NotReached)
        .map(|p| format!("{} (distance {:.2})", p.method.name(), p.final_distance))
        .collect();
    if !missed.is_empty() {
        v += &format!(
            "; not within {} steps: {}",
            surface.steps,
            missed.join(", ")
        );
    }
    let diverged: Vec<&str> = paths
        .iter()
        .filter(|p| p.end == PathEnd::Diverged)
        .map(|p| p.method.name())
        .collect();
    if !diverged.is_empty() {
        v += &format!("; diverged: {}", diverged.join(", "));
    }
    v.push('.');
    Ok(SurfaceReport {
        surface: surface.name.into(),
        paths,
        verdict: v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saddle_gradient_and_names() {
        let (f, g) = Saddle.eval(&[0.5, 2.0]);
        assert!((f - (0.25 + 4.0 - 2.0)).abs() < 1e-6);
        assert_eq!(g, vec![1.0, 6.0]);
        assert_eq!(Saddle.eval(&[0.0, 1.0]).1, vec![0.0, 0.0]);
        for m in Method::ALL {
            assert_eq!(Method::parse(m.name()), Some(m));
        }
        assert!(Method::Lbfgs.config(1.0, 0.0).is_none());
    }
}
