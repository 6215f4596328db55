//! Modules: the [`Module`] trait, the forward context ([`Ctx`], [`Mode`]) and named state.
//!
//! A module maps a tensor to a tensor in an explicit [`Mode`] (training or evaluation — never
//! inferred) and exposes its [`Parameter`]s and [`Buffer`]s under stable dotted names in
//! PyTorch's style (`features.0.weight`), which checkpoints and optimizer state are keyed by.

mod parameter;

pub use parameter::{Buffer, ParamGuard, Parameter};

use crate::replica::Replicas;
use crate::rng::{Rng, seeded};
use crate::tensor::{Array, Tensor};

/// Training or evaluation: layers such as dropout and batch normalisation behave differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Mode {
    /// Training: regularisers draw randomness, batch norm uses batch statistics and updates its
    /// running statistics.
    Train,
    /// Evaluation: every layer is deterministic; batch norm uses its running statistics.
    Eval,
}

/// The context of one forward pass: the [`Mode`] and the random number generator that every
/// random layer of the pass draws from, in call order (so one seed reproduces a pass exactly);
/// in data-parallel training, also the [`ReplicaGroup`](crate::replica::ReplicaGroup) whose
/// shards form the batch ([`Ctx::with_replicas`]).
#[derive(Debug, Clone)]
pub struct Ctx {
    mode: Mode,
    rng: Rng,
    replicas: Option<Replicas>,
}

impl Ctx {
    /// A training pass whose random layers draw from a generator seeded with `seed`.
    pub fn train(seed: u64) -> Ctx {
        Ctx {
            mode: Mode::Train,
            rng: seeded(seed),
            replicas: None,
        }
    }

    /// An evaluation pass (deterministic; the generator is present but evaluation-mode layers do
    /// not draw from it).
    pub fn eval() -> Ctx {
        Ctx {
            mode: Mode::Eval,
            rng: seeded(0),
            replicas: None,
        }
    }

    /// A pass in `mode` drawing from `rng`.
    pub fn new(mode: Mode, rng: Rng) -> Ctx {
        Ctx {
            mode,
            rng,
            replicas: None,
        }
    }

    /// This pass's input is one replica's shard of a batch split across `replicas`: batch
    /// normalisation in training mode normalises with the statistics of the whole batch
    /// (synchronised batch norm, [`Tensor::sync_batch_norm`]). Every replica must run the same
    /// layers in the same order.
    pub fn with_replicas(mut self, replicas: Replicas) -> Ctx {
        self.replicas = Some(replicas);
        self
    }

    /// The replica group set with [`Ctx::with_replicas`], if any.
    pub fn replicas(&self) -> Option<&Replicas> {
        self.replicas.as_ref()
    }

    /// The mode of this pass.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether this is a training pass.
    pub fn is_train(&self) -> bool {
        self.mode == Mode::Train
    }

    /// The generator random layers draw from.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }
}

/// One named piece of module state, as given to a visitor by [`Module::visit`].
pub enum Entry<'a> {
    /// A trainable parameter and its full dotted name.
    Param(&'a str, &'a Parameter),
    /// A buffer and its full dotted name.
    Buffer(&'a str, &'a Buffer),
}

/// Joins a name prefix and a local name with a dot (`join("features", "0") == "features.0"`; an
/// empty prefix gives the local name).
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// A layer or a network.
///
/// Implementors provide [`Module::forward`] and [`Module::visit`]; everything else (named
/// parameters, freezing, counting, state dicts) is derived from `visit`.
pub trait Module: Send + Sync {
    /// Computes the output for `input` in the context's mode.
    fn forward(&self, input: &Tensor, ctx: &mut Ctx) -> Tensor;

    /// Calls `f` for every parameter and buffer of this module and its children, with names
    /// prefixed by `prefix` (use [`join`]; children are visited with `join(prefix, child_name)`).
    /// The order must be stable: it is the order of [`Module::named_parameters`].
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(Entry<'_>));

    /// A one-line description (e.g. `Linear(in=784, out=10, bias=true)`).
    fn describe(&self) -> String;

    /// This module as [`std::any::Any`], so that model passes (e.g. batch-norm folding,
    /// [`crate::fold`]) can recognise concrete layer types. Layers that take part return
    /// `Some(self)`; the default is `None`.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }

    /// Mutable form of [`Module::as_any`] (containers such as `Sequential` return `Some(self)`
    /// so that passes can rewrite their children).
    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        None
    }

    /// Folds every evaluation-mode batch norm of this module into the convolution or linear
    /// layer before it (see [`crate::fold`]) and returns how many were folded. Containers
    /// (`Sequential`) fold their adjacent pairs and recurse into their children; blocks that
    /// keep their layers in fields (a residual block) override this to fold their own pairs.
    /// The default, for leaf layers, folds nothing. After folding, the module computes the same
    /// evaluation-mode function; it is meant for inference, not for further training.
    fn fold_batch_norms(&mut self) -> usize {
        0
    }

    /// Images per chunk at which [`crate::infer::infer`] runs this model on a batch of `input`'s
    /// shape (batch first), depth first, each chunk through every layer on one worker; `None`
    /// (the default) runs the whole batch layer by layer. A fixed choice of the model and the
    /// shape, never of the thread count, so that the results are the same on any number of
    /// threads.
    fn inference_chunk(&self, input: &[usize]) -> Option<usize> {
        let _ = input;
        None
    }

    /// Every parameter with its dotted name, in visit order.
    fn named_parameters(&self) -> Vec<(String, Parameter)> {
        let mut out = Vec::new();
        self.visit("", &mut |e| {
            if let Entry::Param(name, p) = e {
                out.push((name.to_string(), p.clone()));
            }
        });
        out
    }

    /// Every buffer with its dotted name, in visit order.
    fn named_buffers(&self) -> Vec<(String, Buffer)> {
        let mut out = Vec::new();
        self.visit("", &mut |e| {
            if let Entry::Buffer(name, b) = e {
                out.push((name.to_string(), b.clone()));
            }
        });
        out
    }

    /// Every parameter and buffer value by name (PyTorch's `state_dict()`), in visit order.
    fn state_dict(&self) -> Vec<(String, Array)> {
        let mut out = Vec::new();
        self.visit("", &mut |e| match e {
            Entry::Param(name, p) => out.push((name.to_string(), p.value().to_owned())),
            Entry::Buffer(name, b) => out.push((name.to_string(), b.value())),
        });
        out
    }

    /// The number of scalars in all parameters (trainable or frozen).
    fn num_parameters(&self) -> usize {
        self.named_parameters().iter().map(|(_, p)| p.len()).sum()
    }

    /// The number of scalars in parameters that are not frozen.
    fn num_trainable_parameters(&self) -> usize {
        self.named_parameters()
            .iter()
            .filter(|(_, p)| !p.is_frozen())
            .map(|(_, p)| p.len())
            .sum()
    }

    /// Freezes every parameter whose name starts with `prefix` as a dotted path (`"features"`
    /// matches `features.0.weight` but not `features_extra.weight`; `""` matches all). Returns
    /// how many parameters were frozen.
    fn freeze(&self, prefix: &str) -> usize {
        set_frozen_by_prefix(self, prefix, true)
    }

    /// Unfreezes every parameter under `prefix` (see [`Module::freeze`]). Returns the count.
    fn unfreeze(&self, prefix: &str) -> usize {
        set_frozen_by_prefix(self, prefix, false)
    }

    /// Clears the gradient of every parameter.
    fn zero_grad(&self) {
        for (_, p) in self.named_parameters() {
            p.zero_grad();
        }
    }
}

/// Whether `name` lies under the dotted path `prefix`.
pub fn name_has_prefix(name: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || name == prefix
        || (name.starts_with(prefix) && name.as_bytes().get(prefix.len()) == Some(&b'.'))
}

fn set_frozen_by_prefix<M: Module + ?Sized>(m: &M, prefix: &str, frozen: bool) -> usize {
    let mut n = 0;
    for (name, p) in m.named_parameters() {
        if name_has_prefix(&name, prefix) {
            p.set_frozen(frozen);
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_path_components() {
        assert!(name_has_prefix("features.0.weight", "features"));
        assert!(name_has_prefix("features.0.weight", "features.0"));
        assert!(name_has_prefix("features.0.weight", ""));
        assert!(!name_has_prefix("features_x.weight", "features"));
        assert!(!name_has_prefix("features.10.weight", "features.1"));
        assert_eq!(join("", "weight"), "weight");
        assert_eq!(join("a.0", "bias"), "a.0.bias");
    }
}
