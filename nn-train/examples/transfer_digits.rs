//! Transfer learning on the embedded digits, no download: pretrain on digits 0-4 (631 training
//! images), then learn a 5-class task from 10, 25 or 100 images — from scratch; with the frozen
//! backbone and a new head (DeCAF); with only the first layer frozen; fine-tuning everything
//! with the backbone at 0.1x or 1x the learning rate; head first, then everything. Targets:
//! digits 5-9 (classes the source never saw) and, as a control, digits 0-4 again.
//!
//! ```text
//! cargo run --release -p nn-train --example transfer_digits -- [10,25,100] [SEEDS=5] [mlp|cnn]
//! ```

use nn_train::{ModelConfig, TrainConfig, TransferSettings, train};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let limits: Vec<usize> = args
        .get(1)
        .map_or("25,50,100", String::as_str)
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let seeds: u64 = args.get(2).map_or(Ok(5), |s| s.parse())?;
    // The model and the prefixes of its first layer (conv + BN for the CNN).
    let (model, first_layer) = match args.get(3).map_or("mlp", String::as_str) {
        "cnn" => (
            ModelConfig::cnn(vec![16, 32]),
            vec!["0".to_string(), "1".to_string()],
        ),
        _ => (ModelConfig::mlp(vec![64, 64]), vec!["1".to_string()]),
    };
    let dir = tempfile::tempdir()?;
    let ckpt = dir.path().join("digits04.safetensors");
    let mut source = TrainConfig {
        epochs: 10,
        model: model.clone(),
        ..TrainConfig::default()
    };
    source.data.classes = Some(vec![0, 1, 2, 3, 4]);
    let pretrained = train(&source, &mut |_| {})?;
    println!(
        "source: digits 0-4, {} training images, test accuracy {:.3}",
        pretrained.data.train.len(),
        pretrained.report.test_acc
    );
    nn_core::checkpoint::save(pretrained.model.as_ref(), &ckpt)?;
    let variants: Vec<(&str, Option<TransferSettings>)> = vec![
        ("scratch", None),
        (
            "frozen backbone + new head",
            Some(TransferSettings {
                freeze_backbone: true,
                ..TransferSettings::from_checkpoint(&ckpt)
            }),
        ),
        (
            "frozen backbone, BN in train mode",
            Some(TransferSettings {
                freeze_backbone: true,
                frozen_eval: false,
                ..TransferSettings::from_checkpoint(&ckpt)
            }),
        ),
        (
            "frozen first layer, rest trained",
            Some(TransferSettings {
                freeze: first_layer.clone(),
                ..TransferSettings::from_checkpoint(&ckpt)
            }),
        ),
        (
            "fine-tune all, backbone lr x0.1",
            Some(TransferSettings {
                backbone_lr_mult: 0.1,
                ..TransferSettings::from_checkpoint(&ckpt)
            }),
        ),
        (
            "fine-tune all, backbone lr x1",
            Some(TransferSettings::from_checkpoint(&ckpt)),
        ),
        (
            "head 10 epochs, then all (x0.1)",
            Some(TransferSettings {
                freeze_backbone: true,
                unfreeze_after_epochs: Some(10),
                backbone_lr_mult: 0.1,
                ..TransferSettings::from_checkpoint(&ckpt)
            }),
        ),
    ];
    for (title, classes) in [
        ("digits 5-9 (classes the source never saw)", [5, 6, 7, 8, 9]),
        (
            "digits 0-4 again (control: the source's own classes)",
            [0, 1, 2, 3, 4],
        ),
    ] {
        println!("target: {title}; test accuracy, mean ± std over {seeds} seeds");
        table(&model, &variants, &classes, &limits, seeds)?;
    }
    Ok(())
}

/// Prints one row per variant, one column per training-set size.
fn table(
    model: &ModelConfig,
    variants: &[(&str, Option<TransferSettings>)],
    classes: &[usize],
    limits: &[usize],
    seeds: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    print!("{:<34}", "training images");
    for l in limits {
        print!(" {l:>13}");
    }
    println!();
    for (name, t) in variants {
        print!("{name:<34}");
        for &limit in limits {
            let mut accs = Vec::new();
            for seed in 0..seeds {
                let mut c = TrainConfig {
                    epochs: 30,
                    batch_size: 16,
                    seed,
                    model: model.clone(),
                    transfer: t.clone(),
                    ..TrainConfig::default()
                };
                c.data.classes = Some(classes.to_vec());
                c.data.limit_train = Some(limit);
                accs.push(train(&c, &mut |_| {})?.report.test_acc as f64);
            }
            let n = accs.len() as f64;
            let mean = accs.iter().sum::<f64>() / n;
            let std = (accs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n).sqrt();
            print!(" {mean:>6.3} ±{std:.3}");
        }
        println!();
    }
    Ok(())
}
