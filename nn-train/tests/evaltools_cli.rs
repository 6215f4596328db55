//! `train --out` run folders (classes.json, confusion.png, report.json's confusion matrix),
//! `eval --fold-bn / --tta / --out`, `export` and `predict` through the `nn-train` command.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nn_data::Dataset;
use nn_train::ClassMetrics;

fn nn_train(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nn-train"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = nn_train(args);
    assert!(
        out.status.success(),
        "nn-train {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A CNN with BatchNorm (to fold), trained briefly on the digits into `dir/run`.
fn train_cnn(dir: &Path) -> PathBuf {
    let job = dir.join("cnn.toml");
    std::fs::write(
        &job,
        "epochs = 2\n[model]\nkind = \"cnn\"\nchannels = [8, 16]\n",
    )
    .unwrap();
    let run = dir.join("run");
    ok(&["train", "--config", s(&job), "--out", s(&run)]);
    run
}

#[test]
fn train_writes_class_names_and_a_confusion_matrix_that_matches_the_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let run = train_cnn(dir.path());
    for f in [
        "classes.json",
        "confusion.png",
        "report.json",
        "report.html",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let classes: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(run.join("classes.json")).unwrap()).unwrap();
    assert_eq!(classes, (0..10).map(|c| c.to_string()).collect::<Vec<_>>());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    let m: ClassMetrics = serde_json::from_value(report["test_metrics"].clone()).unwrap();
    // The digits' test split: 15 % of each class.
    let test = nn_data::digits_split(0).test;
    assert_eq!(m.images as usize, test.len());
    let labels: Vec<usize> = (0..test.len()).map(|i| test.label(i).unwrap()).collect();
    for (c, row) in m.confusion.iter().enumerate() {
        assert_eq!(
            row.iter().sum::<u64>() as usize,
            labels.iter().filter(|&&l| l == c).count()
        );
    }
    let trace: u64 = (0..10).map(|c| m.confusion[c][c]).sum();
    let test_acc = report["test_acc"].as_f64().unwrap();
    assert!((trace as f64 / m.images as f64 - test_acc).abs() < 1e-6);
    let png = image::open(run.join("confusion.png")).unwrap();
    assert!(png.width() > 300);
}

#[test]
fn eval_folds_batch_norm_with_the_same_predictions_and_export_writes_the_folded_model() {
    let dir = tempfile::tempdir().unwrap();
    let run = train_cnn(dir.path());
    let out = dir.path().join("eval");
    let text = ok(&["eval", "--run", s(&run), "--fold-bn", "--out", s(&out)]);
    assert!(text.contains("BatchNorm folding: 2 folded"), "{text}");
    let n = nn_data::digits_split(0).test.len();
    assert!(
        text.contains(&format!("same predicted class on {n}/{n} images")),
        "{text}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let fold = &report["runs"][0]["fold_bn"];
    assert_eq!(fold["folded"], 2);
    assert_eq!(fold["same_predictions"], fold["images"]);
    assert!(fold["max_abs_prob_diff"].as_f64().unwrap() < 1e-4);
    assert!(out.join("confusion.png").is_file());
    // The folded evaluation gives the unfolded accuracy.
    let plain = ok(&["eval", "--run", s(&run)]);
    let acc = |t: &str| {
        let i = t.find("test accuracy ").unwrap() + "test accuracy ".len();
        t[i..i + 6].to_string()
    };
    assert_eq!(acc(&plain), acc(&text));

    let text = ok(&["export", "--run", s(&run)]);
    let folded = run.join("model-folded.safetensors");
    assert!(text.contains("model-folded.safetensors"), "{text}");
    let state = nn_core::checkpoint::read_file(&folded).unwrap();
    assert!(
        state.iter().all(|(n, _)| !n.contains("running")),
        "BN buffers are gone"
    );
    assert!(
        state.iter().any(|(n, _)| n == "0.bias"),
        "the folded conv has a bias"
    );
    // Loaded back into the folded architecture, it predicts what the run predicts.
    let saved = nn_train::SavedRun::load(&run).unwrap();
    let model = saved.load_folded(&folded).unwrap();
    let x = nn_augment::tta::stack_views(
        &(0..20)
            .map(|i| {
                saved
                    .data
                    .preprocess
                    .apply(saved.data.test.get(i).unwrap().image)
            })
            .collect::<Vec<_>>(),
    );
    let a = nn_train::predict_proba(saved.model.as_ref(), x.clone());
    let b = nn_train::predict_proba(model.as_ref(), x);
    assert!(a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-4));
}

#[test]
fn tta_that_hurts_on_validation_is_announced() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("mlp.toml");
    std::fs::write(&job, "epochs = 5\n").unwrap();
    let run = dir.path().join("run");
    ok(&["train", "--config", s(&job), "--out", s(&run)]);
    // An MLP trained without flips: mirrored digits are other digits.
    let text = ok(&["eval", "--run", s(&run), "--tta", "flip"]);
    assert!(
        text.contains("TTA self-check on the validation split"),
        "{text}"
    );
    assert!(
        text.contains("warning: --tta flip lowers validation accuracy"),
        "{text}"
    );
    let text = ok(&["eval", "--run", s(&run)]);
    assert!(!text.contains("warning"), "{text}");
}

#[test]
fn predict_prints_the_top_classes_of_image_files() {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join("mlp.toml");
    std::fs::write(&job, "epochs = 8\n").unwrap();
    let run = dir.path().join("run");
    ok(&["train", "--config", s(&job), "--out", s(&run)]);
    // Test images written as 8x8 gray PNGs (8-bit: within half a step of the digits' values).
    let test = nn_data::digits_split(0).test;
    let mut files = Vec::new();
    let mut labels = Vec::new();
    for i in 0..10 {
        let sample = test.get(i * 20).unwrap();
        let px: Vec<u8> = sample
            .image
            .iter()
            .map(|v| (v * 255.0).round() as u8)
            .collect();
        let path = dir.path().join(format!("img{i}.png"));
        image::GrayImage::from_raw(8, 8, px)
            .unwrap()
            .save(&path)
            .unwrap();
        files.push(path);
        labels.push(sample.label);
    }
    let mut args = vec!["predict", "--run", s(&run), "--top-k", "3", "--json"];
    args.extend(files.iter().map(|f| s(f)));
    let out = nn_train(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let preds: Vec<nn_train::predict::ImagePrediction> =
        serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(preds.len(), 10);
    let mut right = 0;
    for (p, &label) in preds.iter().zip(&labels) {
        assert_eq!(p.top.len(), 3);
        assert!(p.top[0].probability >= p.top[1].probability);
        assert_eq!(p.top[0].class, p.top[0].label.to_string());
        right += usize::from(p.top[0].label == label);
    }
    assert!(right >= 8, "{right}/10 right");
    // The same image through the library gives the CLI's probabilities.
    let saved = nn_train::SavedRun::load(&run).unwrap();
    let lib = nn_train::predict::predict_file(
        &[saved.model.as_ref()],
        &files[0],
        saved.data.input_shape,
        saved.data.preprocess.as_ref(),
        &nn_train::Tta::default(),
        &saved.class_names,
        3,
    )
    .unwrap();
    assert_eq!(lib.top, preds[0].top);
    // Table output, TTA, and a broken file named in the error.
    let text = ok(&[
        "predict",
        "--run",
        s(&run),
        s(&files[1]),
        "--tta",
        "five-crop",
    ]);
    assert!(
        text.contains("img1.png") && text.contains("TTA self-check"),
        "{text}"
    );
    let broken = dir.path().join("broken.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let out = nn_train(&["predict", "--run", s(&run), s(&files[0]), s(&broken)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.png") && err.contains("1 of 2 images"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("img0.png"));
}
