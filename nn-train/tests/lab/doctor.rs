//! `nn-train doctor`: the babysitting steps in order, with a verdict for each.

use nn_optim::{OptimizerConfig, SgdConfig};
use nn_train::TrainConfig;
use nn_train::doctor::{DoctorConfig, Status};
use nn_train::overfit::OverfitConfig;

use super::{nn_train, png};

fn quick() -> DoctorConfig {
    DoctorConfig {
        overfit: OverfitConfig {
            samples: 32,
            max_epochs: 60,
        },
        trials: 3,
        coarse_epochs: 1,
        fine_epochs: Some(2),
        ..DoctorConfig::default()
    }
}

#[test]
fn a_healthy_job_passes_every_step_with_the_numbers_behind_it() {
    let job = TrainConfig::default();
    let mut seen = Vec::new();
    let mut trials = 0;
    let r = quick()
        .run(&job, &mut |v| seen.push(v.step), &mut |_| trials += 1)
        .unwrap();
    assert_eq!(
        seen,
        vec![1, 2, 3, 4, 5],
        "verdicts arrive in the lecture's order"
    );
    assert!(r.passed(), "{:#?}", r.steps);
    assert!(r.steps.iter().all(|s| s.status != Status::Skipped));
    // Step 1: the untrained digits MLP is at log 10.
    assert!((r.initial_loss - 10f32.ln()).abs() < 0.1 * 10f32.ln());
    // Step 2: memorised.
    assert!(r.overfit.as_ref().unwrap().reached_at.is_some());
    // Step 3 → 4: the coarse space is the suggestion ±10x; weight decay the lecture's values.
    let lr = r.lr_finder.as_ref().unwrap().suggested.unwrap();
    let space = r.space.as_ref().unwrap();
    let d = &space.dimensions["optimizer.lr"];
    assert_eq!(
        *d,
        nn_train::tune::Dimension::LogUniform {
            low: lr / 10.0,
            high: lr * 10.0
        }
    );
    assert!(space.dimensions.contains_key("optimizer.weight_decay"));
    // Steps 4-5: 3 coarse trials, then those of them that ended ok (up to 3) re-run + 3 new
    // ones, trained longer.
    let s = r.search.as_ref().unwrap();
    let stage = |k| s.trials.iter().filter(|t| t.stage == k).count();
    let ok1 = s
        .trials
        .iter()
        .filter(|t| t.stage == 1 && t.status == nn_train::tune::TrialStatus::Ok)
        .count();
    assert!(ok1 >= 1);
    assert_eq!((stage(1), stage(2)), (3, ok1.min(3) + 3));
    assert_eq!(trials, stage(1) + stage(2));
    assert!(
        s.trials
            .iter()
            .filter(|t| t.stage == 2)
            .all(|t| t.epochs == 2)
    );
    let base = r.baseline.as_ref().unwrap();
    assert_eq!(base.values["optimizer.lr"].as_float(), Some(0.1));
    assert!(base.val_acc.unwrap() > 0.5);
    assert!(
        r.steps[4].words.contains("validation images"),
        "{}",
        r.steps[4].words
    );
}

#[test]
fn a_job_that_cannot_overfit_stops_at_step_2() {
    let job = TrainConfig {
        optimizer: OptimizerConfig::Sgd(SgdConfig {
            lr: 1e-7,
            ..SgdConfig::default()
        }),
        ..TrainConfig::default()
    };
    let r = quick().run(&job, &mut |_| {}, &mut |_| {}).unwrap();
    let status: Vec<Status> = r.steps.iter().map(|s| s.status).collect();
    assert_eq!(
        status,
        vec![
            Status::Ok,
            Status::Fail,
            Status::Skipped,
            Status::Skipped,
            Status::Skipped
        ]
    );
    assert!(r.steps[1].words.contains("too low"), "{}", r.steps[1].words);
    assert!(!r.passed());
    assert!(r.search.is_none() && r.lr_finder.is_none());
    // keep_going: the later steps run after the failure (and the verdict stays a failure).
    let all = DoctorConfig {
        keep_going: true,
        ..quick()
    }
    .run(&job, &mut |_| {}, &mut |_| {})
    .unwrap();
    assert_eq!(all.steps[1].status, Status::Fail);
    assert!(
        all.steps[2..].iter().all(|s| s.status != Status::Skipped),
        "{:?}",
        all.steps
    );
    assert!(all.lr_finder.is_some() && all.search.is_some());
    assert!(!all.passed());
}

#[test]
fn cli_doctor_writes_its_pictures_and_fails_with_status_1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let args = [
        "doctor",
        "--samples",
        "32",
        "--trials",
        "2",
        "--coarse-epochs",
        "1",
        "--fine-epochs",
        "1",
        "--out",
        d,
    ];
    let (ok, stdout, stderr) = nn_train(&args);
    assert!(ok, "{stdout}\n{stderr}");
    for f in ["doctor_overfit.png", "lr_find.png", "doctor_search.png"] {
        assert!(png(&dir.path().join(f)).2 > 3000, "{f}");
    }
    for f in ["doctor.json", "trials.csv", "best.toml"] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    assert!(
        stdout.contains("step 5 (refine the search, train longer): OK"),
        "{stdout}"
    );
    let job = dir.path().join("slow.toml");
    std::fs::write(&job, "[optimizer]\nkind = \"sgd\"\nlr = 1e-7\n").unwrap();
    let (ok, stdout, stderr) = nn_train(&["doctor", "--config", job.to_str().unwrap(), "--out", d]);
    assert!(
        !ok && stderr.contains("a step failed"),
        "{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("step 2 (overfit a small sample): FAIL"),
        "{stdout}"
    );
}
