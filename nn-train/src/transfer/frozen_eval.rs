//! [`EvalWhenFrozen`]: a frozen part of a network runs in evaluation mode, so that its batch
//! norms normalise with the running statistics learnt on the source task (and never update them)
//! and its dropout is off — the frozen part is a fixed feature extractor, as in DeCAF (Donahue
//! et al. 2014) and torchvision's `FrozenBatchNorm2d` fine-tuning recipes.
//!
//! The wrapper keeps the names of the module it wraps (checkpoints are unchanged) and decides at
//! every forward pass: while all of its guard parameters are frozen it runs the inner module
//! with [`Ctx::eval`]; once any is unfrozen (gradual unfreezing) it passes the training context
//! through, so the part trains normally from then on.

use nn_core::layers::Identity;
use nn_core::layers::Sequential;
use nn_core::module::join;
use nn_core::{Ctx, Entry, Module, Parameter, Tensor};

/// Runs `inner` in evaluation mode while every guard parameter is frozen (see the module docs).
pub struct EvalWhenFrozen {
    inner: Box<dyn Module>,
    guard: Vec<Parameter>,
}

impl EvalWhenFrozen {
    /// Wraps `inner`; `guard` are the parameters whose frozen state decides the mode (the
    /// inner module's own, or for a parameterless layer such as dropout, those of the layers
    /// before it).
    pub fn new(inner: Box<dyn Module>, guard: Vec<Parameter>) -> EvalWhenFrozen {
        EvalWhenFrozen { inner, guard }
    }

    /// Whether the wrapped module currently runs in evaluation mode.
    pub fn is_frozen(&self) -> bool {
        !self.guard.is_empty() && self.guard.iter().all(Parameter::is_frozen)
    }

    /// The wrapped module.
    pub fn inner(&self) -> &dyn Module {
        self.inner.as_ref()
    }
}

impl Module for EvalWhenFrozen {
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        if ctx.is_train() && self.is_frozen() {
            self.inner.forward(x, &mut Ctx::eval())
        } else {
            self.inner.forward(x, ctx)
        }
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(Entry<'_>)) {
        self.inner.visit(prefix, f)
    }

    fn inference_chunk(&self, input: &[usize]) -> Option<usize> {
        self.inner.inference_chunk(input)
    }

    fn describe(&self) -> String {
        format!("{} [eval mode while frozen]", self.inner.describe())
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        self.inner.as_any()
    }

    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        self.inner.as_any_mut()
    }
}

/// What [`wrap_frozen`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Wrapped {
    /// Module paths now running in evaluation mode while frozen.
    pub eval_mode: Vec<String>,
    /// Modules with frozen parameters and buffers (batch norms) that could not be switched to
    /// evaluation mode because they are only partly frozen and not a `Sequential`.
    pub train_mode: Vec<String>,
}

/// Wraps, in `model` and recursively in nested [`Sequential`]s, every child whose parameters are
/// all frozen — and every parameterless child (activation, dropout, pooling) whose preceding
/// siblings' parameters are all frozen — in an [`EvalWhenFrozen`]. A model that is not a
/// `Sequential` is left as it is (reported in `train_mode` if it has frozen parameters).
pub(crate) fn wrap_frozen(model: &mut dyn Module, prefix: &str) -> Wrapped {
    let mut out = Wrapped::default();
    let has_frozen_stateful = |m: &dyn Module| {
        m.named_parameters().iter().any(|(_, p)| p.is_frozen()) && !m.named_buffers().is_empty()
    };
    let describe_prefix = if prefix.is_empty() { "<model>" } else { prefix };
    let Some(seq) = model
        .as_any_mut()
        .and_then(|a| a.downcast_mut::<Sequential>())
    else {
        if has_frozen_stateful(model) {
            out.train_mode.push(describe_prefix.to_string());
        }
        return out;
    };
    let names: Vec<String> = seq.iter().map(|(n, _)| n.to_string()).collect();
    let mut preceding: Vec<Parameter> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let path = join(prefix, name);
        let mut child = seq.replace(i, Box::new(Identity));
        let params: Vec<Parameter> = child
            .named_parameters()
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        let all_frozen = |ps: &[Parameter]| !ps.is_empty() && ps.iter().all(Parameter::is_frozen);
        if all_frozen(&params) {
            child = Box::new(EvalWhenFrozen::new(child, params.clone()));
            out.eval_mode.push(path);
        } else if params.is_empty() {
            if all_frozen(&preceding) {
                child = Box::new(EvalWhenFrozen::new(child, preceding.clone()));
                out.eval_mode.push(path);
            }
        } else if params.iter().any(Parameter::is_frozen) {
            let inner = wrap_frozen(child.as_mut(), &path);
            out.eval_mode.extend(inner.eval_mode);
            out.train_mode.extend(inner.train_mode);
        }
        preceding.extend(params);
        seq.replace(i, child);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::layers::{BatchNormConfig, LinearConfig, ReLU};
    use nn_core::rng::seeded;

    fn net() -> Sequential {
        let mut rng = seeded(0);
        Sequential::new()
            .with(LinearConfig::new(4, 6).init(&mut rng).unwrap())
            .with(BatchNormConfig::new(6).init_1d().unwrap())
            .with(ReLU)
            .with(LinearConfig::new(6, 3).init(&mut rng).unwrap())
    }

    #[test]
    fn frozen_batch_norm_keeps_its_running_statistics_until_unfrozen() {
        let mut model = net();
        model.freeze("0");
        model.freeze("1");
        let wrapped = wrap_frozen(&mut model, "");
        assert_eq!(wrapped.eval_mode, ["0", "1", "2"]);
        assert!(wrapped.train_mode.is_empty());
        let names: Vec<String> = model.state_dict().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            net()
                .state_dict()
                .into_iter()
                .map(|(n, _)| n)
                .collect::<Vec<_>>()
        );
        let x = Tensor::randn(&[8, 4], 1.0, 2.0, &mut seeded(1));
        let mean = |m: &Sequential| m.named_buffers()[0].1.value().to_owned();
        let before = mean(&model);
        let y_train = model.forward(&x, &mut Ctx::train(0)).to_vec();
        assert_eq!(
            mean(&model),
            before,
            "frozen BN must not update its statistics"
        );
        let y_eval = model.forward(&x, &mut Ctx::eval()).to_vec();
        assert_eq!(y_train, y_eval, "frozen part runs in evaluation mode");
        model.unfreeze("");
        let _ = model.forward(&x, &mut Ctx::train(0));
        assert_ne!(mean(&model), before, "unfrozen BN trains again");
    }

    #[test]
    fn partly_frozen_sequential_is_wrapped_inside() {
        let mut outer = Sequential::new().with(net());
        outer.freeze("0.0");
        let wrapped = wrap_frozen(&mut outer, "");
        assert_eq!(wrapped.eval_mode, ["0.0"]);
    }
}
