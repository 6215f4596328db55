//! [`Ema`]: an exponential moving average of the parameters (Polyak averaging), used at test
//! time instead of (or next to) the raw weights.
//!
//! After every optimizer step `t` (0-based count of updates), every parameter's shadow copy
//! moves towards the current value:
//!
//! ```text
//! shadow ← d_t · shadow + (1 − d_t) · θ
//! ```
//!
//! Buffers (batch-norm running statistics) are copied, not averaged (timm's `ModelEmaV3` with
//! `exclude_buffers=True`). The decay `d_t` is `decay` after an optional warm-up that lets the
//! average forget the random initialisation quickly:
//!
//! * [`EmaWarmup::None`]: `d_t = decay` (timm's default).
//! * [`EmaWarmup::Tf`]: `d_t = min(decay, (1 + t) / (10 + t))` (TensorFlow's
//!   `ExponentialMovingAverage(num_updates=…)`); the default here, because short CPU jobs
//!   (a few hundred steps) would otherwise average mostly the initialisation.
//! * [`EmaWarmup::Power`]: `d_t = min(decay, 1 − (1 + t/γ)^(−p))` (timm's `ModelEmaV3`
//!   `use_warmup`, γ = 1, p = 2/3 or 3/4).
//!
//! Polyak & Juditsky, "Acceleration of stochastic approximation by averaging", SIAM J. Control
//! Optim. 1992; the lecture's "Polyak averaging". In a job, set
//! [`crate::TrainConfig::ema`]: the loop then validates the EMA weights every epoch too and
//! keeps whichever of EMA and raw weights validated best ([`crate::TrainReport::kept`]).

use nn_core::checkpoint::{LoadMode, apply_state_dict};
use nn_core::{Array, Module};
use serde::{Deserialize, Serialize};

use crate::callback::{Callback, Control, StepInfo};
use crate::error::{Result, invalid};

/// How the decay ramps up over the first updates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum EmaWarmup {
    /// Constant decay.
    None,
    /// `min(decay, (1 + t) / (10 + t))` (TensorFlow).
    #[default]
    Tf,
    /// `min(decay, 1 − (1 + t/gamma)^(−power))` (timm `ModelEmaV3`).
    Power {
        /// γ (timm: 1).
        gamma: f64,
        /// p (timm: 2/3; 3/4 for short runs).
        power: f64,
    },
}

/// EMA settings of a job (`[ema]` in the TOML).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmaSettings {
    /// The decay d in [0, 1]. Default 0.999 (timm's 0.9998/0.9999 are for ImageNet-length
    /// runs of 10⁵–10⁶ steps; a digits job has a few hundred).
    pub decay: f64,
    /// Warm-up of the decay. Default [`EmaWarmup::Tf`].
    pub warmup: EmaWarmup,
}

impl Default for EmaSettings {
    fn default() -> Self {
        EmaSettings {
            decay: 0.999,
            warmup: EmaWarmup::Tf,
        }
    }
}

impl EmaSettings {
    /// Checks the values (`field` prefixes the names in errors, e.g. `"ema"`).
    pub fn validate(&self, field: &str) -> Result<()> {
        if !(0.0..=1.0).contains(&self.decay) {
            return Err(invalid(
                &format!("{field}.decay"),
                self.decay,
                "a value in [0, 1]",
            ));
        }
        if let EmaWarmup::Power { gamma, power } = self.warmup {
            if !(gamma > 0.0 && gamma.is_finite()) {
                return Err(invalid(
                    &format!("{field}.warmup.gamma"),
                    gamma,
                    "a positive number",
                ));
            }
            if !(power > 0.0 && power.is_finite()) {
                return Err(invalid(
                    &format!("{field}.warmup.power"),
                    power,
                    "a positive number",
                ));
            }
        }
        Ok(())
    }

    /// The decay used for update `t` (0-based).
    pub fn decay_at(&self, t: u64) -> f64 {
        let t = t as f64;
        match self.warmup {
            EmaWarmup::None => self.decay,
            EmaWarmup::Tf => self.decay.min((1.0 + t) / (10.0 + t)),
            EmaWarmup::Power { gamma, power } => {
                self.decay.min(1.0 - (1.0 + t / gamma).powf(-power))
            }
        }
    }
}

/// The moving average of a model's parameters (and a copy of its buffers).
///
/// Usable on its own ([`Ema::update`] after each optimizer step) or as a [`Callback`] of
/// [`crate::train_with`]: it starts from the weights it first sees in `after_backward` (the
/// values before the first update) and updates in `on_step`.
#[derive(Debug, Clone)]
pub struct Ema {
    settings: EmaSettings,
    params: Vec<(String, Array)>,
    buffers: Vec<(String, Array)>,
    updates: u64,
}

impl Ema {
    /// An average that starts at the first model it sees (see [`Callback`]).
    pub fn new(settings: EmaSettings) -> Result<Ema> {
        settings.validate("ema")?;
        Ok(Ema {
            settings,
            params: Vec::new(),
            buffers: Vec::new(),
            updates: 0,
        })
    }

    /// An average that starts at `model`'s current weights.
    pub fn from_model(model: &dyn Module, settings: EmaSettings) -> Result<Ema> {
        let mut ema = Ema::new(settings)?;
        ema.reset(model);
        Ok(ema)
    }

    /// Restarts the average at `model`'s current weights (update count 0).
    pub fn reset(&mut self, model: &dyn Module) {
        self.params = model
            .named_parameters()
            .into_iter()
            .map(|(n, p)| (n, p.value().to_owned()))
            .collect();
        self.buffers = model
            .named_buffers()
            .into_iter()
            .map(|(n, b)| (n, b.value()))
            .collect();
        self.updates = 0;
    }

    /// The settings.
    pub fn settings(&self) -> &EmaSettings {
        &self.settings
    }

    /// Number of updates so far.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// One update: `shadow ← d_t·shadow + (1 − d_t)·θ` for every parameter, buffers copied.
    /// Starts the average at `model` if it has not started yet.
    ///
    /// # Panics
    /// If `model` has other parameters than the average (a programmer error).
    pub fn update(&mut self, model: &dyn Module) {
        if self.params.is_empty() && self.buffers.is_empty() {
            self.reset(model);
        }
        let d = self.settings.decay_at(self.updates) as f32;
        let params = model.named_parameters();
        assert_eq!(
            params.len(),
            self.params.len(),
            "Ema::update: the model has {} parameters, the average {}",
            params.len(),
            self.params.len()
        );
        for ((name, shadow), (pname, p)) in self.params.iter_mut().zip(&params) {
            assert_eq!(name, pname, "Ema::update: parameter names differ");
            let value = p.value();
            assert_eq!(
                shadow.shape(),
                value.shape(),
                "Ema::update: shape of {name}"
            );
            shadow.zip_mut_with(&value, |s, &v| *s = d * *s + (1.0 - d) * v);
        }
        self.buffers = model
            .named_buffers()
            .into_iter()
            .map(|(n, b)| (n, b.value()))
            .collect();
        self.updates += 1;
    }

    /// The averaged parameters and the copied buffers by name (a state dict).
    pub fn state_dict(&self) -> Vec<(String, Array)> {
        self.params
            .iter()
            .chain(&self.buffers)
            .map(|(n, a)| (n.clone(), a.clone()))
            .collect()
    }

    /// Restores an average saved with [`Ema::state_dict`] and [`Ema::updates`] (a training
    /// checkpoint): every tensor of the average must be present with its shape.
    pub fn load_state(&mut self, state: Vec<(String, Array)>, updates: u64) -> Result<()> {
        let mut map: std::collections::HashMap<String, Array> = state.into_iter().collect();
        let mut take = |name: &str, like: &Array| -> Result<Array> {
            match map.remove(name) {
                Some(a) if a.shape() == like.shape() => Ok(a),
                Some(a) => Err(invalid(
                    &format!("ema/{name}"),
                    format!("shape {:?}", a.shape()),
                    &format!("shape {:?}", like.shape()),
                )),
                None => Err(invalid(&format!("ema/{name}"), "missing", "a saved tensor")),
            }
        };
        let params = self
            .params
            .iter()
            .map(|(n, a)| Ok((n.clone(), take(n, a)?)))
            .collect::<Result<Vec<_>>>()?;
        let buffers = self
            .buffers
            .iter()
            .map(|(n, a)| Ok((n.clone(), take(n, a)?)))
            .collect::<Result<Vec<_>>>()?;
        (self.params, self.buffers, self.updates) = (params, buffers, updates);
        Ok(())
    }

    /// Loads the averaged weights into `model` (of the same architecture).
    pub fn copy_to(&self, model: &dyn Module) -> Result<()> {
        apply_state_dict(
            model,
            self.state_dict(),
            LoadMode::Strict,
            std::path::Path::new("<EMA weights>"),
        )?;
        Ok(())
    }
}

impl Callback for Ema {
    fn after_backward(&mut self, model: &dyn Module, _step: u64) {
        if self.params.is_empty() && self.buffers.is_empty() {
            self.reset(model);
        }
    }

    fn on_step(&mut self, info: &StepInfo<'_>) -> Control {
        self.update(info.model);
        Control::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nn_core::Tensor;
    use nn_core::module::{Ctx, Entry};
    use nn_core::{Buffer, Parameter};

    /// One parameter and one buffer.
    struct Toy {
        w: Parameter,
        b: Buffer,
    }

    impl Module for Toy {
        fn forward(&self, input: &Tensor, _ctx: &mut Ctx) -> Tensor {
            input.clone()
        }
        fn visit(&self, prefix: &str, f: &mut dyn FnMut(Entry<'_>)) {
            f(Entry::Param(&nn_core::module::join(prefix, "w"), &self.w));
            f(Entry::Buffer(&nn_core::module::join(prefix, "b"), &self.b));
        }
        fn describe(&self) -> String {
            "Toy".into()
        }
    }

    fn toy(w: &[f32], b: f32) -> Toy {
        Toy {
            w: Parameter::new(Array::from_shape_vec(vec![w.len()], w.to_vec()).unwrap()),
            b: Buffer::new(Array::from_elem(vec![1], b)),
        }
    }

    fn set(m: &Toy, w: &[f32], b: f32) {
        m.w.set_value(Array::from_shape_vec(vec![w.len()], w.to_vec()).unwrap());
        m.b.set_value(Array::from_elem(vec![1], b));
    }

    fn values(ema: &Ema) -> (Vec<f32>, f32) {
        let sd = ema.state_dict();
        (sd[0].1.iter().copied().collect(), sd[1].1[[0]])
    }

    fn no_warmup(decay: f64) -> EmaSettings {
        EmaSettings {
            decay,
            warmup: EmaWarmup::None,
        }
    }

    #[test]
    fn decay_zero_follows_the_weights_and_decay_one_stays_at_init() {
        let m = toy(&[1.0, -2.0], 0.5);
        let mut follow = Ema::from_model(&m, no_warmup(0.0)).unwrap();
        let mut frozen = Ema::from_model(&m, no_warmup(1.0)).unwrap();
        for (k, w) in [[0.3f32, 7.0], [-1.25, 2.5], [4.0, 0.125]]
            .iter()
            .enumerate()
        {
            set(&m, w, k as f32);
            follow.update(&m);
            frozen.update(&m);
            assert_eq!(values(&follow), (w.to_vec(), k as f32));
            // Buffers are copied, parameters stay at the initial value.
            assert_eq!(values(&frozen), (vec![1.0, -2.0], k as f32));
        }
    }

    #[test]
    fn two_steps_by_hand() {
        let m = toy(&[1.0, 10.0], 0.0);
        let mut ema = Ema::from_model(&m, no_warmup(0.75)).unwrap();
        set(&m, &[3.0, 2.0], 1.0);
        ema.update(&m);
        // 0.75·1 + 0.25·3 = 1.5; 0.75·10 + 0.25·2 = 8.
        assert_eq!(values(&ema), (vec![1.5, 8.0], 1.0));
        set(&m, &[5.5, 0.0], 2.0);
        ema.update(&m);
        // 0.75·1.5 + 0.25·5.5 = 2.5; 0.75·8 + 0 = 6.
        assert_eq!(values(&ema), (vec![2.5, 6.0], 2.0));
        assert_eq!(ema.updates(), 2);
        let target = toy(&[0.0, 0.0], 0.0);
        ema.copy_to(&target).unwrap();
        assert_eq!(
            target.w.value().iter().copied().collect::<Vec<_>>(),
            vec![2.5, 6.0]
        );
    }

    #[test]
    fn warmups_ramp_up_to_the_decay() {
        let tf = EmaSettings {
            decay: 0.999,
            warmup: EmaWarmup::Tf,
        };
        assert!((tf.decay_at(0) - 0.1).abs() < 1e-12);
        assert!((tf.decay_at(90) - 0.91).abs() < 1e-12);
        assert_eq!(tf.decay_at(1_000_000), 0.999);
        let p = EmaSettings {
            decay: 0.9999,
            warmup: EmaWarmup::Power {
                gamma: 1.0,
                power: 0.75,
            },
        };
        assert_eq!(p.decay_at(0), 0.0);
        assert!((p.decay_at(15) - (1.0 - 16f64.powf(-0.75))).abs() < 1e-12);
        assert!(p.decay_at(1000) < p.decay_at(2000));
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let e = Ema::new(no_warmup(1.5)).unwrap_err();
        assert!(e.to_string().contains("ema.decay"), "{e}");
        let bad = EmaSettings {
            decay: 0.9,
            warmup: EmaWarmup::Power {
                gamma: 0.0,
                power: 1.0,
            },
        };
        assert!(bad.validate("ema").is_err());
    }

    proptest::proptest! {
        /// Any decay, warm-up and sequence of weights: the average is the naive recurrence
        /// `s ← d_t·s + (1 − d_t)·θ_t` (in f64) and stays within the range of the weights seen.
        #[test]
        fn matches_the_naive_recurrence(
            decay in 0.0f64..=1.0,
            tf in proptest::bool::ANY,
            w0 in -10.0f32..10.0,
            steps in proptest::collection::vec(-10.0f32..10.0, 1..40),
        ) {
            let settings = EmaSettings {
                decay,
                warmup: if tf { EmaWarmup::Tf } else { EmaWarmup::None },
            };
            let m = toy(&[w0], 0.0);
            let mut ema = Ema::from_model(&m, settings).unwrap();
            let mut naive = w0 as f64;
            let (mut lo, mut hi) = (w0, w0);
            for (t, &w) in steps.iter().enumerate() {
                set(&m, &[w], 0.0);
                ema.update(&m);
                let d = settings.decay_at(t as u64) as f32 as f64;
                naive = d * naive + (1.0 - d) * w as f64;
                (lo, hi) = (lo.min(w), hi.max(w));
                let got = values(&ema).0[0];
                proptest::prop_assert!((got as f64 - naive).abs() < 1e-4, "{got} vs {naive}");
                proptest::prop_assert!(got >= lo - 1e-4 && got <= hi + 1e-4);
            }
        }
    }

    #[test]
    fn as_a_callback_it_starts_at_the_weights_before_the_first_update() {
        let m = toy(&[2.0], 0.0);
        let mut ema = Ema::new(no_warmup(0.5)).unwrap();
        ema.after_backward(&m, 0);
        set(&m, &[4.0], 0.0);
        let info = StepInfo {
            epoch: 0,
            step: 0,
            loss: 0.0,
            lr: 0.1,
            batch_size: 1,
            model: &m,
        };
        ema.on_step(&info);
        assert_eq!(values(&ema).0, vec![3.0]);
    }
}
