//! `[reduce_on_plateau]` in a job: the rate drops when the validation metric stalls, and a job
//! interrupted after a reduction resumes exactly (the plateau state is in the checkpoint).

use nn_core::Module;
use nn_optim::{LrControl, ReduceLrOnPlateauConfig, SgdConfig};
use nn_train::checkpoint::Checkpoint;
use nn_train::interrupt::{Interrupt, SIGINT};
use nn_train::{
    Callback, Checkpointing, Control, EpochRecord, Session, StepInfo, TrainConfig, TrainError,
    TrainReport, train_checkpointed,
};

fn job(plateau: &str) -> TrainConfig {
    let text = format!(
        "epochs = 5\nbatch_size = 64\n[data]\nlimit_train = 256\n[model]\nkind = \"mlp\"\n\
         hidden = [32]\n[reduce_on_plateau]\n{plateau}\n"
    );
    TrainConfig::from_toml(&text, std::path::Path::new("plateau.toml")).unwrap()
}

/// Raises the interrupt after global step `at` (a SIGINT as the loop sees it).
struct InterruptAt {
    at: Option<u64>,
    flag: Interrupt,
}

impl Callback for InterruptAt {
    fn on_step(&mut self, info: &StepInfo<'_>) -> Control {
        if Some(info.step) == self.at {
            self.flag.raise(SIGINT);
        }
        Control::Continue
    }
    fn on_epoch(&mut self, _record: &EpochRecord, _model: &dyn Module) -> Control {
        Control::Continue
    }
}

fn lrs(r: &TrainReport) -> Vec<f64> {
    r.history.iter().map(|e| e.lr).collect()
}

/// The report without wall-clock times.
fn timeless(mut r: TrainReport) -> TrainReport {
    for e in &mut r.history {
        e.seconds = 0.0;
    }
    r
}

#[test]
fn the_rate_drops_when_the_validation_loss_stalls() {
    // An absolute threshold of 100 makes every epoch after the first a bad one: with patience
    // 0 the rate halves after epochs 2, 3 and 4.
    let c = job("threshold = 100.0\nthreshold_mode = \"abs\"\npatience = 0\nfactor = 0.5");
    let r = nn_train::train(&c, &mut |_| {}).unwrap().report;
    let want = [0.1, 0.1, 0.05, 0.025, 0.0125];
    for (got, want) in lrs(&r).iter().zip(want) {
        assert!((got - want).abs() < 1e-12, "{:?} vs {want:?}", lrs(&r));
    }
    // With PyTorch's defaults (patience 1 here), the rates follow ReduceLROnPlateau fed with
    // the validation losses the job measured.
    let c = job("patience = 1\nfactor = 0.5");
    let r = nn_train::train(&c, &mut |_| {}).unwrap().report;
    let mut opt = SgdConfig {
        lr: 0.1,
        ..Default::default()
    }
    .init()
    .unwrap();
    let mut sim = ReduceLrOnPlateauConfig {
        patience: 1,
        factor: 0.5,
        ..Default::default()
    }
    .init_for(&opt)
    .unwrap();
    for e in &r.history {
        assert!((e.lr - opt.lr(0)).abs() < 1e-12, "epoch {}", e.epoch);
        sim.step(e.val_loss as f64, &mut opt);
    }
}

#[test]
fn a_job_interrupted_after_a_reduction_resumes_exactly() {
    let c = job("threshold = 100.0\nthreshold_mode = \"abs\"\npatience = 0\nfactor = 0.5");
    let reference = {
        let mut cb = InterruptAt {
            at: None,
            flag: Interrupt::new(),
        };
        let t = train_checkpointed(
            Session::new(&c).unwrap(),
            &mut [&mut cb],
            Checkpointing::default(),
        )
        .unwrap();
        (timeless(t.report), t.model.state_dict())
    };
    assert!(reference.0.history[3].lr < 0.05, "the rate was reduced");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkpoint.safetensors");
    // 4 steps per epoch: step 13 is the second of epoch 5, after two reductions.
    let flag = Interrupt::new();
    let mut cb = InterruptAt {
        at: Some(13),
        flag: flag.clone(),
    };
    let e = train_checkpointed(
        Session::new(&c).unwrap(),
        &mut [&mut cb],
        Checkpointing {
            path: Some(path.clone()),
            interrupt: Some(flag),
            resume: None,
        },
    )
    .err()
    .unwrap();
    assert!(matches!(e, TrainError::Interrupted { step: 14, .. }), "{e}");
    let ckpt = Checkpoint::load(&path).unwrap();
    let plateau = ckpt
        .state
        .plateau
        .clone()
        .expect("the plateau state is saved");
    assert!((plateau.scales()[0] - 0.25).abs() < 1e-12);
    let mut cb = InterruptAt {
        at: None,
        flag: Interrupt::new(),
    };
    let resumed = train_checkpointed(
        Session::new(&c).unwrap(),
        &mut [&mut cb],
        Checkpointing {
            resume: Some(ckpt),
            ..Checkpointing::default()
        },
    )
    .unwrap();
    assert_eq!(timeless(resumed.report), reference.0);
    let model = resumed.model.state_dict();
    assert_eq!(model.len(), reference.1.len());
    for ((n, a), (m, b)) in model.iter().zip(&reference.1) {
        assert_eq!(n, m);
        assert_eq!(a, b, "{n}");
    }
}

#[test]
fn errors_name_the_field() {
    let e = TrainConfig::from_toml(
        "[reduce_on_plateau]\nfactor = 2.0\n",
        std::path::Path::new("bad.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("reduce_on_plateau.factor"), "{e}");
}
