//! Fuzzes the CIFAR-10 and CIFAR-100 binary record parser: never panics; on success the output
//! is consistent (3,072 pixels per label, labels in range).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nn_data::{parse_cifar, Cifar100Labels, CifarFormat};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    for format in [
        CifarFormat::Cifar10,
        CifarFormat::Cifar100(Cifar100Labels::Fine),
        CifarFormat::Cifar100(Cifar100Labels::Coarse),
    ] {
        let (mut pixels, mut labels) = (Vec::new(), Vec::new());
        if parse_cifar(data, format, Path::new("fuzz.bin"), &mut pixels, &mut labels).is_ok() {
            assert_eq!(pixels.len(), labels.len() * 3072);
            assert!(labels.iter().all(|&l| l < format.num_classes()));
        }
    }
});
