//! `source = "fashion_mnist"`: Debian's `dataset-fashion-mnist` package, found without a path.
//! Skipped with a message when the package is missing, unless `NN_REQUIRE_SYSTEM_DATASETS` is
//! set (as `.ci/run` does after installing it).

use std::path::Path;

use nn_data::FASHION_MNIST_DEBIAN_DIR;
use nn_train::{TrainConfig, train};

#[test]
fn fashion_mnist_is_found_without_a_path() {
    if !Path::new(FASHION_MNIST_DEBIAN_DIR).is_dir() {
        assert!(
            std::env::var_os("NN_REQUIRE_SYSTEM_DATASETS").is_none(),
            "NN_REQUIRE_SYSTEM_DATASETS is set but {FASHION_MNIST_DEBIAN_DIR} is missing"
        );
        eprintln!("skipped: dataset-fashion-mnist is not installed");
        return;
    }
    let job = TrainConfig::from_toml(
        "epochs = 1\n[data]\nsource = \"fashion_mnist\"\nlimit_train = 1000\n\
         [model]\nkind = \"mlp\"\nhidden = [32]\n",
        Path::new("fashion.toml"),
    )
    .unwrap();
    let trained = train(&job, &mut |_| {}).unwrap();
    let data = &trained.data;
    assert_eq!(
        (data.train.len(), data.val.len(), data.test.len()),
        (1000, 6000, 10_000)
    );
    assert_eq!(data.input_shape, [1, 28, 28]);
    assert_eq!(data.class_names[0], "T-shirt/top");
    // 1,000 images, one epoch: far above chance (10 %).
    assert!(trained.report.test_acc > 0.5, "{}", trained.report.test_acc);
    let m = trained.report.test_metrics.as_ref().unwrap();
    assert_eq!(m.classes[9], "Ankle boot");
    assert_eq!(m.support.iter().sum::<u64>(), 10_000);
}
