//! `data.no_validation`: training without a validation split is an explicit choice that keeps
//! the last epoch; an empty validation split without it is an error.

use nn_core::Array;
use nn_core::Module;
use nn_data::Dataset;
use nn_train::callback::{Callback, Control};
use nn_train::{EpochRecord, TrainConfig, train_with};
use std::path::Path;

/// Keeps the weights at the end of every epoch.
struct Weights(Vec<Vec<(String, Array)>>);

impl Callback for Weights {
    fn on_epoch(&mut self, _record: &EpochRecord, model: &dyn Module) -> Control {
        self.0.push(model.state_dict());
        Control::Continue
    }
}

fn job(text: &str) -> Result<TrainConfig, String> {
    TrainConfig::from_toml(text, Path::new("job.toml")).map_err(|e| e.to_string())
}

#[test]
fn the_last_epoch_is_kept_and_the_validation_split_is_trained_on() {
    let config = job("epochs = 3\n[data]\nval_fraction = 0.0\nno_validation = true").unwrap();
    let mut seen = Weights(Vec::new());
    let trained = train_with(&config, &mut [&mut seen]).unwrap();
    let r = &trained.report;
    assert_eq!(r.best_epoch, 3);
    assert!(
        r.history
            .iter()
            .all(|e| e.val_loss.is_nan() && e.val_acc.is_nan())
    );
    assert!(r.initial_val_loss.is_nan() && r.best_val_acc.is_nan());
    assert_eq!(trained.model.state_dict(), seen.0[2]);
    assert_ne!(seen.0[1], seen.0[2]);
    // The digits' fixed validation split joined the training split.
    let plain = nn_data::digits_split(0);
    assert_eq!(trained.data.val.len(), 0);
    assert_eq!(
        trained.data.train.len(),
        plain.train.len() + plain.val.len()
    );
    assert!(r.test_acc > 0.5, "{}", r.test_acc);
    let json = serde_json::to_value(r).unwrap();
    assert!(json["best_val_acc"].is_null());
}

#[test]
fn no_validation_is_explicit_and_excludes_selection() {
    let e = job("[data]\nno_validation = true").unwrap_err();
    assert!(e.contains("data.val_fraction"), "{e}");
    let e = job("[data]\nval_fraction = 0.0\nno_validation = true\n[early_stopping]\npatience = 2")
        .unwrap_err();
    assert!(e.contains("early_stopping"), "{e}");
    let e =
        job("[data]\nval_fraction = 0.0\nno_validation = true\n[ema]\ndecay = 0.99").unwrap_err();
    assert!(e.contains("ema"), "{e}");
    // An empty validation split without the flag names the way out.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for class in ["a", "b"] {
        for i in 0..3 {
            let p = d.join(format!("imgs/{class}/{i}.png"));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            image::GrayImage::from_pixel(4, 4, image::Luma([i * 40]))
                .save(&p)
                .unwrap();
        }
    }
    let src = format!(
        "[data]\nval_fraction = 0.0\nsource = {{ image_folder = {{ path = {:?}, test_fraction = 0.4 }} }}",
        d.join("imgs")
    );
    let e = nn_train::train(&job(&src).unwrap(), &mut |_| {})
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("data.no_validation = true"), "{e}");
    let ok = job(&format!("epochs = 1\n{src}\nno_validation = true")).unwrap();
    let trained = nn_train::train(&ok, &mut |_| {}).unwrap();
    assert_eq!(trained.report.best_epoch, 1);
}
