//! [`Sequential`]: a chain of modules applied in order, with PyTorch's child names.
//!
//! Children are named `"0"`, `"1"`, … by position (PyTorch's `nn.Sequential(a, b)`) or by an
//! explicit name (`nn.Sequential(OrderedDict(features=…, classifier=…))`), so a nested model's
//! parameters carry PyTorch's dotted names, e.g. `features.0.weight`, and PyTorch state dicts load
//! unchanged.

use std::fmt;

use crate::module::{Ctx, Entry, Module, join};
use crate::tensor::Tensor;

/// Modules applied one after the other: y = fₙ(… f₂(f₁(x))).
///
/// ```
/// use nn_core::layers::{LinearConfig, ReLU, Sequential};
/// use nn_core::{Ctx, Module, Tensor, rng::seeded};
///
/// let mut rng = seeded(0);
/// let features = Sequential::new()
///     .with(LinearConfig::new(4, 8).init(&mut rng).unwrap())
///     .with(ReLU);
/// let model = Sequential::new()
///     .with_named("features", features)
///     .with_named("classifier", LinearConfig::new(8, 3).init(&mut rng).unwrap());
/// let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["features.0.weight", "features.0.bias", "classifier.weight", "classifier.bias"]);
/// let y = model.forward(&Tensor::ones(&[2, 4]), &mut Ctx::eval());
/// assert_eq!(y.shape(), &[2, 3]);
/// ```
#[derive(Default)]
pub struct Sequential {
    children: Vec<(String, Box<dyn Module>)>,
}

impl Sequential {
    /// An empty chain (its forward is the identity).
    pub fn new() -> Sequential {
        Sequential::default()
    }

    /// Appends `module`, named by its position (`"0"`, `"1"`, …).
    pub fn push(&mut self, module: impl Module + 'static) {
        self.push_boxed(Box::new(module));
    }

    /// Appends an already boxed module, named by its position.
    pub fn push_boxed(&mut self, module: Box<dyn Module>) {
        let name = self.children.len().to_string();
        self.push_named_boxed(&name, module);
    }

    /// Appends `module` under `name`.
    ///
    /// # Panics
    /// If `name` is empty, contains a `.`, or is already taken (PyTorch's `add_module` rules).
    pub fn push_named(&mut self, name: &str, module: impl Module + 'static) {
        self.push_named_boxed(name, Box::new(module));
    }

    /// Appends an already boxed module under `name` (see [`Sequential::push_named`]).
    pub fn push_named_boxed(&mut self, name: &str, module: Box<dyn Module>) {
        assert!(
            !name.is_empty() && !name.contains('.'),
            "Sequential: child name {name:?} must be non-empty and contain no '.'"
        );
        assert!(
            self.children.iter().all(|(n, _)| n != name),
            "Sequential: a child named {name:?} already exists"
        );
        self.children.push((name.to_string(), module));
    }

    /// Builder form of [`Sequential::push`].
    pub fn with(mut self, module: impl Module + 'static) -> Sequential {
        self.push(module);
        self
    }

    /// Builder form of [`Sequential::push_boxed`] (e.g. for `Activation::layer()`).
    pub fn with_boxed(mut self, module: Box<dyn Module>) -> Sequential {
        self.push_boxed(module);
        self
    }

    /// Builder form of [`Sequential::push_named`].
    pub fn with_named(mut self, name: &str, module: impl Module + 'static) -> Sequential {
        self.push_named(name, module);
        self
    }

    /// The number of children.
    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// Whether there are no children.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// The child at `index`.
    pub fn get(&self, index: usize) -> Option<&dyn Module> {
        self.children.get(index).map(|(_, m)| m.as_ref())
    }

    /// The child named `name`.
    pub fn child(&self, name: &str) -> Option<&dyn Module> {
        self.children
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m.as_ref())
    }

    /// The children with their names, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &dyn Module)> {
        self.children.iter().map(|(n, m)| (n.as_str(), m.as_ref()))
    }

    /// Replaces the child at `index` (keeping its name) and returns the old one (e.g. to swap a
    /// convolution and its batch norm for a folded convolution and an identity).
    ///
    /// # Panics
    /// If `index` is out of range.
    pub fn replace(&mut self, index: usize, module: Box<dyn Module>) -> Box<dyn Module> {
        let len = self.children.len();
        let slot = self.children.get_mut(index).unwrap_or_else(|| {
            panic!("Sequential::replace: index {index} out of range (len {len})")
        });
        std::mem::replace(&mut slot.1, module)
    }

    /// Removes and returns the child at `index` with its name. Positional names are renumbered
    /// so that the chain stays `"0"`, `"1"`, … (as PyTorch's `del seq[i]`; the later children's
    /// parameter names change accordingly); explicit names are kept.
    ///
    /// # Panics
    /// If `index` is out of range.
    pub fn remove(&mut self, index: usize) -> (String, Box<dyn Module>) {
        let removed = self.children.remove(index);
        for (i, (name, _)) in self.children.iter_mut().enumerate().skip(index) {
            if *name == (i + 1).to_string() {
                *name = i.to_string();
            }
        }
        removed
    }

    /// The children with their names, consuming the chain.
    pub fn into_children(self) -> Vec<(String, Box<dyn Module>)> {
        self.children
    }
}

impl From<Vec<Box<dyn Module>>> for Sequential {
    fn from(modules: Vec<Box<dyn Module>>) -> Sequential {
        let mut s = Sequential::new();
        for m in modules {
            s.push_boxed(m);
        }
        s
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Tensor, ctx: &mut Ctx) -> Tensor {
        let mut h = x.clone();
        for (_, m) in &self.children {
            h = m.forward(&h, ctx);
        }
        h
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(Entry<'_>)) {
        for (name, m) in &self.children {
            m.visit(&join(prefix, name), f);
        }
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn as_any_mut(&mut self) -> Option<&mut dyn std::any::Any> {
        Some(self)
    }

    fn fold_batch_norms(&mut self) -> usize {
        crate::fold::fold_sequential(self)
    }

    /// PyTorch's tree printout: one child per line, nested containers indented.
    fn describe(&self) -> String {
        if self.children.is_empty() {
            return "Sequential()".to_string();
        }
        let mut s = String::from("Sequential(\n");
        for (name, m) in &self.children {
            let child = m.describe().replace('\n', "\n  ");
            s.push_str(&format!("  ({name}): {child}\n"));
        }
        s.push(')');
        s
    }
}

impl fmt::Display for Sequential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl fmt::Debug for Sequential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{GradCheckConfig, check_module_gradients};
    use crate::layers::{LinearConfig, ReLU};
    use crate::rng::seeded;

    fn mlp(seed: u64) -> Sequential {
        let mut rng = seeded(seed);
        Sequential::new()
            .with(LinearConfig::new(4, 6).init(&mut rng).unwrap())
            .with(ReLU)
            .with(LinearConfig::new(6, 3).init(&mut rng).unwrap())
    }

    #[test]
    fn names_follow_positions_and_nesting() {
        let model = Sequential::new()
            .with_named("features", mlp(0))
            .with(LinearConfig::new(3, 2).init(&mut seeded(1)).unwrap());
        let names: Vec<String> = model
            .named_parameters()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            [
                "features.0.weight",
                "features.0.bias",
                "features.2.weight",
                "features.2.bias",
                "1.weight",
                "1.bias"
            ]
        );
        assert_eq!(model.num_parameters(), 4 * 6 + 6 + 6 * 3 + 3 + 3 * 2 + 2);
        assert_eq!(model.len(), 2);
        assert!(model.child("features").is_some() && model.get(2).is_none());
    }

    #[test]
    fn describe_prints_a_pytorch_style_tree() {
        let model = Sequential::new().with_named("features", mlp(0)).with(ReLU);
        assert_eq!(
            model.to_string(),
            "Sequential(\n  (features): Sequential(\n    (0): Linear(in_features=4, \
             out_features=6, bias=true)\n    (1): ReLU()\n    (2): Linear(in_features=6, \
             out_features=3, bias=true)\n  )\n  (1): ReLU()\n)"
        );
        assert_eq!(Sequential::new().describe(), "Sequential()");
    }

    #[test]
    fn empty_chain_is_identity_and_replace_swaps_a_child() {
        let x = Tensor::from_vec(vec![1.0, -2.0], &[1, 2]);
        assert_eq!(
            Sequential::new().forward(&x, &mut Ctx::eval()).to_vec(),
            x.to_vec()
        );
        let mut s = Sequential::new().with(ReLU);
        assert_eq!(s.forward(&x, &mut Ctx::eval()).to_vec(), vec![1.0, 0.0]);
        let old = s.replace(0, Box::new(Sequential::new()));
        assert_eq!(old.describe(), "ReLU()");
        assert_eq!(s.forward(&x, &mut Ctx::eval()).to_vec(), x.to_vec());
    }

    #[test]
    fn layers_can_be_recognised_and_rewritten_through_as_any() {
        let mut outer = Sequential::new().with(mlp(0));
        let mut inner = outer.replace(0, Box::new(ReLU));
        let seq = inner
            .as_any_mut()
            .and_then(|a| a.downcast_mut::<Sequential>())
            .expect("a Sequential");
        assert!(
            seq.get(0)
                .unwrap()
                .as_any()
                .unwrap()
                .is::<crate::layers::Linear>()
        );
        assert!(seq.get(1).unwrap().as_any().unwrap().is::<ReLU>());
        seq.replace(1, Box::new(Sequential::new()));
        outer.replace(0, inner);
        assert!(outer.describe().contains("(1): Sequential()"), "{outer}");
    }

    #[test]
    fn boxed_children_from_configs() {
        let act: crate::layers::Activation = serde_json::from_str(r#"{"kind": "tanh"}"#).unwrap();
        let s = Sequential::new()
            .with_boxed(act.layer().unwrap())
            .with(ReLU);
        assert_eq!(names_of(&s), ["0", "1"]);
        assert_eq!(s.get(0).unwrap().describe(), "Tanh()");
    }

    #[test]
    fn remove_renumbers_positional_names() {
        let mut s = Sequential::new()
            .with(ReLU)
            .with_named("head", ReLU)
            .with(LinearConfig::new(2, 2).init(&mut seeded(0)).unwrap());
        assert_eq!(names_of(&s), ["0", "head", "2"]);
        let (name, _) = s.remove(0);
        assert_eq!(name, "0");
        assert_eq!(names_of(&s), ["head", "1"]);
        assert_eq!(s.named_parameters()[0].0, "1.weight");
        s.push(ReLU);
        assert_eq!(names_of(&s), ["head", "1", "2"]);
    }

    fn names_of(s: &Sequential) -> Vec<&str> {
        s.iter().map(|(n, _)| n).collect()
    }

    #[test]
    #[should_panic(expected = "already exists")]
    fn duplicate_names_panic() {
        let _ = Sequential::new()
            .with_named("a", ReLU)
            .with_named("a", ReLU);
    }

    #[test]
    fn gradients() {
        let model = mlp(3);
        let x = Tensor::randn(&[5, 4], 0.0, 1.0, &mut seeded(4));
        let w = Tensor::randn(&[5, 3], 0.0, 1.0, &mut seeded(5));
        let report = check_module_gradients(
            &model,
            || (&model.forward(&x, &mut Ctx::eval()) * &w).sum_all(),
            &GradCheckConfig::default(),
        );
        assert!(report.passed(), "{report}");
        assert_eq!(report.tensors.len(), 4);
    }
}
