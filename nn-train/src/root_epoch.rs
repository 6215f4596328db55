//! Rank 0's part of the training loop ([`crate::train_checkpointed`]): the end of an epoch
//! (validation, the epoch record, `on_epoch` callbacks, best snapshots, early stopping) and the
//! end of training (restore the best snapshot, test it). In one process rank 0 is the process;
//! in a data-parallel job the other ranks skip these and learn rank 0's decision from the
//! agreement that follows ([`crate::dist`]).

use std::path::Path;
use std::time::Instant;

use nn_core::checkpoint::{LoadMode, apply_state_dict};
use nn_core::{Array, Module};

use crate::callback::{Callback, Control};
use crate::checkpoint::TrainState;
use crate::ema::Ema;
use crate::error::{Result, TrainError};
use crate::session::Session;
use crate::trainer::{EpochRecord, KeptWeights, TrainReport, evaluate, evaluate_predictions};

/// A best-validation snapshot (a state dict), if any epoch has produced one.
pub(crate) type Snapshot = Option<Vec<(String, Array)>>;

/// Rank 0's end of an epoch: validation (of the EMA weights too), the epoch record, the
/// callbacks' `on_epoch`, the best snapshots, early stopping. Returns whether to stop (the
/// steps' `control` included).
pub(crate) fn end_epoch(
    s: &mut Session,
    st: &mut TrainState,
    (epoch, start, seconds_before, mut control): (usize, Instant, f64, Control),
    ema: &Option<(Ema, Box<dyn Module>)>,
    (best_raw, best_ema): (&mut Snapshot, &mut Snapshot),
    callbacks: &mut [&mut dyn Callback],
) -> Result<Control> {
    let config = &s.config;
    // Without validation (data.no_validation) the figures are NaN and the last epoch is kept.
    let validated = !config.data.no_validation;
    let (val_loss, val_acc) = if validated {
        evaluate(s.model.as_ref(), &s.val_loader)?
    } else {
        (f32::NAN, f32::NAN)
    };
    // Reduce-on-plateau sees the epoch's validation metric (the rates of the next epoch).
    if let Some(p) = &mut s.plateau {
        p.on_validation(val_loss, val_acc, &mut s.optimizer);
    }
    let ema_val = match ema {
        Some((ema, shadow)) => {
            ema.copy_to(shadow.as_ref())?;
            Some(evaluate(shadow.as_ref(), &s.val_loader)?)
        }
        None => None,
    };
    let sums = st.epoch_sums;
    let seconds = (seconds_before + start.elapsed().as_secs_f64()) as f32;
    let record = EpochRecord {
        epoch: epoch + 1,
        lr: sums.last_lr.unwrap_or_else(|| s.optimizer.lr(0)),
        train_loss: (sums.loss_sum / sums.seen.max(1) as f64) as f32,
        train_acc: sums.correct as f32 / sums.seen.max(1) as f32,
        val_loss,
        val_acc,
        seconds,
        ema_val_loss: ema_val.map(|v| v.0),
        ema_val_acc: ema_val.map(|v| v.1),
    };
    for cb in callbacks.iter_mut() {
        control = control.or(cb.on_epoch(&record, s.model.as_ref()));
    }
    let report = &mut st.report;
    if !validated {
        report.best_epoch = epoch + 1;
        (report.best_val_acc, report.raw_best_val_acc) = (f32::NAN, f32::NAN);
    } else if val_acc > report.raw_best_val_acc {
        report.raw_best_val_acc = val_acc;
        *best_raw = Some(s.model.state_dict());
        if val_acc > report.best_val_acc {
            report.best_val_acc = val_acc;
            report.best_epoch = epoch + 1;
            report.kept = KeptWeights::Raw;
        }
    }
    if let (Some((ema, _)), Some((_, acc))) = (ema, ema_val)
        && report.ema_best_val_acc.is_none_or(|best| acc > best)
    {
        report.ema_best_val_acc = Some(acc);
        report.ema_best_epoch = Some(epoch + 1);
        *best_ema = Some(ema.state_dict());
        if acc > report.best_val_acc {
            report.best_val_acc = acc;
            report.best_epoch = epoch + 1;
            report.kept = KeptWeights::Ema;
        }
    }
    report.history.push(record);
    st.epoch_seconds.push(seconds);
    if control == Control::Stop {
        report.stopped_by_callback = true;
        return Ok(Control::Stop);
    }
    if let Some(es) = config.early_stopping
        && epoch + 1 - report.best_epoch >= es.patience
        && epoch + 1 < config.epochs
    {
        report.stopped_early = true;
        return Ok(Control::Stop);
    }
    Ok(Control::Continue)
}

/// Reduce-on-plateau in a data-parallel job: rank 0 alone validates, so after the end of an
/// epoch (and its agreement) it sends the epoch's validation loss and accuracy to every rank,
/// and the other ranks step their own copy of the plateau with them, so every rank's learning
/// rates follow rank 0's exactly. Nothing to do in one process or without a plateau.
pub(crate) fn share_plateau_figures(s: &mut Session, st: &TrainState) -> Result<()> {
    if s.dist.size() == 1 || s.plateau.is_none() {
        return Ok(());
    }
    let mine: Vec<u8> = match (s.dist.is_root(), st.report.history.last()) {
        (true, Some(r)) => [r.val_loss, r.val_acc]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        _ => Vec::new(),
    };
    let got = s.dist.comm().broadcast(0, mine)?;
    if s.dist.is_root() {
        return Ok(());
    }
    let figures: Vec<f32> = got
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let [val_loss, val_acc] = figures[..] else {
        return Err(TrainError::Collective(format!(
            "expected rank 0's validation loss and accuracy (8 bytes), got {} bytes",
            got.len()
        )));
    };
    if let Some(p) = &mut s.plateau {
        p.on_validation(val_loss, val_acc, &mut s.optimizer);
    }
    Ok(())
}

/// Rank 0's end of training: restore the best snapshot (raw or EMA) and test it.
pub(crate) fn test_best(
    s: &mut Session,
    ema: &Option<(Ema, Box<dyn Module>)>,
    best_raw: Snapshot,
    best_ema: Snapshot,
    report: &mut TrainReport,
) -> Result<()> {
    let restore = |state: Vec<(String, Array)>, model: &dyn Module| {
        apply_state_dict(model, state, LoadMode::Strict, Path::new("<best snapshot>"))
    };
    if let (Some((_, shadow)), Some(state)) = (ema, best_ema.clone()) {
        restore(state, shadow.as_ref())?;
        report.ema_test_acc = Some(evaluate(shadow.as_ref(), &s.test_loader)?.1);
    }
    if let Some(state) = best_raw {
        restore(state, s.model.as_ref())?;
    }
    let mut test = evaluate_predictions(s.model.as_ref(), &s.test_loader)?;
    report.raw_test_acc = test.accuracy;
    if report.kept == KeptWeights::Ema
        && let Some(state) = best_ema
    {
        restore(state, s.model.as_ref())?;
        test = evaluate_predictions(s.model.as_ref(), &s.test_loader)?;
    }
    (report.test_loss, report.test_acc) = (test.loss, test.accuracy);
    report.test_metrics = Some(test.metrics(s.data.class_names.clone()));
    Ok(())
}
