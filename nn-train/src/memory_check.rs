//! The job's training memory checked against the machine's before the model is allocated.
//!
//! [`Session::new`](crate::Session::new) calls [`check`] after the data is loaded (so the data's
//! memory is already taken from what is available) and before the model is built: a job whose
//! estimated training memory ([`ModelEstimate::training_bytes`]: parameters, gradients and
//! optimizer state, buffers, and the activations the training graph holds for one batch) exceeds
//! the available memory is [`TrainError::Memory`], which names the model's size fields, the batch
//! size and the estimate — instead of an allocation that aborts the process or drives the
//! machine into swap.
//!
//! The estimate compared is the lower one (a real step measured 1.04x-1.56x of it, see
//! [`ModelEstimate::training_bytes_upper`]), so a job is only rejected when it cannot fit.
//!
//! The budget is, in order:
//! - the environment variable [`LIMIT_VAR`] (`NN_TRAIN_MEMORY_LIMIT`): a size such as `8GiB`,
//!   `512MiB`, `2G` or a byte count, or `off` to skip the check;
//! - `MemAvailable` in `/proc/meminfo` (Linux);
//! - none (another OS, or `/proc` unreadable): no check.

use std::fmt::Write as _;

use nn_optim::OptimizerConfig;

use crate::config::TrainConfig;
use crate::error::{Result, TrainError, invalid};
use crate::zoo::{ModelConfig, ModelEstimate};

/// The environment variable that overrides the memory budget (`8GiB`, `512MiB`, bytes, `off`).
pub const LIMIT_VAR: &str = "NN_TRAIN_MEMORY_LIMIT";

/// How much memory a job may use, and where that figure comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// Bytes.
    pub bytes: u64,
    /// Where the figure comes from (shown in the error).
    pub source: String,
}

impl Budget {
    /// The budget for this process: [`LIMIT_VAR`] if set, else `MemAvailable` from
    /// `/proc/meminfo`; `Ok(None)` when the check is off (`off`) or nothing can be read.
    ///
    /// # Errors
    /// [`TrainError::Invalid`] naming [`LIMIT_VAR`] when it is set but not a size.
    pub fn from_env() -> Result<Option<Budget>> {
        if let Ok(v) = std::env::var(LIMIT_VAR) {
            return Budget::from_setting(&v);
        }
        Ok(std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| mem_available(&s))
            .map(|bytes| Budget {
                bytes,
                source: "MemAvailable in /proc/meminfo".to_string(),
            }))
    }

    /// The budget a [`LIMIT_VAR`] value sets (`None` for `off`).
    ///
    /// # Errors
    /// [`TrainError::Invalid`] naming [`LIMIT_VAR`] when `value` is not a size or `off`.
    pub fn from_setting(value: &str) -> Result<Option<Budget>> {
        let v = value.trim();
        if v.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let bytes = parse_size(v).ok_or_else(|| {
            invalid(
                LIMIT_VAR,
                format!("{value:?}"),
                "a size such as 8GiB, 512MiB, 2G or a byte count, or off",
            )
        })?;
        Ok(Some(Budget {
            bytes,
            source: format!("{LIMIT_VAR}={v}"),
        }))
    }
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes.
pub fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut parts = line.split_whitespace().skip(1);
    let n: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => n.checked_mul(1024),
        Some(_) => None,
    }
}

/// A size: a number with an optional unit (`K`, `M`, `G`, `T` powers of 1024, with or without
/// `iB`/`B`), e.g. `8GiB`, `1.5G`, `512MiB`, `1048576`.
fn parse_size(s: &str) -> Option<u64> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: f64 = number.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return None,
    };
    let bytes = number * (1u64 << shift) as f64;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// Values the optimizer keeps per parameter (momentum, moments, L-BFGS history).
pub fn optimizer_slots(config: &TrainConfig) -> usize {
    match &config.optimizer {
        OptimizerConfig::Sgd(c) => usize::from(c.momentum != 0.0),
        OptimizerConfig::AdaGrad(_) => 1,
        OptimizerConfig::RmsProp(c) => 1 + usize::from(c.momentum != 0.0) + usize::from(c.centered),
        OptimizerConfig::Adam(c) => 2 + usize::from(c.amsgrad),
        OptimizerConfig::AdamW(c) => 2 + usize::from(c.amsgrad),
        OptimizerConfig::Lbfgs(c) => 2 * c.history_size + 2,
    }
}

/// The model's size fields with their values, e.g. `model.hidden = [100000000]`.
pub fn size_fields(model: &ModelConfig) -> String {
    match model {
        ModelConfig::Mlp { hidden, .. } => format!("model.hidden = {hidden:?}"),
        ModelConfig::Cnn { channels, .. } => format!("model.channels = {channels:?}"),
        ModelConfig::Resnet {
            blocks_per_stage,
            width,
            ..
        } => format!("model.blocks_per_stage = {blocks_per_stage}, model.width = {width}"),
        ModelConfig::Resnet18(c) | ModelConfig::Resnet34(c) => {
            format!("model.width = {}", c.width)
        }
        ModelConfig::Vgg(c) => format!(
            "model.depth = {}, model.width = {}, model.hidden = {}",
            c.depth, c.width, c.hidden
        ),
    }
}

/// Checks the training memory of `config` on inputs of shape `input` with `classes` classes and
/// batches of `batch` samples against `budget` (no check when `None`).
///
/// # Errors
/// [`TrainError::Memory`] when the estimate exceeds the budget; the estimate's shape errors.
pub fn check(
    config: &TrainConfig,
    input: [usize; 3],
    classes: usize,
    batch: usize,
    budget: Option<&Budget>,
) -> Result<()> {
    let Some(budget) = budget else {
        return Ok(());
    };
    let e = config.model.estimate(input, classes)?;
    let slots = optimizer_slots(config);
    let needed = e.training_bytes(batch, slots);
    if needed <= budget.bytes {
        return Ok(());
    }
    Err(TrainError::Memory {
        model: format!("{} ({})", config.model.kind(), size_fields(&config.model)),
        batch_size: batch,
        needed,
        available: budget.bytes,
        from: budget.source.clone(),
        breakdown: breakdown(&e, batch, slots),
    })
}

/// Where the estimate's bytes go, for the error.
fn breakdown(e: &ModelEstimate, batch: usize, slots: usize) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "{} parameters x (value, gradient, {slots} optimizer values) = {}, activations {} per \
         sample x {batch}",
        e.parameters,
        human(e.parameter_bytes() * (2 + slots as u64)),
        human(e.activation_bytes_per_sample()),
    );
    if let Some(l) = e.layers.iter().max_by_key(|l| l.parameters) {
        let _ = write!(
            s,
            "; largest layer {} ({}) with {} parameters",
            l.name, l.layer, l.parameters
        );
    }
    s
}

/// Bytes as MiB / GiB.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.2} GiB", b / (1u64 << 30) as f64)
    } else {
        format!("{:.1} MiB", b / (1u64 << 20) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_meminfo_parse() {
        assert_eq!(parse_size("8GiB"), Some(8 << 30));
        assert_eq!(parse_size("512 MiB"), Some(512 << 20));
        assert_eq!(parse_size("1.5G"), Some(3 << 29));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("2k"), Some(2048));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("1e3"), None);
        assert_eq!(parse_size("-1G"), None);
        let meminfo = "MemTotal:       24000000 kB\nMemFree:  1 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(mem_available(meminfo), Some(20_000_000 * 1024));
        assert_eq!(mem_available("MemTotal: 5 kB\n"), None);
        assert_eq!(Budget::from_setting("off").unwrap(), None);
        assert_eq!(
            Budget::from_setting(" 1GiB ").unwrap().unwrap().bytes,
            1 << 30
        );
        let e = Budget::from_setting("many").unwrap_err().to_string();
        assert!(e.contains(LIMIT_VAR) && e.contains("\"many\""), "{e}");
    }

    #[test]
    fn a_job_over_budget_is_an_error_naming_the_fields() {
        let job = TrainConfig {
            model: ModelConfig::mlp(vec![100_000_000]),
            ..TrainConfig::default()
        };
        let budget = Budget {
            bytes: 24 << 30,
            source: "test".into(),
        };
        let e = check(&job, [1, 8, 8], 10, 128, Some(&budget)).unwrap_err();
        let TrainError::Memory { needed, .. } = &e else {
            panic!("{e}")
        };
        // 64·1e8 + 1e8 + 1e8·10 + 10 parameters, each with value, gradient and momentum.
        let p = 64 * 100_000_000u64 + 100_000_000 + 100_000_000 * 10 + 10;
        assert!(*needed >= 4 * 3 * p, "{needed}");
        let text = e.to_string();
        assert!(
            text.contains("model.hidden = [100000000]")
                && text.contains("batch_size 128")
                && text.contains("test")
                && text.contains("GiB"),
            "{text}"
        );
        // The default job fits in 24 GiB, and nothing is checked without a budget.
        check(&TrainConfig::default(), [1, 8, 8], 10, 128, Some(&budget)).unwrap();
        check(&job, [1, 8, 8], 10, 128, None).unwrap();
        // The budget is exact: one byte less than the estimate fails, the estimate passes.
        let e = TrainConfig::default()
            .model
            .estimate([1, 8, 8], 10)
            .unwrap();
        let job = TrainConfig::default();
        let need = e.training_bytes(64, optimizer_slots(&job));
        let at = |bytes| Budget {
            bytes,
            source: "t".into(),
        };
        check(&job, [1, 8, 8], 10, 64, Some(&at(need))).unwrap();
        assert!(check(&job, [1, 8, 8], 10, 64, Some(&at(need - 1))).is_err());
    }
}
