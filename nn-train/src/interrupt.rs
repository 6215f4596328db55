//! [`Interrupt`]: SIGINT (Ctrl-C) and SIGTERM end a training job cleanly.
//!
//! [`Interrupt::install`] registers handlers that only record the signal (async-signal-safe);
//! the training loop checks [`Interrupt::signal`] after every step, writes a checkpoint and
//! returns [`crate::TrainError::Interrupted`]; `nn-train` then prints how to resume and exits
//! with 128 + the signal number (130 for SIGINT, 143 for SIGTERM), as shells expect. A second
//! SIGINT or SIGTERM while the first is being handled ends the process at once (exit status
//! of the default action), so a hung job can still be stopped.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The signal numbers handled.
pub const SIGINT: i32 = signal_hook::consts::SIGINT;
/// See [`SIGINT`].
pub const SIGTERM: i32 = signal_hook::consts::SIGTERM;

/// A flag set by SIGINT/SIGTERM (or by [`Interrupt::raise`], for tests and embedding
/// programs). Cloning shares the flag.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    signal: Arc<AtomicUsize>,
}

impl Interrupt {
    /// A flag that no signal sets (raise it by hand).
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// The process's flag set by SIGINT and SIGTERM; a second signal terminates the process.
    ///
    /// The handlers are process-wide: the first call registers them, later calls return the
    /// same flag (with any signal already recorded). `nn-train` calls it when a command starts,
    /// before any data is loaded, so a Ctrl-C during start-up stops the job at its first step
    /// with a checkpoint instead of killing the process.
    ///
    /// # Errors
    /// If the handlers cannot be registered.
    pub fn install() -> std::io::Result<Interrupt> {
        static INSTALLED: Mutex<Option<Interrupt>> = Mutex::new(None);
        let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(flag) = installed.as_ref() {
            return Ok(flag.clone());
        }
        let flag = Interrupt::new();
        let seen = Arc::new(AtomicBool::new(false));
        for sig in [SIGINT, SIGTERM] {
            // Actions run in registration order: the shutdown check sees `seen` as it was
            // before this signal, so only a second signal exits at once.
            signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, seen.clone())?;
            signal_hook::flag::register(sig, seen.clone())?;
            signal_hook::flag::register_usize(sig, flag.signal.clone(), sig as usize)?;
        }
        *installed = Some(flag.clone());
        Ok(flag)
    }

    /// The signal received, if any.
    pub fn signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s as i32),
        }
    }

    /// Sets the flag as if `signal` had arrived.
    pub fn raise(&self, signal: i32) {
        self.signal.store(signal as usize, Ordering::SeqCst);
    }
}
