//! The per-epoch progress bar of `nn-train train` on a terminal (steps, images/s, loss, ETA),
//! drawn on standard error with `indicatif`; nothing when standard error is not a terminal (logs
//! get the epoch table only).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nn_core::Module;
use nn_train::{Callback, Control, EpochRecord, StepInfo};

/// A [`Callback`] drawing one bar per epoch; stateless for checkpoints.
pub struct Progress {
    steps_per_epoch: u64,
    bar: Option<ProgressBar>,
    images: usize,
    started: std::time::Instant,
    enabled: bool,
}

impl Progress {
    /// A bar of `steps_per_epoch` steps, shown only if standard error is a terminal.
    pub fn new(steps_per_epoch: u64) -> Progress {
        Progress {
            steps_per_epoch,
            bar: None,
            images: 0,
            started: std::time::Instant::now(),
            enabled: std::io::stderr().is_terminal(),
        }
    }
}

impl Callback for Progress {
    fn on_step(&mut self, info: &StepInfo<'_>) -> Control {
        if !self.enabled {
            return Control::Continue;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::with_draw_target(
                Some(self.steps_per_epoch),
                ProgressDrawTarget::stderr(),
            );
            let style = ProgressStyle::with_template(
                "epoch {prefix:>3} [{bar:30}] {pos}/{len} steps  {msg}  ETA {eta}",
            )
            .expect("the template is valid")
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix((info.epoch + 1).to_string());
            bar
        });
        self.images += info.batch_size;
        let rate = self.images as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        bar.set_message(format!("{rate:.0} img/s  loss {:.4}", info.loss));
        bar.inc(1);
        Control::Continue
    }

    fn on_epoch(&mut self, _record: &EpochRecord, _model: &dyn Module) -> Control {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        // The next epoch's rate counts from here (its first step included).
        self.images = 0;
        self.started = std::time::Instant::now();
        Control::Continue
    }
}
