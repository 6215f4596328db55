//! L-BFGS jobs: full-batch training of small problems with nn-optim's [`Lbfgs`](nn_optim::Lbfgs) (PyTorch's
//! `torch.optim.LBFGS`), the lecture's "if you can afford to do full batch updates, then try out
//! L-BFGS (and don't forget to disable all sources of noise)".
//!
//! ```toml
//! batch_size = 1258          # every training image in one batch (digits: 1,258)
//! epochs = 20                # one L-BFGS step per epoch
//!
//! [optimizer]
//! kind = "lbfgs"
//! lr = 1.0                   # the step length
//! max_iter = 20              # iterations per step
//! history_size = 10
//! line_search = "strong_wolfe"
//! ```
//!
//! One epoch is one [`Lbfgs::step`](nn_optim::Lbfgs::step) on the whole training split: up to `max_iter` iterations,
//! each evaluating loss and gradient of the same batch at a new point (the closure). L-BFGS
//! builds its inverse-Hessian estimate from differences of gradients across iterations *and*
//! steps, and its line search compares losses at several points, so every evaluation must see
//! the same function. Hence the job is rejected, naming the field, when it
//! - uses mini-batches (`batch_size` below the training set's size: each batch is another
//!   function), or `grad_accumulation` > 1;
//! - draws noise: `augment`, `cutout`, `mixup`, `pca_lighting`, the model's random layers (`model.dropout`,
//!   `dropout2d`, `dropconnect`, `stochastic_depth`, fractional `pool`);
//! - needs per-group rates or a changing parameter set: `transfer.backbone_lr_mult` ≠ 1,
//!   `transfer.unfreeze_after_epochs`; or batch-size scaling (`lr_scaling`).
//!
//! What remains random in training mode (none of the zoo's models has any once dropout is off)
//! uses one fixed stream for every evaluation, so the objective stays a fixed function. The
//! training loader does not shuffle (one batch, always in the same order). Batch norm normalises
//! with the full batch's statistics; its running statistics are updated at every evaluation, as
//! in PyTorch. The objective is the data loss plus the `[penalty]`, if any (L-BFGS has no weight
//! decay). Without a `schedule` the step length stays `lr` (a constant schedule).

use nn_core::{Ctx, Mode, Parameter, Tensor};
use nn_data::Batch;
use nn_optim::{LrControl, OptimizerConfig};

use crate::accumulate::forward_stream;
use crate::callback::Callback;
use crate::config::TrainConfig;
use crate::error::{Result, TrainError, invalid};
use crate::optimizer::JobOptimizer;
use crate::session::{Session, StepStats, count_correct};

/// Why L-BFGS needs a fixed objective (the end of every "noise" error).
const FIXED: &str = "L-BFGS compares losses and gradients across evaluations, so every evaluation \
                     must see the same function (the lecture: disable all sources of noise)";

/// Whether `config` trains with L-BFGS.
pub fn is_lbfgs(config: &TrainConfig) -> bool {
    matches!(config.optimizer, OptimizerConfig::Lbfgs(_))
}

/// The checks that need only the job (run by [`TrainConfig::validate`]).
pub fn validate(config: &TrainConfig) -> Result<()> {
    if !is_lbfgs(config) {
        return Ok(());
    }
    let noise = |field: &str, what: &str| {
        invalid(
            field,
            what,
            &format!("none with optimizer.kind = \"lbfgs\": {FIXED}"),
        )
    };
    if config.grad_accumulation != 1 {
        return Err(invalid(
            "grad_accumulation",
            config.grad_accumulation,
            "1 with optimizer.kind = \"lbfgs\" (one full batch per step)",
        ));
    }
    if config.augment.is_some() {
        return Err(noise("augment", "random augmentation"));
    }
    if config.cutout.is_some() {
        return Err(noise("cutout", "random holes"));
    }
    if config.mixup.is_some() {
        return Err(noise("mixup", "random mixing"));
    }
    if config.pca_lighting.is_some() {
        return Err(noise("pca_lighting", "random colour shifts"));
    }
    if let Some((field, what)) = config.model.stochastic_options().into_iter().next() {
        return Err(noise(field, &what));
    }
    if config.lr_scaling.is_some() {
        return Err(invalid(
            "lr_scaling",
            "set",
            "none with optimizer.kind = \"lbfgs\" (a full-batch method: there is no batch size \
             to scale from)",
        ));
    }
    if let Some(t) = &config.transfer {
        if t.backbone_lr_mult != 1.0 {
            return Err(invalid(
                "transfer.backbone_lr_mult",
                t.backbone_lr_mult,
                "1 with optimizer.kind = \"lbfgs\" (one step length for all parameters)",
            ));
        }
        if let Some(k) = t.unfreeze_after_epochs {
            return Err(invalid(
                "transfer.unfreeze_after_epochs",
                k,
                "none with optimizer.kind = \"lbfgs\" (its history is over a fixed set of \
                 parameters)",
            ));
        }
    }
    Ok(())
}

/// The check that needs the training split's size `n`: one batch holds it all.
pub fn check_full_batch(config: &TrainConfig, n: usize) -> Result<()> {
    if is_lbfgs(config) && config.batch_size < n {
        return Err(invalid(
            "batch_size",
            config.batch_size,
            &format!(
                "at least the {n} training images with optimizer.kind = \"lbfgs\" (full batch: \
                 batch_size = {n}); {FIXED}, and each mini-batch is a different function — use \
                 sgd or adam for mini-batches"
            ),
        ));
    }
    Ok(())
}

/// Writes the flat vector `x` into `params` (in order).
fn write_values(params: &[(String, Parameter)], x: &[f32]) {
    let mut off = 0;
    for (_, p) in params {
        p.update(|mut v, _| {
            let n = v.len();
            for (dst, src) in v.iter_mut().zip(&x[off..off + n]) {
                *dst = *src;
            }
            off += n;
        });
    }
}

/// The flat gradient of `params` (zeros where a parameter received none).
fn flat_grad(params: &[(String, Parameter)], total: usize) -> Vec<f32> {
    let mut g = Vec::with_capacity(total);
    for (_, p) in params {
        match p.grad() {
            Some(a) => g.extend(a.iter().copied()),
            None => g.extend(std::iter::repeat_n(0.0, p.len())),
        }
    }
    g
}

impl Session {
    /// One L-BFGS step (up to `max_iter` iterations) on the full batch `batch`; see the module
    /// docs. The callbacks' `after_backward` sees the gradient at the starting point. The
    /// returned loss and accuracy are those at the starting point (as for gradient steps).
    ///
    /// Errors with [`TrainError::Diverged`], leaving the parameters at the starting point, if
    /// the loss at the starting point or the new parameters are not finite.
    pub(crate) fn lbfgs_step(
        &mut self,
        batch: Batch,
        epoch: usize,
        step: u64,
        callbacks: &mut [&mut dyn Callback],
    ) -> Result<StepStats> {
        let Session {
            model,
            optimizer,
            scheduler,
            plateau,
            loss_fn,
            penalty,
            config,
            ..
        } = self;
        let JobOptimizer::Lbfgs(lbfgs) = optimizer else {
            unreachable!("lbfgs_step on an L-BFGS session");
        };
        let params: Vec<(String, Parameter)> = model
            .named_parameters()
            .into_iter()
            .filter(|(_, p)| !p.is_frozen())
            .collect();
        let x0: Vec<f32> = params
            .iter()
            .flat_map(|(_, p)| p.value().iter().copied().collect::<Vec<_>>())
            .collect();
        let total = x0.len();
        let n = batch.labels.len();
        let images = Tensor::from_array(batch.images.into_dyn());
        let soft = batch.soft_targets.map(|t| Tensor::from_array(t.into_dyn()));
        let lr = lbfgs.lr(0);
        let mut first: Option<(f32, usize)> = None;
        let mut x = x0.clone();
        let result = lbfgs.step(&mut x, |xk| {
            write_values(&params, xk);
            model.zero_grad();
            let mut ctx = Ctx::new(Mode::Train, forward_stream(config.seed, 0, 0));
            let logits = model.forward(&images, &mut ctx);
            let loss = match &soft {
                Some(t) => loss_fn.forward_soft(&logits, t),
                None => loss_fn.forward(&logits, &batch.labels),
            };
            let data_loss = loss.item();
            let mut value = data_loss;
            loss.backward();
            if let Some(p) = penalty {
                let r = p.loss(model.as_ref());
                value += r.item();
                r.backward();
            }
            if first.is_none() {
                first = Some((data_loss, count_correct(&logits, &batch.labels)));
                for cb in callbacks.iter_mut() {
                    cb.after_backward(model.as_ref(), step);
                }
            }
            (value, flat_grad(&params, total))
        });
        let diverged = |loss: f32| {
            write_values(&params, &x0);
            model.zero_grad();
            TrainError::Diverged { epoch, step, loss }
        };
        result?;
        let (loss, correct) = first.expect("L-BFGS evaluates the starting point");
        if !loss.is_finite() {
            return Err(diverged(loss));
        }
        // Trial points of the line search may overflow (it backs off); the final point may not.
        if x.iter().any(|v| !v.is_finite()) {
            return Err(diverged(f32::NAN));
        }
        write_values(&params, &x);
        scheduler.on_step(optimizer);
        if let Some(p) = plateau {
            p.apply(optimizer);
        }
        Ok(StepStats {
            loss,
            correct,
            samples: n,
            lr,
        })
    }
}
