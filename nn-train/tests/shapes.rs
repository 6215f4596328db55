//! Shapes are decided by the augmentation pipeline and checked before any data is loaded.

use std::path::Path;

use nn_train::{Session, TrainConfig, evaluate};

fn job(text: &str) -> TrainConfig {
    TrainConfig::from_toml(text, Path::new("job.toml")).unwrap()
}

#[test]
fn a_job_whose_shapes_cannot_work_is_rejected_before_loading() {
    // The CIFAR folder does not exist: the shape error comes first, so nothing was read.
    let c = job(
        "[data]\nsource = { cifar10 = \"no/such/folder\" }\n[model]\nkind = \"mlp\"\n\
         [augment]\ntransforms = [{ type = \"random_crop\", size = 24 }]\n",
    );
    let e = Session::new(&c).err().unwrap().to_string();
    assert!(e.contains("augment") && e.contains("3×24×24"), "{e}");
    assert!(!e.contains("no/such/folder"), "{e}");
    // A crop larger than the padded image, named by nn-augment under `augment`.
    let c = job(
        "[data]\nsource = { cifar10 = \"no/such/folder\" }\n[model]\nkind = \"cnn\"\n\
         [augment]\ntransforms = [{ type = \"random_crop\", size = 40, padding = 2 }]\n",
    );
    let e = Session::new(&c).err().unwrap().to_string();
    assert!(e.contains("augment") && e.contains("random_crop"), "{e}");
    // More CNN stages than 28×28 inputs allow: the model's field, before the (missing) files.
    let c = job(
        "[data]\nsource = { fashion_mnist = \"no/such/folder\" }\n[model]\nkind = \"cnn\"\n\
         channels = [4, 4, 4, 4, 4, 4, 4]\n",
    );
    let e = Session::new(&c).err().unwrap().to_string();
    assert!(e.contains("model.channels"), "{e}");
    assert!(!e.contains("no/such/folder"), "{e}");
    // PCA colour augmentation on a grayscale source.
    let c = job("[data]\nsource = { mnist = \"no/such/folder\" }\n[pca_lighting]\n");
    let e = Session::new(&c).err().unwrap().to_string();
    assert!(
        e.contains("pca_lighting") && e.contains("data.channels"),
        "{e}"
    );
}

#[test]
fn a_cnn_trains_on_the_pipelines_crops_and_evaluates_whole_images() {
    // Resize the 8×8 digits to 12×12 and crop 10×10: the model is built for 1×10×10 inputs,
    // validation sees the stored 8×8 images (global average pooling takes both).
    let c = job(
        "batch_size = 32\n[data]\nlimit_train = 64\n[model]\nkind = \"cnn\"\nchannels = [8]\n\
         [augment]\ntransforms = [{ type = \"resize\", size = 12 }, \
         { type = \"random_crop\", size = 10 }]\n",
    );
    let mut s = Session::new(&c).unwrap();
    assert_eq!(s.data.image_shape, [1, 8, 8]);
    assert_eq!(s.data.input_shape, [1, 10, 10]);
    let batch = s.train_loader.epoch(0).next().unwrap().unwrap();
    assert_eq!(batch.images.shape(), &[32, 1, 10, 10]);
    s.train_step(batch, 0, 0, &mut []).unwrap();
    let (loss, _) = evaluate(s.model.as_ref(), &s.val_loader).unwrap();
    assert!(loss.is_finite());
}
