//! Prints the train/validation split of a job whose data comes from training files (Fashion-MNIST,
//! MNIST, CIFAR) as JSON, so that a PyTorch twin of the job trains and validates on exactly the
//! same images (`nn-train/bench-compare/recipe_twin.py --split FILE`).
//!
//! ```sh
//! cargo run --release -p nn-train --example split_indices -- jobs/recipes/fashion-resnet.toml > split.json
//! ```
//!
//! Output: `{"source": ..., "seed": S, "val_fraction": f, "train": [...], "val": [...]}` with
//! indices into the training files, each list ascending. `seed` is the job's `data.split_seed`
//! (else its `seed`), as in `nn_train::data::prepare`; the split is `nn_data::train_val_split`'s
//! stratified split. `data.classes` and `data.limit_train` are not applied (the twin takes the
//! first `limit_train` training indices itself).

use std::path::PathBuf;

use nn_data::{
    Split, labels, load_cifar10, load_cifar100, load_fashion_mnist, load_fashion_mnist_system,
    load_mnist, stratified_split,
};
use nn_train::{DataSource, TrainConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path: PathBuf = std::env::args_os()
        .nth(1)
        .ok_or("usage: split_indices JOB.toml")?
        .into();
    let config = TrainConfig::load(&path)?;
    let data = &config.data;
    let train = match &data.source {
        DataSource::FashionMnist(Some(dir)) => load_fashion_mnist(dir, Split::Train)?,
        DataSource::FashionMnist(None) => load_fashion_mnist_system(Split::Train)?,
        DataSource::Mnist(dir) => load_mnist(dir, Split::Train)?,
        DataSource::Cifar10(dir) => load_cifar10(dir, Split::Train)?,
        DataSource::Cifar100(dir) => {
            load_cifar100(dir, Split::Train, nn_data::Cifar100Labels::Fine)?
        }
        other => {
            return Err(format!(
                "{}: source {other:?} has no training files to split (digits and image folders have their own splits)",
                path.display()
            )
            .into());
        }
    };
    let seed = data.split_seed.unwrap_or(config.seed);
    let f = data.val_fraction;
    // As nn_data::train_val_split.
    let mut parts = stratified_split(&labels(&train)?, &[1.0 - f, f], seed)?;
    let val = parts.pop().unwrap_or_default();
    let train = parts.pop().unwrap_or_default();
    let json = serde_json::json!({
        "source": format!("{:?}", data.source),
        "seed": seed,
        "val_fraction": f,
        "train": train,
        "val": val,
    });
    println!("{json}");
    Ok(())
}
