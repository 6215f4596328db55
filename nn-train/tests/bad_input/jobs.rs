//! Job files: values out of range, wrong types, typos, and resource bombs written as numbers.

use super::{job, rejects};

#[test]
fn job_file_values() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cases: &[(&str, &str)] = &[
        // RandAugment with a million operations per image would hang the loader.
        (
            "[augment]\ntransforms = [{ type = \"rand_augment\", num_ops = 1000000 }]",
            "num_ops",
        ),
        (
            "[augment]\ntransforms = [{ type = \"random_crop\", size = 0 }]",
            "size",
        ),
        // Every class weight 0: the weighted loss is 0/0, not a learning-rate problem.
        (
            "class_weights = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]",
            "at least one weight > 0",
        ),
        // A weight per class, but not the data's number of classes.
        ("class_weights = [1.0, 2.0, 3.0]", "class_weights"),
        ("[data]\nsource = { imagefolder = \"x\" }", "imagefolder"),
        ("[data]\nval_fraction = 1.5", "data.val_fraction"),
        ("[data]\nclasses = [3, 3]", "data.classes"),
        ("[dta]\nthreads = 2", "dta"),
        ("label_smoothing = 2.0", "label_smoothing"),
        ("grad_accumulation = 0", "grad_accumulation"),
        ("epochs = \"ten\"", "epochs"),
        ("epochs = 1\nepochs = 2", "epochs"),
        ("seed = -1", "seed"),
        ("batch_size = 99999999999999999999", "batch_size"),
        ("[early_stopping]\npatience = 0", "patience"),
        ("[optimizer]\nkind = \"sgd\"\nlr = -1.0", "lr"),
        ("[optimizer]\nkind = \"adamm\"", "adamm"),
        ("[model]\nkind = \"transformer\"", "transformer"),
        ("[mixup]\nalpha = -1.0", "alpha"),
        // Misspelt options of a tagged choice are errors naming the field, not ignored.
        (
            "[model]\nkind = \"mlp\"\nactivation = { kind = \"leaky_relu\", negative_slop = 0.2 }",
            "negative_slop",
        ),
        (
            "[model]\nkind = \"mlp\"\ninit = { kind = \"xavier_uniform\", gian = 1.67 }",
            "gian",
        ),
        ("schedule = { kind = \"cosine\", t_maxx = 10 }", "t_maxx"),
        (
            "[transfer]\ninit_from = \"no-such-model.safetensors\"",
            "no-such-model.safetensors",
        ),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let f = job(d, &format!("values{i}.toml"), text);
        rejects(d, &["train", "--config", &f, "--epochs", "1"], needle);
    }
    // A folder where the job file should be, and a job file that is not UTF-8.
    std::fs::create_dir(d.join("folder.toml")).unwrap();
    rejects(d, &["train", "--config", "folder.toml"], "folder.toml");
    std::fs::write(d.join("binary.toml"), [0xff, 0xfe, 0x00, 0x41]).unwrap();
    rejects(d, &["train", "--config", "binary.toml"], "binary.toml");
    // Command-line overrides are validated like the file.
    rejects(d, &["train", "--epochs", "0"], "epochs");
}
