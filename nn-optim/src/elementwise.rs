//! The generic element-wise optimizer: one per-parameter [`UpdateRule`] (SGD's, Adam's, ...)
//! wrapped once by [`ElementwiseOptimizer`], which owns everything the rules share — parameter
//! groups, per-name state slots, validation before anything changes, gradient clipping and
//! `maximize`, the learning-rate and weight-decay controls, save/restore — and implements
//! [`Optimizer`] and [`LrControl`] for every rule (as burn's `OptimizerAdaptor` wraps a
//! `SimpleOptimizer`).
//!
//! A new element-wise optimizer is a config, a rule and its `update`; for example, sign descent
//! (signSGD, Bernstein et al. 2018), θ ← θ − η·sign(g):
//!
//! ```
//! use ndarray::{ArrayD, IxDyn, Zip};
//! use nn_optim::{Common, ElementwiseOptimizer, Optimizer, ParamMut, Update, UpdateRule};
//!
//! #[derive(Clone, Debug)]
//! struct SignSgd;
//!
//! impl UpdateRule for SignSgd {
//!     fn name(&self) -> &'static str {
//!         "SignSGD"
//!     }
//!     fn buffer_names(&self) -> &'static [&'static str] {
//!         &[] // no per-parameter state
//!     }
//!     fn update(&self, u: Update<'_, '_>) {
//!         let (lr, prep) = (u.lr as f32, u.prep);
//!         Zip::from(u.value).and(u.grad).for_each(|t, &g| *t -= lr * prep.apply(g).signum());
//!     }
//! }
//!
//! let mut opt = ElementwiseOptimizer::new(SignSgd, Common { lr: 0.5, ..Common::default() }, vec![]).unwrap();
//! let mut w = ArrayD::from_elem(IxDyn(&[2]), 1.0f32);
//! let g = ArrayD::from_shape_vec(IxDyn(&[2]), vec![3.0f32, -0.1]).unwrap();
//! opt.step(&mut [ParamMut::new("w", w.view_mut(), g.view())]).unwrap();
//! assert_eq!(w.as_slice().unwrap(), &[0.5, 1.5]);
//! assert_eq!(opt.state().optimizer, "SignSGD");
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, IxDyn};

use crate::error::{OptimError, check_lr, check_nonneg};
use crate::group::{GroupState, Groups, ParamGroup};
use crate::optimizer::{LrControl, Optimizer};
use crate::param::ParamMut;
use crate::state::{OptimState, ParamState};
use crate::transform::{DecayKind, GradClip, GradPrep, WeightDecay};

/// One parameter's update, handed to [`UpdateRule::update`].
pub struct Update<'a, 'v> {
    /// The parameter, updated in place.
    pub value: &'a mut ArrayViewMutD<'v, f32>,
    /// Its raw gradient (same shape); pass each element through [`prep`](Update::prep).
    pub grad: &'a ArrayViewD<'v, f32>,
    /// Clipping and sign for this step (clip by value / by global norm, `maximize`).
    pub prep: GradPrep,
    /// The state buffers, in the order of [`UpdateRule::buffer_names`], shaped like the
    /// parameter and contiguous.
    pub state: &'a mut [ArrayD<f32>],
    /// Updates of this parameter so far, this one included (1 on the first).
    pub step: u64,
    /// The learning rate of the parameter's group.
    pub lr: f64,
    /// The weight-decay coefficient of the parameter's group.
    pub weight_decay: f64,
}

/// The per-parameter update of an element-wise optimizer; [`ElementwiseOptimizer`] does the
/// rest. The rule holds the optimizer's fixed hyperparameters (betas, momentum, ...); the
/// per-group learning rate and weight decay come in the [`Update`].
pub trait UpdateRule: Clone + fmt::Debug + Send + 'static {
    /// The optimizer's name, as written in saved state (`"SGD"`, `"Adam"`, `"AdamW"`, ...).
    fn name(&self) -> &'static str;

    /// PyTorch's names of the per-parameter state buffers, in order (fixed for a rule).
    fn buffer_names(&self) -> &'static [&'static str];

    /// The value buffer `index` starts at (0 unless overridden; AdaGrad's initial accumulator).
    fn initial_value(&self, index: usize) -> f32 {
        let _ = index;
        0.0
    }

    /// Updates one parameter in place.
    fn update(&self, update: Update<'_, '_>);

    /// How weight decay is applied (L2 gradient term or decoupled), for
    /// [`ElementwiseOptimizer::weight_decay_rule`].
    fn decay_kind(&self) -> DecayKind {
        DecayKind::L2
    }

    /// The momentum a one-cycle schedule cycles (SGD/RMSprop μ, Adam β₁), if any.
    fn momentum(&self) -> Option<f64> {
        None
    }

    /// Sets [`UpdateRule::momentum`]; an error if the rule has none or `m` is out of range.
    fn set_momentum(&mut self, m: f64) -> Result<(), OptimError> {
        let _ = m;
        Err(OptimError::Unsupported {
            optimizer: self.name(),
            what: "momentum",
        })
    }
}

/// The hyperparameters every element-wise optimizer has (PyTorch's defaults except `lr`, which
/// each optimizer's config sets).
#[derive(Clone, Debug, PartialEq)]
pub struct Common {
    /// Base learning rate (group 0's; other groups scale or override it).
    pub lr: f64,
    /// Base weight-decay coefficient.
    pub weight_decay: f64,
    /// Gradient clipping before the update.
    pub clip: GradClip,
    /// Maximise the objective (g ← −g).
    pub maximize: bool,
}

impl Default for Common {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            weight_decay: 0.0,
            clip: GradClip::NONE,
            maximize: false,
        }
    }
}

/// Per-parameter state: update count and buffers (in the rule's order).
#[derive(Clone, Debug)]
struct Slot {
    step: u64,
    bufs: Vec<ArrayD<f32>>,
}

/// An element-wise optimizer: an [`UpdateRule`] plus the machinery every rule shares. [`crate::Sgd`],
/// [`crate::AdaGrad`], [`crate::RmsProp`] and [`crate::Adam`] are this with their rules.
#[derive(Clone, Debug)]
pub struct ElementwiseOptimizer<R: UpdateRule> {
    rule: R,
    groups: Groups,
    clip: GradClip,
    maximize: bool,
    slots: HashMap<String, Slot>,
    last_grad_norm: Option<f32>,
}

impl<R: UpdateRule> ElementwiseOptimizer<R> {
    /// Validates the common hyperparameters and the groups, and builds the optimizer.
    pub fn new(rule: R, common: Common, groups: Vec<ParamGroup>) -> Result<Self, OptimError> {
        let owner = rule.name();
        common.clip.validate(owner)?;
        Ok(Self {
            groups: Groups::new(owner, common.lr, common.weight_decay, groups)?,
            rule,
            clip: common.clip,
            maximize: common.maximize,
            slots: HashMap::new(),
            last_grad_norm: None,
        })
    }

    /// The update rule (its fixed hyperparameters).
    pub fn rule(&self) -> &R {
        &self.rule
    }

    /// The weight-decay rule of group `group`.
    pub fn weight_decay_rule(&self, group: usize) -> Result<WeightDecay, OptimError> {
        Ok(WeightDecay {
            kind: self.rule.decay_kind(),
            coeff: self.groups.get(group)?.weight_decay,
        })
    }

    fn group(&self, i: usize) -> &GroupState {
        self.groups.get(i).unwrap_or_else(|e| panic!("{e}"))
    }

    fn group_mut(&mut self, i: usize) -> &mut GroupState {
        self.groups.get_mut(i).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Checks the step's parameters (unique names, gradient shapes, state shapes) before
    /// anything is changed; returns the index and group of each parameter with a gradient.
    fn check(&mut self, params: &[ParamMut<'_>]) -> Result<Vec<(usize, usize)>, OptimError> {
        let mut seen = HashSet::with_capacity(params.len());
        for p in params {
            if !seen.insert(p.name) {
                return Err(OptimError::DuplicateParameter(p.name.to_string()));
            }
            let Some(g) = &p.grad else { continue };
            let shape_error = |what: String, found: &[usize]| OptimError::ShapeMismatch {
                name: p.name.to_string(),
                what,
                found: found.to_vec(),
                expected: p.value.shape().to_vec(),
            };
            if g.shape() != p.value.shape() {
                return Err(shape_error("gradient".into(), g.shape()));
            }
            if let Some(slot) = self.slots.get(p.name) {
                for (k, b) in slot.bufs.iter().enumerate() {
                    if b.shape() != p.value.shape() {
                        let what = format!("optimizer state buffer {k}");
                        return Err(shape_error(what, b.shape()));
                    }
                }
            }
        }
        Ok(params
            .iter()
            .enumerate()
            .filter(|(_, p)| p.grad.is_some())
            .map(|(i, p)| (i, self.groups.group_of(p.name, p.value.ndim())))
            .collect())
    }
}

impl<R: UpdateRule> LrControl for ElementwiseOptimizer<R> {
    fn num_groups(&self) -> usize {
        self.groups.state.len()
    }
    fn lr(&self, group: usize) -> f64 {
        self.group(group).lr
    }
    fn set_lr(&mut self, group: usize, lr: f64) {
        assert!(
            lr.is_finite() && lr >= 0.0,
            "set_lr: learning rate {lr} must be finite and >= 0"
        );
        self.group_mut(group).lr = lr;
    }
    fn momentum(&self) -> Option<f64> {
        self.rule.momentum()
    }
    fn set_momentum(&mut self, m: f64) -> Result<(), OptimError> {
        self.rule.set_momentum(m)
    }
}

impl<R: UpdateRule> Optimizer for ElementwiseOptimizer<R> {
    fn step(&mut self, params: &mut [ParamMut<'_>]) -> Result<(), OptimError> {
        let work = self.check(params)?;
        let (prep, norm) = self.clip.prepare(params, self.maximize);
        self.last_grad_norm = norm;
        let nbuf = self.rule.buffer_names().len();
        for (index, group) in work {
            let p = &mut params[index];
            let grp = &self.groups.state[group];
            let rule = &self.rule;
            if !self.slots.contains_key(p.name) {
                let shape = IxDyn(p.value.shape());
                let bufs = (0..nbuf)
                    .map(|k| ArrayD::from_elem(shape.clone(), rule.initial_value(k)))
                    .collect();
                self.slots
                    .insert(p.name.to_string(), Slot { step: 0, bufs });
            }
            let slot = self.slots.get_mut(p.name).expect("inserted above");
            slot.step += 1;
            let grad = p
                .grad
                .as_ref()
                .expect("check keeps parameters with a gradient");
            rule.update(Update {
                value: &mut p.value,
                grad,
                prep,
                state: &mut slot.bufs,
                step: slot.step,
                lr: grp.lr,
                weight_decay: grp.weight_decay,
            });
        }
        Ok(())
    }

    fn name(&self) -> &'static str {
        self.rule.name()
    }

    fn group_labels(&self) -> Vec<String> {
        self.groups.state.iter().map(|g| g.label.clone()).collect()
    }

    fn group_of(&mut self, name: &str, ndim: usize) -> usize {
        self.groups.group_of(name, ndim)
    }

    fn weight_decay(&self, group: usize) -> f64 {
        self.group(group).weight_decay
    }

    fn set_weight_decay(&mut self, group: usize, wd: f64) {
        assert!(
            wd.is_finite() && wd >= 0.0,
            "set_weight_decay: {wd} must be finite and >= 0"
        );
        self.group_mut(group).weight_decay = wd;
    }

    fn last_grad_norm(&self) -> Option<f32> {
        self.last_grad_norm
    }

    fn state(&self) -> OptimState {
        let names = self.rule.buffer_names();
        let params = self
            .slots
            .iter()
            .map(|(k, s)| {
                let buffers = names
                    .iter()
                    .zip(&s.bufs)
                    .map(|(n, b)| (n.to_string(), b.clone()))
                    .collect();
                let state = ParamState {
                    step: s.step,
                    buffers,
                };
                (k.clone(), state)
            })
            .collect::<BTreeMap<_, _>>();
        OptimState {
            optimizer: self.rule.name().to_string(),
            groups: self.groups.state.clone(),
            params,
        }
    }

    fn load_state(&mut self, state: &OptimState) -> Result<(), OptimError> {
        let owner = self.rule.name();
        let names = self.rule.buffer_names();
        let incompatible = |m: String| Err(OptimError::IncompatibleState(m));
        if state.optimizer != owner {
            return incompatible(format!(
                "it was saved by {}, this optimizer is {owner}",
                state.optimizer
            ));
        }
        if state.groups.len() != self.groups.state.len() {
            return incompatible(format!(
                "it has {} parameter groups, this optimizer has {}",
                state.groups.len(),
                self.groups.state.len()
            ));
        }
        let mut slots = HashMap::with_capacity(state.params.len());
        for (name, ps) in &state.params {
            if ps.buffers.len() != names.len() {
                return incompatible(format!(
                    "parameter `{name}` has buffers {:?}, expected {names:?}",
                    ps.buffers.keys().collect::<Vec<_>>()
                ));
            }
            let mut bufs: Vec<ArrayD<f32>> = Vec::with_capacity(names.len());
            for n in names {
                let Some(b) = ps.buffers.get(*n) else {
                    return incompatible(format!("parameter `{name}` has no buffer `{n}`"));
                };
                if let Some(first) = bufs.first().filter(|f| f.shape() != b.shape()) {
                    return incompatible(format!(
                        "parameter `{name}`: buffer `{n}` has shape {:?}, the others {:?}",
                        b.shape(),
                        first.shape()
                    ));
                }
                bufs.push(b.as_standard_layout().into_owned());
            }
            let slot = Slot {
                step: ps.step,
                bufs,
            };
            slots.insert(name.clone(), slot);
        }
        for g in &state.groups {
            check_lr(owner, g.lr)?;
            check_nonneg(owner, "weight_decay", g.weight_decay)?;
        }
        self.groups.state = state.groups.clone();
        self.slots = slots;
        Ok(())
    }
}
