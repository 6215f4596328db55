//! Taking a [`Checkpoint`] of a running loop and putting one back.

use std::path::Path;

use nn_core::Array;
use nn_core::checkpoint::{LoadMode, apply_state_dict};

use super::{
    CHECKPOINT_VERSION, Checkpoint, EpochSums, OptimizerCheckpoint, OptimizerScalars, TrainState,
    corrupt, prefixed,
};
use crate::callback::Callback;
use crate::ema::Ema;
use crate::error::Result;
use crate::session::Session;
use crate::trainer::{KeptWeights, TrainReport, evaluate};
use crate::transfer::unfreeze;

/// The loop's tensors beside the session, for [`restore`].
pub(crate) struct Kept<'a> {
    pub(crate) ema: Option<&'a mut Ema>,
    pub(crate) best_raw: &'a mut Option<Vec<(String, Array)>>,
    pub(crate) best_ema: &'a mut Option<Vec<(String, Array)>>,
}

/// The loop's tensors beside the session, for [`capture`].
pub(crate) struct KeptRef<'a> {
    pub(crate) ema: Option<&'a Ema>,
    pub(crate) best_raw: Option<&'a Vec<(String, Array)>>,
    pub(crate) best_ema: Option<&'a Vec<(String, Array)>>,
}

/// The state of a job that has not started: the untrained model's validation loss recorded.
pub(crate) fn fresh(s: &Session) -> Result<TrainState> {
    let initial_val_loss = if s.config.data.no_validation {
        f32::NAN
    } else {
        evaluate(s.model.as_ref(), &s.val_loader)?.0
    };
    Ok(fresh_with(s, initial_val_loss))
}

/// [`fresh`] with the initial validation loss given (NaN on the ranks of a data-parallel job
/// that do not validate, and in a job without validation).
pub(crate) fn fresh_with(s: &Session, initial_val_loss: f32) -> TrainState {
    TrainState {
        version: CHECKPOINT_VERSION,
        job: s.config.to_toml(),
        epoch: 0,
        batch: 0,
        step: 0,
        finished: false,
        epoch_sums: EpochSums::default(),
        report: TrainReport {
            parameters: s.model.num_parameters(),
            initial_val_loss,
            expected_initial_loss: (s.data.num_classes as f32).ln(),
            history: Vec::new(),
            best_epoch: 0,
            best_val_acc: f32::NEG_INFINITY,
            test_loss: f32::NAN,
            test_acc: f32::NAN,
            stopped_early: false,
            stopped_by_callback: false,
            kept: KeptWeights::Raw,
            raw_best_val_acc: f32::NEG_INFINITY,
            ema_best_val_acc: None,
            ema_best_epoch: None,
            raw_test_acc: f32::NAN,
            ema_test_acc: None,
            test_metrics: None,
        },
        epoch_seconds: Vec::new(),
        optimizer: OptimizerCheckpoint::Gradient(OptimizerScalars::default()),
        scheduler: s.scheduler.clone(),
        plateau: s.plateau.clone(),
        ema_updates: None,
        unfrozen: false,
        has_best_raw: false,
        has_best_ema: false,
        callbacks: Vec::new(),
    }
}

/// A checkpoint of the loop state `st` (its position and report) with the session's model,
/// optimizer, schedule and unfreezing, the EMA, the best snapshots and the callbacks' states.
pub(crate) fn capture(
    st: &TrainState,
    s: &Session,
    kept: &KeptRef<'_>,
    callbacks: &[&mut dyn Callback],
) -> Checkpoint {
    let mut tensors = Vec::new();
    tensors.extend(prefixed("model/", s.model.state_dict()));
    let optimizer = OptimizerCheckpoint::split(s.optimizer.state(), &mut tensors);
    if let Some(ema) = kept.ema {
        tensors.extend(prefixed("ema/", ema.state_dict()));
    }
    if let Some(b) = kept.best_raw {
        tensors.extend(prefixed("best_raw/", b.clone()));
    }
    if let Some(b) = kept.best_ema {
        tensors.extend(prefixed("best_ema/", b.clone()));
    }
    let state = TrainState {
        optimizer,
        scheduler: s.scheduler.clone(),
        plateau: s.plateau.clone(),
        ema_updates: kept.ema.map(Ema::updates),
        unfrozen: s.unfrozen,
        has_best_raw: kept.best_raw.is_some(),
        has_best_ema: kept.best_ema.is_some(),
        callbacks: callbacks.iter().map(|c| c.save_state()).collect(),
        ..st.clone()
    };
    Checkpoint {
        state,
        tensors: tensors.into_iter().collect(),
    }
}

/// Puts `ckpt` back into the session, the EMA, the best snapshots and the callbacks, and
/// returns the loop state to continue from.
pub(crate) fn restore(
    mut ckpt: Checkpoint,
    s: &mut Session,
    kept: &mut Kept<'_>,
    callbacks: &mut [&mut dyn Callback],
    path: &Path,
) -> Result<TrainState> {
    let job = s.config.to_toml();
    if ckpt.state.job != job {
        return Err(corrupt(
            path,
            "it belongs to another job (its config differs from this run's config.toml)".into(),
        ));
    }
    if ckpt.state.callbacks.len() != callbacks.len() {
        return Err(corrupt(
            path,
            format!(
                "it holds the state of {} callbacks, this job has {}",
                ckpt.state.callbacks.len(),
                callbacks.len()
            ),
        ));
    }
    let model = ckpt.take_prefixed("model/");
    crate::saved_run::check_finite(&model, path)?;
    apply_state_dict(s.model.as_ref(), model, LoadMode::Strict, path)?;
    // The schedule sets the rates (and a cycled momentum) for its position; the optimizer's
    // saved groups then restore the rates exactly.
    s.scheduler = ckpt.state.scheduler.clone();
    s.scheduler.apply(&mut s.optimizer);
    match (&s.plateau, &ckpt.state.plateau) {
        (Some(_), Some(p)) => {
            s.plateau = Some(p.clone());
            p.apply(&mut s.optimizer);
        }
        (None, None) => {}
        _ => {
            return Err(corrupt(
                path,
                "its reduce-on-plateau state does not match the job".into(),
            ));
        }
    }
    let optim = ckpt.state.optimizer.join(&mut ckpt.tensors, path)?;
    s.optimizer
        .load_state(&optim)
        .map_err(|e| corrupt(path, format!("optimizer state: {e}")))?;
    match (kept.ema.as_deref_mut(), ckpt.state.ema_updates) {
        (Some(ema), Some(updates)) => ema.load_state(ckpt.take_prefixed("ema/"), updates)?,
        (None, None) => {}
        _ => return Err(corrupt(path, "EMA state does not match the job".into())),
    }
    if ckpt.state.has_best_raw {
        *kept.best_raw = Some(ckpt.take_prefixed("best_raw/"));
    }
    if ckpt.state.has_best_ema {
        *kept.best_ema = Some(ckpt.take_prefixed("best_ema/"));
    }
    if ckpt.state.unfrozen && !s.unfrozen {
        if let Some(report) = &s.transfer {
            unfreeze(s.model.as_ref(), report);
        }
        s.unfrozen = true;
    }
    for (cb, state) in callbacks.iter_mut().zip(&ckpt.state.callbacks) {
        if let Some(state) = state {
            cb.load_state(state)?;
        }
    }
    Ok(ckpt.state)
}
