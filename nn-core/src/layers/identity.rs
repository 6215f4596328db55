//! [`Identity`]: returns its input unchanged, as PyTorch's `nn.Identity` — a placeholder where a
//! layer was removed (a folded batch norm, a frozen branch) that keeps the other names intact.

use crate::module::{Ctx, Entry, Module};
use crate::tensor::Tensor;

/// The identity layer (PyTorch's `nn.Identity`): y = x, no parameters, the gradient passes
/// through. What [`crate::fold::fold_batch_norms`] leaves in place of a folded batch norm.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl Module for Identity {
    fn forward(&self, x: &Tensor, _ctx: &mut Ctx) -> Tensor {
        x.clone()
    }
    fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(Entry<'_>)) {}
    fn describe(&self) -> String {
        "Identity()".to_string()
    }
}
