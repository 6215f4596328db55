//! [`TransferSettings`]: the `[transfer]` block of a job.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// How a job starts from a trained network instead of from scratch (see [`crate::transfer`]).
///
/// Prefixes are dotted module paths as in the checkpoint's tensor names (`"layer1"` selects
/// `layer1.0.conv1.weight` but not `layer10.…`; `""` selects everything). A prefix that
/// selects nothing is an error: it is almost always a typo.
///
/// ```toml
/// [transfer]
/// init_from = "runs/digits04/model.safetensors"
/// freeze_backbone = true          # train only the (re-initialised) head
/// # reinit = ["fc"]               # default: the head
/// # freeze = ["conv1", "layer1"]  # or freeze explicit prefixes
/// # backbone_lr_mult = 0.1        # fine-tune the rest at 0.1x the learning rate
/// # unfreeze_after_epochs = 5     # then fine-tune everything
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransferSettings {
    /// The safetensors checkpoint to start from (`model.safetensors` of `nn-train train --out
    /// DIR`, or a PyTorch state dict saved with `safetensors.torch.save_file` under the same
    /// names). Every tensor of the model outside `reinit` must be in it; tensors of a different
    /// shape (a head for another class count) are re-initialised and reported. A relative path
    /// is relative to the working directory.
    pub init_from: PathBuf,
    /// Prefixes of the classifier head. Default (empty): the module holding the model's last
    /// parameter (`fc` of the ResNet, the last `Linear` of the MLP and CNN).
    pub head: Vec<String>,
    /// Prefixes left freshly initialised (not loaded). Default (absent): the head, as in the
    /// lecture's "reinitialise the last layer"; `[]` loads everything that fits.
    pub reinit: Option<Vec<String>>,
    /// Prefixes frozen: no gradient, no update.
    pub freeze: Vec<String>,
    /// Freeze every parameter outside the head (DeCAF's fixed feature extractor). Default false.
    pub freeze_backbone: bool,
    /// Learning-rate multiplier of the parameters outside the head (fine-tuning "with a lower
    /// learning rate"; 0.1 is the usual choice). Default 1.
    pub backbone_lr_mult: f64,
    /// Unfreeze everything after this many epochs (gradual unfreezing: train the head on the
    /// frozen features first, then fine-tune the whole network). Default never.
    pub unfreeze_after_epochs: Option<usize>,
    /// Run frozen parts in evaluation mode: their batch norms use the running statistics of
    /// the source task and keep them, their dropout is off. Default true (torchvision's
    /// fine-tuning recipes freeze BN statistics too); false keeps the training mode (batch
    /// statistics, running statistics updated).
    pub frozen_eval: bool,
}

impl Default for TransferSettings {
    fn default() -> Self {
        TransferSettings {
            init_from: PathBuf::new(),
            head: Vec::new(),
            reinit: None,
            freeze: Vec::new(),
            freeze_backbone: false,
            backbone_lr_mult: 1.0,
            unfreeze_after_epochs: None,
            frozen_eval: true,
        }
    }
}

impl TransferSettings {
    /// Starts from `checkpoint` with the defaults (re-initialised head, nothing frozen).
    pub fn from_checkpoint(checkpoint: impl Into<PathBuf>) -> TransferSettings {
        TransferSettings {
            init_from: checkpoint.into(),
            ..TransferSettings::default()
        }
    }

    /// Checks the values that do not need the model (`epochs`: the job's epoch count).
    pub fn validate(&self, epochs: usize) -> Result<()> {
        if self.init_from.as_os_str().is_empty() {
            return Err(invalid(
                "transfer.init_from",
                "\"\"",
                "the path of a safetensors checkpoint",
            ));
        }
        if !(self.backbone_lr_mult.is_finite() && self.backbone_lr_mult >= 0.0) {
            return Err(invalid(
                "transfer.backbone_lr_mult",
                self.backbone_lr_mult,
                "a finite multiplier >= 0",
            ));
        }
        if let Some(k) = self.unfreeze_after_epochs {
            if k == 0 || k >= epochs {
                return Err(invalid(
                    "transfer.unfreeze_after_epochs",
                    k,
                    &format!("between 1 and epochs - 1 = {}", epochs.saturating_sub(1)),
                ));
            }
            if self.freeze.is_empty() && !self.freeze_backbone {
                return Err(invalid(
                    "transfer.unfreeze_after_epochs",
                    k,
                    "to be set only with `freeze` or `freeze_backbone` (nothing is frozen)",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_field() {
        let ok = TransferSettings::from_checkpoint("m.safetensors");
        assert!(ok.validate(3).is_ok());
        let e = TransferSettings::default().validate(3).unwrap_err();
        assert!(e.to_string().contains("transfer.init_from"), "{e}");
        let e = TransferSettings {
            backbone_lr_mult: -1.0,
            ..ok.clone()
        }
        .validate(3)
        .unwrap_err();
        assert!(e.to_string().contains("transfer.backbone_lr_mult"), "{e}");
        let late = TransferSettings {
            unfreeze_after_epochs: Some(3),
            freeze_backbone: true,
            ..ok.clone()
        };
        assert!(late.validate(3).is_err());
        assert!(late.validate(4).is_ok());
        let nothing_frozen = TransferSettings {
            unfreeze_after_epochs: Some(1),
            ..ok
        };
        let e = nothing_frozen.validate(3).unwrap_err();
        assert!(e.to_string().contains("nothing is frozen"), "{e}");
    }

    #[test]
    fn toml_block_round_trips() {
        let text = "init_from = \"a.safetensors\"\nfreeze = [\"0\"]\nreinit = []\n";
        let t: TransferSettings = toml::from_str(text).unwrap();
        assert_eq!(t.reinit, Some(vec![]));
        assert_eq!(t.freeze, ["0"]);
        let back: TransferSettings = toml::from_str(&toml::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        assert!(toml::from_str::<TransferSettings>("init_from = \"a\"\nfreez = []").is_err());
    }
}
